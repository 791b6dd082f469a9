"""The densities behind CoefficientPrior, one small class per ``kind``.

Each is fitted on the codes of one class (or of all images) and offers
``sample(n, rng)``, ``score_samples(X)`` and ``mixture()`` (weights, means,
covariances of the density as a finite Gaussian mixture, or None where it is
not one). They wrap scikit-learn's estimators wherever
one exists; the sparse-support density is the Markov network and EM sampler
of Vaksman & Elad (``_support``, ``_gibbs``).
"""

import warnings

import numpy as np
from sklearn.covariance import OAS, EmpiricalCovariance, LedoitWolf, ShrunkCovariance
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity

from .._backend import safe_cholesky
from . import _support

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
        self.estimator = est.fit(X)
        self.mean = X.mean(axis=0)
        self.covariance = add_to_diagonal(est.covariance_, self.reg_covar)
        self.chol = safe_cholesky(self.covariance)
        return self

    def mixture(self):
        return np.ones(1), self.mean[None], self.covariance[None]

    def sample(self, n, rng):
        return self.mean + rng.standard_normal((n, self.mean.shape[0])) @ self.chol.T

    def score_samples(self, X):
        return gaussian_log_density(X, self.mean, self.covariance)


class DiagonalDensity(GaussianDensity):
    """Independent normals per coefficient."""

    def fit(self, X):
        variance = X.var(axis=0) + self.reg_covar
        self.estimator = None
        self.mean = X.mean(axis=0)
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
        ).fit(X)
        self.chols = [safe_cholesky(c) for c in self.mixture()[2]]
        return self

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

    def sample(self, n, rng):
        # GaussianMixture.sample sorts its draws by component; drawing the
        # component of each row keeps any slice of a draw representative.
        weights, means, _ = self.mixture()
        labels = rng.choice(len(weights), size=n, p=weights / weights.sum())
        out = np.empty((n, means.shape[1]))
        for k in np.unique(labels):
            idx = np.flatnonzero(labels == k)
            noise = rng.standard_normal((idx.size, means.shape[1]))
            out[idx] = means[k] + noise @ self.chols[k].T
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

    def sample(self, n, rng):
        return self.estimator.sample(n, random_state=rng)

    def score_samples(self, X):
        return self.estimator.score_samples(X)


class SparseSupportDensity:
    """Vaksman & Elad's density over sparse codes.

    A pairwise Markov network over the supports (sets of signed atoms),
    sampled by Gibbs, and per drawn support a Gaussian over the magnitudes
    fitted by EM on the training codes sharing its atoms (see ``_support``).
    """

    def __init__(self, prior):
        self.smoothing = prior.smoothing
        self.burn_in = prior.burn_in
        self.n_gibbs_sweeps = prior.n_gibbs_sweeps
        self.em_max_iter = prior.em_max_iter

    def fit(self, X):
        self.n_atoms = X.shape[1]
        self.n_nonzero_coefs = int(max(1, np.count_nonzero(X, axis=1).max()))
        atoms, values, counts = _support.dense_to_compact(X, self.n_nonzero_coefs)
        self.marginals, self.pairwise, self.sampler = _support.build_sampler(
            atoms, values, counts, self.n_atoms, self.smoothing
        )
        self.estimator = None
        return self

    def mixture(self):
        return None  # not a Gaussian mixture

    def sample_supports(self, n, rng):
        return _support.sample_codes(
            self.sampler, self.n_atoms, self.n_nonzero_coefs, n, self.burn_in,
            self.n_gibbs_sweeps, self.em_max_iter, rng,
        )

    def sample(self, n, rng):
        return self.sample_supports(n, rng)[0]

    def score_samples(self, X):
        raise ValueError(
            "kind='sparse_support' has no tractable density (the Markov network's "
            "normalising constant is unknown); score it through its samples instead."
        )


DENSITIES = {
    "gaussian": GaussianDensity,
    "diagonal": DiagonalDensity,
    "gmm": MixtureDensity,
    "kde": KernelDensityEstimate,
    "sparse_support": SparseSupportDensity,
}


class Projected:
    """A density fitted on the top principal components of the codes.

    Draws are mapped back with the PCA's components (a low-rank density
    around the codes' mean); scores are those of the projected codes.
    """

    def __init__(self, density, n_dims, random_state):
        self.density = density
        self.n_dims = n_dims
        self.random_state = random_state

    def fit(self, X):
        n_dims = max(1, min(self.n_dims, X.shape[0] - 1, X.shape[1]))
        self.pca = PCA(n_components=n_dims, random_state=self.random_state).fit(X)
        self.density.fit(self.pca.transform(X))
        self.estimator = self.density.estimator
        return self

    def __getstate__(self):
        # estimator is the inner density's: saved once, with it (see
        # KernelDensityEstimate, which saves it in its own way).
        state = dict(self.__dict__)
        state.pop("estimator", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if hasattr(self.density, "estimator"):
            self.estimator = self.density.estimator

    def mixture(self):
        inner = self.density.mixture()
        if inner is None:
            return None
        weights, means, covariances = inner
        C = self.pca.components_
        means = means @ C + self.pca.mean_
        covariances = np.einsum("ia,kab,bj->kij", C.T, covariances, C)
        return weights, means, covariances

    def sample(self, n, rng):
        return self.pca.inverse_transform(self.density.sample(n, rng))

    def score_samples(self, X):
        return self.density.score_samples(self.pca.transform(X))
