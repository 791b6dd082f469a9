"""Ridge codes and batched synthesis of SpectralDictionary.

The differentiable mini-batch ridge solve is torch (CPU or CUDA): it takes
part in training. After ``fit`` the atoms are a fixed matrix, and
``transform``/``inverse_transform``/``sample`` are GEMMs: on the CPU they go
through NumPy's BLAS (the asv suite ``bench_spectral.SynthesisSuite``
compares them with a Numba kernel and a bare GEMM), on CUDA through torch.
Every batched routine walks the rows in chunks so memory stays bounded by
one chunk.
"""

import numpy as np
import scipy.linalg
import torch

from .._backend import (
    DEFAULT_CHUNK,
    as_numpy,
    as_tensor,
    iter_batches,
    jit,
    prange,
    safe_cholesky,
)


def ridge_codes_torch(X, atoms, alpha):
    """Codes ``W = X S^T (S S^T + alpha I)^-1`` through a Cholesky factor.

    Differentiable in ``atoms`` (variable projection during training). A
    jitter proportional to the Gram's mean diagonal keeps float32 factors
    valid when two atoms drift towards each other.
    """
    gram = atoms @ atoms.T
    scale = float(gram.detach().diagonal().mean())
    chol = safe_cholesky(gram, jitter=alpha + 1e-6 * scale)
    rhs = (X @ atoms.T).T
    return torch.cholesky_solve(rhs, chol).T


def gram_cholesky(components, alpha):
    """Lower Cholesky factor (float64) of ``S S^T + alpha I`` for ``transform``."""
    S = np.asarray(components, dtype=np.float64)
    return safe_cholesky(S @ S.T, jitter=float(alpha)), True


def ridge_projection(components, cho, dtype):
    """The (T, K) matrix ``P = S^T (S S^T + alpha I)^-1`` (float64 solve, cast after).

    Precomputed once per fit so that ``transform`` is one GEMM, ``(X - mean) P``,
    with the centring folded into a K-vector.
    """
    S = np.asarray(components, dtype=np.float64)
    return np.ascontiguousarray(scipy.linalg.cho_solve(cho, S, check_finite=False).T, dtype=dtype)


def ridge_transform(X, projection, offset, *, device=None, batch_size=DEFAULT_CHUNK):
    """Batched ridge codes ``X P - offset`` (NumPy BLAS on the CPU, torch on CUDA).

    Parameters
    ----------
    X : ndarray of shape (n, T)
    projection : ndarray of shape (T, K)
        ``ridge_projection(components, cho, X.dtype)``.
    offset : ndarray of shape (K,)
        ``mean @ projection``.
    device : torch.device or None
        A CUDA device runs the GEMM with torch; None or CPU uses BLAS.
    batch_size : int
        Rows per chunk.

    Returns
    -------
    W : ndarray of shape (n, K), dtype of ``X``.
    """
    return synthesize(X, projection, -offset, device=device, batch_size=batch_size)


def synthesize(W, components, mean, *, device=None, batch_size=DEFAULT_CHUNK, out=None):
    """Batched ``W @ components + mean`` (NumPy BLAS on the CPU, torch on CUDA)."""
    n = W.shape[0]
    if out is None:
        out = np.empty((n, components.shape[1]), dtype=components.dtype)
    use_torch = device is not None and torch.device(device).type == "cuda"
    if use_torch:
        S_t = as_tensor(components, device)
        m_t = as_tensor(mean, device)
    for sl in iter_batches(n, batch_size):
        if use_torch:
            out[sl] = as_numpy(torch.addmm(m_t, as_tensor(W[sl], device, components.dtype), S_t))
        else:
            np.matmul(W[sl].astype(components.dtype, copy=False), components, out=out[sl])
            out[sl] += mean
    return out


@jit(parallel=True, fastmath=True)
def synthesize_numba(W, components, mean, out):
    """Reference Numba synthesis (one output row per thread).

    Kept to back the BLAS choice with a measurement (asv) and to test the
    BLAS path against an independent implementation.
    """
    n, k = W.shape
    t = components.shape[1]
    for i in prange(n):
        for j in range(t):
            out[i, j] = mean[j]
        for a in range(k):
            w = W[i, a]
            for j in range(t):
                out[i, j] += w * components[a, j]
    return out
