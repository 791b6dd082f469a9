"""The densities behind CoefficientPrior, one small class per ``kind``.

Each is fitted on the codes of one class (or of all images) and offers
``sample(n, rng, temperature)`` (``temperature`` scales the draws' noise
around the density's means, kernels or base distribution),
``score_samples(X)`` and ``mixture()`` (weights, means,
covariances of the density as a finite Gaussian mixture, or None where it is
not one), and ``partial_fit(X)`` to update it with a chunk of codes (after
``fit`` or from scratch): exact for the Gaussian, diagonal, kernel and
sparse-support densities, whose statistics add up over chunks; online EM
for the mixture. They wrap scikit-learn's estimators wherever
one exists; the sparse-support density is the Markov network and EM sampler
of Vaksman & Elad (``_support``, ``_gibbs``).
"""

import numbers
import warnings

import numpy as np
from sklearn.covariance import (
    OAS,
    EmpiricalCovariance,
    LedoitWolf,
    ShrunkCovariance,
    shrunk_covariance,
)
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky
from sklearn.neighbors import KernelDensity

from .._backend import safe_cholesky
from . import _partition, _support
from ._flow import FlowDensity

_LOG_2PI = np.log(2 * np.pi)


def gaussian_log_density(X, mean, covariance):
    """Log N(X | mean, covariance) through a Cholesky factor (rows of X)."""
    chol = safe_cholesky(covariance)
    diff = np.linalg.solve(chol, (X - mean).T)
    maha = np.einsum("ij,ij->j", diff, diff)
    log_det = 2.0 * np.log(np.diag(chol)).sum()
    return -0.5 * (X.shape[1] * _LOG_2PI + log_det + maha)


def add_to_diagonal(covariance, value):
    covariance = np.array(covariance, dtype=np.float64, copy=True)
    covariance.flat[:: covariance.shape[0] + 1] += value
    return covariance


class Moments:
    """Count, mean and scatter of the rows seen, merged chunk by chunk.

    Chan, Golub and LeVeque's pairwise update: merging the moments of two
    chunks gives those of their union, to rounding, without a second pass
    or the catastrophic cancellation of raw sums of squares. ``diagonal``
    keeps only the per-column scatter.
    """

    def __init__(self, n_features, diagonal=False):
        self.n = 0
        self.mean = np.zeros(n_features)
        self.diagonal = diagonal
        self.scatter = np.zeros(n_features if diagonal else (n_features, n_features))

    def update(self, X):
        n_new = X.shape[0]
        if n_new == 0:
            return self
        mean_new = X.mean(axis=0)
        centered = X - mean_new
        if self.diagonal:
            scatter_new = np.einsum("ij,ij->j", centered, centered)
        else:
            scatter_new = centered.T @ centered
        n = self.n + n_new
        delta = mean_new - self.mean
        cross = delta * delta if self.diagonal else np.outer(delta, delta)
        self.scatter = self.scatter + scatter_new + cross * (self.n * n_new / n)
        self.mean = self.mean + delta * (n_new / n)
        self.n = n
        return self

    @property
    def covariance(self):
        """The maximum-likelihood (biased) covariance, as scikit-learn's estimators use."""
        return self.scatter / self.n


def _oas(emp_cov, n_samples):
    """Chen et al.'s oracle approximating shrinkage, from the empirical covariance alone."""
    n_features = emp_cov.shape[0]
    alpha = np.mean(emp_cov**2)
    mu = np.trace(emp_cov) / n_features
    num = alpha + mu**2
    den = (n_samples + 1.0) * (alpha - mu**2 / n_features)
    shrinkage = 1.0 if den == 0 else min(num / den, 1.0)
    shrunk = (1.0 - shrinkage) * emp_cov
    shrunk.flat[:: n_features + 1] += shrinkage * mu
    return shrunk, shrinkage


class GaussianDensity:
    """One multivariate normal (full covariance, optionally shrunk)."""

    def __init__(self, prior):
        self.shrinkage = prior.shrinkage
        self.reg_covar = prior.reg_covar

    def fit(self, X):
        if self.shrinkage is None:
            est = EmpiricalCovariance(assume_centered=False)
        elif self.shrinkage == "ledoit_wolf":
            est = LedoitWolf()
        elif self.shrinkage == "oas":
            est = OAS()
        else:
            est = ShrunkCovariance(shrinkage=self.shrinkage)
        self.moments = Moments(X.shape[1]).update(X)
        self._set(est.fit(X), X.mean(axis=0))
        return self

    def partial_fit(self, X):
        if not hasattr(self, "moments"):
            self.moments = Moments(X.shape[1])
        self.moments.update(X)
        self._set(self._estimator_from_moments(), self.moments.mean)
        return self

    def _estimator_from_moments(self):
        emp_cov = self.moments.covariance
        if self.shrinkage is None:
            est, cov = EmpiricalCovariance(assume_centered=False), emp_cov
        elif self.shrinkage == "ledoit_wolf":
            raise ValueError(
                "shrinkage='ledoit_wolf' needs every code at once and cannot be updated "
                "chunk by chunk; use shrinkage='oas' or a float with partial_fit."
            )
        elif self.shrinkage == "oas":
            est = OAS()
            cov, est.shrinkage_ = _oas(emp_cov, self.moments.n)
        else:
            est = ShrunkCovariance(shrinkage=self.shrinkage)
            cov = shrunk_covariance(emp_cov, self.shrinkage)
        est.location_ = self.moments.mean.copy()
        est._set_covariance(cov)
        return est

    def _set(self, estimator, mean):
        self.estimator = estimator
        self.mean = mean
        self.covariance = add_to_diagonal(estimator.covariance_, self.reg_covar)
        self.chol = safe_cholesky(self.covariance)

    def mixture(self):
        return np.ones(1), self.mean[None], self.covariance[None]

    def sample(self, n, rng, temperature=1.0):
        noise = rng.standard_normal((n, self.mean.shape[0]))
        return self.mean + temperature * noise @ self.chol.T

    def score_samples(self, X):
        return gaussian_log_density(X, self.mean, self.covariance)


class DiagonalDensity(GaussianDensity):
    """Independent normals per coefficient."""

    def fit(self, X):
        self.moments = Moments(X.shape[1], diagonal=True)
        return self.partial_fit(X)

    def partial_fit(self, X):
        if not hasattr(self, "moments"):
            self.moments = Moments(X.shape[1], diagonal=True)
        self.moments.update(X)
        variance = self.moments.covariance + self.reg_covar
        self.estimator = None
        self.mean = self.moments.mean.copy()
        self.covariance = np.diag(variance)
        self.chol = np.diag(np.sqrt(variance))
        return self


class MixtureDensity:
    """A Gaussian mixture (scikit-learn's :class:`~sklearn.mixture.GaussianMixture`)."""

    def __init__(self, prior):
        self.n_components = prior.n_components
        self.covariance_type = prior.covariance_type
        self.reg_covar = prior.reg_covar
        self.random_state = prior.random_state

    def fit(self, X):
        n_components = self.n_components
        if n_components > X.shape[0]:
            warnings.warn(
                f"n_components={n_components} is larger than the number of codes "
                f"({X.shape[0]}); using n_components={X.shape[0]}.",
                UserWarning,
                stacklevel=4,
            )
            n_components = X.shape[0]
        self.estimator = GaussianMixture(
            n_components=n_components,
            covariance_type=self.covariance_type,
            reg_covar=self.reg_covar,
            random_state=self.random_state,
        )
        try:
            self.estimator.fit(X)
        except ValueError as exc:
            if "ill-defined empirical covariance" not in str(exc):
                raise
            raise FloatingPointError(
                f"CoefficientPrior(kind='gmm') diverged: EM left a component with an "
                f"ill-defined covariance (the codes reach {np.abs(X).max():.3g}). Scale the "
                f"input X to [0, 1], raise reg_covar (now {self.reg_covar}) or lower "
                f"n_components (now {n_components})."
            ) from exc
        self.stats = self._statistics_of_parameters(X.shape[0])
        self.chols = [safe_cholesky(c) for c in self.mixture()[2]]
        return self

    def partial_fit(self, X):
        """Online EM: add the chunk's expected statistics, then one M-step.

        Responsibilities come from the current mixture, and the statistics
        of earlier chunks are kept as they were (Cappé and Moulines' online
        EM with step ``n_chunk / n_seen``): the mixture is warm-started from
        its previous parameters, never re-initialised. The first chunk of a
        new stream initialises it with a full EM fit.
        """
        if not hasattr(self, "estimator"):
            return self.fit(X)
        resp = self.estimator.predict_proba(X)
        chunk = self._expected_statistics(X, resp)
        self.stats = [a + b for a, b in zip(self.stats, chunk)]
        self._set_parameters(*self.stats)
        self.chols = [safe_cholesky(c) for c in self.mixture()[2]]
        return self

    def _full_scatter(self):
        return self.covariance_type in ("full", "tied")

    def _expected_statistics(self, X, resp):
        """Sum of responsibilities, of weighted codes and of weighted squares per component."""
        n_k = resp.sum(axis=0)
        s1 = resp.T @ X
        if self._full_scatter():
            s2 = np.einsum("ik,ij,il->kjl", resp, X, X)
        else:
            s2 = resp.T @ (X * X)
        return n_k, s1, s2

    def _statistics_of_parameters(self, n_samples):
        """The statistics a mixture fitted on ``n_samples`` codes stands for."""
        weights, means, covariances = self.mixture()
        n_k = weights * n_samples
        inner = covariances - self.reg_covar * np.eye(means.shape[1])
        second = inner + np.einsum("ki,kj->kij", means, means)
        if not self._full_scatter():
            second = np.einsum("kii->ki", second)
        return n_k, n_k[:, None] * means, n_k.reshape((-1,) + (1,) * (second.ndim - 1)) * second

    def _set_parameters(self, n_k, s1, s2):
        """The M-step from accumulated statistics, into the scikit-learn mixture."""
        safe_n = np.maximum(n_k, 10 * np.finfo(float).eps)
        weights = safe_n / safe_n.sum()
        means = s1 / safe_n[:, None]
        d = means.shape[1]
        if self._full_scatter():
            cov = s2 / safe_n[:, None, None] - np.einsum("ki,kj->kij", means, means)
            if self.covariance_type == "tied":
                cov = np.einsum("k,kij->ij", safe_n, cov) / safe_n.sum()
            cov = cov + self.reg_covar * np.eye(d)
        else:
            cov = np.maximum(s2 / safe_n[:, None] - means**2, 0.0) + self.reg_covar
            if self.covariance_type == "spherical":
                cov = cov.mean(axis=1)
        gmm = self.estimator
        gmm._set_parameters(
            (weights, means, cov, _compute_precision_cholesky(cov, self.covariance_type))
        )

    def mixture(self):
        gmm = self.estimator
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

    def sample(self, n, rng, temperature=1.0):
        # GaussianMixture.sample sorts its draws by component; drawing the
        # component of each row keeps any slice of a draw representative.
        weights, means, _ = self.mixture()
        labels = rng.choice(len(weights), size=n, p=weights / weights.sum())
        out = np.empty((n, means.shape[1]))
        for k in np.unique(labels):
            idx = np.flatnonzero(labels == k)
            noise = rng.standard_normal((idx.size, means.shape[1]))
            out[idx] = means[k] + temperature * noise @ self.chols[k].T
        return out

    def score_samples(self, X):
        return self.estimator.score_samples(X)


class KernelDensityEstimate:
    """A Gaussian kernel density (scikit-learn's :class:`~sklearn.neighbors.KernelDensity`)."""

    def __init__(self, prior):
        self.bandwidth = prior.bandwidth

    def fit(self, X):
        self.estimator = KernelDensity(kernel="gaussian", bandwidth=self.bandwidth).fit(X)
        return self

    def partial_fit(self, X):
        # A kernel density is its codes: the update keeps all of them (exact).
        if hasattr(self, "estimator"):
            X = np.concatenate([np.asarray(self.estimator.tree_.data), X])
        return self.fit(X)

    def __getstate__(self):
        # Saved without the fitted KDTree, whose raw node indices a crafted
        # file could point out of range (skops does not trust the type): the
        # training codes are kept and the tree, deterministic, is rebuilt.
        state = dict(self.__dict__)
        estimator = state.pop("estimator", None)
        if estimator is not None:
            state["codes"] = np.array(estimator.tree_.data)
        return state

    def __setstate__(self, state):
        state = dict(state)
        codes = state.pop("codes", None)
        self.__dict__.update(state)
        if codes is not None:
            self.fit(codes)

    def mixture(self):
        return None  # not a finite Gaussian mixture

    def sample(self, n, rng, temperature=1.0):
        # KernelDensity.sample's draw (a uniformly chosen training code plus
        # kernel noise, in its order of random draws, so temperature 1 gives
        # its very codes) with the kernel's width scaled by the temperature.
        data = np.asarray(self.estimator.tree_.data)
        rows = (rng.uniform(0, 1, size=n) * data.shape[0]).astype(np.int64)
        return np.atleast_2d(rng.normal(data[rows], temperature * self.estimator.bandwidth_))

    def score_samples(self, X):
        return self.estimator.score_samples(X)


class SparseSupportDensity:
    """Vaksman & Elad's density over sparse codes.

    A pairwise Markov network over the supports (sets of signed atoms),
    sampled by Gibbs, and per drawn support a Gaussian over the magnitudes
    fitted by EM on the training codes sharing its atoms (see ``_support``).

    Its log-density (:meth:`score_samples`) is ``log p(S) + log p(m | S)``
    with respect to counting measure over signed supports times Lebesgue
    measure on the ``k`` non-zero coefficients: ``p(S) = exp(-E(S)) / Z`` is
    the stationary law of the Gibbs sampler (``_partition``), ``log Z``
    computed once (:meth:`log_partition`, cached in ``log_partition_``,
    ``log_partition_se_`` and ``log_partition_method_``, which pickling
    keeps), and ``p(m | S)`` the density of the sampler's positive
    magnitudes (:func:`~skspectral.prior._support.coefficient_log_density`).
    """

    def __init__(self, prior):
        self.smoothing = prior.smoothing
        self.chain_start = prior.chain_start
        self.burn_in = _support.burn_in_sweeps(prior.burn_in, prior.chain_start)
        self.n_gibbs_sweeps = prior.n_gibbs_sweeps
        self.em_max_iter = prior.em_max_iter
        self.overlap_power = prior.overlap_power
        self.coefficient_model = prior.coefficient_model
        self.partition_seed = _partition_seed(prior.random_state)

    def fit(self, X):
        self.statistics = _support.SupportStatistics(X.shape[1])
        self.n_nonzero_coefs = 1
        return self.partial_fit(X)

    def partial_fit(self, X):
        if not hasattr(self, "statistics"):
            self.statistics = _support.SupportStatistics(X.shape[1])
            self.n_nonzero_coefs = 1
        self.n_atoms = X.shape[1]
        k = int(max(1, np.count_nonzero(X, axis=1).max()))
        self.n_nonzero_coefs = max(self.n_nonzero_coefs, k)
        self.statistics.update(*_support.dense_to_compact(X, k))
        self.marginals, self.pairwise, self.sampler = self.statistics.sampler(
            self.smoothing, getattr(self, "coefficient_model", "em"))
        self.estimator = None
        # New potentials: log Z is computed again when next needed.
        for name in PARTITION_ATTRIBUTES:
            self.__dict__.pop(name, None)
        return self

    def __getstate__(self):
        # The sampler holds the training codes already; the statistics keep
        # only their counts in the file.
        state = dict(self.__dict__)
        stats = state.pop("statistics", None)
        if stats is not None:
            state["support_counts"] = (stats.n, stats.counts, stats.pair_counts)
        return state

    def __setstate__(self, state):
        state = dict(state)
        counts = state.pop("support_counts", None)
        self.__dict__.update(state)
        if counts is not None:
            stats = _support.SupportStatistics(self.n_atoms)
            stats.n, stats.counts, stats.pair_counts = counts
            stats.signed = [self.sampler["signed"]]
            stats.magnitudes = [self.sampler["magnitudes"]]
            self.statistics = stats

    def mixture(self):
        return None  # not a Gaussian mixture

    def sample_supports(self, n, rng, guide=None):
        return _support.sample_codes(
            self.sampler, self.n_atoms, self.n_nonzero_coefs, n, self.burn_in,
            self.n_gibbs_sweeps, self.em_max_iter, rng,
            # Samplers saved before chain starts were a choice ran sequential chains.
            chain_start=getattr(self, "chain_start", "sequential"),
            # Samplers saved before the weighting pooled all images alike.
            overlap_power=getattr(self, "overlap_power", 0.0),
            # Samplers saved before the regressions fitted Gaussians by EM.
            coefficient_model=getattr(self, "coefficient_model", "em"),
            guide=guide,
        )

    def sample(self, n, rng, guide=None):
        return self.sample_supports(n, rng, guide)[0]

    def log_partition(self):
        """``(log Z, standard error)`` of the support network, computed once.

        Summed exactly for networks of at most
        :data:`~skspectral.prior._partition.EXACT_LIMIT` supports; otherwise
        the training supports and the neighbourhoods of the most probable
        ones are summed exactly and the rest estimated by annealed
        importance sampling from the independent-support model, seeded by
        ``partition_seed`` (from the prior's ``random_state``).
        """
        if not hasattr(self, "log_partition_"):
            self.log_partition_, self.log_partition_se_, self.log_partition_method_ = (
                _partition.log_partition(
                    self.sampler["log_unary"], self.sampler["log_pair"], self.n_atoms,
                    self.n_nonzero_coefs, self.sampler["signed"],
                    getattr(self, "partition_seed", 0)))
        return self.log_partition_, self.log_partition_se_

    def support_log_prior(self, supports):
        """``log p(S)`` of supports ``(n, k)`` (signed atoms, none empty)."""
        log_z = self.log_partition()[0]
        return _partition.log_potential(supports, self.sampler["log_unary"],
                                        self.sampler["log_pair"]) - log_z

    def coefficient_log_density(self, supports, magnitudes):
        """``log p(m | S)`` of positive magnitudes ``(n, k)`` on their supports."""
        return _support.coefficient_log_density(
            supports, magnitudes, self.sampler, self.em_max_iter,
            getattr(self, "overlap_power", 0.0), getattr(self, "coefficient_model", "em"))

    def score_samples(self, X):
        """``log p(S) + log p(m | S)`` of dense signed codes; ``-inf`` off the model.

        A code with other than ``n_nonzero_coefs`` non-zeros has density 0
        (``-inf``): the model draws exactly ``k`` atoms, and the rare draws
        whose last coefficient try is clipped to 0 have no density with
        respect to Lebesgue measure on ``k`` coefficients.
        """
        k = self.n_nonzero_coefs
        out = np.full(X.shape[0], -np.inf)
        rows = np.flatnonzero(np.count_nonzero(X, axis=1) == k)
        if rows.size == 0:
            return out
        atoms, values, counts = _support.dense_to_compact(X[rows], k)
        signed, magnitudes = _support.signed_supports(atoms, values, counts, self.n_atoms)
        order = np.argsort(signed, axis=1, kind="stable")
        signed = np.take_along_axis(signed, order, axis=1)
        magnitudes = np.take_along_axis(magnitudes, order, axis=1)
        out[rows] = self.support_log_prior(signed) + self.coefficient_log_density(
            signed, magnitudes)
        return out


#: The attributes of a sparse-support density's cached ``log Z``.
PARTITION_ATTRIBUTES = ("log_partition_", "log_partition_se_", "log_partition_method_")


def _partition_seed(random_state):
    """A fixed seed for ``log Z`` from the prior's ``random_state``, drawing nothing from it.

    An int is the seed; a ``RandomState`` gives one from its current state
    (not advancing it, so that sampling draws what it drew before); None
    gives 0, so that scores are reproducible whatever the seed of the draws.
    """
    if isinstance(random_state, numbers.Integral):
        return int(random_state) % (2**32)
    if isinstance(random_state, np.random.RandomState):
        key = random_state.get_state()[1]
        return int(np.bitwise_xor.reduce(key.astype(np.uint64)) % np.uint64(2**32))
    return 0


DENSITIES = {
    "gaussian": GaussianDensity,
    "diagonal": DiagonalDensity,
    "gmm": MixtureDensity,
    "kde": KernelDensityEstimate,
    "sparse_support": SparseSupportDensity,
    "flow": FlowDensity,
}


class WrappedDensity:
    """A density fitted on transformed codes (the subclass's transform).

    ``estimator`` is the inner density's own: it is saved once, with the
    inner density (see :class:`KernelDensityEstimate`, which saves it in its
    own way), and restored from it.
    """

    def _share_estimator(self):
        self.estimator = self.density.estimator

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("estimator", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if hasattr(self.density, "estimator"):
            self._share_estimator()


class Projected(WrappedDensity):
    """A density fitted on the principal components of the codes.

    ``n_dims`` top components (all of them when None), optionally whitened
    (scaled to unit variance). Draws are mapped back with the PCA (a
    low-rank density around the codes' mean when ``n_dims`` is below the
    codes' width); scores are those of the projected codes, with the
    whitening's Jacobian so that whitening does not change them.
    """

    def __init__(self, density, n_dims, random_state, whiten=False):
        self.density = density
        self.n_dims = n_dims
        self.random_state = random_state
        self.whiten = whiten

    def fit(self, X):
        width = X.shape[1] if self.n_dims is None else self.n_dims
        n_dims = max(1, min(width, X.shape[0] - 1, X.shape[1]))
        # Codes without spread make PCA's explained-variance ratios 0 / 0; the
        # ratios are not used, so that warning would only alarm.
        with np.errstate(invalid="ignore", divide="ignore"):
            self.pca = PCA(n_components=n_dims, whiten=self.whiten,
                           random_state=self.random_state).fit(X)
        if self.whiten:
            # Directions without spread would be divided by zero: give them a
            # tiny scale instead (their coordinates are 0 for every code).
            variance = self.pca.explained_variance_
            top = variance.max() if variance.max() > 0 else 1.0
            self.pca.explained_variance_ = np.maximum(variance, np.finfo(float).eps * top)
        self.density.fit(self.pca.transform(X))
        self._share_estimator()
        return self

    def partial_fit(self, X):
        # The projection is learned on the first chunk and then kept, so the
        # density's statistics over later chunks all live in one space.
        if not hasattr(self, "pca"):
            return self.fit(X)
        self.density.partial_fit(self.pca.transform(X))
        self._share_estimator()
        return self

    def _scales(self):
        """How far one unit of each projected coordinate reaches in code space."""
        if getattr(self, "whiten", False):
            return np.sqrt(self.pca.explained_variance_)
        return np.ones(self.pca.n_components_)

    def mixture(self):
        inner = self.density.mixture()
        if inner is None:
            return None
        weights, means, covariances = inner
        C = self._scales()[:, None] * self.pca.components_
        means = means @ C + self.pca.mean_
        covariances = np.einsum("ia,kab,bj->kij", C.T, covariances, C)
        return weights, means, covariances

    def sample(self, n, rng, temperature=1.0):
        return self.pca.inverse_transform(self.density.sample(n, rng, temperature))

    def score_samples(self, X):
        log_jacobian = -np.log(self._scales()).sum()
        return self.density.score_samples(self.pca.transform(X)) + log_jacobian
