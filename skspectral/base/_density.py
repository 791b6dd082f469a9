"""Every model a density in pixel space: a code density on a decoder's range, noise outside it.

A dictionary model with a linear decoder writes an image as
``x = offset + t A + e``: ``t`` is what its prior models (codes, or
coordinates of a subspace of codes), ``A`` (``r x n_features``, full row
rank) maps them onto the decoder's range, and ``e`` is the part of the image
the range misses. Fitted on the projections of the training images, the
prior already holds the images' spread inside the range, so the noise lies
outside it: ``e`` is Gaussian on the orthogonal complement of the range (an
isotropic variance, optionally with leading residual directions of their
own), fitted on the training residuals. The density is then exact for every
prior that has a density, by a change of variables::

    log p(x) = log p_prior(t(x)) - log |det A A^T| / 2 + log p_noise(x - P x)

with ``t(x)`` the least-squares coordinates of ``x - offset`` and ``P`` the
projection onto the range. With ``A`` the top principal directions, a
Gaussian prior with their variances and the mean discarded variance as the
noise, this is probabilistic PCA (:meth:`sklearn.decomposition.PCA.score`).
"""

import math

import numpy as np
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import DEFAULT_CHUNK, FLOAT_DTYPES, iter_batches

__all__ = [
    "LinearRange",
    "PixelDensityMixin",
    "RangeNoise",
    "isotropic_noise",
    "range_log_likelihood",
    "step_log_likelihood",
]

_LOG_2PI = math.log(2.0 * math.pi)


class LinearRange:
    """The affine range ``{offset + t A}`` of a linear decoder, with an orthonormal basis.

    Parameters
    ----------
    mapping : ndarray of shape (r, n_features)
        ``A``: row ``j`` is what coordinate ``j`` adds to an image. Its rows
        must be linearly independent.
    offset : ndarray of shape (n_features,)
        The image of the zero coordinates.

    Attributes
    ----------
    basis_ : ndarray of shape (r, n_features)
        Orthonormal rows spanning the range (``Q`` of ``A^T = Q^T R``).
    coordinates_map_ : ndarray of shape (r, r)
        ``R^{-T}``: maps the coordinates ``u = (x - offset) Q^T`` to ``t``.
    log_det_ : float
        ``log |det R|``, the log-volume ``A`` gives a unit cube of coordinates.
    """

    def __init__(self, mapping, offset, owner="the model"):
        A = np.asarray(mapping, dtype=np.float64)
        self.offset_ = np.asarray(offset, dtype=np.float64).reshape(-1)
        if A.ndim != 2 or A.shape[1] != self.offset_.shape[0]:
            raise ValueError(
                f"{owner}: the decoder map has shape {A.shape}; it needs one row per "
                f"coordinate and {self.offset_.shape[0]} columns."
            )
        if A.shape[0] > A.shape[1]:
            raise ValueError(
                f"{owner} maps {A.shape[0]} coordinates onto {A.shape[1]} pixels: an "
                "overcomplete decoder has no density in pixel space by a change of variables."
            )
        q, r = np.linalg.qr(A.T)
        diag = np.abs(np.diag(r))
        if diag.size and not diag.min() > 1e-10 * diag.max():
            raise ValueError(
                f"{owner}: the decoder's atoms are linearly dependent (rank below "
                f"{A.shape[0]}), so its codes have no density in pixel space; use fewer atoms "
                "or a larger ridge penalty."
            )
        self.basis_ = q.T
        self.coordinates_map_ = np.linalg.inv(r).T
        self.log_det_ = float(np.sum(np.log(diag)))

    @property
    def rank(self):
        return self.basis_.shape[0]

    def split(self, X):
        """Coordinates ``t`` of the projection of ``X`` and the residual ``X - P X``."""
        Xc = np.asarray(X, dtype=np.float64) - self.offset_
        u = Xc @ self.basis_.T
        return u @ self.coordinates_map_, Xc - u @ self.basis_


class RangeNoise:
    """Gaussian noise on the orthogonal complement of a decoder's range.

    The complement has ``n_features - rank`` dimensions. The noise has
    ``n_components`` leading directions with variances of their own (a
    probabilistic PCA of the training residuals) and one isotropic variance
    over the rest; ``n_components=0`` is isotropic noise.

    Parameters
    ----------
    n_components : int, default=0
        Leading residual directions modelled separately.

    Attributes
    ----------
    variance_ : float
        Variance of each remaining direction of the complement.
    components_ : ndarray of shape (n_components, n_features)
        Orthonormal leading residual directions (orthogonal to the range).
    explained_variance_ : ndarray of shape (n_components,)
        Their variances.
    n_dims_ : int
        Dimensions of the complement.
    """

    #: Floor of the variance, relative to the residuals' mean square: residuals
    #: that vanish (images inside the range) must not give an infinite density.
    relative_floor = 1e-6
    #: And in absolute terms (images in [0, 1] or [0, 255]): training images
    #: that all lie in the range (constant images) leave no residual at all.
    absolute_floor = 1e-12

    def __init__(self, n_components=0):
        self.n_components = n_components

    def fit(self, residuals, rank):
        """Fit on training residuals (already orthogonal to a range of dimension ``rank``)."""
        R = np.asarray(residuals, dtype=np.float64)
        n, d = R.shape
        self.n_dims_ = d - rank
        self._sum_sq = float(np.einsum("ij,ij->", R, R))
        self._count = n
        s = min(self.n_components, max(self.n_dims_ - 1, 0), n)
        if s:
            # Uncentred: the noise has mean zero (the offset is the data mean).
            _, sv, vt = np.linalg.svd(R, full_matrices=False)
            self.components_ = vt[:s]
            self.explained_variance_ = sv[:s] ** 2 / n
        else:
            self.components_ = np.zeros((0, d))
            self.explained_variance_ = np.zeros(0)
        self._set_variance()
        return self

    def partial_fit(self, residuals, rank):
        """Add residuals to an isotropic noise model (leading directions need ``fit``)."""
        if not hasattr(self, "n_dims_"):
            return self.fit(residuals, rank)
        if self.explained_variance_.size:
            raise ValueError("A noise model with leading directions cannot be updated online.")
        R = np.asarray(residuals, dtype=np.float64)
        self._sum_sq += float(np.einsum("ij,ij->", R, R))
        self._count += R.shape[0]
        self._set_variance()
        return self

    def _set_variance(self):
        rest = self.n_dims_ - self.explained_variance_.size
        total = self._sum_sq / max(self._count, 1)
        left = max(total - float(self.explained_variance_.sum()), 0.0)
        floor = max(self.relative_floor * total / max(self.n_dims_, 1), self.absolute_floor)
        self.variance_ = max(left / rest, floor) if rest > 0 else floor
        self.explained_variance_ = np.maximum(self.explained_variance_, self.variance_)

    def log_density(self, residuals):
        """Log-density of residuals (rows orthogonal to the range), float64."""
        R = np.asarray(residuals, dtype=np.float64)
        sq = np.einsum("ij,ij->i", R, R)
        out = np.zeros(R.shape[0])
        if self.explained_variance_.size:
            a = R @ self.components_.T
            lam = self.explained_variance_
            out -= 0.5 * (np.sum(np.log(2 * np.pi * lam)) + (a**2 / lam).sum(axis=1))
            sq = sq - np.einsum("ij,ij->i", a, a)
        rest = self.n_dims_ - self.explained_variance_.size
        if rest > 0:
            out -= 0.5 * (rest * (_LOG_2PI + math.log(self.variance_))
                          + np.maximum(sq, 0.0) / self.variance_)
        return out


def range_log_likelihood(X, linear_range, code_log_density, noise, batch_size=DEFAULT_CHUNK):
    """``log p(x)`` of each row of ``X`` under ``x = offset + t A + e`` (float64).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    linear_range : LinearRange
    code_log_density : callable
        ``t -> log p(t)`` for an ``(m, r)`` float64 array of coordinates.
    noise : RangeNoise
    batch_size : int
        Rows per batch: memory beyond the output is that of one batch.

    Returns
    -------
    log_likelihood : ndarray of shape (n_samples,)
    """
    out = np.empty(X.shape[0])
    for rows in iter_batches(X.shape[0], batch_size):
        t, residual = linear_range.split(X[rows])
        out[rows] = (np.asarray(code_log_density(t), dtype=np.float64)
                     - linear_range.log_det_ + noise.log_density(residual))
    return out


def isotropic_noise(variance, n_dims, components=None, explained_variance=None):
    """A :class:`RangeNoise` of known ``variance`` over ``n_dims`` dimensions.

    The variance is floored as a fitted one is (:attr:`RangeNoise.absolute_floor`).

    ``components`` (orthonormal rows) with their ``explained_variance`` are
    leading directions of their own (a probabilistic PCA of residuals).
    """
    noise = RangeNoise(0 if components is None else len(components))
    noise.n_dims_ = int(n_dims)
    noise.variance_ = max(float(variance), RangeNoise.absolute_floor)
    if components is None:
        noise.components_, noise.explained_variance_ = np.zeros((0, 0)), np.zeros(0)
    else:
        # Orthonormal in float64 (components of a float32 PCA are so only to
        # float32 precision); QR keeps each direction up to that precision.
        q, r = np.linalg.qr(np.asarray(components, dtype=np.float64).T)
        noise.components_ = (q * np.sign(np.diag(r))).T
        noise.explained_variance_ = np.maximum(
            np.asarray(explained_variance, dtype=np.float64), noise.variance_)
    noise._sum_sq = float(variance) * (n_dims - noise.explained_variance_.size) + float(
        noise.explained_variance_.sum())
    noise._count = 1
    return noise


class PixelDensityMixin:
    """``score_samples``, ``score`` and the noise model of a dictionary model, written once.

    A model provides its decoder's range (``_prior_range`` for the
    coordinates ``prior_`` models, ``_code_range`` for ``transform``'s codes)
    and calls ``_fit_noise(X)`` at the end of ``fit``; a model whose density
    is not a change of variables onto one range overrides ``_log_likelihood``.
    """

    def _prior_range(self):
        """Hook: the decoder's range in the coordinates ``prior_`` models, or None.

        A :class:`~skspectral.base._density.LinearRange` ``offset + t A``
        with ``t`` what ``prior_`` is fitted on. The default is
        :meth:`_code_range`; a model whose prior lives in a subspace of its
        codes returns that subspace's range.
        """
        return self._code_range()

    def _code_range(self):
        """Hook: the decoder's range in the coordinates of ``transform``'s codes, or None.

        None (the default) means the codes have no density in pixel space by
        a change of variables (overcomplete or nonlinear codes); such a model
        overrides :meth:`_log_likelihood` or has no pixel density in a
        pipeline.
        """
        return None

    def _no_density_reason(self):
        """Why this model has no pixel-space density (the message of a refused score)."""
        return (f"{type(self).__name__} has no pixel-space density for score and score_samples: "
                "its decoder maps its codes onto no fixed linear subspace of the images.")

    def _fit_noise(self, X, update=False, codes=None):
        """Fit ``noise_`` on the residuals of validated training images ``X`` off the range.

        ``update`` adds ``X`` to the noise of earlier chunks (online fits);
        None when the model has no range (:meth:`_prior_range`). ``codes``,
        what :meth:`_prior_codes` gave for ``X`` when the caller has it, serves
        models whose residuals are taken from their codes (the sparse model);
        the residual off a range needs only the images.
        """
        try:
            linear_range = self._prior_range()
        except ValueError:
            # Atoms without a density (linearly dependent): score says so;
            # fit itself goes on (a diverged fit warns or raises on its own).
            linear_range = None
        if linear_range is None:
            self.noise_ = None
            return
        noise = getattr(self, "noise_", None) if update else None
        if noise is None:
            noise = RangeNoise()
        # In batches: a residual is as large as its image.
        for rows in iter_batches(X.shape[0], DEFAULT_CHUNK):
            noise.partial_fit(linear_range.split(X[rows])[1], linear_range.rank)
        self.noise_ = noise

    def score_samples(self, X, *, return_std=False):
        """Log-density of each image under the model, in pixel space.

        The model is ``x = decode(t) + e``: ``t`` drawn from ``prior_``, ``e``
        Gaussian noise fitted on the training residuals (``noise_``). For a
        linear decoder the density is exact for every prior, by a change of
        variables onto the decoder's range; where it is estimated
        (:class:`~skspectral.SparseSupportMRF`), ``return_std`` gives each
        estimate's standard error. See the user guide, "Densities and model
        selection".

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images.
        return_std : bool, default=False
            Also return the standard error of each log-density (0 where it
            is exact).

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            Natural log of the density at each image (float64).
        std : ndarray of shape (n_samples,)
            Only with ``return_std=True``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        log_p, std = self._log_likelihood(X, self.prior_, self._prior_range())
        if not return_std:
            return log_p
        return log_p, np.zeros_like(log_p) if std is None else std

    def score(self, X, y=None):
        """Mean log-density of the images (higher is better).

        scikit-learn's convention for density estimators (as
        :meth:`sklearn.decomposition.PCA.score` and
        :meth:`sklearn.mixture.GaussianMixture.score`): held-out
        log-likelihood in pixel space, comparable across models of any size,
        so :class:`~sklearn.model_selection.GridSearchCV` selects by it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    def reconstruction_error(self, X):
        """Mean squared reconstruction error per pixel, ``||x - decode(encode(x))||^2 / d``.

        What the dictionary alone keeps of the images, whatever the prior;
        it always falls as the dictionary grows, so it cannot select a size
        (:meth:`score` can).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images.

        Returns
        -------
        error : float
            Lower is better.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        total = 0.0
        for rows in iter_batches(X.shape[0], DEFAULT_CHUNK):
            residual = X[rows] - np.asarray(self._decode(self._encode(X[rows])))
            total += float(np.sum(np.square(residual, dtype=np.float64)))
        return total / X.size

    def _pipeline_log_likelihood(self, X, density):
        """``log p(x)`` with ``density`` (the rest of a pipeline) over ``transform``'s codes."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        return self._log_likelihood(X, density, self._code_range())[0]

    def _log_likelihood(self, X, density, linear_range):
        """``(log p(x), standard error or None)`` for validated images.

        ``density`` scores the coordinates of ``linear_range``; exact, so the
        standard error is None. Models whose density is estimated override
        this.
        """
        if linear_range is None or getattr(self, "noise_", None) is None:
            raise ValueError(self._no_density_reason())
        return range_log_likelihood(X, linear_range, density.score_samples, self.noise_), None


def _pca_log_likelihood(pca, X, tail):
    """Probabilistic PCA with ``tail`` as the density of its (whitened) scores."""
    X = check_array(X, dtype=np.float64, input_name="X")
    n_features = pca.components_.shape[1]
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but {type(pca).__name__} is expecting "
                         f"{n_features} features as input.")
    mapping = pca.components_
    if pca.whiten:
        mapping = mapping * np.sqrt(pca.explained_variance_)[:, None]
    n_rest = n_features - mapping.shape[0]
    if n_rest and not pca.noise_variance_ > 0:
        raise ValueError(
            f"{type(pca).__name__} kept every direction in which its training data vary "
            "(noise_variance_ is 0), so images off that subspace have no density; use fewer "
            "components or more training images."
        )
    linear_range = LinearRange(mapping, pca.mean_, owner=type(pca).__name__)
    noise = isotropic_noise(pca.noise_variance_ if n_rest else 1.0, n_rest)
    return range_log_likelihood(X, linear_range, tail.score_samples, noise)


def _scaler_log_likelihood(scaler, X, tail):
    """An invertible affine step: the tail's density of ``transform(X)`` and the Jacobian."""
    Xt = scaler.transform(X)
    scale = getattr(scaler, "scale_", None)
    log_det = 0.0 if scale is None else float(np.sum(np.log(scale)))
    return np.asarray(tail.score_samples(Xt), dtype=np.float64) - log_det


def step_log_likelihood(step, X, tail):
    """``log p(x)`` of ``X`` through one pipeline step, ``tail`` being the density of its output.

    skspectral models push the density through their own decoder and noise
    model (``_pipeline_log_likelihood``); scikit-learn's PCA is
    probabilistic PCA and StandardScaler an invertible affine map.
    """
    own = getattr(step, "_pipeline_log_likelihood", None)
    if own is not None:
        return own(X, tail)
    if isinstance(step, (PCA, IncrementalPCA)):
        return _pca_log_likelihood(step, X, tail)
    if isinstance(step, StandardScaler):
        return _scaler_log_likelihood(step, X, tail)
    raise ValueError(
        f"The pipeline's density (score, score_samples) cannot pass through the step "
        f"{type(step).__name__}: it is "
        "neither an invertible linear map (StandardScaler) nor a linear decoder with a noise "
        "model (PCA, IncrementalPCA, the skspectral models). Score the pipeline's last step "
        "on transformed data instead, or drop the step."
    )
