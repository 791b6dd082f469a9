"""Training objectives of ConvSparseCoder: dictionary learning and CTRL."""

import numpy as np
import torch

from ._rate_reduction import coding_rate, coding_rates


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


def ctrl_value(Z, Z_hat, groups, eps):
    """``dR(Z) + dR(Zh) + sum_j dR(Z_j, Zh_j)`` for the partition ``groups`` of the rows.

    Every rate in the sum is that of a block of rows of ``[Z; Zh]``, so all
    of them come from one Gram matrix (:func:`coding_rates`).

    Parameters
    ----------
    Z, Z_hat : Tensor of shape (n, d)
        Codes of the images and of their reconstructions.
    groups : list of ndarray of int
        Rows of each part of the partition (:func:`label_groups`).
    eps : float
        Allowed distortion.

    Returns
    -------
    value : Tensor (0-d)
    """
    n = Z.shape[0]
    rows = np.arange(n)
    blocks = ([rows, rows + n] + list(groups) + [idx + n for idx in groups]
              + [np.concatenate([idx, idx + n]) for idx in groups])
    rates = coding_rates(torch.cat([Z, Z_hat]), blocks, eps)
    k = len(groups)
    rate_z, rate_zh = rates[2 : 2 + k], rates[2 + k : 2 + 2 * k]
    shares = torch.tensor([len(idx) / n for idx in groups], dtype=Z.dtype, device=Z.device)
    # dR(Z) + dR(Zh), then the pairs R([Z_j; Zh_j]) - (R(Z_j) + R(Zh_j)) / 2.
    within = torch.sum(shares * (rate_z + rate_zh))
    pairs = torch.sum(rates[2 + 2 * k :] - 0.5 * (rate_z + rate_zh))
    return rates[0] + rates[1] - within + pairs


def ctrl_value_per_rate(Z, Z_hat, groups, eps):
    """:func:`ctrl_value` with one Gram matrix and logdet per rate (the reference).

    The written-out sum of single :func:`coding_rate` terms that
    :func:`ctrl_value` computes from one Gram matrix; tests check the two
    agree and ``bench_conv`` times them side by side.
    """
    n = Z.shape[0]
    groups = [torch.as_tensor(idx) for idx in groups]

    def reduction(W):
        return coding_rate(W, eps) - sum(len(idx) / n * coding_rate(W[idx], eps)
                                         for idx in groups)

    value = reduction(Z) + reduction(Z_hat)
    for idx in groups:
        pair = coding_rate(torch.cat([Z[idx], Z_hat[idx]]), eps)
        value = value + pair - 0.5 * (coding_rate(Z[idx], eps) + coding_rate(Z_hat[idx], eps))
    return value


def ctrl_game(net, x, groups, eps, z=None):
    """The closed-loop value ``dR(Z) + dR(Zh) + sum_j dR(Z_j, Zh_j)``.

    ``Z = f(x)`` and ``Zh = f(g(Z))`` are flattened unit-norm codes. The
    encoder maximises this value and the decoder minimises it.

    Parameters
    ----------
    net : CSCNet
    x : Tensor
        Images.
    groups : list of ndarray of int
        The partition of the batch (:func:`label_groups`).
    eps : float
        Allowed distortion.
    z : Tensor, default=None
        ``f(x)`` when already computed (the decoder's step, which does not
        differentiate through it).

    Returns
    -------
    value : Tensor (0-d)
    x_hat : Tensor
        ``g(f(x))``, for the reconstruction term and monitoring.
    """
    z = net.encode(x) if z is None else z
    x_hat = net.decode(z)
    z_hat = net.encode(x_hat)
    return ctrl_value(z.flatten(1), z_hat.flatten(1), groups, eps), x_hat


def label_groups(y):
    """Row indices of each class present in a batch."""
    y = np.asarray(y)
    return [np.flatnonzero(y == c) for c in np.unique(y)]


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
