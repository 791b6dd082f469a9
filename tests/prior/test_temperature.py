"""CoefficientPrior(temperature=...): the spread of the draws, not the density."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neighbors import KernelDensity

from skspectral import CoefficientPrior, SpectralDictionary

FAST_FLOW = {"hidden_features": (8,), "n_transforms": 2, "max_iter": 3}
KINDS = [
    ("gaussian", {}),
    ("diagonal", {}),
    ("gmm", {"n_components": 2}),
    ("kde", {"bandwidth": 0.5}),
    ("flow", FAST_FLOW),
    ("gmm", {"n_components": 2, "gaussianize": 2}),
    ("gaussian", {"pca_dim": 2, "whiten": True}),
]


@pytest.fixture
def codes():
    rng = np.random.RandomState(0)
    return rng.normal(size=(600, 3)) @ np.array([[2.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.5]])


@pytest.mark.parametrize("kind, params", KINDS)
def test_temperature_one_draws_the_fitted_density(codes, kind, params):
    default = CoefficientPrior(kind, random_state=0, **params).fit(codes)
    explicit = CoefficientPrior(kind, temperature=1.0, random_state=0, **params).fit(codes)
    np.testing.assert_array_equal(default.sample(50, random_state=3),
                                  explicit.sample(50, random_state=3))


@pytest.mark.parametrize("kind, params", KINDS)
def test_temperature_moves_draws_not_scores(codes, kind, params):
    prior = CoefficientPrior(kind, random_state=0, **params).fit(codes)
    scores = prior.score_samples(codes[:20]) if kind != "kde" else None
    at_one = prior.sample(400, random_state=1)
    # A sampling option: set after fit, it takes effect without refitting.
    cold = prior.set_params(temperature=0.01).sample(400, random_state=1)
    assert np.all(np.isfinite(cold))
    if kind == "kde":
        # A cold kernel density draws its training codes themselves.
        nearest = np.linalg.norm(cold[:, None] - codes[None], axis=2).min(axis=1)
        assert nearest.max() < 0.05 < np.median(
            np.linalg.norm(at_one[:, None] - codes[None], axis=2).min(axis=1))
    else:
        assert cold.std(axis=0).sum() < 0.5 * at_one.std(axis=0).sum()
    if scores is not None:
        np.testing.assert_array_equal(prior.score_samples(codes[:20]), scores)


@pytest.mark.parametrize("kind", ["gaussian", "diagonal"])
def test_gaussian_draws_scale_their_covariance_by_the_squared_temperature(codes, kind):
    prior = CoefficientPrior(kind, temperature=1.5, random_state=0).fit(codes)
    draws = prior.sample(40_000, random_state=0)
    expected = 1.5**2 * prior.get_mixture()[2][0]
    np.testing.assert_allclose(np.cov(draws.T), expected, atol=0.05 * np.abs(expected).max())
    np.testing.assert_allclose(draws.mean(0), prior.get_mixture()[1][0], atol=0.05)


def test_mixture_draws_keep_their_components_and_spread_within_them():
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(-5, 1, size=(500, 1)), rng.normal(5, 1, size=(500, 1))])
    prior = CoefficientPrior("gmm", n_components=2, temperature=0.5, random_state=0).fit(X)
    draws = prior.sample(20_000, random_state=0)[:, 0]
    for side in (draws[draws < 0], draws[draws > 0]):
        assert side.size == pytest.approx(10_000, rel=0.05)
        assert side.std() == pytest.approx(0.5, rel=0.05)


def test_kde_draws_at_temperature_one_are_kernel_densitys_own(codes):
    prior = CoefficientPrior("kde", bandwidth=0.3, random_state=0).fit(codes)
    reference = KernelDensity(bandwidth=0.3).fit(codes)
    np.testing.assert_allclose(prior.sample(30, random_state=7),
                               reference.sample(30, random_state=7))


def test_kde_temperature_scales_the_kernel_width(codes):
    prior = CoefficientPrior("kde", bandwidth=0.3, temperature=2.0, random_state=0).fit(codes)
    draws = prior.sample(20_000, random_state=0)
    # Law of total variance: the codes' spread plus the (scaled) kernel's.
    expected = codes.var(axis=0) + (2.0 * 0.3) ** 2
    np.testing.assert_allclose(draws.var(axis=0), expected, rtol=0.05)


@pytest.mark.parametrize("temperature", [0, -1.0, "hot"])
def test_bad_temperature_is_named_at_fit_and_at_sample(codes, temperature):
    with pytest.raises((ValueError, TypeError), match="temperature"):
        CoefficientPrior(temperature=temperature).fit(codes)
    prior = CoefficientPrior().fit(codes).set_params(temperature=temperature)
    with pytest.raises((ValueError, TypeError), match="temperature"):
        prior.sample(3)


def test_sparse_support_refuses_a_temperature():
    X = np.zeros((50, 8))
    X[np.arange(50), np.arange(50) % 8] = 1.0
    with pytest.raises(ValueError, match="temperature"):
        CoefficientPrior("sparse_support", temperature=2.0).fit(X)
    prior = CoefficientPrior("sparse_support", random_state=0).fit(X)
    with pytest.raises(ValueError, match="temperature"):
        prior.set_params(temperature=0.5).sample(3)


def test_spectral_dictionary_draws_its_prior_at_its_temperature():
    X = load_digits().data[:300] / 16.0
    spread = {}
    for temperature in (1.0, 0.3):
        prior = CoefficientPrior("gmm", n_components=2, temperature=temperature,
                                 random_state=0)
        model = SpectralDictionary(n_atoms=6, max_iter=2, prior=prior, random_state=0).fit(X)
        samples = model.sample(500, random_state=0)
        spread[temperature] = samples.std(axis=0).sum()
        if temperature != 1.0:
            codes = model.prior_.sample(500, random_state=0)
            np.testing.assert_allclose(samples, model.inverse_transform(codes), atol=1e-5)
    assert spread[0.3] < 0.6 * spread[1.0]
