"""Dask: a real LocalCluster (2 worker processes) fitting, transforming and searching."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from skspectral import CoefficientPrior, SparseSupportMRF

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

pytestmark = pytest.mark.slow

PARAMS = dict(n_atoms=32, n_nonzero_coefs=4, max_iter=4, random_state=0)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
        worker_class=distributed.Nanny,
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


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
