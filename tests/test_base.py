"""The shared generative base: one sample contract, device, RNG and n_jobs policy."""

import pickle
import subprocess
import sys
import threading

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from skspectral import (
    CoefficientPrior,
    ConvSparseCoder,
    SparseSupportMRF,
    SpectralDictionary,
    SpectrumRefiner,
)
from skspectral._backend import n_threads, threads
from skspectral.base import BaseDictionaryModel, GenerativeMixin
from tests._models import small_models


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data[:240] / 16.0, data.target[:240] % 3


@pytest.fixture(scope="module")
def fitted(digits):
    X, _ = digits
    return {name: model.fit(X) for name, model in small_models().items()}


@pytest.fixture(scope="module")
def fitted_with_labels(digits):
    X, y = digits
    return {name: model.fit(X, y) for name, model in small_models().items()}


@pytest.mark.parametrize("name", ["spectral", "sparse", "conv", "prior", "pipeline"])
@pytest.mark.parametrize("n_samples", [True, False, 0, -3, 2.5, "4", np.float64(3.0)])
def test_bad_n_samples_same_error_everywhere(fitted, name, n_samples):
    expected = f"The 'n_samples' parameter must be an int >= 1; got {n_samples!r}."
    for error in (ValueError, TypeError):
        with pytest.raises(error) as info:
            fitted[name].sample(n_samples)
        assert str(info.value) == expected


@pytest.mark.parametrize("name", ["spectral", "sparse", "conv", "prior", "pipeline"])
def test_numpy_integer_n_samples_and_reproducible_draws(fitted, name):
    model = fitted[name]
    a = model.sample(np.int64(3), random_state=1)
    a = a[0] if isinstance(a, tuple) else a
    assert a.shape[0] == 3
    np.testing.assert_array_equal(a, model.sample(3, random_state=1))


def _first(draw):
    return draw[0] if isinstance(draw, tuple) else draw


@pytest.mark.parametrize("name", ["spectral", "sparse", "conv", "prior", "pipeline"])
def test_sample_accepts_a_numpy_generator(fitted, name):
    model = fitted[name]
    a = _first(model.sample(5, random_state=np.random.default_rng(0)))
    b = _first(model.sample(5, random_state=np.random.default_rng(0)))
    np.testing.assert_array_equal(a, b)
    # The draw takes its seed from the Generator, which advances.
    rng = np.random.default_rng(0)
    first = _first(model.sample(5, random_state=rng))
    np.testing.assert_array_equal(first, a)
    assert not np.array_equal(_first(model.sample(5, random_state=rng)), a)
    # iter_sample: the batches of one Generator state concatenate to sample's draw.
    batches = [_first(batch) for batch in
               model.iter_sample(5, random_state=np.random.default_rng(0))]
    np.testing.assert_array_equal(np.concatenate(batches), a)


def test_refused_random_state_lists_the_generator(fitted):
    with pytest.raises(ValueError, match="random_state.*Generator.*Got 'x' instead"):
        fitted["prior"].sample(2, random_state="x")


@pytest.mark.parametrize("name", ["spectral", "prior", "pipeline"])
def test_lazy_sample_accepts_a_numpy_generator(fitted, name):
    pytest.importorskip("dask")
    model = fitted[name]
    a = model.sample(6, chunks=3, random_state=np.random.default_rng(0)).compute()
    b = model.sample(6, chunks=3, random_state=np.random.default_rng(0)).compute()
    assert a.shape[0] == 6
    np.testing.assert_array_equal(a, b)


def test_every_generative_estimator_derives_from_the_base():
    for cls in (SpectralDictionary, SparseSupportMRF, ConvSparseCoder):
        assert issubclass(cls, BaseDictionaryModel)
        assert "sample" not in vars(cls)
    assert issubclass(CoefficientPrior, GenerativeMixin)
    assert "sample" not in vars(CoefficientPrior)


@pytest.mark.parametrize("name", ["spectral", "sparse", "conv"])
def test_class_conditional_sampling(fitted_with_labels, name):
    model = fitted_with_labels[name]
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    assert model.prior_.classes_ is not None
    assert model.sample(4, y=2, random_state=0).shape == (4, 64)
    assert model.sample(3, y=[0, 1, 2], random_state=0).shape == (3, 64)
    with pytest.raises(ValueError, match="not a class seen in fit"):
        model.sample(2, y=7)


@pytest.mark.parametrize("name", ["spectral", "sparse", "conv", "prior"])
def test_labels_needed_for_conditional_sampling(fitted, name):
    with pytest.raises(ValueError, match=f"this {type(fitted[name]).__name__} was fitted without y"):
        fitted[name].sample(2, y=1)


@pytest.mark.parametrize("name", ["spectral", "sparse", "conv"])
def test_code_width_check_is_shared(fitted, name):
    model = fitted[name]
    with pytest.raises(ValueError, match=f"X has 1 columns, but {type(model).__name__} expects"):
        model.inverse_transform(np.zeros((2, 1)))


def test_unknown_sample_option_is_named(fitted):
    with pytest.raises(TypeError, match="frequency_gain"):
        fitted["spectral"].sample(2, return_supports=True)
    with pytest.raises(TypeError, match="unexpected keyword"):
        fitted["conv"].sample(2, frequency_gain=None)


# ------------------------------------------------------------------ RNG
def _fit_in_threads(make, X, n_threads_):
    results = [None] * n_threads_
    barrier = threading.Barrier(n_threads_)

    def work(i):
        barrier.wait()
        results[i] = make().fit(X)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(n_threads_)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results


@pytest.mark.parametrize(
    "make, state",
    [
        (lambda: SpectralDictionary(n_atoms=6, max_iter=2, random_state=0, device="cpu"),
         lambda m: m.components_),
        (lambda: ConvSparseCoder(n_filters=(3,), strides=(1,), image_shape=(8, 8), max_iter=1,
                                 random_state=0, device="cpu"),
         lambda m: m.dictionaries_[0]),
    ],
    ids=["SpectralDictionary", "ConvSparseCoder"],
)
def test_concurrent_fits_with_one_seed_equal_a_serial_fit(digits, make, state):
    X = digits[0][:120]
    serial = make().fit(X)
    for _ in range(8):
        for model in _fit_in_threads(make, X, 2):
            np.testing.assert_array_equal(state(model), state(serial))
            np.testing.assert_array_equal(model.sample(3, random_state=0),
                                          serial.sample(3, random_state=0))


def test_fit_leaves_global_rng_state_alone(digits):
    torch.manual_seed(7)
    np.random.seed(7)
    expected_torch, expected_numpy = torch.rand(2), np.random.rand(2)
    torch.manual_seed(7)
    np.random.seed(7)
    for model in small_models().values():
        model.fit(digits[0][:80])
    stig = SpectrumRefiner("stig", image_shape=(8, 8), max_iter=1, batch_size=20, random_state=0)
    stig.fit(digits[0][:80], np.arange(80) % 2)
    np.testing.assert_array_equal(torch.rand(2), expected_torch)
    np.testing.assert_array_equal(np.random.rand(2), expected_numpy)


# --------------------------------------------------------------- device
@pytest.mark.parametrize("name", ["spectral", "sparse", "conv"])
def test_fitted_model_keeps_its_device(fitted, name):
    model = fitted[name]
    assert model.device_ == torch.device("cpu")
    model.set_params(device="cuda")  # the parameter only matters for the next fit
    assert model.transform(np.zeros((1, 64))).shape[0] == 1
    model.set_params(device="cpu")
    assert model.to("cpu") is model and model.device_ == torch.device("cpu")


def test_model_fitted_on_a_missing_gpu_loads_on_the_cpu(fitted):
    model = fitted["conv"]
    codes = model.transform(np.ones((2, 64)))
    model.device_ = torch.device("cuda")  # as if fitted on a GPU
    try:
        blob = pickle.dumps(model)
    finally:
        model.device_ = torch.device("cpu")
    if torch.cuda.is_available():
        pytest.skip("this check needs a machine without CUDA")
    with pytest.warns(UserWarning, match="runs on the CPU"):
        loaded = pickle.loads(blob)
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.transform(np.ones((2, 64))), codes)


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has MPS")
def test_mps_is_refused_naming_device_where_torch_lacks_it(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="The 'device' parameter is 'mps' but MPS"):
        SpectralDictionary(n_atoms=4, max_iter=1, device="mps").fit(X)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_moving_to_a_missing_gpu_blames_the_to_argument(fitted):
    model = fitted["spectral"]
    with pytest.raises(ValueError) as info:
        model.to("cuda")
    message = str(info.value)
    assert message.startswith("The to(device=...) argument is 'cuda' but CUDA is not available")
    assert "use to('cpu') or to('auto')" in message
    assert "'device' parameter" not in message
    assert model.device_ == torch.device("cpu")  # not moved


def test_refiner_follows_the_device_policy():
    refiner = SpectrumRefiner(device="cpu").fit(np.random.RandomState(0).rand(10, 16))
    assert refiner.device_ == torch.device("cpu")
    assert refiner.to("cpu") is refiner


# --------------------------------------------------------------- n_jobs
def test_n_jobs_has_scikit_learn_meaning():
    assert n_threads(None) == 1
    assert n_threads(1) == 1
    assert n_threads(-1) == joblib.cpu_count()
    with joblib.parallel_config(n_jobs=2):
        assert n_threads(None) == min(2, joblib.cpu_count())


def test_threads_context_restores_torch_setting():
    before = torch.get_num_threads()
    with threads(-1) as n:
        assert torch.get_num_threads() == n
    assert torch.get_num_threads() == before


# ------------------------------------------------------------ submodules
SUBMODULES = ("datasets", "metrics", "plotting", "pipeline", "io", "utils", "prior", "sparse",
              "spectral", "conv", "refiner", "exceptions")


def test_submodules_are_attributes_of_the_package():
    # A fresh interpreter: in this one, other tests imported the submodules already.
    code = f"""
import sys, types
import skspectral
lazy = [n for n in {SUBMODULES!r} if f"skspectral.{{n}}" not in sys.modules]
assert lazy, "every submodule was imported eagerly: the test checks nothing lazy"
for name in {SUBMODULES!r}:
    module = getattr(skspectral, name)
    assert isinstance(module, types.ModuleType), name
    assert module is sys.modules[f"skspectral.{{name}}"], name
    assert name in dir(skspectral), name
assert skspectral.metrics.psnr is not None and skspectral.datasets.load_digits_images
try:
    skspectral.not_a_submodule
except AttributeError as exc:
    assert "has no attribute 'not_a_submodule'" in str(exc)
else:
    raise AssertionError("skspectral.not_a_submodule did not raise")
print("ok", sorted(lazy))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
