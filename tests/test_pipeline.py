import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skspectral import CoefficientPrior, GenerativePipeline, make_pipeline


@pytest.fixture(scope="module")
def digits():
    return load_digits().data


def _pipe(**kw):
    return make_pipeline(
        StandardScaler(), PCA(16), CoefficientPrior("gmm", n_components=5, random_state=0), **kw
    )


def test_sample_shape_and_reproducibility(digits):
    pipe = _pipe().fit(digits)
    samples = pipe.sample(100, random_state=0)
    assert isinstance(pipe, GenerativePipeline)
    assert samples.shape == (100, 64)
    np.testing.assert_array_equal(samples, pipe.sample(100, random_state=0))
    assert not np.array_equal(samples, pipe.sample(100, random_state=1))


def test_samples_are_mapped_back_through_every_step(digits):
    pipe = _pipe().fit(digits)
    codes = pipe[-1].sample(5, random_state=0)
    expected = pipe[0].inverse_transform(pipe[1].inverse_transform(codes))
    np.testing.assert_allclose(pipe.sample(5, random_state=0), expected)


def test_samples_look_like_the_data(digits):
    samples = _pipe().fit(digits).sample(2000, random_state=0)
    np.testing.assert_allclose(samples.mean(0), digits.mean(0), atol=0.6)


def test_function_transformer_with_inverse(digits):
    pipe = make_pipeline(
        FunctionTransformer(np.log1p, inverse_func=np.expm1),
        PCA(8),
        CoefficientPrior(random_state=0),
    ).fit(digits)
    assert pipe.sample(3, random_state=0).shape == (3, 64)


def test_passthrough_steps_are_skipped(digits):
    pipe = make_pipeline("passthrough", PCA(8), CoefficientPrior(random_state=0)).fit(digits)
    assert pipe.sample(2).shape == (2, 64)


def test_grid_search_over_pca_components(digits):
    search = GridSearchCV(_pipe(), {"pca__n_components": [4, 8]}, cv=3).fit(digits)
    assert search.best_params_["pca__n_components"] in (4, 8)
    assert search.best_estimator_.sample(10, random_state=0).shape == (10, 64)


def test_params_clone_pickle_and_slicing(digits):
    pipe = _pipe()
    pipe.set_params(pca__n_components=10, coefficientprior__n_components=2)
    assert pipe.get_params()["pca__n_components"] == 10
    cloned = clone(pipe)
    assert isinstance(cloned, GenerativePipeline)
    fitted = cloned.fit(digits)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.sample(4, random_state=0), fitted.sample(4, random_state=0))
    head = fitted[:-1]
    assert isinstance(head, GenerativePipeline)
    assert head.transform(digits[:3]).shape == (3, 10)


def test_memory_and_verbose(digits, tmp_path, capsys):
    pipe = _pipe(memory=str(tmp_path), verbose=True).fit(digits)
    assert "Pipeline" in capsys.readouterr().out
    assert pipe.sample(2).shape == (2, 64)


def test_last_step_without_sample_is_named(digits):
    pipe = make_pipeline(StandardScaler(), PCA(4)).fit(digits)
    with pytest.raises(AttributeError, match="'pca'.*sample"):
        pipe.sample(3)


def test_step_without_inverse_is_named(digits):
    from sklearn.neighbors import NeighborhoodComponentsAnalysis  # has no inverse_transform

    pipe = GenerativePipeline(
        [
            ("nca", NeighborhoodComponentsAnalysis(n_components=2, max_iter=2)),
            ("prior", CoefficientPrior()),
        ]
    ).fit(digits[:100], load_digits().target[:100])
    with pytest.raises(AttributeError, match="'nca'.*inverse_transform"):
        pipe.sample(3)


def test_unfitted_pipeline_raises(digits):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        _pipe().sample(3)


def test_pipeline_fits_on_a_dask_array_and_samples_lazily():
    da = pytest.importorskip("dask.array")
    from sklearn.datasets import load_digits

    from skspectral import SparseSupportMRF

    X = load_digits().data / 16
    lazy = da.from_array(X, chunks=(500, -1))
    pipe = make_pipeline(SparseSupportMRF(32, n_nonzero_coefs=4, max_iter=3, random_state=0),
                         CoefficientPrior("gaussian", random_state=0)).fit(lazy)
    in_memory = make_pipeline(
        SparseSupportMRF(32, n_nonzero_coefs=4, max_iter=3, dictionary_update="bcd",
                         random_state=0),
        CoefficientPrior("gaussian", random_state=0)).fit(X)
    np.testing.assert_allclose(pipe[-1].covariance_, in_memory[-1].covariance_, atol=1e-10)
    draws = pipe.sample(50, chunks=20, random_state=0)
    assert isinstance(draws, da.Array) and draws.chunks == ((20, 20, 10), (64,))
    np.testing.assert_array_equal(draws.compute(), pipe.sample(50, chunks=20,
                                                               random_state=0).compute())
