"""K-SVD dictionary learning on top of Batch-OMP.

This is the *approximate* K-SVD of Rubinstein, Zibulevsky & Elad (2008): the
rank-1 update of each atom is one power iteration from its current
coefficients instead of a full SVD of the restricted residual. Each atom
update still never increases the representation error (the power step from
any coefficient vector ``g`` gives ``||E d||^2 >= ||E^T g||^2 / ||g||^2`` and
``(b - c^2)^2 >= 0`` closes the argument), so with fixed supports the error is
monotone; ``n_power_iter > 1`` moves the update towards the exact SVD.
Atoms that no signal uses are replaced by the worst-represented signal.
"""

import math

import numpy as np

from .._backend import jit
from .._backend._dask import gather_rows, is_dask_array
from ..base import check_finite_loss
from ._omp import batch_omp, codes_to_csr


def init_dictionary(X, n_atoms, rng):
    """Distinct random training signals, normalised (random normals for zero ones).

    With fewer signals than atoms (a first ``partial_fit`` chunk), the
    remaining atoms start as random normals. ``X`` may be a dask array: its
    blocks are then read one after another.
    """
    choice = rng.choice(X.shape[0], size=min(n_atoms, X.shape[0]), replace=False)
    D = np.zeros((n_atoms, X.shape[1]))
    D[: choice.size] = gather_rows(X, choice) if is_dask_array(X) else X[choice]
    return normalise_rows(D, rng)


def normalise_rows(D, rng):
    norms = np.linalg.norm(D, axis=1)
    dead = norms <= 1e-12
    if dead.any():
        D[dead] = rng.standard_normal((int(dead.sum()), D.shape[1]))
        norms[dead] = np.linalg.norm(D[dead], axis=1)
    D /= norms[:, None]
    return D


def atom_users(atoms, counts, n_atoms):
    """CSR over atoms of (signal, slot) pairs that use each atom."""
    k = atoms.shape[1]
    used = np.arange(k)[None, :] < counts[:, None]
    signal, slot = np.nonzero(used)
    atom = atoms[signal, slot]
    order = np.argsort(atom, kind="stable")
    ptr = np.zeros(n_atoms + 1, dtype=np.int64)
    np.add.at(ptr, atom + 1, 1)
    return np.cumsum(ptr), signal[order], slot[order]


def residual(X, dictionary, atoms, values, counts):
    codes = codes_to_csr(atoms, values, counts, dictionary.shape[0])
    return X - np.asarray(codes @ dictionary).astype(X.dtype, copy=False)


def update_atoms(dictionary, atoms, values, counts, resid, rng, n_power_iter=1):
    """One K-SVD sweep over the atoms, in place on every argument.

    ``resid`` must equal ``X - codes @ dictionary`` on entry and does on exit;
    ``values`` receive the updated coefficients. Atoms that no signal uses are
    replaced after the sweep by the worst-represented signals. Returns the
    number of replaced atoms.
    """
    n_atoms = dictionary.shape[0]
    ptr, signal, slot = atom_users(atoms, counts, n_atoms)
    unused = np.zeros(n_atoms, dtype=bool)
    ksvd_atom_sweep(dictionary, resid, ptr, signal, slot, values, n_power_iter, unused)
    replaced = 0
    if unused.any():
        taken = np.zeros(resid.shape[0], dtype=bool)
        for j in np.flatnonzero(unused):
            replaced += _replace_unused(dictionary, j, resid, taken, rng)
    return replaced


def _replace_unused(dictionary, j, resid, taken, rng):
    errors = np.einsum("ij,ij->i", resid, resid)
    errors[taken] = -1.0
    worst = int(np.argmax(errors))
    if errors[worst] <= 1e-12:
        return 0
    taken[worst] = True
    d = np.array(resid[worst], dtype=np.float64)
    dictionary[j] = d / np.linalg.norm(d)
    return 1


def ksvd(X, n_atoms, n_nonzero_coefs, max_iter, rng, *, dictionary=None, n_jobs=None,
         device=None, verbose=0):
    """Learn a dictionary with K-SVD (or keep ``dictionary`` fixed).

    Returns ``dictionary, (atoms, values, counts), errors, n_iter`` where the
    codes are Batch-OMP codes of ``X`` on the final dictionary and ``errors``
    is the per-pixel mean squared error after each iteration's atom update.
    """
    if dictionary is not None:
        D = np.array(dictionary, dtype=X.dtype)
        codes = batch_omp(X, D, n_nonzero_coefs, n_jobs=n_jobs, device=device)
        err = float(np.mean(residual(X, D, *codes) ** 2))
        return D, codes, np.array([err]), 0
    D = init_dictionary(X, n_atoms, rng)
    errors = []
    for it in range(max_iter):
        Dx = D.astype(X.dtype)
        atoms, values, counts = batch_omp(X, Dx, n_nonzero_coefs, n_jobs=n_jobs, device=device)
        values = values.astype(np.float64)
        resid = residual(X, Dx, atoms, values, counts)
        n_replaced = update_atoms(D, atoms, values, counts, resid, rng)
        errors.append(float(np.mean(resid.astype(np.float64) ** 2)))
        check_finite_loss(errors[-1], it, "SparseSupportMRF (K-SVD)")
        if verbose:
            print(f"[SparseSupportMRF] K-SVD iteration {it + 1}/{max_iter}: "
                  f"mse={errors[-1]:.6f}, replaced atoms={n_replaced}")
    D = D.astype(X.dtype)
    codes = batch_omp(X, D, n_nonzero_coefs, n_jobs=n_jobs, device=device)
    return D, codes, np.array(errors), max_iter


@jit
def ksvd_atom_sweep(dictionary, resid, ptr, signal, slot, values, n_power_iter, unused):
    """Approximate K-SVD: rank-1 update of every atom in turn, in place.

    For atom ``j`` with users ``I`` and coefficients ``g``, the restricted
    residual is ``E = R_I + g d_j^T``; ``n_power_iter`` power steps give the
    new ``d`` (unit norm) and ``g = E d``; then ``R_I = E - g d^T``. ``E`` is
    never formed: every step reads and writes the rows of ``R`` in place.
    ``unused[j]`` is set for atoms without users (the caller replaces them).
    """
    n_atoms, n_features = dictionary.shape
    d_new = np.empty(n_features, dtype=np.float64)
    d_old = np.empty(n_features, dtype=np.float64)
    for j in range(n_atoms):
        start, stop = ptr[j], ptr[j + 1]
        if stop == start:
            unused[j] = True
            continue
        n_users = stop - start
        g_old = np.empty(n_users, dtype=np.float64)
        g = np.empty(n_users, dtype=np.float64)
        for u in range(n_users):
            g_old[u] = values[signal[start + u], slot[start + u]]
            g[u] = g_old[u]
        for f in range(n_features):
            d_old[f] = dictionary[j, f]
        d_cur = d_old.copy()
        ok = True
        for _ in range(n_power_iter):
            # d = E^T g = R_I^T g + (g_old . g) d_old
            gg = 0.0
            for u in range(n_users):
                gg += g_old[u] * g[u]
            for f in range(n_features):
                d_new[f] = gg * d_old[f]
            for u in range(n_users):
                r = signal[start + u]
                gu = g[u]
                for f in range(n_features):
                    d_new[f] += gu * resid[r, f]
            norm = 0.0
            for f in range(n_features):
                norm += d_new[f] * d_new[f]
            norm = math.sqrt(norm)
            if norm <= 1e-12:
                ok = False
                break
            for f in range(n_features):
                d_cur[f] = d_new[f] / norm
            # g = E d = R_I d + g_old (d_old . d)
            dd = 0.0
            for f in range(n_features):
                dd += d_old[f] * d_cur[f]
            for u in range(n_users):
                r = signal[start + u]
                s = g_old[u] * dd
                for f in range(n_features):
                    s += resid[r, f] * d_cur[f]
                g[u] = s
        if not ok:
            continue
        for u in range(n_users):
            r = signal[start + u]
            go = g_old[u]
            gn = g[u]
            for f in range(n_features):
                resid[r, f] += go * d_old[f] - gn * d_cur[f]
            values[r, slot[start + u]] = gn
        for f in range(n_features):
            dictionary[j, f] = d_cur[f]
