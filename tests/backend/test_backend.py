import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from skspectral._backend import (
    as_numpy,
    as_tensor,
    init_parameters,
    iter_batches,
    jit,
    resolve_device,
    seed_from,
    torch_dtype,
    torch_generator,
)


def test_auto_resolves_to_available_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_cpu(device):
    assert resolve_device(device) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda")])
def test_cuda_without_cuda_is_a_clear_error(device):
    with pytest.raises(ValueError, match="'device'.*CUDA is not available"):
        resolve_device(device)


@pytest.mark.parametrize("device", ["gpu", "cuda:x", 3, "metal", torch.device("meta")])
def test_unknown_device_is_named(device):
    with pytest.raises(ValueError, match="'device'"):
        resolve_device(device)


@pytest.mark.parametrize("device", ["mps", torch.device("mps")])
def test_mps_where_torch_has_it_else_a_clear_error(device):
    if torch.backends.mps.is_available():
        assert resolve_device(device).type == "mps"
        return
    with pytest.raises(ValueError, match="The 'device' parameter is .*mps.* but MPS .*is not "
                                         "available on this machine; use device='cpu'"):
        resolve_device(device)


def test_mps_passes_parameter_validation():
    from skspectral._backend import DEVICE_CONSTRAINT

    assert DEVICE_CONSTRAINT[0].is_satisfied_by("mps")
    assert not DEVICE_CONSTRAINT[0].is_satisfied_by("mps:0")


def test_device_errors_name_the_callers_argument():
    with pytest.raises(ValueError, match=r"^--device must be .*; got 'gpu'"):
        resolve_device("gpu", name="--device", usage="--device {}")
    if torch.cuda.is_available():
        return
    with pytest.raises(ValueError, match=r"^--device is 'cuda' .* use --device cpu or "
                                         r"--device auto\.$"):
        resolve_device("cuda", name="--device", usage="--device {}")


def test_dtype_policy():
    assert torch_dtype(np.float64) == torch.float64
    assert torch_dtype(np.float32) == torch.float32
    assert torch_dtype(np.int64) == torch.float32
    X = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = as_tensor(X, "cpu")
    assert t.dtype == torch.float64
    back = as_numpy(t * 2, dtype=np.float32)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, 2 * X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_as_tensor_copies_a_read_only_array_once(dtype):
    X = np.arange(6, dtype=dtype).reshape(2, 3)
    X.setflags(write=False)
    t = as_tensor(X, "cpu")
    assert t.dtype == torch_dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), X)
    t += 1  # the tensor owns its memory: the read-only array is untouched
    np.testing.assert_array_equal(X, np.arange(6).reshape(2, 3))
    writable = np.arange(6, dtype=np.float64).reshape(2, 3)
    assert as_tensor(writable, "cpu").data_ptr() == writable.ctypes.data  # still copy-free


def test_local_generators_are_reproducible_and_leave_global_state_alone():
    net_a, net_b = torch.nn.Linear(4, 2), torch.nn.Linear(4, 2)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = torch.rand(3, generator=torch_generator(0))
    init_parameters(net_a, torch_generator(0))
    after = torch.rand(1)
    b = torch.rand(3, generator=torch_generator(0))
    init_parameters(net_b, torch_generator(0))
    assert torch.equal(a, b)
    assert torch.equal(net_a.weight, net_b.weight) and torch.equal(net_a.bias, net_b.bias)
    assert torch.equal(before, after)
    assert seed_from(0) == seed_from(0)


def test_iter_batches_covers_everything():
    slices = list(iter_batches(10, 3))
    assert [s.stop - s.start for s in slices] == [3, 3, 3, 1]
    assert list(iter_batches(0, 3)) == []


def test_jit_kernel_runs():
    from skspectral._backend import prange

    @jit(parallel=True)
    def row_sums(X):
        out = np.empty(X.shape[0])
        for i in prange(X.shape[0]):
            out[i] = X[i].sum()
        return out

    X = np.random.rand(50, 4)
    np.testing.assert_allclose(row_sums(X), X.sum(1))


def test_numba_can_be_disabled():
    code = (
        "import numpy as np\n"
        "from skspectral._backend import jit, numba_enabled\n"
        "@jit\n"
        "def f(x):\n    return x * 2\n"
        "assert not numba_enabled()\n"
        "assert not hasattr(f, 'signatures')\n"
        "assert f(np.ones(2)).sum() == 4\n"
    )
    env = dict(os.environ, SKSPECTRAL_DISABLE_NUMBA="1")
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# ------------------------------------------------------ minimum_norm_preimages
def _preimages(G, targets, **options):
    from skspectral._backend._linalg import minimum_norm_preimages

    return minimum_norm_preimages(targets, lambda W: W @ G.T, lambda T: T @ G, **options)


def test_preimages_are_the_pseudo_inverse_solutions():
    rng = np.random.RandomState(0)
    G = rng.randn(8, 30)
    targets = rng.randn(5, 8)
    inputs, residuals, n_iter = _preimages(G, targets, tol=1e-12)
    np.testing.assert_allclose(inputs, targets @ np.linalg.pinv(G).T, atol=1e-9)
    assert residuals.max() < 1e-10 and 0 < n_iter <= 500


def test_targets_outside_the_range_get_least_squares_preimages():
    # Rank 3 of 6 outputs: the residual stays, orthogonal to the range; the
    # search stops on the normal equations instead of running to max_iter.
    rng = np.random.RandomState(1)
    G = rng.randn(6, 3) @ rng.randn(3, 20)
    targets = rng.randn(4, 6)
    inputs, residuals, n_iter = _preimages(G, targets, tol=1e-10)
    np.testing.assert_allclose(inputs, targets @ np.linalg.pinv(G).T, atol=1e-8)
    expected = np.linalg.norm(targets - inputs @ G.T, axis=1) / np.linalg.norm(targets, axis=1)
    np.testing.assert_allclose(residuals, expected)
    assert residuals.min() > 0.1 and n_iter < 100


def test_preimages_of_zero_targets_and_under_max_iter():
    rng = np.random.RandomState(2)
    G = rng.randn(5, 12)
    targets = np.vstack([np.zeros(5), rng.randn(5)])
    inputs, residuals, _ = _preimages(G, targets)
    assert np.all(inputs[0] == 0) and residuals[0] == 0
    _, residuals, n_iter = _preimages(G, targets, tol=1e-12, max_iter=2)
    assert n_iter == 2 and residuals[1] > 1e-6
