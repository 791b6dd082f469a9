"""Training objectives of ConvSparseCoder: dictionary learning and CTRL."""

import numpy as np
import torch

from ._rate_reduction import coding_rate, pair_rate_reduction


def reconstruction_loss(net, x):
    """Mean over the batch of ``1/2 ||x - g(f(x))||^2 + alpha sum_l ||z_l||_1``."""
    codes = net.encode_all(x)
    x_hat = net.decode(codes[-1])
    n = x.shape[0]
    fit = 0.5 * ((x - x_hat) ** 2).sum() / n
    sparsity = sum(
        layer.effective_alpha() * z.abs().sum() for layer, z in zip(net.layers, codes)
    ) / n
    return fit + sparsity


def _group_rate_reduction(Z, groups, eps):
    # dR(Z) = R(Z) - sum_j n_j/n R(Z_j), with the groups given as index tensors.
    n = Z.shape[0]
    within = sum((idx.numel() / n) * coding_rate(Z[idx], eps) for idx in groups)
    return coding_rate(Z, eps) - within


def ctrl_game(net, x, groups, eps):
    """The closed-loop value ``dR(Z) + dR(Zh) + sum_j dR(Z_j, Zh_j)``.

    ``Z = f(x)`` and ``Zh = f(g(Z))`` are flattened unit-norm codes. The
    encoder maximises this value and the decoder minimises it.

    Returns
    -------
    value : Tensor (0-d)
    x_hat : Tensor
        ``g(f(x))``, for the reconstruction term and monitoring.
    """
    z = net.encode(x)
    x_hat = net.decode(z)
    z_hat = net.encode(x_hat)
    Z, Zh = z.flatten(1), z_hat.flatten(1)
    value = _group_rate_reduction(Z, groups, eps) + _group_rate_reduction(Zh, groups, eps)
    for idx in groups:
        value = value + pair_rate_reduction(Z[idx], Zh[idx], eps)
    return value, x_hat


def label_groups(y, device):
    """Index tensors of each class present in a batch."""
    y = np.asarray(y)
    return [torch.as_tensor(np.flatnonzero(y == c), device=device) for c in np.unique(y)]


def augment(x, generator):
    """A random view of each signal: circular shift by up to 2, horizontal flip.

    Unsupervised CTRL partitions a batch into each sample and its views.
    """
    n = x.shape[0]
    spatial = tuple(range(2, x.ndim))
    out = torch.empty_like(x)
    shifts = torch.randint(-2, 3, (n, len(spatial)), generator=generator).tolist()
    flips = torch.rand(n, generator=generator).tolist()
    for i in range(n):
        xi = torch.roll(x[i], shifts=tuple(shifts[i]), dims=tuple(d - 1 for d in spatial))
        if flips[i] < 0.5:
            xi = torch.flip(xi, dims=(xi.ndim - 1,))
        out[i] = xi
    return out
