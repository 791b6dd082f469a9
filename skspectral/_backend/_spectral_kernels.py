"""Kernels of SpectralDictionary: atom evaluation, ridge codes and batched synthesis.

Atom evaluation and the differentiable mini-batch ridge solve are torch
(CPU or CUDA): they take part in training. After ``fit`` the atoms are a
fixed matrix, and ``transform``/``inverse_transform``/``sample`` are GEMMs:
on the CPU they go through NumPy's BLAS (the asv suite
``bench_spectral.SynthesisSuite`` compares them with a Numba kernel and a
bare GEMM), on CUDA through torch. Every batched routine walks the rows in
chunks of ``batch_size`` so memory stays bounded by one chunk.
"""

import contextlib
import math

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

from ._jit import jit, prange
from ._torch import as_numpy, as_tensor, iter_batches

#: Rows per chunk in batched transform/synthesis (bounded memory).
DEFAULT_CHUNK = 4096

#: Below this many multiply-adds per training step torch runs single-threaded:
#: thread start-up and spinning cost more than the arithmetic they share.
SMALL_STEP_FLOPS = 5e6


@contextlib.contextmanager
def training_threads(n_threads, batch_size, n_features, n_atoms, device):
    """Run CPU training on ``n_threads`` torch threads, restoring the setting after.

    Small steps always run on one thread: thread start-up and spinning cost
    more than the arithmetic they would share.
    """
    if batch_size * n_features * n_atoms < SMALL_STEP_FLOPS:
        n_threads = 1
    if torch.device(device).type != "cpu" or n_threads == torch.get_num_threads():
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def atom_waveforms(amplitudes, frequencies, phases, modulation, positions):
    """Evaluate the K atoms on the sample grid (torch, differentiable).

    ``s_i(t) = softplus(A_i + dA_i(t)) * sin(2 pi softplus(f_i + df_i(t)) t / T
    + phi_i + dphi_i(t))``: frequencies are in cycles per signal (so one Adam
    step moves a phase by a bounded amount whatever T is).

    Parameters
    ----------
    amplitudes, frequencies, phases : Tensor of shape (K,)
        Base parameters (pre-softplus amplitude and frequency).
    modulation : Tensor of shape (T, 3, K)
        ``dA``, ``df`` and ``dphi`` along the signal.
    positions : Tensor of shape (T,)
        Normalised position ``t / T`` in [0, 1).

    Returns
    -------
    atoms : Tensor of shape (K, T)
    """
    d_amp, d_freq, d_phase = modulation.unbind(dim=1)
    envelope = F.softplus(amplitudes + d_amp)
    cycles = F.softplus(frequencies + d_freq)
    angle = 2.0 * math.pi * cycles * positions[:, None] + phases + d_phase
    return (envelope * torch.sin(angle)).T


def ridge_codes_torch(X, atoms, alpha):
    """Codes ``W = X S^T (S S^T + alpha I)^-1`` through a Cholesky factor.

    Differentiable in ``atoms`` (variable projection during training). A
    jitter proportional to the Gram's mean diagonal keeps float32 factors
    valid when two atoms drift towards each other.
    """
    gram = atoms @ atoms.T
    k = gram.shape[0]
    eye = torch.eye(k, dtype=gram.dtype, device=gram.device)
    scale = gram.diagonal().mean().detach()
    jitter = alpha + 1e-6 * scale
    for _ in range(6):
        chol, info = torch.linalg.cholesky_ex(gram + jitter * eye)
        if int(info) == 0:
            break
        jitter = 10.0 * jitter + 1e-6 * scale
    rhs = (X @ atoms.T).T
    return torch.cholesky_solve(rhs, chol).T


def gram_cholesky(components, alpha):
    """Lower Cholesky factor (float64) of ``S S^T + alpha I`` for ``transform``."""
    S = np.asarray(components, dtype=np.float64)
    gram = S @ S.T
    scale = max(float(np.mean(np.diag(gram))), np.finfo(np.float64).tiny)
    jitter = float(alpha)
    for _ in range(8):
        try:
            g = gram.copy()
            g.flat[:: g.shape[0] + 1] += jitter
            return scipy.linalg.cho_factor(g, lower=True)
        except np.linalg.LinAlgError:
            jitter = 10.0 * jitter + 1e-10 * scale
    raise np.linalg.LinAlgError("The Gram matrix of the atoms is not positive definite.")


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
