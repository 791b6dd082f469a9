"""Moving arrays between NumPy and torch under the dtype policy.

float32 stays float32 and float64 stays float64 (``float64 in -> float64
out``); anything else becomes float32 on the device.
"""

import numpy as np
import torch

_TORCH_DTYPES = {
    np.dtype(np.float32): torch.float32,
    np.dtype(np.float64): torch.float64,
}

#: The input dtypes every estimator accepts (``validate_data(dtype=...)``).
FLOAT_DTYPES = [np.float64, np.float32]


def torch_dtype(dtype):
    """The torch dtype for a NumPy float dtype (float32 for anything else)."""
    return _TORCH_DTYPES.get(np.dtype(dtype), torch.float32)


def numpy_dtype(dtype):
    """The NumPy dtype of a torch float dtype."""
    return np.float64 if dtype == torch.float64 else np.float32


def as_tensor(X, device, dtype=None):
    """Conversion of an array to a tensor on ``device``, copy-free on the CPU.

    A read-only array (a memmap, ``setflags(write=False)``) is copied, once
    and in the target dtype: a tensor sharing its memory could write to it,
    and torch warns about such arrays.
    """
    X = np.asarray(X)
    dtype = torch_dtype(X.dtype if dtype is None else dtype)
    if not X.flags.writeable:
        X = np.array(X, dtype=numpy_dtype(dtype))
    return torch.as_tensor(X, device=device).to(dtype=dtype)


def as_numpy(tensor, dtype=None):
    """Detach a tensor and bring it back as a NumPy array of ``dtype``."""
    out = tensor.detach().cpu().numpy()
    if dtype is not None:
        out = out.astype(dtype, copy=False)
    return out
