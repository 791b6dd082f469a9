"""The images' principal subspace, reached through the decoder, that the convolutional prior lives in."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.utils._param_validation import InvalidParameterError

from skspectral import CoefficientPrior, ConvSparseCoder
from skspectral.conv._subspace import DecodedSubspace
from skspectral.prior._estimator import WHITENED_REG_COVAR


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return (d.data / 16).astype(np.float32), d.target


@pytest.fixture(scope="module")
def linear_decoder():
    # Codes three times wider than the "images", with directions of large
    # code variance that decode to almost nothing.
    rng = np.random.RandomState(0)
    G = rng.randn(12, 36)
    G[:, :12] *= 1e-3
    codes = rng.randn(400, 36) * np.r_[np.full(12, 10.0), np.ones(24)] + rng.randn(36)
    return G, codes


def _small_model(**params):
    return ConvSparseCoder(n_filters=(4, 8), image_shape=(8, 8), max_iter=1, device="cpu",
                           random_state=0, **params)


# ------------------------------------------------------------ DecodedSubspace
def _fit(n_components, G, images, tol=1e-10):
    # A tight tolerance, so that the tests can compare with exact algebra.
    return DecodedSubspace(n_components, tol=tol, random_state=0).fit(
        images, lambda Z: Z @ G.T, lambda V: V @ G, G.shape[1])


def test_coordinates_are_the_images_principal_coordinates(linear_decoder):
    G, codes = linear_decoder
    images = codes @ G.T
    subspace = _fit(5, G, images)
    pca = PCA(5, random_state=0).fit(images)
    np.testing.assert_allclose(subspace.project(images), pca.transform(images), atol=1e-8)
    np.testing.assert_allclose(subspace.explained_variance_, pca.explained_variance_)
    assert subspace.n_components_ == 5 and subspace.components_.shape == (5, 36)
    # A code's coordinates are those of its decoding.
    np.testing.assert_allclose(subspace.transform(codes), subspace.project(images), atol=1e-6)


def test_codes_decode_to_the_mean_and_the_principal_directions(linear_decoder):
    # decode(inverse_transform(c)) = images' mean + c V, and the
    # coordinates of mapped-back codes are the coordinates themselves.
    G, codes = linear_decoder
    images = codes @ G.T
    subspace = _fit(5, G, images)
    pca = PCA(5, random_state=0).fit(images)
    c = np.random.RandomState(1).randn(7, 5)
    back = subspace.inverse_transform(c)
    np.testing.assert_allclose(back @ G.T, pca.mean_ + c @ pca.components_, atol=1e-5)
    np.testing.assert_allclose(subspace.transform(back), c, atol=1e-5)
    assert subspace.decode_error_.shape == (6,) and subspace.decode_error_.max() < 1e-8
    # The default tolerance stops the search at a relative error of 1e-4.
    assert _fit(5, G, images, tol=1e-4).decode_error_.max() <= 1e-4


def test_codes_are_the_minimum_norm_ones(linear_decoder):
    # Of all codes that decode to a direction, the pseudo-inverse's is the
    # shortest: no spread along what the decoder cannot see.
    G, codes = linear_decoder
    subspace = _fit(5, G, codes @ G.T)
    expected = subspace.directions_ @ np.linalg.pinv(G).T
    np.testing.assert_allclose(subspace.components_, expected, atol=1e-5)
    np.testing.assert_allclose(subspace.mean_, subspace.decoded_mean_ @ np.linalg.pinv(G).T,
                               atol=1e-5)


def test_the_subspace_follows_the_images_not_the_code_variance(linear_decoder):
    # The 12 widest code directions decode to almost nothing: a PCA of the
    # codes keeps them, the decoded subspace does not.
    G, codes = linear_decoder
    images = codes @ G.T
    subspace = _fit(5, G, images)
    code_pca = PCA(5, random_state=0).fit(codes)
    decoded_spread = np.var(subspace.inverse_transform(subspace.project(images)) @ G.T, axis=0)
    code_spread = np.var(code_pca.inverse_transform(code_pca.transform(codes)) @ G.T, axis=0)
    assert decoded_spread.sum() > 5 * code_spread.sum()


def test_a_decoder_short_of_the_subspace_gets_least_squares_codes_and_says_so():
    # Pixels the decoder never writes cannot be reached: the codes are the
    # least-squares ones and decode_error_ reports what is missing.
    rng = np.random.RandomState(0)
    G = rng.randn(6, 10)
    G[4:] = 0.0
    images = rng.randn(200, 6)
    subspace = _fit(3, G, images)
    expected = subspace.directions_ @ np.linalg.pinv(G).T
    np.testing.assert_allclose(subspace.components_, expected, atol=1e-5)
    reachable = np.linalg.norm(subspace.directions_[:, :4], axis=1)
    np.testing.assert_allclose(subspace.decode_error_[1:], np.sqrt(1 - reachable**2), atol=1e-5)


def test_dimension_is_clipped_and_flat_directions_stay_finite():
    rng = np.random.RandomState(0)
    G = rng.randn(6, 10)
    images = np.repeat(rng.randn(3, 10), 4, axis=0) @ G.T  # rank 2 around the mean
    subspace = _fit(50, G, images)
    assert subspace.n_components_ == 6  # the number of pixels
    assert np.all(np.isfinite(subspace.components_))
    np.testing.assert_allclose(subspace.inverse_transform(subspace.project(images)) @ G.T,
                               images, atol=1e-5)
    assert _fit(50, G, images[:5]).n_components_ == 4  # images less one


def test_projected_images_are_the_coordinates_of_their_least_squares_codes(linear_decoder):
    G, codes = linear_decoder
    subspace = _fit(5, G, codes @ G.T)
    images = np.random.RandomState(2).randn(4, 12)
    c = subspace.project(images)
    decoded = subspace.inverse_transform(c) @ G.T
    best = np.linalg.lstsq(subspace.directions_.T, (images - subspace.decoded_mean_).T,
                           rcond=None)[0].T
    np.testing.assert_allclose(c, best, atol=1e-8)
    np.testing.assert_allclose(decoded, subspace.decoded_mean_ + best @ subspace.directions_,
                               atol=1e-5)


def test_float32_images_give_float32_maps(linear_decoder):
    G, codes = linear_decoder
    G32 = G.astype(np.float32)
    images32 = (codes @ G.T).astype(np.float32)
    subspace = _fit(4, G32, images32)
    assert subspace.components_.dtype == subspace.mean_.dtype == np.float32
    assert subspace.project(images32).dtype == np.float32
    assert subspace.transform(codes.astype(np.float32)).dtype == np.float32
    assert subspace.inverse_transform(np.zeros((2, 4))).dtype == np.float32


# ---------------------------------------------------------- ConvSparseCoder
def test_decode_adjoint_is_the_transpose_of_the_decoder(digits):
    X, _ = digits
    model = _small_model().fit(X[:200])
    width = int(np.prod(model.code_shape_))
    G = model.inverse_transform(np.eye(width, dtype=np.float32)).T  # (64 pixels, width)
    V = np.random.RandomState(0).randn(3, 64).astype(np.float32)
    np.testing.assert_allclose(model._decode_adjoint(V), V @ G, rtol=1e-4, atol=1e-5)


def test_subspace_prior_is_a_whitened_mixture_over_the_decoded_coordinates(digits):
    X, y = digits
    model = _small_model(prior_dim=256).fit(X[:1000])
    subspace = model.code_subspace_
    # 8x8 images: the decoded codes have 64 dimensions, fewer than prior_dim.
    assert subspace.n_components_ == 64
    prior = model.prior_
    assert (prior.kind, prior.whiten, prior.reg_covar) == ("gmm", True, WHITENED_REG_COVAR)
    assert prior.n_features_in_ == 64
    assert prior.n_components == 1000 // 64  # one component per 64 coordinates of codes
    assert model.fit(X, y).prior_.n_components == np.bincount(y).min() // 64


def test_samples_are_decoded_draws_of_the_prior_mapped_to_codes(digits):
    X, _ = digits
    model = _small_model(prior_dim=10).fit(X[:500])
    draws = model.prior_.sample(6, random_state=np.random.RandomState(3))
    expected = model.inverse_transform(model.code_subspace_.inverse_transform(draws))
    np.testing.assert_allclose(model.sample(6, random_state=np.random.RandomState(3)), expected,
                               rtol=1e-5, atol=1e-6)


def test_samples_lie_in_the_images_principal_subspace(digits):
    X, _ = digits
    model = _small_model(prior_dim=10).fit(X[:500])
    pca = PCA(10, random_state=0).fit(X[:500])
    samples = model.sample(50, random_state=0).astype(np.float64)
    off = samples - pca.inverse_transform(pca.transform(samples))
    assert np.abs(off).max() < 1e-3 * np.abs(samples - pca.mean_).max()


def test_prior_dim_none_fits_the_prior_on_raw_codes(digits):
    X, _ = digits
    model = _small_model(prior_dim=None).fit(X[:1000])
    assert model.code_subspace_ is None
    assert (model.prior_.kind, model.prior_.pca_dim) == ("gmm", 32)
    assert model.prior_.n_features_in_ == int(np.prod(model.code_shape_))
    assert model.sample(3, random_state=0).shape == (3, 64)


def test_a_given_prior_is_fitted_on_the_coordinates(digits):
    X, _ = digits
    model = _small_model(prior=CoefficientPrior("gaussian"), prior_dim=5).fit(X[:300])
    assert model.prior_.kind == "gaussian" and model.prior_.n_features_in_ == 5
    assert model.sample(4, random_state=0).shape == (4, 64)


def test_class_conditional_draws_use_the_same_subspace(digits):
    X, y = digits
    model = _small_model(prior_dim=12).fit(X, y)
    assert model.prior_.n_features_in_ == 12
    samples = model.sample(5, y=3, random_state=0)
    assert samples.shape == (5, 64) and np.all(np.isfinite(samples))
    with pytest.raises(ValueError, match="known classes|classes"):
        model.sample(2, y=11)


def test_a_stream_learns_the_subspace_on_its_first_chunk_and_keeps_it(digits):
    X, _ = digits
    model = _small_model(prior_dim=8)
    model.partial_fit(X[:300])
    first = model.code_subspace_
    assert first.n_components_ == 8 and model.prior_.n_features_in_ == 8
    model.partial_fit(X[300:600])
    assert model.code_subspace_ is first
    assert model.sample(3, random_state=0).shape == (3, 64)
    # fit starts over with a subspace of all its codes; a stream resumes it.
    model.fit(X[:600])
    refit = model.code_subspace_
    assert refit is not first
    model.partial_fit(X[600:900])
    assert model.code_subspace_ is refit


def test_a_model_saved_before_the_subspace_keeps_its_raw_code_prior(digits):
    X, _ = digits
    model = _small_model(prior_dim=None).fit(X[:300])
    del model.code_subspace_  # as a file written before the attribute existed loads
    model.set_params(prior_dim=256)  # ... even with a subspace asked for now
    assert model.sample(2, random_state=0).shape == (2, 64)
    model.partial_fit(X[300:600])
    assert model.code_subspace_ is None
    assert model.prior_.n_features_in_ == int(np.prod(model.code_shape_))


@pytest.mark.parametrize("prior_dim", [0, -3, 2.5, "all"])
def test_bad_prior_dim_is_refused(digits, prior_dim):
    X, _ = digits
    with pytest.raises(InvalidParameterError, match="prior_dim"):
        _small_model(prior_dim=prior_dim).fit(X[:50])


def test_a_dask_fit_learns_the_subspace_on_its_first_block(digits):
    da = pytest.importorskip("dask.array")
    X, _ = digits
    model = _small_model(prior_dim=6).fit(da.from_array(X[:600], chunks=(200, -1)))
    assert model.code_subspace_.n_components_ == 6 and model.prior_.n_features_in_ == 6
    samples = model.sample(4, random_state=0)
    assert samples.shape == (4, 64) and np.all(np.isfinite(samples))
