"""Exact log-likelihood of images under SpectralDictionary's linear-Gaussian reading."""

import math

import numpy as np
from scipy.special import logsumexp

_LOG_2PI = math.log(2.0 * math.pi)


def mixture_log_likelihood(X, components, mean, noise_variance, mixture, chols):
    """``log p(x)`` for ``w ~ sum_k pi_k N(mu_k, Sigma_k)``, ``x | w ~ N(mean + w S, s2 I)``.

    For each component the marginal is ``N(mean + mu S, S^T Sigma S + s2 I)``,
    evaluated through the Woodbury identity with K x K factorisations only
    (``chols[k]`` is a Cholesky factor of ``Sigma_k``); the components are
    combined with logsumexp.

    Parameters
    ----------
    X : ndarray of shape (n, T)
    components : ndarray of shape (K, T)
    mean : ndarray of shape (T,)
    noise_variance : float
    mixture : tuple (weights, means, covariances)
    chols : list of ndarray of shape (K, K)

    Returns
    -------
    log_likelihood : ndarray of shape (n,)
    """
    weights, means, _ = mixture
    S = components.astype(np.float64)
    t = S.shape[1]
    sigma2 = noise_variance
    gram = S @ S.T
    Xc = X.astype(np.float64) - mean
    proj = Xc @ S.T  # (n, K): the only (n x T) GEMM
    sq = np.einsum("ij,ij->i", Xc, Xc)
    log_terms = []
    for pi, mu, chol_s in zip(weights, means, chols):
        m = np.eye(len(mu)) + chol_s.T @ gram @ chol_s / sigma2
        chol_m = np.linalg.cholesky(m)
        log_det = t * math.log(sigma2) + 2.0 * np.log(np.diag(chol_m)).sum()
        # r = x - mean - mu S; |r|^2 and S r from the projections.
        r_proj = proj - gram @ mu
        r_sq = sq - 2.0 * proj @ mu + mu @ gram @ mu
        z = np.linalg.solve(chol_m, chol_s.T @ r_proj.T)
        maha = r_sq / sigma2 - np.einsum("ij,ij->j", z, z) / sigma2**2
        log_terms.append(math.log(pi) - 0.5 * (t * _LOG_2PI + log_det + maha))
    return logsumexp(np.stack(log_terms), axis=0)
