"""Moving arrays to and from torch, the dtype policy and seeding."""

import contextlib

import numpy as np
import torch
from sklearn.utils import check_random_state

_TORCH_DTYPES = {
    np.dtype(np.float32): torch.float32,
    np.dtype(np.float64): torch.float64,
}


def torch_dtype(dtype):
    """The torch dtype for a NumPy float dtype (float32 for anything else).

    float32 is the default on devices; float64 is kept where the input is
    float64 so that ``float64 in -> float64 out`` holds.
    """
    return _TORCH_DTYPES.get(np.dtype(dtype), torch.float32)


def as_tensor(X, device, dtype=None):
    """Copy-free (on the CPU) conversion of an array to a tensor on ``device``."""
    X = np.asarray(X)
    dtype = torch_dtype(X.dtype if dtype is None else dtype)
    return torch.as_tensor(X, device=device).to(dtype=dtype)


def as_numpy(tensor, dtype=None):
    """Detach a tensor and bring it back as a NumPy array of ``dtype``."""
    out = tensor.detach().cpu().numpy()
    if dtype is not None:
        out = out.astype(dtype, copy=False)
    return out


def seed_from(random_state):
    """Draw a 31-bit integer seed from a ``random_state`` parameter value."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def torch_rng(random_state, device=None):
    """Seed torch from ``random_state`` without touching the caller's RNG state.

    Module initialisation and dropout use torch's global generator; forking it
    keeps fits reproducible and free of side effects on user code.

    Examples
    --------
    >>> import torch
    >>> from skspectral._backend import torch_rng
    >>> with torch_rng(0):
    ...     a = torch.rand(2)
    >>> with torch_rng(0):
    ...     b = torch.rand(2)
    >>> bool(torch.equal(a, b))
    True
    """
    devices = []
    if device is not None and torch.device(device).type == "cuda":
        devices = [torch.device(device)]
    with torch.random.fork_rng(devices=devices):
        seed = seed_from(random_state)
        torch.manual_seed(seed)
        yield seed


def iter_batches(n, batch_size):
    """Yield ``slice`` objects covering ``range(n)`` in chunks of ``batch_size``.

    Large ``transform``/``sample`` calls go through this so memory stays
    bounded by one batch.

    Examples
    --------
    >>> from skspectral._backend import iter_batches
    >>> list(iter_batches(5, 2))
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    batch_size = max(1, int(batch_size))
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))
