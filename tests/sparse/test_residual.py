"""The residual Gaussian of SparseSupportMRF (``residual_components``)."""

import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skspectral import SparseSupportMRF
from skspectral.base._residual import (
    draw_residuals,
    extreme_share,
    fit_residual_pca,
    resolve_residual_components,
)

SMALL = dict(n_atoms=32, n_nonzero_coefs=4, max_iter=3, random_state=0)


@pytest.fixture(scope="module")
def digits():
    return load_digits().data / 16.0


@pytest.fixture(scope="module")
def plain(digits):
    return SparseSupportMRF(clip=False, **SMALL).fit(digits)


@pytest.fixture(scope="module")
def with_residual(digits):
    return SparseSupportMRF(clip=False, residual_components=12, **SMALL).fit(digits)


def test_draws_have_the_residual_mean_and_low_rank_covariance():
    rng = np.random.RandomState(0)
    R = rng.standard_normal((4000, 6)) @ rng.standard_normal((6, 6)) + np.arange(6)
    pca = fit_residual_pca(R, 6, 0, "test")
    draws = draw_residuals(pca, 40_000, np.random.RandomState(1), np.float64)
    np.testing.assert_allclose(draws.mean(axis=0), R.mean(axis=0), atol=0.05)
    np.testing.assert_allclose(np.cov(draws.T), np.cov(R.T), rtol=0.05, atol=0.05)
    # Fewer components: the draws stay in their span.
    pca2 = fit_residual_pca(R, 2, 0, "test")
    centred = draw_residuals(pca2, 100, np.random.RandomState(1), np.float32) - pca2.mean_
    off_span = centred - centred @ pca2.components_.T @ pca2.components_
    assert np.abs(off_span).max() < 1e-4


def test_zero_components_fit_nothing_and_too_many_are_clipped():
    assert fit_residual_pca(np.ones((5, 3)), 0, 0, "test") is None
    with pytest.warns(UserWarning, match="residual_components=9 .* using 3"):
        pca = fit_residual_pca(np.random.RandomState(0).rand(5, 3), 9, 0, "test")
    assert pca.n_components_ == 3


def test_residual_model_leaves_dictionary_prior_and_supports_alone(digits, plain, with_residual):
    assert plain.residual_pca_ is None
    np.testing.assert_array_equal(plain.components_, with_residual.components_)
    _, s0 = plain.sample(50, random_state=3, return_supports=True)
    _, s1 = with_residual.sample(50, random_state=3, return_supports=True)
    np.testing.assert_array_equal(s0, s1)


def test_residual_model_is_fitted_on_what_the_decoder_misses(digits, with_residual):
    residuals = digits - with_residual.inverse_transform(with_residual.transform(digits))
    np.testing.assert_allclose(with_residual.residual_pca_.mean_, residuals.mean(axis=0),
                               atol=1e-10)
    assert with_residual.residual_pca_.n_components_ == 12


def test_samples_add_one_residual_draw_to_the_decoded_codes(plain, with_residual):
    pca = with_residual.residual_pca_
    added = with_residual.sample(400, random_state=5) - plain.sample(400, random_state=5)
    centred = added - pca.mean_
    # Every added image is a draw of the residual Gaussian: in its span, with its spread.
    off_span = centred - centred @ pca.components_.T @ pca.components_
    assert np.abs(off_span).max() < 1e-8
    variances = (centred @ pca.components_.T).var(axis=0)
    np.testing.assert_allclose(variances, pca.explained_variance_, rtol=0.25)


def test_default_clip_still_bounds_samples_with_residual(digits):
    model = SparseSupportMRF(residual_components=8, **SMALL).fit(digits)
    X = model.sample(300, random_state=0)
    assert X.min() >= digits.min() and X.max() <= digits.max()


def test_float32_and_pickle(digits):
    model = SparseSupportMRF(residual_components=8, **SMALL).fit(digits.astype(np.float32))
    X = model.sample(10, random_state=0)
    assert X.dtype == np.float32
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.sample(10, random_state=0), X)


@pytest.mark.parametrize("value", [-1, 2.5, "all"])
def test_bad_residual_components(digits, value):
    with pytest.raises(ValueError, match="residual_components"):
        SparseSupportMRF(residual_components=value, **SMALL).fit(digits)


def test_online_fits_refuse_a_residual_model(digits):
    da = pytest.importorskip("dask.array")
    model = SparseSupportMRF(residual_components=4, **SMALL)
    with pytest.raises(ValueError, match="residual_components=4 .* in-memory"):
        model.partial_fit(digits)
    assert not hasattr(model, "n_features_in_")
    with pytest.raises(ValueError, match="residual_components=4"):
        model.fit(da.from_array(digits, chunks=500))


def test_online_update_drops_an_earlier_residual_model(digits):
    model = SparseSupportMRF(residual_components=4, **SMALL).fit(digits)
    model.set_params(residual_components=0).partial_fit(digits[:300])
    assert getattr(model, "residual_pca_", None) is None
    assert np.all(np.isfinite(model.sample(5, random_state=0)))


def test_clip_warning_points_at_the_fit_call(digits):
    with pytest.warns(UserWarning, match="residual_components") as record:
        SparseSupportMRF(n_atoms=8, n_nonzero_coefs=2, max_iter=1, residual_components=20,
                         random_state=0).fit(digits[:12])
    assert any(w.filename == __file__ for w in record if "residual_components" in str(w.message))


def _continuous_images(n=300, side=8, seed=0):
    """Smooth colour images with values spread inside (0, 1), as photographs have."""
    from scipy.ndimage import gaussian_filter

    noise = np.random.RandomState(seed).randn(n, side, side, 3)
    smooth = gaussian_filter(noise, sigma=(0, 1.5, 1.5, 0))
    return (0.5 + 0.15 * smooth / smooth.std()).clip(0.01, 0.99).reshape(n, -1)


def test_extreme_share_counts_values_at_either_end():
    X = np.array([[0.0, 0.5, 1.0, 0.2], [1.0, 0.0, 0.0, 0.7]])
    assert extreme_share(X) == pytest.approx(5 / 8)
    assert extreme_share(np.full((3, 2), 0.4)) == 1.0


def test_auto_is_zero_on_flat_images_and_one_per_12_pixels_otherwise(digits):
    assert extreme_share(digits) > 0.5
    assert resolve_residual_components("auto", digits) == 0
    continuous = _continuous_images()
    assert extreme_share(continuous) < 0.25
    assert resolve_residual_components("auto", continuous) == 16  # 192 pixels
    assert resolve_residual_components("auto", continuous[:9]) == 9  # min(n_samples, ...)
    assert resolve_residual_components(7, digits) == 7


def test_default_fits_no_residual_on_digits(digits):
    assert SparseSupportMRF(**SMALL).fit(digits).residual_pca_ is None


def test_default_fits_a_residual_on_continuous_images():
    X = _continuous_images()
    model = SparseSupportMRF(clip=False, **SMALL).fit(X)
    assert model.residual_pca_.n_components_ == X.shape[1] // 12
    plain = SparseSupportMRF(clip=False, residual_components=0, **SMALL).fit(X)
    added = model.sample(200, random_state=1) - plain.sample(200, random_state=1)
    # The support draws are the same; only the residual Gaussian is added.
    centred = added - model.residual_pca_.mean_
    inside = centred @ model.residual_pca_.components_.T @ model.residual_pca_.components_
    np.testing.assert_allclose(centred, inside, atol=1e-8)


def test_auto_fits_no_residual_online():
    X = _continuous_images()
    model = SparseSupportMRF(**SMALL).partial_fit(X)
    assert getattr(model, "residual_pca_", None) is None
    da = pytest.importorskip("dask.array")
    model = SparseSupportMRF(**SMALL).fit(da.from_array(X, chunks=100))
    assert getattr(model, "residual_pca_", None) is None
