"""Coding rate and rate reduction against direct logdet formulas."""

import numpy as np
import pytest
import torch

from skspectral.conv._rate_reduction import coding_rate, pair_rate_reduction, rate_reduction


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
