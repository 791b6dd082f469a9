"""The ``n_jobs`` policy: one context manager for torch, Numba and BLAS threads."""

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import torch
from joblib import effective_n_jobs
from threadpoolctl import threadpool_limits

from ._jit import numba_enabled


def n_threads(n_jobs):
    """Threads for ``n_jobs`` with scikit-learn's meaning.

    ``None`` is 1 unless a :func:`joblib.parallel_config` context says
    otherwise, ``-1`` all cores, ``-2`` all but one.

    Examples
    --------
    >>> from skspectral._backend import n_threads
    >>> n_threads(None), n_threads(1)
    (1, 1)
    """
    return max(1, min(int(effective_n_jobs(n_jobs)), os.cpu_count() or 1))


@contextlib.contextmanager
def threads(n_jobs):
    """Run the block on ``n_threads(n_jobs)`` torch, Numba and BLAS threads.

    The previous settings are restored afterwards. torch's and BLAS's thread
    counts are process-wide, so concurrent fits with different ``n_jobs``
    share whichever setting was made last; results do not depend on it.
    """
    n = n_threads(n_jobs)
    previous_torch = torch.get_num_threads()
    numba = _numba_module()
    previous_numba = numba.get_num_threads() if numba else None
    try:
        if n != previous_torch:
            torch.set_num_threads(n)
        if numba:
            numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        with threadpool_limits(n):
            yield n
    finally:
        if torch.get_num_threads() != previous_torch:
            torch.set_num_threads(previous_torch)
        if numba:
            numba.set_num_threads(previous_numba)


def _numba_module():
    if not numba_enabled():
        return None
    import numba

    return numba


#: Chunks per thread in :func:`run_in_chunks`: rows differ in cost, so a
#: few chunks per thread balance the load.
CHUNKS_PER_THREAD = 4


def run_in_chunks(call, n_rows):
    """Run ``call(rows)`` over ``slice`` chunks of ``range(n_rows)`` on threads.

    For compiled kernels that release the GIL (``jit(nogil=True)``) and write
    each row's result independently: the result does not depend on the
    number of threads. The threads are Numba's current count, so
    :func:`threads` (``n_jobs``) governs them as it governs ``prange``.

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral._backend import run_in_chunks
    >>> out = np.zeros(10)
    >>> def fill(rows):
    ...     out[rows] = np.arange(rows.start, rows.stop)
    >>> run_in_chunks(fill, 10)
    >>> out.tolist() == list(range(10))
    True
    """
    numba = _numba_module()
    workers = min(n_rows, numba.get_num_threads() if numba else 1)
    if workers <= 1:
        call(slice(0, n_rows))
        return
    n_chunks = min(n_rows, workers * CHUNKS_PER_THREAD)
    bounds = [n_rows * i // n_chunks for i in range(n_chunks + 1)]
    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(call, slice(a, b)) for a, b in zip(bounds, bounds[1:])]:
            future.result()
