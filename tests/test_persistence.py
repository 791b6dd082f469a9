"""Saving fitted estimators: skops files, pickles, the version stamp, GPU fits on CPUs."""

import copy
import io
import pickle
import re
import warnings

import numpy as np
import pytest
import skops.io as skops_io
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import InconsistentVersionWarning as SklearnVersionWarning
from skops.io.exceptions import UntrustedTypesFoundException

import skspectral
from skspectral import (
    CoefficientPrior,
    ConvSparseCoder,
    SparseSupportMRF,
    SpectralDictionary,
    SpectrumRefiner,
    base,
    make_pipeline,
)
from skspectral.exceptions import InconsistentVersionWarning
from skspectral.io import dump, get_trusted_types, load

PRIOR_KINDS = ("gaussian", "diagonal", "gmm", "kde", "sparse_support", "flow")


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data[:90] / 16.0, data.target[:90] % 3


def _codes(kind):
    rng = np.random.RandomState(0)
    codes = rng.randn(90, 6)
    if kind == "sparse_support":
        codes[rng.rand(90, 6) < 0.6] = 0.0
    return codes


def _model(name):
    models = {
        "spectral": lambda: SpectralDictionary(n_atoms=5, max_iter=1, random_state=0,
                                               device="cpu"),
        "sparse": lambda: SparseSupportMRF(n_atoms=12, n_nonzero_coefs=2, max_iter=1,
                                           burn_in=1, random_state=0, device="cpu"),
        "conv": lambda: ConvSparseCoder(n_filters=(3,), strides=(1,), image_shape=(8, 8),
                                        max_iter=1, random_state=0, device="cpu"),
        "conv-ctrl": lambda: ConvSparseCoder(n_filters=(2, 3), strides=(1, 2),
                                             image_shape=(8, 8), objective="ctrl",
                                             max_iter=1, random_state=0, device="cpu"),
    }
    return models[name]()


def _skops_round_trip(model):
    buffer = io.BytesIO()
    dump(model, buffer)
    buffer.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same version, same device: no warning
        return load(buffer)


def _assert_same(before, after):
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key], err_msg=key)


def _model_outputs(model, X, y=None):
    codes = model.transform(X)
    out = {
        "transform": codes,
        "inverse_transform": model.inverse_transform(codes),
        "sample": model.sample(3, random_state=0),
        "reconstruction_error": model.reconstruction_error(X),
    }
    if getattr(model, "noise_", None) is not None:
        out["score"] = model.score(X)
    if y is not None:
        out["sample_y"] = model.sample(3, y=[0, 1, 2], random_state=0)
    return out


def _prior_outputs(prior, codes):
    if prior.kind == "sparse_support":
        return dict(zip(("sample", "supports"),
                        prior.sample(4, random_state=0, return_supports=True)))
    return {"sample": prior.sample(4, random_state=0),
            "score_samples": prior.score_samples(codes)}


# ----------------------------------------------------------------- skops
@pytest.mark.parametrize("with_labels", [False, True], ids=["unlabelled", "labelled"])
@pytest.mark.parametrize("kind", PRIOR_KINDS)
def test_skops_round_trip_of_every_prior(kind, with_labels):
    codes = _codes(kind)
    y = np.arange(90) % 3 if with_labels else None
    prior = CoefficientPrior(kind, n_components=2, random_state=0).fit(codes, y)
    loaded = _skops_round_trip(prior)
    _assert_same(_prior_outputs(prior, codes), _prior_outputs(loaded, codes))
    if with_labels:
        np.testing.assert_array_equal(loaded.sample(2, y=1, random_state=0),
                                      prior.sample(2, y=1, random_state=0))


def test_skops_round_trip_of_a_projected_kernel_density():
    codes = _codes("kde")
    prior = CoefficientPrior("kde", pca_dim=3, random_state=0).fit(codes)
    loaded = _skops_round_trip(prior)
    _assert_same(_prior_outputs(prior, codes), _prior_outputs(loaded, codes))
    assert loaded.estimator_ is loaded._densities[0].estimator


@pytest.mark.parametrize("kind", ["gmm", "kde"])
def test_skops_round_trip_of_a_gaussianized_prior(kind):
    codes = _codes(kind)
    prior = CoefficientPrior(kind, n_components=2, gaussianize=2, random_state=0).fit(codes)
    loaded = _skops_round_trip(prior)
    _assert_same(_prior_outputs(prior, codes), _prior_outputs(loaded, codes))
    assert loaded.estimator_ is loaded._densities[0].density.density.estimator


@pytest.mark.parametrize("with_labels", [False, True], ids=["unlabelled", "labelled"])
@pytest.mark.parametrize("name", ["spectral", "sparse", "conv", "conv-ctrl"])
def test_skops_round_trip_of_every_model(digits, name, with_labels):
    X, y = digits
    y = y if with_labels else None
    model = _model(name).fit(X, y)
    loaded = _skops_round_trip(model)
    _assert_same(_model_outputs(model, X, y), _model_outputs(loaded, X, y))
    assert loaded.device_ == torch.device("cpu")


def test_skops_round_trip_of_a_residual_model(digits):
    X, _ = digits
    model = _model("sparse").set_params(residual_components=5).fit(X)
    loaded = _skops_round_trip(model)
    np.testing.assert_array_equal(loaded.sample(20, random_state=0),
                                  model.sample(20, random_state=0))
    assert loaded.residual_pca_.n_components_ == 5


def test_skops_round_trip_keeps_a_float32_network(digits):
    X = digits[0].astype(np.float32)
    model = _model("conv").fit(X)
    loaded = _skops_round_trip(model)
    assert loaded._net.layers[0].weight.dtype == torch.float32
    _assert_same(_model_outputs(model, X), _model_outputs(loaded, X))


def test_loaded_spectral_modulation_is_frozen_and_evaluates(digits):
    model = _model("spectral").fit(digits[0])
    loaded = _skops_round_trip(model)
    assert not loaded.modulation_.training
    assert not any(p.requires_grad for p in loaded.modulation_.parameters())
    positions = model._signal_positions()
    np.testing.assert_array_equal(loaded.modulation_(positions).numpy(),
                                  model.modulation_(positions).numpy())


@pytest.mark.parametrize("method", ["profile", "stig"])
def test_skops_round_trip_of_the_refiner(digits, method):
    X = digits[0]
    y = np.arange(len(X)) % 2 if method == "stig" else None
    refiner = SpectrumRefiner(method, image_shape=(8, 8), max_iter=1, batch_size=30,
                              random_state=0, device="cpu").fit(X, y)
    loaded = _skops_round_trip(refiner)
    for call in ("transform", "inverse_transform"):
        np.testing.assert_array_equal(getattr(loaded, call)(X), getattr(refiner, call)(X))


def test_skops_round_trip_of_a_pipeline(digits):
    X, y = digits
    pipe = make_pipeline(PCA(5), CoefficientPrior("gmm", n_components=2, random_state=0))
    pipe.fit(X, y)
    loaded = _skops_round_trip(pipe)
    assert type(loaded) is type(pipe)
    for call in (lambda p: p.sample(4, random_state=0),
                 lambda p: p.sample(3, y=[0, 1, 2], random_state=0),
                 lambda p: p.score_samples(X),
                 lambda p: p.score(X)):
        np.testing.assert_array_equal(call(loaded), call(pipe))


def test_skops_round_trip_of_a_pipeline_of_models(digits):
    X = digits[0]
    pipe = make_pipeline(_model("spectral"), CoefficientPrior("diagonal", random_state=0))
    pipe.fit(X)
    loaded = _skops_round_trip(pipe)
    np.testing.assert_array_equal(loaded.sample(4, random_state=0), pipe.sample(4, random_state=0))
    np.testing.assert_array_equal(loaded.score_samples(X), pipe.score_samples(X))


def test_files_need_no_torch_type_and_plain_skops_loads_them(digits):
    model = _model("conv").fit(digits[0])
    blob = skops_io.dumps(model)
    untrusted = skops_io.get_untrusted_types(data=blob)
    assert not [name for name in untrusted if name.startswith("torch")]
    assert set(untrusted) <= set(get_trusted_types())
    loaded = skops_io.loads(blob, trusted=get_trusted_types())
    np.testing.assert_array_equal(loaded.transform(digits[0]), model.transform(digits[0]))


class Foreign(TransformerMixin, BaseEstimator):
    """A transformer skspectral does not know (so a file holding it is refused)."""

    n_setstate = 0

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X

    def inverse_transform(self, X):
        return X

    def __setstate__(self, state):
        type(self).n_setstate += 1
        super().__setstate__(state)


def test_a_file_with_a_foreign_type_is_refused():
    pipe = make_pipeline(Foreign(), CoefficientPrior(random_state=0)).fit(_codes("gaussian"))
    buffer = io.BytesIO()
    dump(pipe, buffer)
    Foreign.n_setstate = 0
    buffer.seek(0)
    with pytest.raises(UntrustedTypesFoundException, match="Foreign"):
        load(buffer)
    assert Foreign.n_setstate == 0  # refused before anything was built
    buffer.seek(0)
    loaded = load(buffer, trusted=[f"{__name__}.Foreign"])
    np.testing.assert_array_equal(loaded.sample(2, random_state=0), pipe.sample(2, random_state=0))


# ---------------------------------------------------------------- pickle
@pytest.mark.parametrize("name", ["spectral", "conv"])
def test_pickle_and_deepcopy_round_trips(digits, name):
    X = digits[0]
    model = _model(name).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for copied in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
            _assert_same(_model_outputs(model, X), _model_outputs(copied, X))


def _saved_by(version, monkeypatch, save, model):
    with monkeypatch.context() as patch:
        patch.setattr(base._persistence, "_running_version", lambda: version)
        return save(model)


def _skops_bytes(model):
    buffer = io.BytesIO()
    dump(model, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["prior", "conv"])
def test_a_model_saved_by_another_version_warns(digits, monkeypatch, name):
    X = digits[0]
    model = (CoefficientPrior(random_state=0) if name == "prior" else _model("conv")).fit(X)
    blob = _saved_by("0.1.0", monkeypatch, pickle.dumps, model)
    # One warning per saved estimator: the model and its prior.
    pattern = "saved by skspectral 0.1.0 with skspectral " + re.escape(skspectral.__version__)
    with pytest.warns(InconsistentVersionWarning, match=pattern) as record:
        loaded = pickle.loads(blob)
    assert any(type(model).__name__ in str(w.message) for w in record)
    assert all(isinstance(w.message, SklearnVersionWarning) for w in record)
    np.testing.assert_array_equal(loaded.sample(2, random_state=0),
                                  model.sample(2, random_state=0))
    data = _saved_by("0.1.0", monkeypatch, _skops_bytes, model)
    with pytest.warns(InconsistentVersionWarning, match="0.1.0"):
        load(io.BytesIO(data))


def test_a_state_without_a_stamp_is_from_before_the_stamp():
    prior = CoefficientPrior(random_state=0).fit(_codes("gaussian"))
    state = prior.__getstate__()
    assert state.pop("_skspectral_version") == skspectral.__version__
    with pytest.warns(InconsistentVersionWarning, match="pre-0.2.0"):
        CoefficientPrior.__new__(CoefficientPrior).__setstate__(state)


# ------------------------------------------------------------- devices
def _as_if_fitted_on_cuda(model, save):
    model.device_ = torch.device("cuda")
    try:
        return save(model)
    finally:
        model.device_ = torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("name", ["conv", "stig"])
def test_a_cuda_fitted_model_loads_on_the_cpu_from_a_skops_file(digits, name):
    X = digits[0]
    if name == "stig":
        model = SpectrumRefiner("stig", image_shape=(8, 8), max_iter=1, batch_size=30,
                                random_state=0, device="cpu").fit(X, np.arange(len(X)) % 2)
        outputs = lambda m: {"refine": m.refine(X)}  # noqa: E731
    else:
        model = _model("conv").fit(X)
        outputs = lambda m: _model_outputs(m, X)  # noqa: E731
    data = _as_if_fitted_on_cuda(model, _skops_bytes)
    with pytest.warns(UserWarning, match="runs on the CPU"):
        loaded = load(io.BytesIO(data))
    assert loaded.device_ == torch.device("cpu")
    _assert_same(outputs(model), outputs(loaded))


def test_a_file_saved_before_a_parameter_existed_loads_with_its_default(digits):
    X = digits[0]
    prior = CoefficientPrior("gmm", n_components=2, random_state=0).fit(PCA(4).fit_transform(X))
    state = prior.__getstate__()
    del state["temperature"], state["gaussianize"]  # parameters newer than the file
    loaded = CoefficientPrior.__new__(CoefficientPrior)
    loaded.__setstate__(state)
    assert loaded.temperature == 1.0 and loaded.gaussianize == 0
    np.testing.assert_array_equal(loaded.sample(5, random_state=0),
                                  prior.sample(5, random_state=0))
