"""Coding rate and rate reduction (Ma et al., 2007; Yu et al., 2020).

For features ``Z`` of shape ``(n, d)`` (one row per sample) and distortion
``eps``, the coding rate is::

    R(Z) = 1/2 logdet(I_d + d / (n eps^2) Z^T Z)

and the rate reduction over a partition ``{Z_j}`` of the rows is::

    dR(Z) = R(Z) - sum_j (n_j / n) R(Z_j)

The closed-loop transcription (CTRL) also compares two sets of features::

    dR(Z, Zh) = R([Z; Zh]) - 1/2 (R(Z) + R(Zh))

The functions work on torch tensors (differentiably, for training) and on
NumPy arrays (returning floats). ``logdet`` is evaluated on the smaller of the
``n x n`` and ``d x d`` Gram matrices (Sylvester's identity) through a
Cholesky factor.
"""

import numpy as np
import torch

__all__ = ["coding_rate", "rate_reduction", "pair_rate_reduction"]


def _as_torch(Z):
    if isinstance(Z, torch.Tensor):
        return Z, False
    return torch.as_tensor(np.asarray(Z, dtype=np.float64)), True


def _logdet_identity_plus(Z, alpha):
    n, d = Z.shape
    gram = Z @ Z.T if n <= d else Z.T @ Z
    eye = torch.eye(gram.shape[0], dtype=Z.dtype, device=Z.device)
    chol = torch.linalg.cholesky(eye + alpha * gram)
    return 2.0 * torch.log(torch.diagonal(chol)).sum()


def _rate(Z, eps, n_total=None):
    # n_total is the n in d / (n eps^2); it is the size of Z itself.
    n, d = Z.shape
    n = n if n_total is None else n_total
    return 0.5 * _logdet_identity_plus(Z, d / (n * eps**2))


def coding_rate(Z, eps=0.5):
    """Coding rate ``R(Z) = 1/2 logdet(I + d/(n eps^2) Z^T Z)``.

    Parameters
    ----------
    Z : Tensor or ndarray of shape (n, d)
        Features, one row per sample.
    eps : float, default=0.5
        Allowed distortion.

    Returns
    -------
    R : Tensor (0-d) or float
        A float when ``Z`` is a NumPy array.

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral.conv._rate_reduction import coding_rate
    >>> round(coding_rate(np.eye(4), eps=1.0), 4)
    1.3863
    """
    Zt, was_numpy = _as_torch(Z)
    R = _rate(Zt, eps)
    return float(R) if was_numpy else R


def _check_groups(groups, n):
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(
            f"groups must have one label per row of Z ({n}); got shape {groups.shape}."
        )
    return groups


def rate_reduction(Z, groups, eps=0.5):
    """Rate reduction ``R(Z) - sum_j (n_j/n) R(Z_j)`` over the partition ``groups``.

    Parameters
    ----------
    Z : Tensor or ndarray of shape (n, d)
        Features.
    groups : array-like of shape (n,)
        Group (class) label of each row.
    eps : float, default=0.5
        Allowed distortion.

    Returns
    -------
    dR : Tensor (0-d) or float

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral.conv._rate_reduction import rate_reduction
    >>> Z = np.array([[1.0, 0], [1, 0], [0, 1], [0, 1]])
    >>> rate_reduction(Z, [0, 0, 1, 1], eps=1.0) > 0
    True
    """
    Zt, was_numpy = _as_torch(Z)
    groups = _check_groups(groups, Zt.shape[0])
    n = Zt.shape[0]
    within = 0.0
    for g in np.unique(groups):
        idx = torch.as_tensor(np.flatnonzero(groups == g), device=Zt.device)
        within = within + (idx.numel() / n) * _rate(Zt[idx], eps)
    dR = _rate(Zt, eps) - within
    return float(dR) if was_numpy else dR


def pair_rate_reduction(Z, Z_hat, eps=0.5):
    """``R([Z; Z_hat]) - (R(Z) + R(Z_hat)) / 2``: how distinguishable two sets are.

    Parameters
    ----------
    Z, Z_hat : Tensor or ndarray of shape (n, d)
        Two sets of features (for CTRL: codes of images and of their
        reconstructions).
    eps : float, default=0.5
        Allowed distortion.

    Returns
    -------
    dR : Tensor (0-d) or float

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral.conv._rate_reduction import pair_rate_reduction
    >>> Z = np.random.RandomState(0).randn(5, 3)
    >>> abs(pair_rate_reduction(Z, Z)) < 0.5
    True
    """
    Zt, was_numpy = _as_torch(Z)
    Zh, _ = _as_torch(Z_hat)
    Zh = Zh.to(Zt.dtype)
    dR = _rate(torch.cat([Zt, Zh]), eps) - 0.5 * (_rate(Zt, eps) + _rate(Zh, eps))
    return float(dR) if was_numpy else dR
