"""What several models share: devices, dtypes, seeds, threads, jit and numerics.

This sub-package is the single place that knows about devices, thread pools,
random generators and compiled kernels. Models call these helpers; none of
them touches ``torch.cuda``, the global RNGs, thread settings or ``numba``
configuration directly.
"""

from ._batches import (
    DEFAULT_CHUNK,
    OutputTooLargeError,
    available_memory,
    check_output_size,
    iter_batches,
)
from ._device import DEVICE_CONSTRAINT, loaded_device, resolve_device
from ._fft import (
    LOG_EPS,
    apply_spectral_gain,
    log_magnitude_spectrum,
    mean_log_magnitude,
    radial_frequency_rings,
    sum_log_magnitude,
    with_magnitude,
)
from ._jit import jit, numba_enabled, prange
from ._linalg import safe_cholesky
from ._random import Conv2d, Linear, init_parameters, randn, seed_from, torch_generator
from ._threads import n_threads, run_in_chunks, threads
from ._torch import FLOAT_DTYPES, as_numpy, as_tensor, numpy_dtype, torch_dtype
from ._validation import (
    N_JOBS_CONSTRAINT,
    is_positive_int,
    reject_bool_numbers,
    validate_params,
)

__all__ = [
    "Conv2d",
    "Linear",
    "DEFAULT_CHUNK",
    "OutputTooLargeError",
    "available_memory",
    "check_output_size",
    "DEVICE_CONSTRAINT",
    "N_JOBS_CONSTRAINT",
    "FLOAT_DTYPES",
    "LOG_EPS",
    "apply_spectral_gain",
    "as_numpy",
    "as_tensor",
    "init_parameters",
    "is_positive_int",
    "iter_batches",
    "jit",
    "log_magnitude_spectrum",
    "mean_log_magnitude",
    "n_threads",
    "numba_enabled",
    "numpy_dtype",
    "prange",
    "radial_frequency_rings",
    "randn",
    "reject_bool_numbers",
    "run_in_chunks",
    "loaded_device",
    "resolve_device",
    "safe_cholesky",
    "seed_from",
    "sum_log_magnitude",
    "threads",
    "torch_dtype",
    "torch_generator",
    "validate_params",
    "with_magnitude",
]
