"""Coding rate and rate reduction against direct logdet formulas."""

import numpy as np
import pytest
import torch

from skspectral.conv._objectives import ctrl_value, ctrl_value_per_rate, label_groups
from skspectral.conv._rate_reduction import (
    _RowGram,
    coding_rate,
    coding_rates,
    pair_rate_reduction,
    rate_reduction,
)


def _direct_rate(Z, eps):
    # The textbook formula on the d x d matrix, with Z as d x n columns.
    Zc = Z.T
    d, n = Zc.shape
    sign, logdet = np.linalg.slogdet(np.eye(d) + d / (n * eps**2) * Zc @ Zc.T)
    assert sign > 0
    return 0.5 * logdet


@pytest.mark.parametrize("shape", [(5, 12), (12, 5), (7, 7)])
@pytest.mark.parametrize("eps", [0.1, 0.5, 2.0])
def test_coding_rate_matches_direct_formula(shape, eps):
    Z = np.random.RandomState(0).randn(*shape)
    assert coding_rate(Z, eps) == pytest.approx(_direct_rate(Z, eps), rel=1e-10)


def test_rate_reduction_matches_direct_formula():
    rng = np.random.RandomState(1)
    Z = rng.randn(30, 8)
    groups = rng.randint(0, 3, size=30)
    expected = _direct_rate(Z, 0.5) - sum(
        (groups == g).mean() * _direct_rate(Z[groups == g], 0.5) for g in range(3)
    )
    assert rate_reduction(Z, groups, 0.5) == pytest.approx(expected, rel=1e-10)


def test_pair_rate_reduction_matches_direct_formula():
    rng = np.random.RandomState(2)
    Z, Zh = rng.randn(10, 6), rng.randn(10, 6)
    expected = _direct_rate(np.vstack([Z, Zh]), 0.5) - 0.5 * (
        _direct_rate(Z, 0.5) + _direct_rate(Zh, 0.5)
    )
    assert pair_rate_reduction(Z, Zh, 0.5) == pytest.approx(expected, rel=1e-10)
    assert pair_rate_reduction(Z, Z, 0.5) == pytest.approx(0.0, abs=1e-10)


def test_orthogonal_classes_have_larger_rate_reduction():
    rng = np.random.RandomState(3)
    basis = np.linalg.qr(rng.randn(8, 8))[0]
    labels = np.repeat([0, 1], 20)
    orthogonal = np.vstack([rng.randn(20, 2) @ basis[:2], rng.randn(20, 2) @ basis[2:4]])
    shared = np.vstack([rng.randn(20, 2) @ basis[:2], rng.randn(20, 2) @ basis[:2]])
    assert rate_reduction(orthogonal, labels) > rate_reduction(shared, labels) + 0.5


def test_torch_input_is_differentiable_and_agrees():
    Z = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    R = coding_rate(Z, 0.5)
    R.backward()
    assert Z.grad is not None and torch.isfinite(Z.grad).all()
    assert float(R) == pytest.approx(_direct_rate(Z.detach().numpy(), 0.5), rel=1e-10)


def test_bad_groups_raise():
    with pytest.raises(ValueError, match="one label per row"):
        rate_reduction(np.ones((4, 2)), [0, 1])


def _random_blocks(rng, n, sizes):
    return [np.sort(rng.choice(n, size=size, replace=False)) for size in sizes]


@pytest.mark.parametrize("shape", [(40, 300), (40, 12), (9, 9)])
def test_coding_rates_match_one_rate_per_block(shape):
    # Blocks of every size, overlapping, some taller than d (the d x d path).
    rng = np.random.RandomState(4)
    n, d = shape
    Z = torch.tensor(rng.randn(n, d), requires_grad=True)
    blocks = [np.arange(n)] + _random_blocks(rng, n, [1, 2, 3, 5, 7, 8, 9, n // 2, n - 1])
    rates = coding_rates(Z, blocks, 0.5)
    expected = torch.stack([coding_rate(Z[torch.as_tensor(b)], 0.5) for b in blocks])
    torch.testing.assert_close(rates, expected, rtol=1e-10, atol=0)
    grad, = torch.autograd.grad(rates @ torch.arange(1.0, len(blocks) + 1, dtype=Z.dtype), Z)
    grad_expected, = torch.autograd.grad(
        expected @ torch.arange(1.0, len(blocks) + 1, dtype=Z.dtype), Z)
    torch.testing.assert_close(grad, grad_expected, rtol=1e-9, atol=1e-12)


def test_coding_rates_in_float32_match_to_1e_6():
    rng = np.random.RandomState(5)
    Z = rng.randn(64, 2000)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    blocks = [np.arange(64)] + _random_blocks(rng, 64, [3, 6, 12, 20])
    rates = coding_rates(torch.as_tensor(Z, dtype=torch.float32), blocks, 0.5)
    expected = [coding_rate(Z[b], 0.5) for b in blocks]
    np.testing.assert_allclose(rates.numpy(), expected, rtol=1e-6)


def test_row_gram_gradient():
    Z = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(_RowGram.apply(Z), Z @ Z.T)
    assert torch.autograd.gradcheck(_RowGram.apply, (Z,))


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_ctrl_value_matches_sum_of_single_rates(dtype, rtol):
    rng = np.random.RandomState(6)
    n, d = 48, 500
    labels = rng.randint(0, 5, size=n)
    labels[:5] = np.arange(5)
    groups = label_groups(labels)
    Z = torch.nn.functional.normalize(torch.as_tensor(rng.randn(n, d), dtype=dtype), dim=1)
    Z_hat = torch.nn.functional.normalize(Z + 0.3 * torch.as_tensor(rng.randn(n, d), dtype=dtype),
                                          dim=1)
    Z.requires_grad_(True)
    Z_hat.requires_grad_(True)
    value = ctrl_value(Z, Z_hat, groups, 0.5)
    expected = ctrl_value_per_rate(Z, Z_hat, groups, 0.5)
    torch.testing.assert_close(value, expected, rtol=rtol, atol=0)
    grads = torch.autograd.grad(value, (Z, Z_hat))
    grads_expected = torch.autograd.grad(expected, (Z, Z_hat))
    for grad, grad_expected in zip(grads, grads_expected):
        torch.testing.assert_close(grad, grad_expected, rtol=100 * rtol, atol=100 * rtol)


def test_rate_reduction_gradient_matches_loop():
    rng = np.random.RandomState(7)
    Z = torch.tensor(rng.randn(20, 6), requires_grad=True)
    groups = rng.randint(0, 3, size=20)
    value = rate_reduction(Z, groups, 0.5)
    expected = coding_rate(Z, 0.5) - sum(
        (groups == g).mean() * coding_rate(Z[torch.as_tensor(np.flatnonzero(groups == g))], 0.5)
        for g in range(3)
    )
    torch.testing.assert_close(value, expected, rtol=1e-12, atol=0)
    grad, = torch.autograd.grad(value, Z)
    grad_expected, = torch.autograd.grad(expected, Z)
    torch.testing.assert_close(grad, grad_expected)
