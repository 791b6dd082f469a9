"""Device resolution, torch/NumPy conversion, seeding and Numba compilation.

This sub-package is the single place that knows about devices and compiled
kernels. Estimators call these helpers; none of them touches
``torch.cuda`` or ``numba`` directly.
"""

from ._device import (
    DEVICE_CONSTRAINT,
    check_device,
    resolve_device,
)
from ._jit import jit, numba_enabled, prange
from ._torch import (
    as_numpy,
    as_tensor,
    iter_batches,
    seed_from,
    torch_dtype,
    torch_rng,
)

__all__ = [
    "DEVICE_CONSTRAINT",
    "as_numpy",
    "as_tensor",
    "check_device",
    "iter_batches",
    "jit",
    "numba_enabled",
    "prange",
    "resolve_device",
    "seed_from",
    "torch_dtype",
    "torch_rng",
]
