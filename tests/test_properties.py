"""Property-based tests of every public estimator and function (hypothesis).

The property, for every drawn case: the call either raises a clear
``ValueError`` or ``TypeError`` whose message names the culprit (the
parameter, ``X``, ``y`` or the argument's name), or it returns finite output
of the right shape and dtype. Any other exception type (raw NumPy, SciPy,
torch or Numba errors, IndexError, ZeroDivisionError, ...), a message that
names none of the arguments varied in the case, NaN/inf in the output or a
wrong shape/dtype is a failure.

Two hypothesis profiles are registered here: ``skspectral-properties-fast``
(the default run, a few examples per test, deterministic) and
``skspectral-properties-slow`` (``python -m pytest -m slow``, the same
properties with enough examples for > 10,000 cases in all).

Environment variables:

``SKSPECTRAL_PROPERTY_REPORT=path.json``
    Write the per-test counts (tried / clear error / correct output /
    failed) to ``path.json`` at the end of the module (merged with what the
    file already holds).
``SKSPECTRAL_PROPERTY_SURVEY=1``
    Record failures in that report instead of failing the test, so one run
    lists every distinct failure (used to write the failure list of the
    project notes; never set it in CI).
"""

import json
import os
import re
import tempfile
import time
import traceback
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from skspectral import (
    CoefficientPrior,
    ConvSparseCoder,
    GenerativePipeline,
    SparseSupportMRF,
    SpectralDictionary,
    SpectrumRefiner,
    conv_sparse_code,
    make_pipeline,
    orthogonal_mp_batch,
)
from skspectral.base import check_n_samples
from skspectral.datasets import load_digits_images, load_images
from skspectral.metrics import (
    fid_score,
    frechet_distance,
    frequency_distance,
    inception_score,
    log_frequency_distance,
    make_sample_scorer,
    mean_log_spectrum,
    nearest_neighbor_distance,
    psnr,
    radial_power_spectrum,
)
from tests._strategies import arrays, cast, describe, fill, param_values, pick

# ------------------------------------------------------------------ profiles
_COMMON = dict(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
    # No shrinking: each failing property would spend a minute shrinking
    # (every step a model fit), blowing the time budgets. A failure's
    # message holds the whole drawn case, which reproduces it as it is;
    # SKSPECTRAL_PROPERTY_SURVEY=1 lists every distinct failure at once.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)
settings.register_profile("skspectral-properties-fast", max_examples=10, **_COMMON)
settings.register_profile("skspectral-properties-slow", max_examples=400, **_COMMON)
FAST = settings.get_profile("skspectral-properties-fast")
SLOW = settings.get_profile("skspectral-properties-slow")

SURVEY = bool(os.environ.get("SKSPECTRAL_PROPERTY_SURVEY"))

# ------------------------------------------------------------------ recorder
_COUNTS = defaultdict(Counter)
_FAILURES = {}
_CURRENT = {"test": "?"}
_SLOWEST = {}  # test -> (seconds, case) of its slowest case


def _record(outcome):
    _COUNTS[_CURRENT["test"]][outcome] += 1


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Run this module on one thread (torch, BLAS, Numba), restored afterwards.

    Thousands of tiny fits: thread start-up and spin-waiting would cost more
    than the arithmetic, and much more on a loaded machine.
    """
    import numba
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(previous[0])
    numba.set_num_threads(previous[1])


@pytest.fixture(scope="module", autouse=True)
def _property_report():
    yield
    path = os.environ.get("SKSPECTRAL_PROPERTY_REPORT")
    if not path:
        return
    path = Path(path)
    try:
        report = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        report = {}
    tests = report.setdefault("tests", {})
    for name, counts in _COUNTS.items():
        entry = tests.setdefault(name, {"tried": 0, "error": 0, "ok": 0, "fail": 0})
        for key in ("error", "ok", "fail"):
            entry[key] += counts[key]
        entry["tried"] = entry["error"] + entry["ok"] + entry["fail"]
    totals = {"tried": 0, "error": 0, "ok": 0, "fail": 0}
    for entry in tests.values():
        for key in totals:
            totals[key] += entry[key]
    report["total"] = totals
    slowest = report.setdefault("slowest", {})
    for name, (seconds, case) in _SLOWEST.items():
        if seconds > slowest.get(name, {}).get("seconds", 0.0):
            slowest[name] = {"seconds": round(seconds, 4), "case": case}
    failures = report.setdefault("failures", {})
    for signature, example in _FAILURES.items():
        failures.setdefault(signature, example)
    path.write_text(json.dumps(report, indent=1, sort_keys=True))


# ----------------------------------------------------------------- the check
#: Exceptions from these modules are raw errors, even when they subclass
#: ValueError (numpy.linalg.LinAlgError does).
_RAW_MODULES = ("numpy.linalg", "scipy.linalg", "numba", "torch")

#: scikit-learn's own input-validation messages (check_array, validate_data),
#: which do not always repeat the argument name ("Found array with 0
#: sample(s)", "Expected 2D array, got 1D array instead"): they are the
#: standard scikit-learn contract, so they count as clear.
_SKLEARN_GENERIC = (
    "Found array with",
    "Expected 2D array",
    "Expected a 2-dimensional container",
    "Complex data not supported",
    "Found input variables with inconsistent numbers of samples",
    # numpy's message for strings in an object array, re-raised by check_array
    "could not convert string to float",
)


class PropertyFailure(AssertionError):
    pass


def _names_culprit(message, names):
    for name in names:
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message):
            return True
    return any(text in message for text in _SKLEARN_GENERIC)


def _fail(reason, case):
    _record("fail")
    frames = [
        f for f in traceback.extract_stack()[:-2] if "skspectral" in f.filename
        and "tests" not in f.filename
    ]
    signature = f"{_CURRENT['test']}: {reason.splitlines()[0][:160]}"
    signature = re.sub(r"0x[0-9a-f]+", "0x..", signature)
    if signature not in _FAILURES:
        _FAILURES[signature] = {"case": case[:2000], "where": [str(f) for f in frames][-3:]}
    if not SURVEY:
        raise PropertyFailure(f"{reason}\ncase: {case}")


def run_case(call, names, check, case):
    """Run ``call()``; a clear error or a correct output passes, anything else fails.

    names : argument names a clear error message may name.
    check : ``check(output) -> None or str`` (the problem with the output).
    case : a description of the drawn case, for the report.
    """
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                out = call()
    except PropertyFailure:
        raise
    except Exception as exc:  # noqa: BLE001 -- the property is about which exceptions
        _note_time(start, case)
        kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
        message = str(exc)
        if isinstance(exc, FloatingPointError) and "diverged" in message:
            # The divergence guard: extreme values or steps make a fit
            # overflow, and the library says so (naming learning_rate or
            # the input scale) instead of returning nonsense.
            _record("error")
            return None
        if not isinstance(exc, (ValueError, TypeError)) or kind.startswith(_RAW_MODULES):
            tb = traceback.extract_tb(exc.__traceback__)
            where = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in tb
                     if "site-packages" not in f.filename][-2:]
            _fail(f"raised {kind}: {message} [at {' <- '.join(where)}]", case)
            return None
        if not _names_culprit(message, names):
            _fail(f"raised {kind} not naming any of {sorted(names)}: {message}", case)
            return None
        _record("error")
        return None
    _note_time(start, case)
    problem = check(out)
    if problem:
        _fail(problem, case)
        return None
    _record("ok")
    return out


def _note_time(start, case):
    seconds = time.perf_counter() - start
    test = _CURRENT["test"]
    if seconds > _SLOWEST.get(test, (0.0, ""))[0]:
        _SLOWEST[test] = (seconds, case[:500])


def expect_array(shape, dtype, allow_sparse=False, allow_minus_inf=False):
    """A ``check`` for an array output of ``shape`` and ``dtype``, finite (or -inf if allowed)."""

    def check(out):
        if allow_sparse and sp.issparse(out):
            values = out.data
        elif isinstance(out, np.ndarray):
            values = out
        else:
            return f"returned {type(out).__name__}, not an ndarray"
        if shape is not None and out.shape != tuple(shape):
            return f"returned shape {out.shape}, expected {tuple(shape)}"
        if dtype is not None and out.dtype != np.dtype(dtype):
            return f"returned dtype {out.dtype}, expected {np.dtype(dtype)}"
        if values.dtype.kind not in "fiub":
            return f"returned non-numeric dtype {values.dtype}"
        finite = np.isfinite(values)
        if allow_minus_inf:
            finite |= np.isneginf(values)
        if not np.all(finite):
            return f"returned non-finite values ({np.sum(~finite)} of {values.size})"
        return None

    return check


def expect_float(allow_inf=False):
    def check(out):
        if not isinstance(out, float):
            return f"returned {type(out).__name__}, not a float"
        if np.isnan(out) or (np.isinf(out) and not allow_inf):
            return f"returned {out}"
        return None

    return check


def float_out(dtype):
    """The dtype an estimator that preserves float32/float64 should return."""
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def make_test(check, fast_examples, slow_examples):
    """Two pytest tests for one property: the default one and a slow one."""
    name = check.__name__.removeprefix("check_")

    def body(data, key):
        _CURRENT["test"] = key
        check(data)

    @settings(FAST, max_examples=fast_examples)
    @given(data=st.data())
    def fast(data):
        body(data, name)

    @pytest.mark.slow
    @settings(SLOW, max_examples=slow_examples)
    @given(data=st.data())
    def slow(data):
        body(data, name + "[slow]")

    fast.__name__ = fast.__qualname__ = f"test_{name}"
    slow.__name__ = slow.__qualname__ = f"test_{name}_slow"
    return fast, slow


# ------------------------------------------------------------------- fixtures
RNG = np.random.RandomState(0)
X_TRAIN = RNG.uniform(0, 1, size=(12, 16))
Y_TRAIN = np.arange(12) % 2
N_FEATURES = 16

TINY = {
    "SpectralDictionary": lambda: SpectralDictionary(
        4, modulation_width=4, max_iter=1, n_fft=8, hop_length=4, device="cpu",
        random_state=0,
    ),
    "SparseSupportMRF": lambda: SparseSupportMRF(
        8, n_nonzero_coefs=2, max_iter=1, burn_in=1, n_gibbs_sweeps=1, em_max_iter=1,
        device="cpu", random_state=0,
    ),
    "ConvSparseCoder": lambda: ConvSparseCoder(
        (2,), strides=(1,), image_shape=(4, 4), max_iter=1, device="cpu", random_state=0,
    ),
    "CoefficientPrior-gaussian": lambda: CoefficientPrior("gaussian", random_state=0),
    "CoefficientPrior-diagonal": lambda: CoefficientPrior("diagonal", random_state=0),
    "CoefficientPrior-gmm": lambda: CoefficientPrior("gmm", n_components=2, random_state=0),
    "CoefficientPrior-kde": lambda: CoefficientPrior("kde", random_state=0),
    "CoefficientPrior-gaussianized": lambda: CoefficientPrior(
        "gmm", n_components=2, gaussianize=2, random_state=0
    ),
    "CoefficientPrior-sparse_support": lambda: CoefficientPrior(
        "sparse_support", burn_in=1, n_gibbs_sweeps=1, em_max_iter=1, random_state=0
    ),
    "CoefficientPrior-flow": lambda: CoefficientPrior(
        "flow", n_transforms=1, hidden_features=(4,), max_iter=2, device="cpu", random_state=0
    ),
    "SpectrumRefiner": lambda: SpectrumRefiner(image_shape=(4, 4), device="cpu"),
    "SpectrumRefiner-stig": lambda: SpectrumRefiner(
        "stig", image_shape=(4, 4), max_iter=1, n_filters=1, batch_size=4, device="cpu",
        random_state=0,
    ),
    "GenerativePipeline": lambda: make_pipeline(
        SpectrumRefiner(image_shape=(4, 4), device="cpu"),
        SpectralDictionary(4, modulation_width=4, max_iter=1, n_fft=8, hop_length=4,
                           device="cpu", random_state=0),
        CoefficientPrior("diagonal", random_state=0),
    ),
}
ESTIMATORS = sorted(TINY)


def _sparse_codes(X):
    """Sparse codes with 2 non-zeros per row, as SparseSupportMRF produces."""
    return orthogonal_mp_batch(X, np.linalg.qr(RNG.randn(16, 8))[0].T, 2)


def training_data(name):
    """Good training data for ``name`` (codes for priors)."""
    if name == "CoefficientPrior-sparse_support":
        return _SPARSE_TRAIN
    if name.startswith("CoefficientPrior"):
        return X_TRAIN[:, :4]
    return X_TRAIN


_SPARSE_TRAIN = _sparse_codes(X_TRAIN)
_FITTED = {}


def fitted(name, labelled=False):
    """A tiny model fitted once (per module) on good data."""
    key = (name, labelled)
    if key not in _FITTED:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = Y_TRAIN if (labelled or name == "SpectrumRefiner-stig") else None
            _FITTED[key] = TINY[name]().fit(training_data(name), y)
    return _FITTED[key]


def n_codes(model):
    if isinstance(model, CoefficientPrior):
        return model.n_features_in_
    if isinstance(model, SpectrumRefiner):
        return model.n_features_in_
    if isinstance(model, GenerativePipeline):
        return model.n_features_in_
    return model._n_codes


def _post_fit_check(model, name, X, y_given):
    """After a successful fit: the model works on clean data of X's width."""
    n_features = X.shape[1]
    probe = np.random.RandomState(1).uniform(0, 1, size=(3, n_features)).astype(X.dtype)
    if name == "CoefficientPrior-sparse_support":
        probe = np.zeros_like(probe)
    if hasattr(model, "transform") and not isinstance(model, GenerativePipeline):
        codes = model.transform(probe)
        problem = expect_array((3, n_codes(model)), float_out(X.dtype), allow_sparse=True)(codes)
        if problem:
            return "after fit, transform " + problem
    if hasattr(model, "sample"):
        out = model.sample(2, random_state=0)
        dtype = None if isinstance(model, GenerativePipeline) else X.dtype
        problem = expect_array((2, n_features), dtype)(out)
        if problem:
            return "after fit, sample(2) " + problem
    if hasattr(model, "score") and not isinstance(model, (GenerativePipeline, SpectrumRefiner)):
        if not name.startswith("CoefficientPrior-kde") and name != "CoefficientPrior-sparse_support":
            score = model.score(probe)
            if not np.isfinite(score):
                return f"after fit, score(clean data) returned {score}"
    return None


# ------------------------------------------------------------------ fit on X
def check_fit_X(data):
    """Every estimator's fit on drawn X (shape, dtype, values)."""
    name = data.draw(st.sampled_from(ESTIMATORS), label="estimator")
    width = training_data(name).shape[1]
    X = data.draw(arrays(n_rows=12, n_cols=width, max_rows=14), label="X")
    y = Y_TRAIN[: len(X)] if name == "SpectrumRefiner-stig" and X.ndim >= 1 else None
    if y is not None and len(np.unique(y)) < 2:
        y = None
    estimator = TINY[name]()
    case = f"{name}: {estimator!r}.fit(X={describe(X)}, y={y!r})"

    def call():
        model = estimator.fit(X, y)
        return model, _post_fit_check(model, name, np.asarray(X, dtype=float_out(X.dtype)),
                                      y is not None)

    # A message may name any parameter of the estimator (e.g. "increase
    # reg_covar" for data whose covariance is degenerate).
    run_case(call, {"X", "y"} | _param_names(estimator), lambda out: out[1], case)


def _param_names(estimator):
    return {name.rsplit("__", 1)[-1] for name in estimator.get_params()}


# ------------------------------------------------------------ fit parameters
_SHAPES = [(4, 4), (2, 8), (4, 4, 1), (16,), (3, 3), (0, 16), (-4, -4), (4.0, 4.0), [4, 4],
           "ab", (1, 16), (16, 1), (2, 2, 4)]
_DEVICES = ["cpu", "auto", "cuda", "cuda:0", "gpu", "CPU", None, 0]

PARAMS = {
    "SpectralDictionary": {
        "n_atoms": param_values(4, 16, 17, huge=True),
        "modulation_width": param_values(1, 3),
        "stft_weight": param_values(0.0, 1e30, huge=True),
        "n_fft": param_values(4, 16, 17, huge=True),
        "hop_length": param_values(4, 16, 17, huge=True),
        "alpha": param_values(0.0, 1e6, huge=True),
        "prior": st.sampled_from([None, "a", 1, CoefficientPrior("kde"),
                                  CoefficientPrior("gmm", n_components=50),
                                  CoefficientPrior("sparse_support"),
                                  CoefficientPrior("gaussian", reg_covar=0.0),
                                  CoefficientPrior("gaussian", pca_dim=100)]),
        "max_iter": param_values(1),
        "batch_size": param_values(1, 3, 100, huge=True),
        "learning_rate": param_values(1e3, huge=True),
        "tol": param_values(0.0, 1.0, huge=True),
        "image_shape": st.sampled_from(_SHAPES),
        "device": st.sampled_from(_DEVICES),
        "n_jobs": param_values(-2, huge=True),
        "random_state": param_values(0, 2**32, -5, np.random.RandomState(0)),
        "verbose": st.sampled_from([0, -1, True, "a", None, 2.5]),
    },
    "SparseSupportMRF": {
        "n_atoms": param_values(8, 12, 16, 70, huge=True),
        "n_nonzero_coefs": param_values(3, 8, 16, 17, 70, huge=True),
        "dictionary": st.sampled_from([None, np.zeros((8, 16)), np.ones((8, 16)),
                                       RNG.randn(8, 16), RNG.randn(8, 15), RNG.randn(20, 16),
                                       np.full((4, 16), np.nan), np.zeros((0, 16)),
                                       RNG.randn(16), "a", [[1.0] * 16] * 3]),
        "max_iter": param_values(1, 2),
        "n_gibbs_sweeps": param_values(1),
        "burn_in": param_values(0, 1),
        "em_max_iter": param_values(1),
        "overlap_power": param_values(0.0, 0.5, 50.0, 1e308),
        "coefficient_model": st.sampled_from(["em", "regression", "a", None, 1, "EM"]),
        "class_guidance": param_values(0.0, 0.5, 1e308),
        "smoothing": param_values(1.0, 1e-9, 0.999),
        "clip": param_values(),
        "sparse_output": param_values(),
        "n_jobs": param_values(-2, huge=True),
        "device": st.sampled_from(_DEVICES),
        "random_state": param_values(0, 2**32, -5),
        "verbose": st.sampled_from([0, -1, "a", None, 2.5]),
    },
    "ConvSparseCoder": {
        "n_filters": st.sampled_from([(2,), (1, 1), (), (0,), (-1,), (2.5,), ("a",), [2],
                                      (True,), 2, None, (2, 2, 2)]),
        "kernel_size": param_values(3, 4, 5, 9, 17, 100),
        "strides": st.sampled_from([(1,), (2,), (3,), (4,), (5,), (0,), (-1,), (1, 1), (),
                                    (1.5,), 1, None, [2]]),
        "n_unrolled": param_values(0, 3),
        "alpha": param_values(0.0, 1e6, huge=True),
        "objective": st.sampled_from(["reconstruction", "ctrl", "a", None, 1]),
        "epsilon": param_values(1e-12, huge=True),
        "positive": param_values(),
        "image_shape": st.sampled_from(_SHAPES + [None]),
        "prior": st.sampled_from([None, "a", CoefficientPrior("kde"),
                                  CoefficientPrior("gmm", n_components=50),
                                  CoefficientPrior("gaussian", reg_covar=0.0),
                                  CoefficientPrior("sparse_support")]),
        "max_iter": param_values(1),
        "batch_size": param_values(1, 3, huge=True),
        "learning_rate": param_values(1e3, huge=True),
        "device": st.sampled_from(_DEVICES),
        "random_state": param_values(0, 2**32, -5),
        "verbose": st.sampled_from([0, -1, "a", None, 2.5]),
    },
    "CoefficientPrior": {
        "kind": st.sampled_from(["gaussian", "diagonal", "gmm", "kde", "sparse_support", "flow",
                                 "a", None, 1, "GMM"]),
        "n_components": param_values(3, 11, 12, 13, 50, huge=True),
        "covariance_type": st.sampled_from(["full", "tied", "diag", "spherical", "a", None]),
        "shrinkage": param_values("ledoit_wolf", "oas", 0.0, 0.5, 1.0, 1.5, "a"),
        "bandwidth": param_values("scott", "silverman", 1e-12, 0.0, huge=True),
        "reg_covar": param_values(0.0, 1e-30, huge=True),
        "pca_dim": param_values(1, 3, 4, 5, 11, 12, 100, huge=True),
        "whiten": param_values(),
        "n_gibbs_sweeps": param_values(1),
        "burn_in": param_values(0, 1),
        "em_max_iter": param_values(1),
        "overlap_power": param_values(0.0, 1e308),
        "coefficient_model": st.sampled_from(["em", "regression", "a", None]),
        "class_guidance": param_values(0.0, 1e308),
        "smoothing": param_values(1.0, 1e-9),
        "flow_type": st.sampled_from(["maf", "nsf", "a", None, 1, "MAF"]),
        "n_transforms": param_values(1),
        "hidden_features": st.sampled_from([(4,), (2, 2), [3], (), (0,), (-1,), (2.5,), ("a",),
                                            (True,), 4, None, "a"]),
        "max_iter": param_values(1),
        "batch_size": param_values(1, 3, huge=True),
        "learning_rate": param_values(1e3, huge=True),
        "weight_decay": param_values(0.0, huge=True),
        "validation_fraction": param_values(0.5, 0.999, 1.0),
        "n_iter_no_change": param_values(1, huge=True),
        "device": st.sampled_from(_DEVICES),
        "verbose": st.sampled_from([0, -1, "a", None, 2.5]),
        "random_state": param_values(0, 2**32, -5),
    },
    "SpectrumRefiner": {
        "method": st.sampled_from(["profile", "stig", "a", None, 1]),
        "image_shape": st.sampled_from(_SHAPES + [None]),
        "strength": param_values(0.0, 0.5, 1.0, 1.5),
        "clip": param_values(),
        "max_iter": param_values(1),
        "batch_size": param_values(1, 3, huge=True),
        "learning_rate": param_values(1e3, huge=True),
        "n_filters": param_values(1),
        "nce_weight": param_values(0.0, huge=True),
        "psd_weight": param_values(0.0, huge=True),
        "low_freq_weight": param_values(0.0, huge=True),
        "identity_weight": param_values(0.0, huge=True),
        "verbose": st.sampled_from([0, -1, "a", None, 2.5]),
        "device": st.sampled_from(_DEVICES),
        "random_state": param_values(0, 2**32, -5),
    },
}
# max_iter, burn_in, em_max_iter, n_gibbs_sweeps, modulation_width, n_unrolled,
# n_filters, kernel_size, n_transforms and hidden_features never get HUGE
# values: their cost grows with
# them (a model with max_iter=10**12 legitimately runs forever), which no API
# can validate away.


def check_fit_params(data):
    """Every estimator's fit with one or two parameters drawn at/beyond their bounds."""
    family = data.draw(st.sampled_from(sorted(PARAMS)), label="family")
    if family == "CoefficientPrior":
        base = data.draw(st.sampled_from([n for n in ESTIMATORS if n.startswith(family)]))
    elif family == "SpectrumRefiner":
        base = data.draw(st.sampled_from(["SpectrumRefiner", "SpectrumRefiner-stig"]))
    else:
        base = family
    space = PARAMS[family]
    names = data.draw(st.lists(st.sampled_from(sorted(space)), min_size=1, max_size=2,
                               unique=True), label="params")
    params = {n: data.draw(space[n], label=n) for n in names}
    estimator = TINY[base]()
    estimator.set_params(**params)
    X = training_data(base)
    kind = estimator.get_params().get("kind")
    if family == "CoefficientPrior" and kind == "sparse_support":
        X = _SPARSE_TRAIN
    labelled = data.draw(st.booleans(), label="labelled") or base == "SpectrumRefiner-stig"
    y = Y_TRAIN if labelled else None
    case = f"{base}: {estimator!r}.fit(X (shape {X.shape}), y={y!r})"

    def call():
        model = estimator.fit(X, y)
        return model, _post_fit_check(model, base, X, labelled)

    # The culprit may be a combination ("kernel_size=3 is larger than the
    # spatial size (1, 16)" for image_shape=(1, 16)): any parameter may be named.
    culprits = set(names) | {"X", "y"} | _param_names(TINY[base]())
    run_case(call, culprits, lambda out: out[1], case)


# ------------------------------------------------------------------ fit on y
_Y_OPTIONS = [
    lambda n: Y_TRAIN[:n],
    lambda n: np.where(np.arange(n) == 0, np.nan, np.arange(n) % 2).astype(float),
    lambda n: np.full(n, np.inf),
    lambda n: np.array(["a", "b"] * (n // 2) + ["a"] * (n % 2)),
    lambda n: np.array([None, 1] * (n // 2) + [1] * (n % 2), dtype=object),
    lambda n: np.arange(n),  # every class once
    lambda n: np.zeros(n),  # one class
    lambda n: np.arange(n + 1) % 2,  # too long
    lambda n: np.arange(max(n - 1, 0)) % 2,  # too short
    lambda n: (np.arange(n) % 2).reshape(-1, 1),  # column
    lambda n: np.stack([np.arange(n) % 2] * 2, axis=1),  # 2-D
    lambda n: (np.arange(n) % 2).astype(bool),
    lambda n: (np.arange(n) % 2) * 1e30,
    lambda n: (np.arange(n) % 2) + 0.5,
    lambda n: (np.arange(n) % 2).astype(np.complex128),
    lambda n: 1,  # scalar
    lambda n: list(np.arange(n) % 3),
    lambda n: np.array([[0, 1]] * n, dtype=object).tolist(),
]


def check_fit_y(data):
    """Every estimator's fit(X, y) with drawn labels."""
    name = data.draw(st.sampled_from(ESTIMATORS), label="estimator")
    y = data.draw(st.sampled_from(_Y_OPTIONS), label="y")(12)
    X = training_data(name)
    estimator = TINY[name]()
    case = f"{name}: {estimator!r}.fit(X (shape {X.shape}), y={describe(np.asarray(y, dtype=object))})"

    def call():
        model = estimator.fit(X, y)
        problem = _post_fit_check(model, name, X, True)
        if problem is None and getattr(model, "classes_", None) is not None:
            for label in model.classes_[:2]:
                out = model.sample(2, y=label, random_state=0)
                out = out[0] if isinstance(out, tuple) else out
                problem = expect_array((2, X.shape[1]), None)(out)
                if problem:
                    return model, f"sample(y={label!r}) " + problem
        return model, problem

    run_case(call, {"X", "y"}, lambda out: out[1], case)


# ------------------------------------------------ methods of fitted models
def _methods(name):
    if name.startswith("CoefficientPrior"):
        methods = ["score_samples", "score", "sample"]
        if not name.endswith(("kde", "sparse_support", "flow")):
            methods.append("get_mixture")
        return methods
    if name == "GenerativePipeline":
        # Its last step (a prior) has no transform: Pipeline hides transform
        # and inverse_transform (AttributeError), as scikit-learn documents.
        return ["score", "sample", "score_samples"]
    if name.startswith("SpectrumRefiner"):
        return ["transform", "inverse_transform", "refine"]
    methods = ["transform", "inverse_transform", "score", "sample"]
    if name == "SpectralDictionary":
        methods.append("score_samples")
    return methods


def check_methods_X(data):
    """transform / inverse_transform / score / score_samples of fitted models on drawn X."""
    name = data.draw(st.sampled_from(ESTIMATORS), label="estimator")
    labelled = name != "SpectrumRefiner-stig" and data.draw(st.booleans(), label="labelled")
    model = fitted(name, labelled)
    method = data.draw(st.sampled_from([m for m in _methods(name) if m != "sample"
                                        and m != "get_mixture"]), label="method")
    if method == "inverse_transform" and not name.startswith("SpectrumRefiner"):
        width = n_codes(model) if name != "GenerativePipeline" else model[-1].n_features_in_
    else:
        width = training_data(name).shape[1]
    X = data.draw(arrays(n_rows=5, n_cols=width), label="X")
    if name == "SparseSupportMRF" and method == "inverse_transform" and data.draw(
        st.booleans(), label="csr"
    ):
        try:
            X = sp.csr_matrix(X)
        except (ValueError, TypeError):
            pass
    case = f"{name} (fitted, labelled={labelled}).{method}(X={describe(X)})"
    n = X.shape[0] if X.ndim else 0
    in_dtype = float_out(X.dtype)
    if method in ("transform", "refine") or (method == "inverse_transform"
                                             and name.startswith("SpectrumRefiner")):
        out_width = n_codes(model) if method == "transform" else training_data(name).shape[1]
        if name.startswith("SpectrumRefiner"):
            out_width = training_data(name).shape[1]
        if name == "GenerativePipeline":
            out_width = model[-1].n_features_in_
        check = expect_array((n, out_width), in_dtype, allow_sparse=True)
    elif method == "inverse_transform":
        check = expect_array((n, N_FEATURES), in_dtype)
    elif method == "score_samples" and "sparse_support" in name:
        # A density over codes with k non-zeros is 0 (log -inf) on other codes,
        # as documented: -inf is the correct score of dense codes.
        check = expect_array((n,), np.float64, allow_minus_inf=True)
    elif method == "score_samples":
        check = expect_array((n,), np.float64)
    elif "sparse_support" in name:
        check = expect_float(allow_inf=True)
    else:
        check = expect_float()
    run_case(lambda: getattr(model, method)(X), {"X", "kind", method}, check, case)


_GAINS = [None, np.ones(4), np.zeros(4), np.ones(3), np.full(4, np.nan), "a", lambda f: f < 0.1,
          lambda f: np.ones(2), lambda f: "a", 1.0, np.ones((4, 1))]


def check_sample(data):
    """sample(n_samples, y=..., random_state=..., **params) of every fitted model."""
    name = data.draw(st.sampled_from([n for n in ESTIMATORS
                                      if not n.startswith("SpectrumRefiner")]), label="est")
    labelled = data.draw(st.booleans(), label="labelled")
    model = fitted(name, labelled)
    # No huge n_samples: drawing 10**12 samples needs terabytes, and a
    # MemoryError is then the right answer, not a bug.
    n_samples = pick(data, st.sampled_from([1, 2, 3, np.int64(2)]),
                     st.sampled_from([0, -1, True, False, 2.5, "2", None, np.float64(2.0)]),
                     "n_samples")
    kwargs = {}
    names = {"n_samples"}
    if data.draw(st.booleans(), label="with_y"):
        kwargs["y"] = pick(data, st.sampled_from([0, 1, None, np.array([0, 1, 0])[:n_samples]
                                                  if isinstance(n_samples, int) else 0]),
                           st.sampled_from([2, -1, np.nan, "a", [0, 1], np.array([0, 1, 0]),
                                            [[0]], 1.0, True]), "y")
        names.add("y")
    if data.draw(st.booleans(), label="with_rs"):
        kwargs["random_state"] = pick(
            data, st.sampled_from([0, 1, None, np.random.RandomState(1)]),
            param_values(2**32), "random_state")
        names.add("random_state")
    if data.draw(st.booleans(), label="with_extra"):
        extra = data.draw(st.sampled_from(["frequency_gain", "return_supports", "a"]))
        kwargs[extra] = (data.draw(st.sampled_from(_GAINS)) if extra == "frequency_gain"
                         else data.draw(param_values()))
        names.update({extra, "sample"})
    case = f"{name} (fitted, labelled={labelled}).sample({n_samples!r}, **{kwargs!r})"
    width = training_data(name).shape[1]
    in_n = n_samples if isinstance(n_samples, (int, np.integer)) else None

    def check(out):
        if isinstance(out, tuple):
            out, supports = out
            if not isinstance(supports, np.ndarray) or supports.shape[0] != in_n:
                return f"returned supports of shape {getattr(supports, 'shape', None)}"
        return expect_array((in_n, width), None)(out)

    run_case(lambda: model.sample(n_samples, **kwargs), names, check, case)


def check_get_mixture(data):
    """get_mixture of fitted priors: finite weights summing to 1, PSD covariances."""
    name = data.draw(st.sampled_from([n for n in ESTIMATORS if n.startswith("CoefficientPrior")]))
    labelled = data.draw(st.booleans())
    model = fitted(name, labelled)
    case = f"{name} (labelled={labelled}).get_mixture()"

    def check(out):
        weights, means, covs = out
        if not (np.all(np.isfinite(weights)) and np.isclose(weights.sum(), 1.0)):
            return f"weights {weights}"
        if means.shape != (len(weights), 4) or covs.shape != (len(weights), 4, 4):
            return f"shapes {means.shape} {covs.shape}"
        if not np.all(np.isfinite(covs)):
            return "non-finite covariances"
        return None

    run_case(model.get_mixture, {"kind", "get_mixture"}, check, case)


# ----------------------------------------------------- orthogonal_mp_batch
def check_orthogonal_mp_batch(data):
    X = data.draw(arrays(n_rows=6, n_cols=16), label="X")
    d_kind = pick(data, st.sampled_from(["unit", "random"]),
                  st.sampled_from(["zeros", "drawn", "dup", "one"]), "d_kind")
    rng = np.random.RandomState(data.draw(st.integers(0, 100)))
    if d_kind == "drawn":
        D = data.draw(arrays(n_rows=8, n_cols=16), label="dictionary")
    elif d_kind == "zeros":
        D = np.zeros((8, 16))
    elif d_kind == "dup":
        D = np.repeat(rng.randn(4, 16), 2, axis=0)
    elif d_kind == "one":
        D = rng.randn(1, 16)
    else:
        D = rng.randn(8, 16)
        if d_kind == "unit":
            D /= np.linalg.norm(D, axis=1, keepdims=True)
    k = pick(data, st.sampled_from([1, 2, 3]), param_values(8, 16, 17, huge=True),
             "n_nonzero_coefs")
    kwargs = {}
    names = {"X", "dictionary", "n_nonzero_coefs"}
    if data.draw(st.booleans(), label="with_gram"):
        g = pick(data, st.just("exact"), st.sampled_from(
            ["random", "identity", "nan", "wrong_shape", "zeros", "negative"]), "gram", 2)
        Dn = np.asarray(D, dtype=float) if np.asarray(D).dtype.kind in "fiub" else None
        n_atoms = np.shape(D)[0] if np.ndim(D) == 2 else 8
        gram = {
            "exact": (Dn @ Dn.T) if Dn is not None and Dn.ndim == 2 else np.eye(n_atoms),
            "random": rng.randn(n_atoms, n_atoms),
            "identity": np.eye(n_atoms),
            "nan": np.full((n_atoms, n_atoms), np.nan),
            "wrong_shape": np.eye(n_atoms + 1),
            "zeros": np.zeros((n_atoms, n_atoms)),
            "negative": -np.eye(n_atoms),
        }[g]
        kwargs["gram"] = gram
        names.add("gram")
    for param, values in {
        "sparse_output": param_values(),
        "n_jobs": param_values(-2, huge=True),
        "device": st.sampled_from(_DEVICES),
        "chunk_size": param_values(1, 2, 4, huge=True),
        "return_n_nonzero": param_values(),
    }.items():
        if data.draw(st.integers(0, 4), label=f"with_{param}") == 4:  # the largest draw: the simplest case omits it
            kwargs[param] = data.draw(values, label=param)
            names.add(param)
    case = (f"orthogonal_mp_batch(X={describe(X)}, dictionary={describe(D)}, "
            f"n_nonzero_coefs={k!r}, **{ {k_: describe(v) for k_, v in kwargs.items()} })")
    n = X.shape[0] if X.ndim == 2 else 0
    n_atoms = np.shape(D)[0] if np.ndim(D) == 2 else 0

    def check(out):
        if isinstance(out, tuple):
            out, counts = out
            if not isinstance(counts, np.ndarray) or counts.shape != (n,):
                return f"returned counts {counts!r}"
        problem = expect_array((n, n_atoms), float_out(X.dtype), allow_sparse=True)(out)
        if problem:
            return problem
        nnz = (np.asarray(out.todense()) if sp.issparse(out) else out) != 0
        if isinstance(k, (int, np.integer)) and np.any(nnz.sum(axis=1) > k):
            return "returned more than n_nonzero_coefs non-zeros in a row"
        return None

    run_case(lambda: orthogonal_mp_batch(X, D, k, **kwargs), names, check, case)


# ------------------------------------------------------------ conv_sparse_code
def check_conv_sparse_code(data):
    ndim = pick(data, st.sampled_from([3, 4]), st.just(2), "ndim")
    n = pick(data, st.just(2), st.sampled_from([1, 0]), "n")
    size = pick(data, st.sampled_from([(6, 6), (5, 7)]), st.sampled_from([(1, 1), (2, 3)]),
                "size")
    channels = data.draw(st.sampled_from([1, 2]))
    shape = (n,) + size + ((channels,) if ndim == 4 else ()) if ndim >= 3 else (n, size[0])
    kind = pick(data, st.just("normal"), st.sampled_from(["zeros", "constant", "sprinkle",
                                                         "special_const"]), "kind")
    special = data.draw(st.sampled_from([np.nan, np.inf, 0.0, 1e30, -1e30, 1e-30]))
    dtype = pick(data, st.sampled_from([np.float64, np.float32]), st.sampled_from(
        [np.float16, np.int64, np.uint8, np.bool_, object, np.complex128]), "dtype")
    X = cast(fill(shape, kind, 0, special), dtype, 1)
    f_size = pick(data, st.sampled_from([(3, 3), (1, 1), (2, 2)]),
                  st.sampled_from([(7, 7), (3, 8), (0, 3)]), "f_size")
    f_ch = 3 - channels if data.draw(st.integers(0, 5), label="wrong_channels") == 5 else channels
    f_shape = (pick(data, st.sampled_from([2, 1]), st.just(0), "n_filters"),) + f_size + (
        (f_ch,) if ndim == 4 else ())
    f_kind = pick(data, st.just("normal"), st.sampled_from(["zeros", "sprinkle", "constant"]),
                  "f_kind")
    filters = cast(fill(f_shape, f_kind, 1, special) - 0.5 * (f_kind == "normal"),
                   data.draw(st.sampled_from([np.float64, np.float32, np.int64, np.float64])))
    alpha = pick(data, st.sampled_from([0.1, 0.0, 1]), param_values(1e6, huge=True), "alpha")
    kwargs = {"max_iter": pick(data, st.sampled_from([1, 3]), param_values(), "max_iter"),
              "device": "cpu"}
    names = {"X", "filters", "alpha", "max_iter"}
    for param, values in {
        "tol": param_values(0.0, huge=True),
        "positive": param_values(),
        "algorithm": st.sampled_from(["admm", "fista", "a", None]),
        "device": st.sampled_from(_DEVICES),
        "return_n_iter": param_values(),
    }.items():
        if data.draw(st.integers(0, 3), label=f"with_{param}") == 3:
            kwargs[param] = data.draw(values, label=param)
            names.add(param)
    case = (f"conv_sparse_code(X={describe(X)}, filters={describe(filters)}, alpha={alpha!r}, "
            f"**{kwargs!r})")
    expected_shape = (shape[0], f_shape[0]) + tuple(shape[1:3]) if ndim >= 3 else None

    def check(out):
        if not isinstance(out, tuple) or len(out) not in (2, 3):
            return f"returned {type(out).__name__}"
        codes, objective = out[0], out[1]
        problem = expect_array(expected_shape, float_out(X.dtype))(codes)
        if problem:
            return "codes " + problem
        if not np.isfinite(objective):
            return f"objective {objective}"
        return None

    run_case(lambda: conv_sparse_code(X, filters, alpha, **kwargs), names, check, case)


# --------------------------------------------------------------------- metrics
_IMAGE_SHAPES = [None, (4, 4), (2, 8), (4, 4, 1), (2, 2, 4), (3, 3), (0, 16), (-4, -4), (16,),
                 (4.0, 4.0), "ab", (4, 4, 1, 1)]


def _feature_means(batch):
    return batch.mean(axis=(2, 3))


def _bad_extractor(batch):
    return np.full((len(batch), 2), np.nan)


def check_metrics(data):
    """Every metric on drawn image sets and arguments."""
    metric = data.draw(st.sampled_from([
        "mean_log_spectrum", "log_frequency_distance", "frequency_distance",
        "radial_power_spectrum", "psnr", "nearest_neighbor_distance", "frechet_distance",
        "fid_score", "inception_score",
    ]), label="metric")
    ndim = pick(data, st.sampled_from([2, 2, 3]), st.just(1), "ndim")
    A = data.draw(arrays(n_rows=6, n_cols=16, ndim=ndim), label="A")
    B = A if data.draw(st.integers(0, 5)) == 0 else data.draw(
        arrays(n_rows=6, n_cols=16, ndim=ndim), label="B")
    good_shape = (4, 4) if ndim == 2 else None
    image_shape = pick(data, st.just(good_shape), st.sampled_from(_IMAGE_SHAPES), "image_shape")
    names = {"image_shape"}
    n_a = A.shape[0] if A.ndim else 0
    if metric == "mean_log_spectrum":
        call = lambda: mean_log_spectrum(A, image_shape)  # noqa: E731
        names |= {"X"}
        check = expect_array(None, np.float64)
    elif metric == "log_frequency_distance":
        call = lambda: log_frequency_distance(A, B, image_shape)  # noqa: E731
        names |= {"X_a", "X_b"}
        check = expect_float()
    elif metric == "frequency_distance":
        call = lambda: frequency_distance(A, B, image_shape)  # noqa: E731
        names |= {"X", "X_hat"}
        check = expect_float()
    elif metric == "radial_power_spectrum":
        average = data.draw(param_values(), label="average")
        call = lambda: radial_power_spectrum(A, image_shape, average=average)  # noqa: E731
        names |= {"X", "average"}

        def check(out):
            freqs, power = out
            problem = expect_array(None, np.float64)(freqs) or expect_array(
                None, np.float64)(power)
            if problem:
                return problem
            expected = (len(freqs),) if average else (n_a, len(freqs))
            return None if power.shape == expected else f"power shape {power.shape}"
    elif metric == "psnr":
        data_range = pick(data, st.sampled_from([1.0, 255]), param_values(huge=True),
                          "data_range")
        call = lambda: psnr(A, B, data_range=data_range)  # noqa: E731
        names |= {"X", "X_hat", "data_range"}
        check = expect_float(allow_inf=True)  # documented: identical pairs give inf
    elif metric == "nearest_neighbor_distance":
        ratio = data.draw(param_values(), label="return_ratio")
        n_jobs = data.draw(st.sampled_from([None, 1, 0, -1, 2.5, "a"]), label="n_jobs")
        call = lambda: nearest_neighbor_distance(A, B, return_ratio=ratio,  # noqa: E731
                                                 n_jobs=n_jobs)
        names |= {"X_gen", "X_train", "return_ratio", "n_jobs"}

        def check(out):
            parts = out if isinstance(out, tuple) else (out,)
            for part in parts:
                problem = expect_array((n_a,), np.float64)(part)
                if problem:
                    return problem
            return None
    elif metric == "frechet_distance":
        call = lambda: frechet_distance(A, B)  # noqa: E731
        names |= {"features_a", "features_b"}
        check = expect_float()
    elif metric == "fid_score":
        extractor = pick(data, st.just(_feature_means),
                         st.sampled_from([_bad_extractor, "a", None, 1]), "feature_extractor")
        batch_size = pick(data, st.sampled_from([1, 50]), param_values(), "batch_size")
        call = lambda: fid_score(A, B, image_shape, feature_extractor=extractor,  # noqa: E731
                                 batch_size=batch_size)
        names |= {"X_a", "X_b", "feature_extractor", "batch_size"}
        check = expect_float()
    else:
        classifier = pick(data, st.just(_feature_means),
                          st.sampled_from([_bad_extractor, "inception", None]), "classifier")
        n_splits = pick(data, st.sampled_from([1, 3, 6]), param_values(7, huge=True),
                        "n_splits")
        call = lambda: inception_score(A, image_shape, classifier=classifier,  # noqa: E731
                                       n_splits=n_splits)
        names |= {"X", "classifier", "n_splits", "weights_path"}

        def check(out):
            if not (isinstance(out, tuple) and len(out) == 2):
                return f"returned {out!r}"
            return expect_float()(out[0]) or expect_float()(out[1])
    case = f"{metric}(A={describe(A)}, B={describe(B)}, image_shape={image_shape!r})"
    run_case(call, names, check, case)


def check_make_sample_scorer(data):
    metric = pick(data, st.sampled_from([log_frequency_distance, frequency_distance, psnr]),
                  st.sampled_from([None, "a"]), "metric")
    n_samples = pick(data, st.sampled_from([2, 5]), param_values(), "n_samples")
    image_shape = pick(data, st.just((4, 4)), st.sampled_from([None, (3, 3), "ab"]),
                       "image_shape")
    greater = pick(data, st.sampled_from([None, True, False]), st.just("a"),
                   "greater_is_better")
    rs = pick(data, st.sampled_from([0, None]), param_values(), "random_state")
    X_test = data.draw(arrays(n_rows=5, n_cols=16), label="X")
    names = {"metric", "n_samples", "image_shape", "greater_is_better", "random_state", "X",
             "X_a", "X_b", "X_hat"}
    case = (f"make_sample_scorer({metric!r}, n_samples={n_samples!r}, "
            f"image_shape={image_shape!r}, greater_is_better={greater!r}, "
            f"random_state={rs!r})(pipe, {describe(X_test)})")
    pipe = fitted("GenerativePipeline")

    def call():
        scorer = make_sample_scorer(metric, n_samples=n_samples, image_shape=image_shape,
                                    greater_is_better=greater, random_state=rs)
        return scorer(pipe, X_test)

    # frequency_distance is a paired metric: n_samples must match len(X).
    run_case(call, names, expect_float(allow_inf=True), case)


def check_check_n_samples(data):
    value = data.draw(st.one_of(param_values(huge=True), st.integers(-5, 5),
                                st.floats(allow_nan=True)), label="n_samples")
    ok = (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
          and value >= 1)

    def check(out):
        if not ok:
            return f"accepted {value!r}"
        return None if out == value and type(out) is int else f"returned {out!r}"

    run_case(lambda: check_n_samples(value), {"n_samples"}, check, f"check_n_samples({value!r})")


# --------------------------------------------------------------------- datasets
_TMP = Path(tempfile.mkdtemp(prefix="skspectral-properties-"))


def check_load_images(data):
    ndim = pick(data, st.sampled_from([3, 4]), st.sampled_from([0, 1, 2, 5]), "ndim")
    n = pick(data, st.sampled_from([3, 1]), st.just(0), "n")
    shape = {0: (), 1: (n,), 2: (n, 4), 3: (n, 4, 5), 4: (n, 4, 5,
             pick(data, st.sampled_from([3, 1]), st.sampled_from([4, 2, 0]), "channels"))}.get(ndim, (n, 2, 2, 2, 2))
    dtype = pick(data, st.sampled_from([np.uint8, np.float32, np.float64]), st.sampled_from(
        [np.float16, np.int64, np.bool_, np.complex128, object]), "dtype")
    kind = pick(data, st.just("normal"), st.sampled_from(["sprinkle", "zeros", "special_const"]),
                "kind")
    special = data.draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e30, -1e30, 2.0, -1.0]))
    images = cast(fill(shape, kind, 3, special), dtype, 1)
    suffix = data.draw(st.sampled_from([".npy", ".npy", ".npz"]), label="suffix")
    path = _TMP / f"images{suffix}"
    if suffix == ".npy":
        np.save(path, images, allow_pickle=True)
    else:
        np.savez(path, images=images)
    kwargs = {}
    names = {"path", str(path), "images"}
    for param, values in {
        "size": st.sampled_from([None, (2, 2), (8, 8), (0, 2), (-1, 2), (2,), "a", 2, (2.5, 2)]),
        "grayscale": param_values(),
        "n_samples": param_values(1, 2, 5, huge=True),
        "target": st.sampled_from([None, [0, 1, 2], [0], np.zeros(5), "abc", 1, [np.nan] * 3]),
    }.items():
        if data.draw(st.integers(0, 2), label=f"with_{param}") == 2:
            kwargs[param] = data.draw(values, label=param)
            names.add(param)
    case = f"load_images(<{suffix} holding {describe(images)}>, **{kwargs!r})"

    def check(bunch):
        X = bunch.data
        n_img = len(bunch.images)
        if not isinstance(X, np.ndarray) or X.dtype != np.float32 or X.ndim != 2:
            return f"data is {type(X).__name__} {getattr(X, 'dtype', '')} {np.shape(X)}"
        if X.shape[0] != n_img or X.shape[1] != int(np.prod(bunch.image_shape)):
            return f"data shape {X.shape} vs images {bunch.images.shape}"
        if bunch.images.ndim not in (3, 4):
            return f"images of shape {bunch.images.shape}"
        if n_img == 0:
            return "returned an empty data set"
        if not np.all(np.isfinite(X)):
            return "data holds non-finite values"
        if X.size == 0:
            return f"returned images of shape {bunch.images.shape}"
        if X.min() < 0 or X.max() > 1:
            return f"data outside [0, 1]: [{X.min()}, {X.max()}]"
        if bunch.target is not None and len(bunch.target) != n_img:
            return f"target of length {len(bunch.target)} for {n_img} images"
        return None

    run_case(lambda: load_images(path, **kwargs), names, check, case)


def check_load_digits_images(data):
    n_samples = data.draw(st.one_of(param_values(1, 5, 1797, 1798, huge=True),
                                    st.integers(-3, 3)), label="n_samples")

    def check(bunch):
        expected = 1797 if n_samples is None else min(int(n_samples), 1797)
        return expect_array((expected, 64), np.float32)(bunch.data)

    run_case(lambda: load_digits_images(n_samples=n_samples), {"n_samples"}, check,
             f"load_digits_images(n_samples={n_samples!r})")


# ------------------------------------------------------------ the pytest tests
#: (property, examples in the default run, examples in the slow run).
_PROPERTIES = [
    (check_fit_X, 16, 1000),
    (check_fit_params, 20, 1500),
    (check_fit_y, 10, 500),  # 198 distinct cases exist: hypothesis stops there
    (check_methods_X, 16, 1500),
    (check_sample, 14, 1200),
    (check_get_mixture, 4, 100),  # 10 distinct cases exist
    (check_orthogonal_mp_batch, 16, 1300),
    (check_conv_sparse_code, 16, 1300),
    (check_metrics, 20, 1600),
    (check_make_sample_scorer, 8, 400),
    (check_check_n_samples, 6, 300),
    (check_load_images, 14, 900),
    (check_load_digits_images, 4, 60),
]

for _check, _fast_n, _slow_n in _PROPERTIES:
    _fast, _slow = make_test(_check, _fast_n, _slow_n)
    globals()[_fast.__name__] = _fast
    globals()[_slow.__name__] = _slow
del _check, _fast_n, _slow_n, _fast, _slow
