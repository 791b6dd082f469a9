"""SparseSupportMRF beyond memory: additive sums, BCD, partial_fit and dask arrays."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skspectral import SparseSupportMRF
from skspectral.sparse._bcd import N_CANDIDATES, dictionary_statistics, update_dictionary
from skspectral.sparse._ksvd import init_dictionary

da = pytest.importorskip("dask.array")

PARAMS = dict(n_atoms=32, n_nonzero_coefs=4, max_iter=4, random_state=0)


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data / 16.0, data.target


def test_dictionary_statistics_add_up_over_any_split(digits):
    X, _ = digits
    D = init_dictionary(X, 32, np.random.RandomState(0))
    whole = dictionary_statistics(X, D, 4)
    parts = [dictionary_statistics(X[rows], D, 4) for rows in np.array_split(np.arange(len(X)), 7)]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    np.testing.assert_allclose(total.A, whole.A, rtol=1e-12)
    np.testing.assert_allclose(total.B, whole.B, rtol=1e-12)
    assert total.n == whole.n == len(X)
    assert total.sq_error == pytest.approx(whole.sq_error, rel=1e-12)
    # The replacement candidates are the same worst images however the rows are split.
    np.testing.assert_allclose(total.candidate_errors, whole.candidate_errors, rtol=1e-12)
    assert len(total.candidates) == N_CANDIDATES


def test_bcd_sweep_lowers_the_error_and_replaces_unused_atoms(digits):
    X, _ = digits
    rng = np.random.RandomState(0)
    D = init_dictionary(X, 32, rng)
    D[5] = np.eye(D.shape[1])[0]  # the first pixel of every digit is 0: nobody picks it
    before = dictionary_statistics(X, D, 4)
    assert before.A[5, 5] == 0
    assert update_dictionary(D, before) == 1
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0)
    assert dictionary_statistics(X, D, 4).mse < before.mse


def test_bcd_fit_in_memory_matches_the_dask_fit(digits):
    X, y = digits
    memory = SparseSupportMRF(dictionary_update="bcd", **PARAMS).fit(X, y)
    lazy = SparseSupportMRF(**PARAMS).fit(da.from_array(X, chunks=(400, -1)), y)
    np.testing.assert_allclose(lazy.components_, memory.components_, atol=1e-10)
    np.testing.assert_allclose(lazy.reconstruction_error_, memory.reconstruction_error_)
    np.testing.assert_allclose(lazy.support_pairwise_, memory.support_pairwise_, atol=1e-12)
    np.testing.assert_array_equal(lazy.classes_, memory.classes_)
    np.testing.assert_allclose(lazy.sample(20, random_state=0), memory.sample(20, random_state=0),
                               atol=1e-9)
    assert (lazy.data_min_, lazy.data_max_) == (memory.data_min_, memory.data_max_)


def test_bcd_reconstructs_about_as_well_as_ksvd(digits):
    X, _ = digits
    ksvd = SparseSupportMRF(**PARAMS).fit(X[:1200])
    bcd = SparseSupportMRF(dictionary_update="bcd", **PARAMS).fit(X[:1200])
    assert bcd.reconstruction_error(X[1200:]) < 1.05 * ksvd.reconstruction_error(X[1200:])


def test_ksvd_refuses_a_dask_array(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="dictionary_update='ksvd' needs all images"):
        SparseSupportMRF(dictionary_update="ksvd", **PARAMS).fit(da.from_array(X, chunks=400))


def test_partial_fit_with_a_fixed_dictionary_gives_the_statistics_of_one_fit(digits):
    X, y = digits
    D = SparseSupportMRF(**PARAMS).fit(X).components_
    fitted = SparseSupportMRF(dictionary=D, **PARAMS).fit(X, y)
    streamed = SparseSupportMRF(dictionary=D, forget_factor=1.0, **PARAMS)
    for rows in np.array_split(np.arange(len(X)), 6):
        streamed.partial_fit(X[rows], y[rows], classes=np.arange(10))
    np.testing.assert_array_equal(streamed.components_, fitted.components_)
    np.testing.assert_array_equal(streamed.support_marginals_, fitted.support_marginals_)
    np.testing.assert_allclose(streamed.support_pairwise_, fitted.support_pairwise_, rtol=1e-13)
    for a, b in zip(streamed.prior_._densities, fitted.prior_._densities):
        for key in a.sampler:
            np.testing.assert_allclose(a.sampler[key], b.sampler[key], rtol=1e-13, err_msg=key)
    np.testing.assert_allclose(streamed._stream["statistics"].A, fitted._dictionary_statistics.A)
    np.testing.assert_allclose(streamed._stream["statistics"].B, fitted._dictionary_statistics.B)


def test_partial_fit_learns_online(digits):
    X, y = digits
    model = SparseSupportMRF(**PARAMS)
    scores = []
    for _ in range(2):
        for rows in np.array_split(np.arange(1500), 5):
            model.partial_fit(X[rows])
            scores.append(-model.reconstruction_error(X[1500:]))
    assert scores[-1] > scores[0]
    assert model.n_iter_ == 10 and model.reconstruction_error_.shape == (10,)
    fitted = SparseSupportMRF(**PARAMS).fit(X[:1500])
    assert model.reconstruction_error(X[1500:]) < 1.10 * fitted.reconstruction_error(X[1500:])
    assert model.sample(4, random_state=0).shape == (4, 64)
    assert model.transform(X[:3].astype(np.float32)).dtype == np.float32


def test_partial_fit_after_fit_continues(digits):
    X, _ = digits
    model = SparseSupportMRF(**PARAMS).fit(X[:1500])
    before = model.reconstruction_error(X[1500:])
    model.partial_fit(X[1500:1600])
    assert model.reconstruction_error(X[1500:]) < 1.05 * before


def test_partial_fit_input_checks(digits):
    X, y = digits
    with pytest.warns(UserWarning, match="12 atoms start as random"):
        small_start = SparseSupportMRF(**PARAMS).partial_fit(X[:20])
    assert small_start.components_.shape == (32, 64)
    np.testing.assert_allclose(np.linalg.norm(small_start.components_, axis=1), 1.0)
    model = SparseSupportMRF(**PARAMS).partial_fit(X[:100])
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:100, :10])
    with pytest.raises(ValueError, match="fitted without labels"):
        model.partial_fit(X[:100], y[:100])


def test_dask_transform_and_inverse_transform_equal_the_in_memory_ones(digits):
    X, _ = digits
    model = SparseSupportMRF(**PARAMS).fit(X)
    lazy = da.from_array(X, chunks=(500, 16))
    codes = model.transform(lazy)
    assert isinstance(codes, da.Array) and codes.chunks[0] == lazy.chunks[0]
    np.testing.assert_allclose(codes.compute(), model.transform(X))
    images = model.inverse_transform(codes)
    np.testing.assert_allclose(images.compute(), model.inverse_transform(model.transform(X)))
    # The model is one key of the graph, whatever the number of blocks.
    graph = dict(codes.__dask_graph__())
    assert sum(isinstance(v, SparseSupportMRF) for v in graph.values()) <= 1
    with pytest.raises(ValueError, match="features"):
        model.transform(lazy[:, :10])
    with pytest.raises(ValueError, match="sparse_output"):
        SparseSupportMRF(sparse_output=True, **PARAMS).fit(X).transform(lazy)


def test_sample_with_chunks_is_a_seeded_dask_array(digits):
    X, y = digits
    model = SparseSupportMRF(**PARAMS).fit(X, y)
    lazy = model.sample(50, chunks=20, y=3, random_state=0)
    assert isinstance(lazy, da.Array) and lazy.chunks == ((20, 20, 10), (64,))
    np.testing.assert_array_equal(lazy.compute(), model.sample(50, chunks=20, y=3,
                                                               random_state=0).compute())
    with pytest.raises(ValueError, match="chunks"):
        model.sample(10, chunks=(4, 4))


@pytest.mark.slow
def test_partial_fit_on_mnist_chunks_is_within_5_percent_of_the_in_memory_fit(shared_data):
    from skspectral.datasets import fetch_mnist

    train = fetch_mnist(data_home=shared_data, n_samples=10_000, download_if_missing=False)
    test = fetch_mnist(data_home=shared_data, subset="test", n_samples=2_000,
                       download_if_missing=False)
    in_memory = SparseSupportMRF(random_state=0).fit(train.data)
    streamed = SparseSupportMRF(random_state=0)
    for _ in range(6):
        for rows in np.array_split(np.arange(10_000), 5):
            streamed.partial_fit(train.data[rows])
    ratio = streamed.reconstruction_error(test.data) / in_memory.reconstruction_error(test.data)
    assert ratio < 1.05, ratio
    assert streamed.sample(10, random_state=0).shape == (10, 784)


def test_empty_blocks_of_a_dask_array_are_skipped(digits):
    X, y = digits
    lazy = da.from_array(X, chunks=(400, -1))
    with_empty = lazy.rechunk(((0, 400, 0, 400, 400, 400, 197), (64,)))
    assert 0 in with_empty.chunks[0]
    expected = SparseSupportMRF(**PARAMS).fit(lazy, y)
    model = SparseSupportMRF(**PARAMS).fit(with_empty, y)
    np.testing.assert_allclose(model.components_, expected.components_)
    np.testing.assert_allclose(model.transform(with_empty).compute(), expected.transform(X))
