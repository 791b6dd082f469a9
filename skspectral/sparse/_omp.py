"""Batch orthogonal matching pursuit (Rubinstein, Zibulevsky & Elad, 2008).

Batch-OMP codes many signals against one dictionary. The correlations
``D x`` of a whole chunk of signals come from one BLAS GEMM; the greedy
selection of every signal then only needs the Gram matrix ``G = D D^T`` and a
Cholesky factor of ``G`` restricted to the selected atoms, grown by one row
per step (progressive Cholesky). No residual in signal space is ever formed.

The CPU kernel is compiled by Numba and runs the per-signal selection on
threads over chunks of signals (it releases the GIL); the CUDA path is a batched torch version of the same
recursion. Both reproduce scikit-learn's ``orthogonal_mp_gram`` step for step
(same argmax rule, same stopping rule), so the supports are identical up to
floating-point ties.
"""

import math

import numpy as np
import torch

from .._backend import DEFAULT_CHUNK, as_numpy, as_tensor, jit, run_in_chunks, threads


@jit(internal=True)
def _omp_one(alpha0, gram, n_nonzero, tiny, idx_out, val_out, alpha, gbuf, chol, xy, gamma,
             tmp):
    """OMP of one signal from its correlations ``alpha0 = D x``.

    Writes the selected atoms and their least-squares coefficients and returns
    how many atoms were selected: fewer than ``n_nonzero`` only when the
    squared correlation or the new Cholesky pivot falls below ``tiny`` (the
    dtype's machine epsilon, scikit-learn's stopping rule). ``alpha`` and
    ``gbuf`` (dtype of the input), ``chol``, ``xy``, ``gamma`` and ``tmp``
    (float64) are scratch space reused across signals.
    """
    n_atoms = alpha0.shape[0]
    best = 0
    best_val = -1.0
    for m in range(n_atoms):
        a = abs(alpha0[m])
        if a > best_val:
            best_val = a
            best = m
    n_active = 0
    while n_active < n_nonzero:
        # ``best`` = argmax |alpha| (first index on ties, as NumPy). A selected
        # atom can only win when the residual is numerically zero: stop there,
        # like scikit-learn does.
        if best_val * best_val < tiny:
            break
        reselected = False
        for r in range(n_active):
            if idx_out[r] == best:
                reselected = True
        if reselected:
            break
        # Progressive Cholesky: solve L w = G[selected, best].
        if n_active > 0:
            sq = 0.0
            for r in range(n_active):
                s = gram[idx_out[r], best]
                for c in range(r):
                    s -= chol[r, c] * chol[n_active, c]
                w = s / chol[r, r]
                chol[n_active, r] = w
                sq += w * w
            lkk = gram[best, best] - sq
            if lkk <= tiny:
                break
            chol[n_active, n_active] = math.sqrt(lkk)
        else:
            chol[0, 0] = math.sqrt(gram[best, best])
        idx_out[n_active] = best
        xy[n_active] = alpha0[best]
        n_active += 1
        # gamma = (L L^T)^{-1} alpha0[selected] by two triangular solves.
        for r in range(n_active):
            s = xy[r]
            for c in range(r):
                s -= chol[r, c] * tmp[c]
            tmp[r] = s / chol[r, r]
        for r in range(n_active - 1, -1, -1):
            s = tmp[r]
            for c in range(r + 1, n_active):
                s -= chol[c, r] * gamma[c]
            gamma[r] = s / chol[r, r]
        if n_active == n_nonzero:
            break
        # alpha = alpha0 - G[:, selected] gamma (rows of G: contiguous reads);
        # the last row's pass also finds the next argmax.
        # (in the input's precision: float32 input runs this at float32 speed)
        for m in range(n_atoms):
            alpha[m] = alpha0[m]
        for r in range(n_active - 1):
            gbuf[0] = gamma[r]
            g = gbuf[0]
            row = gram[idx_out[r]]
            for m in range(n_atoms):
                alpha[m] -= g * row[m]
        gbuf[0] = gamma[n_active - 1]
        g = gbuf[0]
        row = gram[idx_out[n_active - 1]]
        best_val = -1.0
        for m in range(n_atoms):
            a = alpha[m] - g * row[m]
            alpha[m] = a
            a = abs(a)
            if a > best_val:
                best_val = a
                best = m
    for r in range(n_active):
        val_out[r] = gamma[r]
    return n_active


@jit(nogil=True)
def _batch_omp_numba(alpha0, gram, n_nonzero, tiny, idx, val, count):
    """OMP of every row of ``alpha0``, serially; callers run row chunks on
    threads (:func:`~skspectral._backend.run_in_chunks`), which compiles in
    a fraction of the time of a ``parallel=True`` kernel."""
    n, n_atoms = alpha0.shape
    alpha = np.empty(n_atoms, dtype=alpha0.dtype)
    gbuf = np.empty(1, dtype=alpha0.dtype)
    chol = np.empty((n_nonzero, n_nonzero), dtype=np.float64)
    xy = np.empty(n_nonzero, dtype=np.float64)
    gamma = np.empty(n_nonzero, dtype=np.float64)
    tmp = np.empty(n_nonzero, dtype=np.float64)
    for i in range(n):
        count[i] = _omp_one(alpha0[i], gram, n_nonzero, tiny, idx[i], val[i], alpha, gbuf,
                            chol, xy, gamma, tmp)


def _batch_omp_torch(alpha0, gram, n_nonzero):
    """Batched OMP in torch (any device): all signals advance one atom per step."""
    n, n_atoms = alpha0.shape
    dtype = alpha0.dtype
    idx = torch.zeros((n, n_nonzero), dtype=torch.long, device=alpha0.device)
    chol = torch.zeros((n, n_nonzero, n_nonzero), dtype=dtype, device=alpha0.device)
    alpha = alpha0.clone()
    diag = torch.diagonal(gram)
    gamma = alpha0.new_zeros((n, 0))
    for j in range(n_nonzero):
        score = alpha.abs()
        if j:
            score.scatter_(1, idx[:, :j], -1.0)
        best = score.argmax(dim=1)
        if j:
            g = gram[best].gather(1, idx[:, :j])
            w = torch.linalg.solve_triangular(
                chol[:, :j, :j], g.unsqueeze(-1), upper=False
            ).squeeze(-1)
            chol[:, j, :j] = w
            lkk = diag[best] - (w * w).sum(dim=1)
        else:
            lkk = diag[best]
        chol[:, j, j] = lkk.clamp_min(torch.finfo(dtype).tiny).sqrt()
        idx[:, j] = best
        sel = idx[:, : j + 1]
        xy = alpha0.gather(1, sel).unsqueeze(-1)
        gamma = torch.cholesky_solve(xy, chol[:, : j + 1, : j + 1]).squeeze(-1)
        if j + 1 < n_nonzero:
            alpha = alpha0 - torch.einsum("nj,njm->nm", gamma, gram[sel])
    count = torch.full((n,), n_nonzero, dtype=torch.long, device=alpha0.device)
    return idx, gamma, count


def batch_omp(X, dictionary, n_nonzero_coefs, *, gram=None, device=None, n_jobs=None,
              chunk_size=DEFAULT_CHUNK):
    """Compact Batch-OMP codes: ``(atoms, values, counts)`` per signal.

    Parameters
    ----------
    X : ndarray of shape (n_signals, n_features), float32 or float64
    dictionary : ndarray of shape (n_atoms, n_features), same dtype
    n_nonzero_coefs : int
    gram : ndarray of shape (n_atoms, n_atoms), default=None
        ``dictionary @ dictionary.T``; computed when not given.
    device : torch.device or None
        ``None`` or a CPU device runs the Numba kernel; a CUDA device runs the
        batched torch version there.
    n_jobs : int or None
        Threads for the selection (scikit-learn's meaning: ``None`` is 1
        unless a joblib context says otherwise, ``-1`` all cores).
    chunk_size : int
        Signals per GEMM (bounds memory to ``chunk_size * n_atoms`` values).

    Returns
    -------
    atoms : ndarray of shape (n_signals, n_nonzero_coefs), int64
        Selected atoms in selection order (entries past ``counts`` are 0).
    values : ndarray of shape (n_signals, n_nonzero_coefs), dtype of X
        Their coefficients (0 past ``counts``).
    counts : ndarray of shape (n_signals,), int64
    """
    dtype = X.dtype
    n = X.shape[0]
    k = int(n_nonzero_coefs)
    if device is not None and torch.device(device).type == "cuda":
        return _batch_omp_on_torch(X, dictionary, k, gram, torch.device(device), chunk_size)
    if gram is None:
        gram = dictionary @ dictionary.T
    gram = np.ascontiguousarray(gram, dtype=dtype)
    tiny = float(np.finfo(dtype).eps)
    atoms = np.zeros((n, k), dtype=np.int64)
    values = np.zeros((n, k), dtype=np.float64)
    counts = np.zeros(n, dtype=np.int64)
    with threads(n_jobs):
        for start in range(0, n, chunk_size):
            stop = min(n, start + chunk_size)
            alpha0 = X[start:stop] @ dictionary.T
            idx, val, cnt = atoms[start:stop], values[start:stop], counts[start:stop]
            run_in_chunks(
                lambda rows, a=alpha0, i=idx, v=val, c=cnt: _batch_omp_numba(
                    a[rows], gram, k, tiny, i[rows], v[rows], c[rows]),
                stop - start,
            )
    return atoms, values.astype(dtype, copy=False), counts


def _batch_omp_on_torch(X, dictionary, k, gram, device, chunk_size):
    D = as_tensor(dictionary, device)
    G = D @ D.T if gram is None else as_tensor(gram, device)
    parts = []
    for start in range(0, X.shape[0], chunk_size):
        Xc = as_tensor(X[start:start + chunk_size], device)
        parts.append(_batch_omp_torch(Xc @ D.T, G, k))
    atoms = np.concatenate([as_numpy(p[0]) for p in parts]).astype(np.int64)
    values = np.concatenate([as_numpy(p[1], X.dtype) for p in parts])
    counts = np.concatenate([as_numpy(p[2]) for p in parts]).astype(np.int64)
    return atoms, values, counts


def codes_to_dense(atoms, values, counts, n_atoms):
    """Scatter compact codes into a dense ``(n_signals, n_atoms)`` matrix."""
    n, k = atoms.shape
    out = np.zeros((n, n_atoms), dtype=values.dtype)
    mask = np.arange(k)[None, :] < counts[:, None]
    rows = np.broadcast_to(np.arange(n)[:, None], (n, k))
    out[rows[mask], atoms[mask]] = values[mask]
    return out


def codes_to_csr(atoms, values, counts, n_atoms):
    """Compact codes as a ``scipy.sparse.csr_matrix`` (rows sorted by atom)."""
    from scipy import sparse

    n, k = atoms.shape
    mask = np.arange(k)[None, :] < counts[:, None]
    indptr = np.concatenate([[0], np.cumsum(counts)])
    out = sparse.csr_matrix((values[mask], atoms[mask], indptr), shape=(n, n_atoms))
    out.sort_indices()
    return out
