"""EM for a Gaussian with missing data on plain arrays, through the sampler's kernel.

A test helper: it runs the ``em_groups`` kernel that ``sample`` runs per
support, after summarising rows by observation pattern.
"""

import numpy as np

from skspectral._backend import jit
from skspectral.prior._gibbs import em_groups


@jit
def _em_groups(observed, counts, sums, outer, mean, cov, max_iter, tol, reg):
    # em_groups is callable from kernels only (no Python wrapper).
    return em_groups(observed, counts, sums, outer, mean, cov, max_iter, tol, reg)


def fit_gaussian_missing(X, observed, max_iter=100, tol=1e-6, reg=0.0):
    """EM for a Gaussian from rows of ``X`` whose ``observed`` entries are known.

    The same kernel that ``sample`` runs per support, on plain arrays: rows
    are summarised by observation pattern first. Returns ``(mean, cov, n_iter)``.
    """
    X = np.asarray(X, dtype=np.float64)
    observed = np.asarray(observed, dtype=bool)
    k = X.shape[1]
    values = np.where(observed, X, 0.0)
    patterns, inverse = np.unique(observed, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    counts = np.bincount(inverse, minlength=patterns.size).astype(np.float64)
    sums = np.zeros((patterns.size, k))
    np.add.at(sums, inverse, values)
    outer = np.zeros((patterns.size, k, k))
    np.add.at(outer, inverse, values[:, :, None] * values[:, None, :])
    with np.errstate(invalid="ignore"):
        n_obs = observed.sum(axis=0)
        mean = np.where(n_obs > 0, values.sum(axis=0) / np.maximum(n_obs, 1), 0.0)
        var = np.array([X[observed[:, t], t].var() if n_obs[t] > 1 else 1.0 for t in range(k)])
    cov = np.diag(np.maximum(var, 1e-12))
    n_iter = _em_groups(patterns, counts, sums, outer, mean, cov, max_iter, tol,
                       reg)
    return mean, cov, n_iter
