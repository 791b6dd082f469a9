"""Dask: a real LocalCluster (2 workers) fitting, transforming, sampling and searching.

Every lazy result is computed more than once, on the cluster and on dask's
other schedulers, whichever it was built under.
"""

import copy
import re

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from skspectral import CoefficientPrior, SparseSupportMRF, SpectralDictionary, make_pipeline

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

pytestmark = pytest.mark.slow

PARAMS = dict(n_atoms=32, n_nonzero_coefs=4, max_iter=4, random_state=0)


@pytest.fixture(scope="module")
def cluster():
    # Two in-process workers of one thread: quick to start, still two workers
    # that tasks are spread over and results are sent between.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster:
        yield cluster


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data / 16.0, data.target


def test_sparse_fit_on_the_cluster_matches_the_in_memory_fit(client, digits):
    X, y = digits
    lazy = da.from_array(X, chunks=(300, -1))
    with distributed.get_task_stream(client) as stream:
        on_cluster = SparseSupportMRF(**PARAMS).fit(lazy, y)
    # Every iteration coded the blocks on the workers, both of them.
    coding = [t for t in stream.data if "dictionary_statistics" in str(t["key"])]
    assert len(coding) == PARAMS["max_iter"] * lazy.numblocks[0]
    assert len({t["worker"] for t in coding}) == 2
    in_memory = SparseSupportMRF(dictionary_update="bcd", **PARAMS).fit(X, y)
    np.testing.assert_allclose(on_cluster.components_, in_memory.components_, atol=1e-10)
    np.testing.assert_allclose(on_cluster.reconstruction_error_,
                               in_memory.reconstruction_error_, rtol=1e-10)
    np.testing.assert_allclose(on_cluster.support_pairwise_, in_memory.support_pairwise_,
                               atol=1e-12)
    np.testing.assert_allclose(on_cluster.sample(20, random_state=0),
                               in_memory.sample(20, random_state=0), atol=1e-9)


def test_transform_and_sample_run_on_the_workers(client, digits):
    X, _ = digits
    model = SparseSupportMRF(**PARAMS).fit(X)
    lazy = da.from_array(X, chunks=(300, -1))
    codes = model.transform(lazy)
    np.testing.assert_allclose(codes.compute(), model.transform(X))
    images = model.inverse_transform(codes).compute()
    np.testing.assert_allclose(images, model.inverse_transform(model.transform(X)))
    draws = model.sample(64, chunks=16, random_state=0)
    np.testing.assert_array_equal(draws.compute(), draws.compute())
    prior = CoefficientPrior().fit(model.transform(lazy))
    np.testing.assert_allclose(prior.mean_, model.transform(X).mean(axis=0), atol=1e-12)


def test_grid_search_on_the_joblib_dask_backend(client, digits):
    X, _ = digits
    search = GridSearchCV(SparseSupportMRF(**PARAMS), {"n_atoms": [16, 32]}, cv=2, n_jobs=-1)
    with joblib.parallel_backend("dask"):
        search.fit(X)
    serial = GridSearchCV(SparseSupportMRF(**PARAMS), {"n_atoms": [16, 32]}, cv=2).fit(X)
    assert search.best_params_ == serial.best_params_ == {"n_atoms": 32}
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"])


SMALL = dict(n_atoms=16, n_nonzero_coefs=3, max_iter=2, random_state=0)


@pytest.fixture(scope="module")
def small(digits):
    X = digits[0][:400]
    return {
        "X": X,
        "sparse": SparseSupportMRF(**SMALL).fit(X),
        "spectral": SpectralDictionary(n_atoms=8, max_iter=1, random_state=0).fit(X),
    }


def _compute_everywhere(lazy, processes=False):
    """``lazy`` computed twice on the active scheduler, then on local ones, then again.

    ``processes=True`` adds dask's process pool (one worker process, which
    imports skspectral afresh: slow, so only some tests ask for it).
    """
    results = [lazy.compute(), lazy.compute()]
    for scheduler in ("threads", "synchronous"):
        with dask.config.set(scheduler=scheduler):
            results.append(lazy.compute())
    if processes:
        with dask.config.set(scheduler="processes", num_workers=1):
            results.append(lazy.compute())
    results.append(lazy.compute())
    return results


@pytest.mark.parametrize("name", ["sparse", "spectral"])
def test_repeated_transforms_on_the_cluster_give_the_in_memory_result(client, small, name):
    model, X = small[name], small["X"]
    lazy = da.from_array(X, chunks=(150, -1))
    expected_codes = model.transform(X)
    expected_images = model.inverse_transform(expected_codes)
    for _ in range(3):  # each call builds the same graph again
        codes = model.transform(lazy)
        assert isinstance(codes, da.Array) and codes.chunks[0] == lazy.chunks[0]
        np.testing.assert_allclose(codes.compute(), expected_codes)
        np.testing.assert_allclose(codes.compute(), expected_codes)
        images = model.inverse_transform(codes)
        assert isinstance(images, da.Array)
        np.testing.assert_allclose(images.compute(), expected_images)
        np.testing.assert_allclose(images.compute(), expected_images)


@pytest.mark.parametrize("name", ["sparse", "spectral"])
def test_lazy_results_built_under_a_client_compute_on_every_scheduler(client, small, name):
    model, X = small[name], small["X"]
    lazy = da.from_array(X, chunks=(150, -1))
    codes = model.transform(lazy)
    draws = model.sample(30, chunks=10, random_state=0)
    for result in _compute_everywhere(codes, processes=name == "sparse"):
        np.testing.assert_allclose(result, model.transform(X))
    first, *others = _compute_everywhere(draws, processes=name == "spectral")
    assert first.shape == (30, X.shape[1])
    for result in others:
        np.testing.assert_array_equal(result, first)
    np.testing.assert_array_equal(model.sample(30, chunks=10, random_state=0).compute(), first)


def test_lazy_results_built_without_a_client_compute_on_the_cluster(cluster, small):
    model, X = small["sparse"], small["X"]
    codes = model.transform(da.from_array(X, chunks=(150, -1)))
    draws = model.sample(30, chunks=10, random_state=0)
    images = model.inverse_transform(codes)
    local = draws.compute(scheduler="threads")
    with distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:
            for _ in range(2):
                np.testing.assert_allclose(codes.compute(), model.transform(X))
                np.testing.assert_array_equal(draws.compute(), local)
                np.testing.assert_allclose(images.compute(),
                                           model.inverse_transform(model.transform(X)))
        # They ran on the workers; the model was unpickled at most once per
        # compute (codes and images share its key), not once per block.
        assert len({t["worker"] for t in stream.data}) == 2
        loads = [t for t in stream.data if str(t["key"]).startswith("SparseSupportMRF-")]
        assert 1 <= len(loads) <= 6
    np.testing.assert_array_equal(draws.compute(scheduler="synchronous"), local)


def test_the_model_enters_the_graph_once_as_a_snapshot(client, small):
    X = small["X"]
    model = SparseSupportMRF(**SMALL).fit(X)
    lazy = da.from_array(X, chunks=(100, -1))
    codes = model.transform(lazy)
    graph = dict(codes.__dask_graph__())
    model_keys = [k for k in graph if str(k).startswith("SparseSupportMRF-")]
    assert len(model_keys) == 1
    # The same model gives the same graph; a refit one a new key, while the
    # lazy array built before keeps computing what the model was then.
    assert model.transform(lazy).name == codes.name
    before = model.transform(X)
    model.set_params(random_state=1).fit(X)
    assert model.transform(lazy).name != codes.name
    np.testing.assert_allclose(codes.compute(), before)
    assert not np.allclose(model.transform(lazy).compute(), before)


def test_spectral_inverse_transform_with_gains_is_lazy(client, small):
    model, X = small["spectral"], small["X"]
    codes = model.transform(da.from_array(X, chunks=(150, -1)))
    low = SpectralDictionary.band_gain(high=0.2)
    gains = np.linspace(0.0, 1.0, model.n_atoms_)
    for gain in (low, gains):
        images = model.inverse_transform(codes, frequency_gain=gain)
        assert isinstance(images, da.Array) and images.chunks[0] == codes.chunks[0]
        expected = model.inverse_transform(model.transform(X), frequency_gain=gain)
        for result in _compute_everywhere(images):
            np.testing.assert_allclose(result, expected)
    # Bad gains are refused at the call, not when computed.
    with pytest.raises(ValueError, match="one finite gain per atom"):
        model.inverse_transform(codes, frequency_gain=np.ones(model.n_atoms_ + 1))


def test_pipeline_lazy_sample_repeats_on_the_cluster(client, digits):
    X = digits[0][:400]
    pipe = make_pipeline(SparseSupportMRF(**SMALL), CoefficientPrior("gaussian", random_state=0))
    pipe.fit(da.from_array(X, chunks=(200, -1)))
    draws = pipe.sample(40, chunks=15, random_state=0)
    first, *others = _compute_everywhere(draws)
    assert first.shape == (40, X.shape[1])
    for result in others:
        np.testing.assert_array_equal(result, first)
    np.testing.assert_array_equal(pipe.sample(40, chunks=15, random_state=0).compute(), first)


def _with_bad_block(X, value):
    X = X.copy()
    X[250, 3] = value
    return da.from_array(X, chunks=(100, -1))


def _state(model):
    """The model's attributes, and copies of its arrays and torch module weights."""
    import torch

    arrays = {k: v.copy() for k, v in vars(model).items() if isinstance(v, np.ndarray)}
    arrays.update({f"{k}.{p}": w.detach().numpy().copy()
                   for k, v in vars(model).items() if isinstance(v, torch.nn.Module)
                   for p, w in v.state_dict().items()})
    return dict(vars(model)), arrays


def _assert_untouched(model, state):
    objects, arrays = state
    assert vars(model).keys() == objects.keys()
    for name, value in vars(model).items():
        assert value is objects[name], name
    for name, value in _state(model)[1].items():
        np.testing.assert_array_equal(value, arrays[name], err_msg=name)


@pytest.mark.parametrize("on_cluster", [True, False])
@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("name", ["sparse", "spectral"])
def test_a_dask_fit_refuses_a_bad_block_and_keeps_the_fitted_model(cluster, small, name, value,
                                                                   on_cluster):
    X = small["X"]
    model = copy.deepcopy(small[name])
    if name == "spectral":
        model.set_params(max_iter=1)
    bad = _with_bad_block(X, value)
    # The error of the in-memory fit, word for word.
    with pytest.raises(ValueError) as in_memory:
        copy.deepcopy(model).fit(bad.compute())
    message = str(in_memory.value)
    assert message.startswith("Input X contains " + ("NaN" if np.isnan(value) else "infinity"))
    state = _state(model)
    expected = model.transform(X)
    if on_cluster:
        with distributed.Client(cluster):
            for _ in range(2):
                with pytest.raises(ValueError, match=re.escape(message)):
                    model.fit(bad)
                _assert_untouched(model, state)
    else:
        with dask.config.set(scheduler="threads"):
            for _ in range(2):
                with pytest.raises(ValueError, match=re.escape(message)):
                    model.fit(bad)
                _assert_untouched(model, state)
    np.testing.assert_allclose(model.transform(X), expected)


def test_an_unfitted_model_stays_unfitted_after_a_refused_dask_fit(client, small):
    from sklearn.exceptions import NotFittedError

    model = SparseSupportMRF(**SMALL)
    params = dict(vars(model))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.fit(_with_bad_block(small["X"], np.nan))
    assert vars(model) == params
    with pytest.raises(NotFittedError):
        model.transform(small["X"])
    # And the same model then fits the clean array.
    model.fit(da.from_array(small["X"], chunks=(100, -1)))
    assert model.components_.shape == (16, 64)


def test_refused_dask_fit_of_a_prior_leaves_the_fitted_prior_untouched():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(60, 3))
    prior = CoefficientPrior("gmm", n_components=2, random_state=0).fit(codes)
    before = prior.sample(5, random_state=0)
    bad = codes.copy()
    bad[45, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        prior.fit(da.from_array(bad, chunks=20))
    np.testing.assert_array_equal(prior.sample(5, random_state=0), before)
