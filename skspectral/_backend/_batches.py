"""Row batches and the output-size check: memory stays bounded however large the request.

Every ``transform``, ``inverse_transform`` and ``sample`` walks its rows in
batches of :data:`DEFAULT_CHUNK`, so the memory a call needs beyond its
output is that of one batch. The output itself must fit: :func:`check_output_size`
refuses, before anything is allocated, an output larger than the memory the
process has available (:func:`~skspectral._backend._memory.available_memory`:
the machine's free memory, or less under an address-space or cgroup limit).
"""

import numpy as np

from ._memory import available_memory

#: Rows per batch of the batched transforms, syntheses, draws and sparse
#: coding: memory beyond the output stays bounded by one batch.
DEFAULT_CHUNK = 4096


class OutputTooLargeError(MemoryError, ValueError):
    """The requested output would not fit in the available memory.

    Raised before anything is allocated. A subclass of both
    :class:`MemoryError` and :class:`ValueError`.
    """


def iter_batches(n, batch_size=DEFAULT_CHUNK):
    """Yield ``slice`` objects covering ``range(n)`` in chunks of ``batch_size``.

    Examples
    --------
    >>> from skspectral._backend import iter_batches
    >>> list(iter_batches(5, 2))
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    batch_size = max(1, int(batch_size))
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


def check_output_size(n_rows, n_columns, dtype, *, what, hint=""):
    """Refuse an output of ``n_rows x n_columns`` that would not fit in memory.

    Parameters
    ----------
    n_rows, n_columns : int
        Shape of the output.
    dtype : dtype
        Its element type.
    what : str
        Names the request in the message, e.g. ``"sample(n_samples=10000000)"``.
    hint : str, default=""
        How to get the result anyway (appended to the message).

    Raises
    ------
    OutputTooLargeError
        If the output needs more than the available memory.

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral._backend import check_output_size
    >>> check_output_size(10, 64, np.float32, what="sample(n_samples=10)")
    >>> check_output_size(10**15, 784, np.float32, what="sample(n_samples=10**15)")
    Traceback (most recent call last):
    ...
    skspectral._backend._batches.OutputTooLargeError: sample(n_samples=10**15) would return ...
    """
    needed = int(n_rows) * int(n_columns) * np.dtype(dtype).itemsize
    available = available_memory()
    if needed > available:
        raise OutputTooLargeError(
            f"{what} would return {needed / 2**30:.1f} GiB ({n_rows} x {n_columns} "
            f"{np.dtype(dtype).name}), more than the {available / 2**30:.1f} GiB of memory "
            f"available.{' ' + hint if hint else ''}"
        )
