import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.covariance import LedoitWolf

from skspectral import CoefficientPrior

KINDS = ["gaussian", "diagonal", "gmm", "kde"]


@pytest.fixture
def codes():
    rng = np.random.RandomState(0)
    cov = np.array([[2.0, 0.8, 0.0], [0.8, 1.0, 0.3], [0.0, 0.3, 0.5]])
    return rng.multivariate_normal([1.0, -1.0, 0.5], cov, size=2000)


def test_gaussian_log_density_matches_scipy(codes):
    prior = CoefficientPrior("gaussian", reg_covar=0.0).fit(codes)
    expected = multivariate_normal(codes.mean(0), np.cov(codes.T, bias=True)).logpdf(codes[:10])
    np.testing.assert_allclose(prior.score_samples(codes[:10]), expected, rtol=1e-10)


def test_shrinkage_uses_sklearn_estimator(codes):
    prior = CoefficientPrior("gaussian", shrinkage="ledoit_wolf", reg_covar=0.0).fit(codes)
    np.testing.assert_allclose(prior.covariance_, LedoitWolf().fit(codes).covariance_)
    shrunk = CoefficientPrior("gaussian", shrinkage=1.0, reg_covar=0.0).fit(codes)
    off_diag = shrunk.covariance_ - np.diag(np.diag(shrunk.covariance_))
    np.testing.assert_allclose(off_diag, 0.0, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_samples_follow_the_fitted_density(codes, kind):
    prior = CoefficientPrior(kind, n_components=3, random_state=0).fit(codes)
    draws = prior.sample(5000, random_state=1)
    assert draws.shape == (5000, 3)
    np.testing.assert_allclose(draws.mean(0), codes.mean(0), atol=0.1)
    if kind != "diagonal":
        np.testing.assert_allclose(np.cov(draws.T), np.cov(codes.T), atol=0.2)


@pytest.mark.parametrize("kind", KINDS)
def test_sampling_is_reproducible(codes, kind):
    prior = CoefficientPrior(kind, n_components=2, random_state=0).fit(codes)
    np.testing.assert_array_equal(prior.sample(7, random_state=3), prior.sample(7, random_state=3))
    assert not np.array_equal(prior.sample(7, random_state=3), prior.sample(7, random_state=4))


@pytest.mark.parametrize("kind", KINDS)
def test_float32_codes_give_float32_samples(codes, kind):
    prior = CoefficientPrior(kind, random_state=0).fit(codes.astype(np.float32))
    assert prior.sample(4).dtype == np.float32


def test_gmm_beats_gaussian_on_bimodal_data():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(-4, 1, (500, 2)), rng.normal(4, 1, (500, 2))])
    gauss = CoefficientPrior("gaussian").fit(X[::2])
    gmm = CoefficientPrior("gmm", n_components=2, random_state=0).fit(X[::2])
    assert gmm.score(X[1::2]) > gauss.score(X[1::2]) + 0.5


@pytest.mark.parametrize("kind", ["gaussian", "diagonal", "gmm"])
def test_get_mixture_reproduces_score(codes, kind):
    from scipy.special import logsumexp

    prior = CoefficientPrior(kind, n_components=2, covariance_type="diag", random_state=0).fit(codes)
    weights, means, covs = prior.get_mixture()
    per_component = np.column_stack(
        [multivariate_normal(m, c).logpdf(codes[:20]) for m, c in zip(means, covs)]
    )
    np.testing.assert_allclose(
        logsumexp(per_component + np.log(weights), axis=1), prior.score_samples(codes[:20]), rtol=1e-8
    )


def test_get_mixture_rejects_kde(codes):
    with pytest.raises(ValueError, match="kde"):
        CoefficientPrior("kde").fit(codes).get_mixture()


def test_degenerate_codes_stay_finite():
    X = np.zeros((10, 4))
    X[:, 0] = np.arange(10)
    prior = CoefficientPrior("gaussian").fit(X)
    assert np.all(np.isfinite(prior.score_samples(X)))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"kind": "poisson"}, "kind"),
        ({"n_components": 0}, "n_components"),
        ({"shrinkage": 2.0}, "shrinkage"),
        ({"bandwidth": -1.0}, "bandwidth"),
    ],
)
def test_bad_parameters_are_named(codes, params, match):
    with pytest.raises(ValueError, match=match):
        CoefficientPrior(**params).fit(codes)


@pytest.mark.parametrize("n_samples", [0, -3, 2.5])
def test_bad_n_samples(codes, n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        CoefficientPrior().fit(codes).sample(n_samples)


# ------------------------------------------------- class-conditional priors
def test_class_conditional_prior_samples_each_class():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(-5, 1, (300, 2)), rng.normal(5, 1, (300, 2))])
    y = np.repeat(["left", "right"], 300)
    prior = CoefficientPrior("gaussian", random_state=0).fit(X, y)
    np.testing.assert_array_equal(prior.classes_, ["left", "right"])
    np.testing.assert_allclose(prior.class_weights_, [0.5, 0.5])
    assert prior.sample(200, y="right", random_state=0)[:, 0].min() > 0
    assert prior.sample(200, y="left", random_state=0)[:, 0].max() < 0
    both = prior.sample(1000, random_state=0)
    assert 0.4 < (both[:, 0] > 0).mean() < 0.6
    # The class-conditional prior is the mixture of its classes.
    weights, means, _ = prior.get_mixture()
    np.testing.assert_allclose(weights, [0.5, 0.5])
    np.testing.assert_allclose(means[:, 0], [-5, 5], atol=0.2)
    assert prior.score(X) > CoefficientPrior("gaussian").fit(X).score(X) + 1.0


@pytest.mark.parametrize("y, match", [
    (np.r_[np.zeros(99), 1.0], "at least 2 samples"),
    (np.r_[np.zeros(99), np.nan], "NaN"),
    (np.zeros(50), "one label per sample"),
])
def test_bad_labels_are_named(codes, y, match):
    with pytest.raises(ValueError, match=match):
        CoefficientPrior().fit(codes[:100], y)


def test_pca_dim_fits_a_low_rank_density(codes):
    wide = np.hstack([codes, codes @ np.random.RandomState(1).randn(3, 40)])
    prior = CoefficientPrior("gaussian", pca_dim=3, random_state=0).fit(wide)
    draws = prior.sample(4000, random_state=0)
    assert draws.shape == (4000, 43)
    # Draws live in the 3-D subspace spanned by the codes, with their covariance.
    assert np.linalg.matrix_rank(draws - draws.mean(0), tol=1e-6) == 3
    np.testing.assert_allclose(np.cov(draws[:, :3].T), np.cov(codes.T), atol=0.2)
    _, means, covariances = prior.get_mixture()
    assert covariances.shape == (1, 43, 43)
    np.testing.assert_allclose(means[0], wide.mean(0), atol=1e-10)


def test_sparse_support_prior_draws_sparse_codes_with_supports():
    rng = np.random.RandomState(0)
    codes = np.zeros((400, 12))
    for row in codes:
        atoms = rng.choice(12, 3, replace=False)
        row[atoms] = rng.uniform(0.5, 2.0, 3) * rng.choice([-1, 1], 3)
    prior = CoefficientPrior("sparse_support", burn_in=5, random_state=0).fit(codes)
    assert prior.support_marginals_.shape == (24,)
    assert prior.support_pairwise_.shape == (24, 24)
    draws, supports = prior.sample(50, random_state=0, return_supports=True)
    assert draws.shape == (50, 12) and supports.shape == (50, 3)
    assert (np.count_nonzero(draws, axis=1) <= 3).all()
    signs = np.where(supports >= 12, -1.0, 1.0)
    atoms = supports % 12
    values = np.take_along_axis(draws, atoms, axis=1)
    assert np.all(values * signs >= 0)
    np.testing.assert_array_equal(draws, prior.sample(50, random_state=0))
    with pytest.raises(ValueError, match="no tractable density"):
        prior.score(codes)
    with pytest.raises(ValueError, match="return_supports"):
        CoefficientPrior().fit(codes).sample(2, return_supports=True)
    with pytest.raises(ValueError, match="pca_dim"):
        CoefficientPrior("sparse_support", pca_dim=2).fit(codes)


def test_more_components_than_codes_warns():
    X = np.random.RandomState(0).rand(10, 3)
    with pytest.warns(UserWarning, match="n_components=30 is larger"):
        prior = CoefficientPrior("gmm", n_components=30, random_state=0).fit(X)
    assert np.isfinite(prior.sample(4)).all()


@pytest.mark.parametrize(
    "labels, error, match",
    [
        (np.array([0, 0, 1, 1, np.nan, 1], dtype=object), ValueError, "None or NaN"),
        (np.array([0, 0, 1, 1, None, 1], dtype=object), ValueError, "None or NaN"),
        (np.array([0, 0, "a", "a", 1, 1], dtype=object), TypeError, "mixes label types"),
        (np.array([0, 0, 1, 1, np.nan, 1]), ValueError, "NaN or infinity"),
    ],
)
def test_unorderable_or_missing_labels_are_named(labels, error, match):
    with pytest.raises(error, match=match):
        CoefficientPrior().fit(np.random.RandomState(0).rand(6, 2), labels)


def test_constant_codes_with_no_regularisation():
    prior = CoefficientPrior("gaussian", reg_covar=0).fit(np.ones((20, 3)))
    assert np.isfinite(prior.sample(3, random_state=0)).all()
