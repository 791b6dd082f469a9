"""Shared linear algebra: one jittered Cholesky for NumPy arrays and torch tensors."""

import numpy as np
import torch

#: Attempts, each with ten times the previous jitter, before giving up.
_MAX_TRIES = 8


def safe_cholesky(matrix, jitter=0.0):
    """Lower Cholesky factor of ``matrix + j I``, raising ``j`` until it exists.

    ``j`` starts at ``jitter`` and grows tenfold per failure (plus a relative
    floor of ``1e-10`` times the mean diagonal, ``1e-6`` for float32), so that
    nearly singular matrices, such as the Gram matrix of two atoms drifting
    together or the covariance of a constant code, still factor.

    Parameters
    ----------
    matrix : ndarray or Tensor of shape (n, n)
        Symmetric positive semi-definite. A tensor stays differentiable.
    jitter : float, default=0.0
        Added to the diagonal before the first attempt.

    Returns
    -------
    L : ndarray (float64) or Tensor (dtype of ``matrix``) of shape (n, n)

    Raises
    ------
    numpy.linalg.LinAlgError
        If no jitter up to ``_MAX_TRIES`` tenfold increases works (a matrix
        with non-finite entries, for example).

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral._backend import safe_cholesky
    >>> L = safe_cholesky(np.ones((2, 2)))
    >>> bool(np.allclose(L @ L.T, np.ones((2, 2)), atol=1e-6))
    True
    """
    if isinstance(matrix, torch.Tensor):
        return _cholesky_torch(matrix, float(jitter))
    return _cholesky_numpy(np.asarray(matrix, dtype=np.float64), float(jitter))


def _next_jitter(jitter, attempt, mean_diagonal, float32):
    # Tenfold the jitter plus a floor relative to the mean diagonal, so that a
    # zero starting jitter still grows. Computed only after a failure: the
    # mean diagonal of a GPU tensor costs a device synchronisation.
    floor = (1e-6 if float32 else 1e-10) * max(mean_diagonal, np.finfo(np.float64).tiny)
    return 10.0 * jitter + floor * 10.0**attempt


def _not_positive_definite(jitter):
    return np.linalg.LinAlgError(
        "The matrix is not positive definite, even with a diagonal jitter of "
        f"{jitter:.3g}; check it for non-finite values."
    )


def _cholesky_numpy(matrix, jitter):
    eye = np.eye(len(matrix))
    for attempt in range(_MAX_TRIES):
        try:
            return np.linalg.cholesky(matrix + jitter * eye if jitter else matrix)
        except np.linalg.LinAlgError:
            mean_diagonal = float(np.mean(np.diag(matrix))) if matrix.size else 1.0
            jitter = _next_jitter(jitter, attempt, mean_diagonal, False)
    raise _not_positive_definite(jitter)


def _cholesky_torch(matrix, jitter):
    eye = torch.eye(matrix.shape[0], dtype=matrix.dtype, device=matrix.device)
    for attempt in range(_MAX_TRIES):
        chol, info = torch.linalg.cholesky_ex(matrix + jitter * eye)
        if int(info) == 0:
            return chol
        mean_diagonal = float(matrix.detach().diagonal().mean()) if matrix.numel() else 1.0
        jitter = _next_jitter(jitter, attempt, mean_diagonal, matrix.dtype == torch.float32)
    raise _not_positive_definite(jitter)
