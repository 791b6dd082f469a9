"""Dictionary learning from sufficient statistics: one algorithm in memory, streamed or distributed.

K-SVD updates each atom from the residuals of the images that use it, so it
needs every image at once. The update of Mairal, Bach, Ponce and Sapiro
(block coordinate descent, "Online dictionary learning for sparse coding",
2009) needs only two sums over the images and their codes,

    A = sum_i g_i g_i^T   (n_atoms, n_atoms)   and   B = sum_i g_i x_i^T   (n_atoms, n_features),

which add up over any split of the images. That makes three uses of one
update:

- batch (``dictionary_update="bcd"``): every iteration codes all images with
  Batch-OMP, sums ``A`` and ``B`` and sweeps the atoms once;
- distributed (a dask array): the same iteration as a map over blocks
  (codes and per-block sums, on the workers) and a reduce (the sums), then
  the sweep on the client, so its result equals the in-memory one up to
  the order of floating-point additions;
- online (``partial_fit``): the sums run over the chunks seen so far, with
  the codes each chunk got when it came (Mairal et al.'s online algorithm,
  with OMP codes instead of the lasso).

The sweep minimises ``sum_i ||x_i - D^T g_i||^2`` over one atom at a time
with the codes fixed, ``d_j <- d_j + (B_j - A_j D) / A_jj``, then scales the
atom to unit norm (OMP compares correlations, so atoms must share one norm).
An atom no code uses (``A_jj = 0``) is replaced by the normalised residual of
one of the worst-represented images; every block proposes its
:data:`N_CANDIDATES` worst, so the choice is the same however the images are
split.
"""

import numpy as np

from .._backend import iter_batches
from ..base import check_finite_loss
from ._omp import batch_omp, codes_to_csr

#: Worst-represented images each block proposes as replacements for unused atoms.
N_CANDIDATES = 16
#: Rows per batch of the sums (bounds the float64 temporaries).
ROWS_PER_SUM = 1024


class DictionaryStatistics:
    """The sums one dictionary update needs, over a set of images.

    ``A``, ``B``, the squared error and the image count add up; the
    replacement candidates keep the :data:`N_CANDIDATES` largest residuals.
    """

    def __init__(self, A, B, sq_error, n, candidates, candidate_errors):
        self.A = A
        self.B = B
        self.sq_error = sq_error
        self.n = n
        self.candidates = candidates
        self.candidate_errors = candidate_errors

    def __add__(self, other):
        candidates = np.concatenate([self.candidates, other.candidates])
        errors = np.concatenate([self.candidate_errors, other.candidate_errors])
        keep = _worst(errors)
        return DictionaryStatistics(
            self.A + other.A, self.B + other.B, self.sq_error + other.sq_error,
            self.n + other.n, candidates[keep], errors[keep],
        )

    def scaled(self, factor):
        """The sums weighted by ``factor`` (online learning's forgetting)."""
        return DictionaryStatistics(
            factor * self.A, factor * self.B, factor * self.sq_error, self.n,
            self.candidates, self.candidate_errors,
        )

    @property
    def mse(self):
        """Mean squared error per pixel of the codes the sums came from."""
        return self.sq_error / max(self.n * self.B.shape[1], 1)


def _worst(errors):
    """Indices of the largest errors, largest first (ties broken by position)."""
    order = np.argsort(-errors, kind="stable")
    return order[:N_CANDIDATES]


def dictionary_statistics(X, dictionary, n_nonzero_coefs, *, n_jobs=None, device=None):
    """Code ``X`` (rows) with Batch-OMP on ``dictionary`` and return the sums of the update.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    dictionary : ndarray of shape (n_atoms, n_features)
        Unit-norm atoms in rows.
    n_nonzero_coefs : int

    Returns
    -------
    statistics : DictionaryStatistics
    """
    return coded_statistics(X, dictionary, n_nonzero_coefs, n_jobs=n_jobs, device=device)[1]


def coded_statistics(X, dictionary, n_nonzero_coefs, *, n_jobs=None, device=None):
    """Batch-OMP codes of ``X`` (compact) and their :class:`DictionaryStatistics`."""
    D = dictionary.astype(X.dtype, copy=False)
    codes = batch_omp(X, D, n_nonzero_coefs, n_jobs=n_jobs, device=device)
    return codes, statistics_of_codes(X, codes, D)


def statistics_of_codes(X, codes, dictionary):
    """The :class:`DictionaryStatistics` of images ``X`` with compact codes on ``dictionary``.

    Rows are summed in batches of :data:`ROWS_PER_SUM`, so the float64
    temporaries stay small beside ``X`` itself, whatever its size.
    """
    atoms, values, counts = codes
    D64 = dictionary.astype(np.float64)
    codes = codes_to_csr(atoms, values.astype(np.float64), counts, D64.shape[0])
    A = (codes.T @ codes).toarray()
    B = np.zeros_like(D64)
    errors = np.empty(X.shape[0])
    for rows in iter_batches(X.shape[0], ROWS_PER_SUM):
        X64 = np.asarray(X[rows], dtype=np.float64)
        part = codes[rows]
        B += np.asarray(part.T @ X64)
        resid = X64 - np.asarray(part @ D64)
        errors[rows] = np.einsum("ij,ij->i", resid, resid)
    worst = _worst(errors)
    candidates = np.asarray(X[worst], dtype=np.float64) - np.asarray(codes[worst] @ D64)
    return DictionaryStatistics(A, B, float(errors.sum()), X.shape[0], candidates,
                                errors[worst])


def update_dictionary(dictionary, stats, n_sweeps=1):
    """Block coordinate descent on the atoms from ``stats``, in place; returns replacements.

    Atoms are visited in order; each uses the atoms already updated in this
    sweep. Unused atoms take the worst residuals of ``stats`` in turn (in
    the first sweep; later sweeps leave them).
    """
    A, B = stats.A, stats.B
    D = dictionary
    unused = np.diag(A) <= 1e-12 * max(float(np.trace(A)), 1e-300)
    n_replaced = 0
    for sweep in range(n_sweeps):
        for j in range(D.shape[0]):
            if unused[j]:
                if sweep == 0:
                    n_replaced += _replace(D, j, stats, n_replaced)
                continue
            d = D[j] + (B[j] - A[j] @ D) / A[j, j]
            norm = np.linalg.norm(d)
            if norm > 1e-12:
                D[j] = d / norm
    return n_replaced


def learn_dictionary(statistics_of, dictionary, max_iter, *, name, verbose=0):
    """Batch dictionary learning: ``max_iter`` times, code and sum (``statistics_of``), then sweep.

    ``statistics_of(D)`` returns the :class:`DictionaryStatistics` of all
    images coded on ``D``, computed in memory or over the blocks of a dask
    array. Returns the dictionary (updated in place) and the per-pixel
    error of the codes of every iteration.
    """
    errors = []
    for it in range(max_iter):
        stats = statistics_of(dictionary)
        errors.append(stats.mse)
        check_finite_loss(errors[-1], it, name)
        n_replaced = update_dictionary(dictionary, stats)
        if verbose:
            print(f"[{name}] iteration {it + 1}/{max_iter}: mse={errors[-1]:.6f}, "
                  f"replaced atoms={n_replaced}")
    return dictionary, np.array(errors)


def _replace(D, j, stats, taken):
    if taken >= len(stats.candidates) or stats.candidate_errors[taken] <= 1e-12:
        return 0
    d = stats.candidates[taken]
    D[j] = d / np.linalg.norm(d)
    return 1
