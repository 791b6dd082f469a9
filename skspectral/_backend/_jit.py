"""Lazy Numba compilation with a documented pure-Python fallback.

Set the environment variable ``SKSPECTRAL_DISABLE_NUMBA=1`` *before*
importing skspectral to run every kernel as plain Python/NumPy (useful with a
debugger or to compare against the compiled result). Otherwise kernels are
compiled on first call with ``cache=True`` so later processes reuse the
machine code.
"""

import os

import numba

#: ``numba.prange`` behaves like ``range`` when a kernel runs uncompiled.
prange = numba.prange


def numba_enabled():
    """Whether kernels are compiled with Numba (see module docstring)."""
    return os.environ.get("SKSPECTRAL_DISABLE_NUMBA", "0").lower() in ("", "0", "false")


def jit(func=None, *, parallel=False, fastmath=False, inline="never", nogil=False,
        internal=False):
    """Decorate a kernel: ``numba.njit(cache=True)`` or the plain function.

    Numba dispatchers compile lazily on first call, so importing skspectral
    stays cheap. Parallel kernels use ``prange`` over independent signals;
    ``nogil=True`` kernels are instead run on threads by
    :func:`~skspectral._backend.run_in_chunks`, which costs far less
    compilation than ``parallel=True`` (parfor lowering) for large kernels.

    Examples
    --------
    >>> from skspectral._backend import jit
    >>> @jit
    ... def add(a, b):
    ...     return a + b
    >>> add(1, 2)
    3
    """

    def decorate(f):
        if not numba_enabled():
            return f
        options = dict(parallel=parallel, fastmath=fastmath, inline=inline, nogil=nogil)
        if internal:
            # Called only from other kernels: no Python-callable wrapper to
            # generate, which saves compilation time.
            options["no_cpython_wrapper"] = True
        try:
            return numba.njit(cache=True, **options)(f)
        except RuntimeError:
            # Functions defined interactively have no file to cache next to.
            return numba.njit(cache=False, **options)(f)

    if func is not None:
        return decorate(func)
    return decorate
