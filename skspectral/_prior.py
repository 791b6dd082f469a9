"""CoefficientPrior: the density over codes that turns a dictionary into a sampler."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.covariance import OAS, EmpiricalCovariance, LedoitWolf, ShrunkCovariance
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

_LOG_2PI = np.log(2 * np.pi)


def _gaussian_log_density(X, mean, covariance):
    """Log N(X | mean, covariance) through a Cholesky factor (rows of X)."""
    chol = np.linalg.cholesky(covariance)
    diff = np.linalg.solve(chol, (X - mean).T)
    maha = np.einsum("ij,ij->j", diff, diff)
    log_det = 2.0 * np.log(np.diag(chol)).sum()
    return -0.5 * (X.shape[1] * _LOG_2PI + log_det + maha)


def _regularised(covariance, reg_covar):
    covariance = np.array(covariance, dtype=np.float64, copy=True)
    covariance.flat[:: covariance.shape[0] + 1] += reg_covar
    return covariance


class CoefficientPrior(DensityMixin, BaseEstimator):
    """Density over dictionary codes, used to draw new codes (and so images).

    Every dictionary model in skspectral encodes an image as a vector of
    coefficients. A ``CoefficientPrior`` fitted on those codes makes the model
    generative: draw codes from it, then synthesise. It wraps scikit-learn's
    own estimators (covariance estimators, :class:`~sklearn.mixture.GaussianMixture`,
    :class:`~sklearn.neighbors.KernelDensity`).

    Parameters
    ----------
    kind : {"gaussian", "diagonal", "gmm", "kde"}, default="gaussian"
        ``"gaussian"``: one multivariate normal with a full covariance
        (optionally shrunk). ``"diagonal"``: independent normals per
        coefficient. ``"gmm"``: a Gaussian mixture. ``"kde"``: a Gaussian
        kernel density estimate.
    n_components : int, default=1
        Number of mixture components (``kind="gmm"`` only).
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        Covariance structure of the mixture components (``kind="gmm"`` only).
    shrinkage : {"ledoit_wolf", "oas"} or float in [0, 1] or None, default=None
        Covariance shrinkage for ``kind="gaussian"``: ``None`` is the empirical
        covariance, a float is :class:`~sklearn.covariance.ShrunkCovariance`'s
        coefficient, the strings select the Ledoit-Wolf or OAS estimators.
    bandwidth : float or {"scott", "silverman"}, default="scott"
        Kernel bandwidth for ``kind="kde"``.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance so that degenerate codes
        (constant coefficients, fewer samples than dimensions) stay valid.
    random_state : int, RandomState instance or None, default=None
        Seeds the mixture initialisation and, when ``sample`` gets no
        ``random_state`` of its own, the draws.

    Attributes
    ----------
    estimator_ : object
        The fitted scikit-learn estimator behind the density.
    mean_ : ndarray of shape (n_features,)
        Mean of the codes seen in ``fit``.
    covariance_ : ndarray of shape (n_features, n_features)
        Covariance of the density (``"gaussian"`` and ``"diagonal"`` only;
        for ``"gmm"`` see ``get_mixture``).
    n_features_in_ : int
        Number of coefficients per code.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit`` (only when X has string names).

    See Also
    --------
    skspectral.pipeline.make_pipeline : Build a pipeline that can ``sample``.

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral import CoefficientPrior
    >>> rng = np.random.RandomState(0)
    >>> codes = rng.normal(size=(200, 3))
    >>> prior = CoefficientPrior("gmm", n_components=2, random_state=0).fit(codes)
    >>> prior.sample(5).shape
    (5, 3)
    >>> round(float(prior.score(codes)), 1)
    -4.2
    """

    _parameter_constraints: dict = {
        "kind": [StrOptions({"gaussian", "diagonal", "gmm", "kde"})],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
        "shrinkage": [
            None,
            StrOptions({"ledoit_wolf", "oas"}),
            Interval(Real, 0, 1, closed="both"),
        ],
        "bandwidth": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"scott", "silverman"}),
        ],
        "reg_covar": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        kind="gaussian",
        n_components=1,
        *,
        covariance_type="full",
        shrinkage=None,
        bandwidth="scott",
        reg_covar=1e-6,
        random_state=None,
    ):
        self.kind = kind
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.shrinkage = shrinkage
        self.bandwidth = bandwidth
        self.reg_covar = reg_covar
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the density to codes ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Codes, one row per image.
        y : None
            Ignored.

        Returns
        -------
        self : CoefficientPrior
            The fitted prior.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        self._dtype = X.dtype
        X64 = X.astype(np.float64, copy=False)
        self.mean_ = X64.mean(axis=0)
        fitters = {
            "gaussian": self._fit_gaussian,
            "diagonal": self._fit_diagonal,
            "gmm": self._fit_gmm,
            "kde": self._fit_kde,
        }
        fitters[self.kind](X64)
        return self

    def _fit_gaussian(self, X):
        if self.shrinkage is None:
            est = EmpiricalCovariance(assume_centered=False)
        elif self.shrinkage == "ledoit_wolf":
            est = LedoitWolf()
        elif self.shrinkage == "oas":
            est = OAS()
        else:
            est = ShrunkCovariance(shrinkage=self.shrinkage)
        self.estimator_ = est.fit(X)
        self.covariance_ = _regularised(est.covariance_, self.reg_covar)
        self._chol = np.linalg.cholesky(self.covariance_)

    def _fit_diagonal(self, X):
        variance = X.var(axis=0) + self.reg_covar
        self.estimator_ = None
        self.covariance_ = np.diag(variance)
        self._chol = np.diag(np.sqrt(variance))

    def _fit_gmm(self, X):
        n_components = min(self.n_components, X.shape[0])
        self.estimator_ = GaussianMixture(
            n_components=n_components,
            covariance_type=self.covariance_type,
            reg_covar=self.reg_covar,
            random_state=self.random_state,
        ).fit(X)

    def _fit_kde(self, X):
        self.estimator_ = KernelDensity(kernel="gaussian", bandwidth=self.bandwidth).fit(X)

    def get_mixture(self):
        """The density as a Gaussian mixture (weights, means, covariances).

        Models use this to compute exact marginal likelihoods (for example
        through the Woodbury identity) for ``"gaussian"``, ``"diagonal"`` and
        ``"gmm"`` priors.

        Returns
        -------
        weights : ndarray of shape (n_components,)
        means : ndarray of shape (n_components, n_features)
        covariances : ndarray of shape (n_components, n_features, n_features)

        Raises
        ------
        ValueError
            For ``kind="kde"``, which is not a finite Gaussian mixture.
        """
        check_is_fitted(self)
        if self.kind in ("gaussian", "diagonal"):
            return np.ones(1), self.mean_[None], self.covariance_[None]
        if self.kind == "gmm":
            gmm = self.estimator_
            d = gmm.means_.shape[1]
            k = gmm.n_components
            cov = gmm.covariances_
            if gmm.covariance_type == "tied":
                cov = np.broadcast_to(cov, (k, d, d))
            elif gmm.covariance_type == "diag":
                cov = np.stack([np.diag(c) for c in cov])
            elif gmm.covariance_type == "spherical":
                cov = cov[:, None, None] * np.eye(d)
            return gmm.weights_, gmm.means_, np.array(cov)
        raise ValueError("get_mixture() is not defined for kind='kde'.")

    def score_samples(self, X):
        """Log-density of each code.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Codes.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        X = X.astype(np.float64, copy=False)
        if self.kind in ("gmm", "kde"):
            return self.estimator_.score_samples(X)
        return _gaussian_log_density(X, self.mean_, self.covariance_)

    def score(self, X, y=None):
        """Mean log-likelihood of the codes ``X`` (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Codes.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1, random_state=None):
        """Draw codes from the fitted density.

        Parameters
        ----------
        n_samples : int, default=1
            Number of codes to draw.
        random_state : int, RandomState instance or None, default=None
            Seed for this draw; ``None`` uses the estimator's ``random_state``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The codes, in the dtype seen in ``fit``.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(
                f"n_samples must be a positive integer; got {n_samples!r}."
            )
        rng = check_random_state(self.random_state if random_state is None else random_state)
        if self.kind in ("gaussian", "diagonal"):
            noise = rng.standard_normal((n_samples, self.mean_.shape[0]))
            out = self.mean_ + noise @ self._chol.T
        elif self.kind == "gmm":
            out = self._sample_gmm(n_samples, rng)
        else:
            out = self.estimator_.sample(n_samples, random_state=rng)
        return out.astype(self._dtype, copy=False)

    def _sample_gmm(self, n_samples, rng):
        # GaussianMixture.sample sorts draws by component; shuffle-free draws
        # keep a sample grid representative of the whole mixture.
        weights, means, covariances = self.get_mixture()
        labels = rng.choice(len(weights), size=n_samples, p=weights / weights.sum())
        out = np.empty((n_samples, means.shape[1]))
        for k in np.unique(labels):
            idx = np.flatnonzero(labels == k)
            chol = np.linalg.cholesky(_regularised(covariances[k], 0.0))
            out[idx] = means[k] + rng.standard_normal((idx.size, means.shape[1])) @ chol.T
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags = None
        return tags

