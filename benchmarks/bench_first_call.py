"""First-call cost: Numba compilation on a fresh cache, against a warm cache.

Each track runs one fresh Python process per measurement with
``NUMBA_CACHE_DIR`` pointing at an empty folder (``cold``: every kernel the
call needs is compiled) or at a folder filled by a previous process
(``warm``: kernels load from the cache), and reports the wall time of the
first call of a model loaded from a pickle, excluding the import. The
models are fitted on scikit-learn's digits (1,797 images of 8x8).
"""

import os
import pickle
import subprocess
import sys
import tempfile
import textwrap

_FIT = {
    "SparseSupportMRF": "SparseSupportMRF(n_atoms=64, n_nonzero_coefs=5, max_iter=3, "
                        "random_state=0)",
    "SpectralDictionary": "SpectralDictionary(n_atoms=32, max_iter=2, random_state=0)",
    "ConvSparseCoder": "ConvSparseCoder(image_shape=(8, 8), max_iter=1, random_state=0)",
}

_CALL = {
    "sample": "model.sample(1000, random_state=1)",
    "transform": "model.transform(X[:1000])",
}

_TIMED = textwrap.dedent(
    """
    import pickle, sys, time, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    from sklearn.datasets import load_digits
    import skspectral  # noqa: F401
    X = load_digits().data / 16.0
    with open(sys.argv[1], "rb") as f:
        model = pickle.load(f)
    start = time.perf_counter()
    {call}
    print(time.perf_counter() - start)
    """
)


def _fit_and_pickle(model_name, folder):
    import warnings

    from sklearn.datasets import load_digits

    import skspectral

    X = load_digits().data / 16.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = eval(_FIT[model_name], vars(skspectral)).fit(X)
    path = os.path.join(folder, f"{model_name}.pkl")
    with open(path, "wb") as f:
        pickle.dump(model, f)
    return path


def _first_call_seconds(path, call, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run(
        [sys.executable, "-c", _TIMED.format(call=call), path],
        env=env, check=True, capture_output=True, text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


class FirstCallSuite:
    """Seconds of the first ``sample(1000)`` / ``transform`` in a fresh process."""

    params = (list(_FIT), list(_CALL))
    param_names = ["model", "call"]
    timeout = 600
    number = 1
    repeat = 1

    def setup_cache(self):
        folder = tempfile.mkdtemp(prefix="skspectral-first-call-")
        return {name: _fit_and_pickle(name, folder) for name in _FIT}

    def track_cold(self, paths, model, call):
        with tempfile.TemporaryDirectory() as cache:
            return _first_call_seconds(paths[model], _CALL[call], cache)

    track_cold.unit = "seconds"

    def track_warm(self, paths, model, call):
        with tempfile.TemporaryDirectory() as cache:
            _first_call_seconds(paths[model], _CALL[call], cache)  # fills the cache
            return _first_call_seconds(paths[model], _CALL[call], cache)

    track_warm.unit = "seconds"
