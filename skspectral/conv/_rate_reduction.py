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
Cholesky factor. :func:`coding_rates` evaluates the rates of many row blocks
of one feature matrix at once: every ``n_j x n_j`` Gram matrix is a block of
the Gram matrix of all rows, so one matrix product and a few batched
Cholesky factorisations replace a product and a factorisation per block.
"""

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["coding_rate", "coding_rates", "rate_reduction", "pair_rate_reduction"]


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


def _rate(Z, eps):
    n, d = Z.shape
    return 0.5 * _logdet_identity_plus(Z, d / (n * eps**2))


class _RowGram(torch.autograd.Function):
    """``Z Z^T``, differentiated in one product ``(dG + dG^T) Z`` rather than two."""

    @staticmethod
    def forward(Z):
        return Z @ Z.T

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (Z,) = ctx.saved_tensors
        return (grad + grad.T) @ Z


def _padded_blocks(blocks, fill, device):
    """The index blocks as rows of one ``(k, m)`` tensor, short rows padded with ``fill``."""
    width = max(len(block) for block in blocks)
    out = np.full((len(blocks), width), fill, dtype=np.int64)
    for row, block in zip(out, blocks):
        row[: len(block)] = block
    return torch.as_tensor(out, device=device)


def _batched_logdets(matrices):
    """``logdet`` of a batch of symmetric positive definite matrices (Cholesky)."""
    chol = torch.linalg.cholesky(matrices)
    return 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(dim=-1)


def _row_gram_logdets(gram, index, scales):
    """``logdet(I + c_k G[b_k, b_k])`` from the Gram matrix ``G`` of all rows.

    Padding indices point at an appended zero row and column of ``G``: a
    padded block adds an identity block, whose logdet is zero.
    """
    padded = F.pad(gram, (0, 1, 0, 1))
    blocks = padded[index.unsqueeze(2), index.unsqueeze(1)]
    eye = torch.eye(index.shape[1], dtype=gram.dtype, device=gram.device)
    return _batched_logdets(eye + scales.view(-1, 1, 1) * blocks)


def _column_gram_logdets(Z, index, scales):
    """``logdet(I_d + c_k Z_k^T Z_k)``, for blocks with more rows than columns.

    Padding indices point at an appended zero row of ``Z``, which adds
    nothing to ``Z_k^T Z_k``.
    """
    rows = torch.cat([Z, Z.new_zeros((1, Z.shape[1]))])[index]
    gram = rows.transpose(1, 2) @ rows
    eye = torch.eye(Z.shape[1], dtype=Z.dtype, device=Z.device)
    return _batched_logdets(eye + scales.view(-1, 1, 1) * gram)


def _size_buckets(sizes):
    """Positions of the blocks grouped so that padding at most doubles a block."""
    buckets = {}
    for position, size in enumerate(sizes):
        buckets.setdefault(int(size - 1).bit_length(), []).append(position)
    return list(buckets.values())


def coding_rates(Z, blocks, eps=0.5):
    """Coding rates ``R(Z[b])`` of several row blocks ``b`` of one feature matrix.

    Equal to ``[coding_rate(Z[b], eps) for b in blocks]``. Each ``logdet`` is
    taken on the smaller side, as :func:`coding_rate` does: blocks of at most
    ``d`` rows read their ``n_b x n_b`` Gram matrix from the Gram matrix of
    all rows of ``Z`` (computed once); taller blocks use their ``d x d`` Gram
    matrix. Blocks of similar size share one batched Cholesky factorisation.

    Parameters
    ----------
    Z : Tensor of shape (n, d)
        Features, one row per sample.
    blocks : sequence of array-like of int
        Rows of each block (non-empty; blocks may overlap).
    eps : float, default=0.5
        Allowed distortion.

    Returns
    -------
    rates : Tensor of shape (len(blocks),)
        Differentiable with respect to ``Z``.
    """
    n, d = Z.shape
    blocks = [np.asarray(block, dtype=np.int64).reshape(-1) for block in blocks]
    sizes = [block.size for block in blocks]
    gram = None
    positions, parts = [], []
    for bucket in _size_buckets(sizes):
        index = _padded_blocks([blocks[k] for k in bucket], n, Z.device)
        scales = torch.tensor([d / (sizes[k] * eps**2) for k in bucket], dtype=Z.dtype,
                              device=Z.device)
        if index.shape[1] <= d:
            gram = _RowGram.apply(Z) if gram is None else gram
            parts.append(_row_gram_logdets(gram, index, scales))
        else:
            parts.append(_column_gram_logdets(Z, index, scales))
        positions.extend(bucket)
    order = torch.as_tensor(np.argsort(positions), device=Z.device)
    return 0.5 * torch.cat(parts)[order]


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
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    rates = coding_rates(Zt, [np.arange(n)] + members, eps)
    shares = torch.tensor([len(m) / n for m in members], dtype=Zt.dtype, device=Zt.device)
    dR = rates[0] - torch.sum(shares * rates[1:])
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
    n, n_hat = Zt.shape[0], Zh.shape[0]
    both = np.arange(n + n_hat)
    rates = coding_rates(torch.cat([Zt, Zh]), [both, both[:n], both[n:]], eps)
    dR = rates[0] - 0.5 * (rates[1] + rates[2])
    return float(dR) if was_numpy else dR
