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


def minimum_norm_preimages(targets, forward, adjoint, *, tol=1e-4, max_iter=500):
    """Least-norm inputs of a linear map that reach each target, by block CGLS.

    Solves ``min ||w||`` subject to ``w`` minimising ``||forward(w) - t||``
    for every row ``t`` of ``targets`` at once: conjugate gradients on the
    normal equations, started at zero, stay in the row space of the map, so
    they converge to the minimum-norm least-squares solution without ever
    forming the map's matrix (a convolutional decoder's is pixels x code
    width).

    Parameters
    ----------
    targets : ndarray of shape (n_targets, n_outputs)
    forward : callable
        ``(r, n_inputs) -> (r, n_outputs)``, linear.
    adjoint : callable
        ``(r, n_outputs) -> (r, n_inputs)``, the transpose of ``forward``.
    tol : float, default=1e-4
        A row stops when its residual ``r`` falls under ``tol`` times its
        target's norm, or (a target outside the map's range) when
        ``||adjoint(r)|| / ||r||`` falls under ``tol`` times
        ``||adjoint(t)|| / ||t||``: the residual has become orthogonal to
        the range, up to ``tol``.
    max_iter : int, default=500
        Most iterations; each costs one call of ``forward`` and ``adjoint``.

    Returns
    -------
    inputs : ndarray of shape (n_targets, n_inputs)
    relative_residuals : ndarray of shape (n_targets,)
        ``||forward(w) - t|| / ||t||`` per row (0 for a zero target).
    n_iter : int
        Iterations run.

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral._backend._linalg import minimum_norm_preimages
    >>> G = np.array([[1.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
    >>> w, res, _ = minimum_norm_preimages(np.array([[2.0, 2.0]]),
    ...                                 lambda W: W @ G.T, lambda T: T @ G)
    >>> np.round(w, 6).tolist(), bool(res[0] < 1e-4)
    ([[1.0, 1.0, 1.0]], True)
    """
    targets = np.asarray(targets)
    residual = targets.copy()
    gradient = adjoint(residual)
    inputs = np.zeros_like(gradient)
    target_norms = _row_norms(targets)
    # ||adjoint(t)|| / ||t||: the map's gain on each target, the scale that
    # the residual's gradient is compared with.
    gains = _safe_ratio(_row_norms(gradient), target_norms)
    direction = gradient.copy()
    gamma = _row_norms(gradient) ** 2
    for n_iter in range(max_iter + 1):
        residual_norms = _row_norms(residual)
        active = (residual_norms > tol * target_norms) & (
            np.sqrt(gamma) > tol * gains * residual_norms)
        if not active.any() or n_iter == max_iter:
            break
        mapped = forward(direction)
        step = _safe_ratio(gamma, _row_norms(mapped) ** 2) * active
        inputs += step[:, None].astype(inputs.dtype) * direction
        residual -= step[:, None].astype(residual.dtype) * mapped
        gradient = adjoint(residual)
        new_gamma = _row_norms(gradient) ** 2
        beta = _safe_ratio(new_gamma, gamma)[:, None].astype(direction.dtype)
        direction = gradient + beta * direction
        gamma = new_gamma
    return inputs, _safe_ratio(_row_norms(residual), target_norms), n_iter


def _row_norms(A):
    return np.sqrt(np.einsum("ij,ij->i", A, A, dtype=np.float64))


def _safe_ratio(numerator, denominator):
    return np.divide(numerator, denominator, out=np.zeros_like(numerator),
                     where=denominator > 0)
