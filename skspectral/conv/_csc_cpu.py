"""Fused Numba kernels for the CPU iterations of the ADMM CBPDN solver.

An ADMM iteration is two FFTs and a dozen element-wise passes over the
coefficient maps; done as separate torch operations those passes cost more
than the FFTs. These kernels fuse them: one pass in the Fourier domain (the
per-frequency linear solve) and one in the signal domain (relaxation,
shrinkage, dual update and the residual norms). The torch version in
``_csc`` stays the reference and the CUDA path.
"""

import numpy as np

from .._backend import jit, prange

#: Elements per parallel task of the signal-domain pass.
_BLOCK = 16384


@jit(parallel=True, fastmath=True)
def admm_signal_step(x, z, u, w, relax, thresh, positive):
    """Relax, shrink, update the dual and prepare the next FFT input, in place.

    With ``xr = relax x + (1 - relax) z`` and ``v = xr + u``: ``z <- S(v)``
    (soft threshold, or its non-negative version), ``u <- v - z`` and
    ``w <- z - u``. All arrays are flat and of one real dtype; so are
    ``relax`` and ``thresh``, so float32 maps run at float32 speed.

    Returns
    -------
    sums : ndarray of shape (5,)
        ``||x - z||^2, ||x||^2, ||z||^2, ||z - z_old||^2, ||u||^2`` with the
        new ``z`` and ``u``: the residuals of the stopping rule and of
        residual balancing (summed per block in the maps' dtype).
    """
    n = x.shape[0]
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    partial = np.zeros((n_blocks, 5), dtype=x.dtype)
    zero = relax - relax
    keep = 1 - relax
    for b in prange(n_blocks):
        start = b * _BLOCK
        stop = min(n, start + _BLOCK)
        # Slices give Numba plain unit-stride loops it vectorises (4x faster
        # than indexing the whole arrays here).
        xs, zs, us, ws = x[start:stop], z[start:stop], u[start:stop], w[start:stop]
        primal, xx, zz, dual, uu = zero, zero, zero, zero, zero
        for i in range(stop - start):
            xi = xs[i]
            z_old = zs[i]
            v = relax * xi + keep * z_old + us[i]
            # S(v) = v - clip(v, -thresh, thresh), or v - min(v, thresh) =
            # max(v - thresh, 0) when non-negative. (No -inf bound: fastmath
            # assumes there are no infinities.)
            clipped = min(v, thresh)
            if not positive:
                clipped = max(clipped, -thresh)
            z_new = v - clipped
            u_new = v - z_new
            zs[i] = z_new
            us[i] = u_new
            ws[i] = z_new - u_new
            primal += (xi - z_new) * (xi - z_new)
            xx += xi * xi
            zz += z_new * z_new
            dual += (z_new - z_old) * (z_new - z_old)
            uu += u_new * u_new
        partial[b, 0] = primal
        partial[b, 1] = xx
        partial[b, 2] = zz
        partial[b, 3] = dual
        partial[b, 4] = uu
    return partial.sum(axis=0)


@jit(parallel=True, fastmath=True)
def admm_frequency_solve(b, DtS, inv_rho, D, D_conj, inner):
    """``b <- (A^H A + rho I)^{-1} rho (b + DtS / rho)`` for one channel, in place.

    ``b`` and ``DtS`` are ``(N, M, F)`` complex arrays (frequencies
    flattened), ``D`` and ``D_conj`` the ``(M, F)`` filter spectra and
    ``inner = 1 / (rho + sum_m |D_m|^2)`` per frequency (Sherman-Morrison).
    """
    N, M, n_freq = b.shape
    for n in prange(N):
        t = np.zeros(n_freq, dtype=b.dtype)
        for m in range(M):
            for f in range(n_freq):
                v = b[n, m, f] + DtS[n, m, f] * inv_rho
                b[n, m, f] = v
                t[f] += D[m, f] * v
        for f in range(n_freq):
            t[f] *= inner[f]
        for m in range(M):
            for f in range(n_freq):
                b[n, m, f] -= D_conj[m, f] * t[f]
