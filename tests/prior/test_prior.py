import warnings

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
    (np.r_[np.zeros(99), 1.0], r"at least 2 samples.*class 1\.0 has 1\."),
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


@pytest.mark.parametrize("pca_dim", [None, 2])
def test_whitening_keeps_the_density_of_the_codes(codes, pca_dim):
    # Without regularisation the whitened fit is the same density: equal
    # scores (the Jacobian is included) and the mixture mapped back.
    scaled = codes * [1.0, 100.0, 0.01]
    plain = CoefficientPrior("gaussian", reg_covar=0.0, pca_dim=pca_dim).fit(scaled)
    white = CoefficientPrior("gaussian", reg_covar=0.0, pca_dim=pca_dim, whiten=True).fit(scaled)
    np.testing.assert_allclose(white.score_samples(scaled[:20]), plain.score_samples(scaled[:20]),
                               rtol=1e-9)
    gmm = CoefficientPrior("gmm", n_components=3, whiten=True, random_state=0).fit(scaled)
    weights, means, covariances = gmm.get_mixture()
    expected = np.log(sum(w * multivariate_normal(m, c).pdf(scaled[:20])
                          for w, m, c in zip(weights, means, covariances)))
    np.testing.assert_allclose(gmm.score_samples(scaled[:20]), expected, rtol=1e-9)
    draws = gmm.sample(5000, random_state=1)
    np.testing.assert_allclose(draws.std(0) / scaled.std(0), 1.0, atol=0.1)


def test_whitened_reg_covar_is_relative_to_the_codes(codes):
    # Codes scaled by 1e3: an absolute reg_covar of 1e-2 is nothing to them,
    # a relative one adds 1 % of their covariance either way.
    for scale in (1.0, 1e3):
        prior = CoefficientPrior("gaussian", whiten=True, reg_covar=1e-2).fit(codes * scale)
        _, _, covariances = prior.get_mixture()
        # PCA's variances are unbiased, the fitted covariance is not.
        expected = np.cov(codes.T, bias=True) + 1e-2 * np.cov(codes.T)
        np.testing.assert_allclose(covariances[0], expected * scale**2, rtol=1e-9)


def test_whitening_constant_codes_stays_finite():
    X = np.zeros((50, 4))
    X[:, 0] = np.random.RandomState(0).randn(50)
    prior = CoefficientPrior("gmm", n_components=2, whiten=True, random_state=0).fit(X)
    assert np.isfinite(prior.sample(10, random_state=0)).all()
    assert np.isfinite(prior.score_samples(X[:5])).all()


@pytest.mark.parametrize("whiten", [False, True])
def test_codes_without_spread_fit_quietly(whiten):
    # Every code equal: the density is a point, and fitting it warns of nothing.
    X = np.ones((20, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prior = CoefficientPrior("gaussian", pca_dim=2, whiten=whiten).fit(X)
    # (reg_covar keeps a spread of about 1e-3.)
    np.testing.assert_allclose(prior.sample(3, random_state=0), 1.0, atol=1e-2)


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
    # The codes' own density: finite on codes of the model's support size.
    assert np.all(np.isfinite(prior.score_samples(codes)))
    with pytest.raises(ValueError, match="return_supports"):
        CoefficientPrior().fit(codes).sample(2, return_supports=True)
    with pytest.raises(ValueError, match="pca_dim"):
        CoefficientPrior("sparse_support", pca_dim=2).fit(codes)
    with pytest.raises(ValueError, match="whiten"):
        CoefficientPrior("sparse_support", whiten=True).fit(codes)


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


# -- streaming ---------------------------------------------------------------------------
STREAM_KINDS = [
    ("gaussian", {}), ("gaussian", {"shrinkage": "oas"}), ("gaussian", {"shrinkage": 0.3}),
    ("diagonal", {}), ("kde", {}),
]


def _correlated_codes(n=600, d=4, seed=0):
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 3.0, rng.randint(0, 3, n)


@pytest.mark.parametrize("kind, params", STREAM_KINDS)
@pytest.mark.parametrize("labelled", [False, True])
def test_partial_fit_over_chunks_equals_fit_on_their_union(kind, params, labelled):
    X, y = _correlated_codes()
    fitted = CoefficientPrior(kind, **params).fit(X, y if labelled else None)
    streamed = CoefficientPrior(kind, **params)
    for rows in np.array_split(np.arange(len(X)), 5):
        streamed.partial_fit(X[rows], y[rows] if labelled else None,
                             classes=[0, 1, 2] if labelled else None)
    np.testing.assert_allclose(streamed.mean_, fitted.mean_, rtol=1e-12)
    np.testing.assert_allclose(streamed.score_samples(X), fitted.score_samples(X), rtol=1e-9,
                               atol=1e-10)
    if labelled:
        np.testing.assert_allclose(streamed.class_weights_, fitted.class_weights_)
    if kind != "kde":
        np.testing.assert_allclose(streamed.sample(20, random_state=1),
                                   fitted.sample(20, random_state=1), rtol=1e-9, atol=1e-12)


def test_sparse_support_statistics_add_up_exactly_over_chunks():
    rng = np.random.RandomState(0)
    codes = np.zeros((300, 12))
    for row in codes:
        row[rng.choice(12, 3, replace=False)] = rng.normal(size=3)
    fitted = CoefficientPrior("sparse_support").fit(codes)
    streamed = CoefficientPrior("sparse_support")
    for rows in np.array_split(np.arange(300), 4):
        streamed.partial_fit(codes[rows])
    a, b = fitted._densities[0].sampler, streamed._densities[0].sampler
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    np.testing.assert_array_equal(fitted.support_pairwise_, streamed.support_pairwise_)
    np.testing.assert_array_equal(fitted.sample(10, random_state=0),
                                  streamed.sample(10, random_state=0))


def test_gmm_partial_fit_warm_starts_and_approaches_the_batch_fit():
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(-4, 1, (400, 2)), rng.normal(4, 1, (400, 2))])
    X = X[rng.permutation(800)]
    fitted = CoefficientPrior("gmm", n_components=2, random_state=0).fit(X)
    streamed = CoefficientPrior("gmm", n_components=2, random_state=0)
    streamed.partial_fit(X[:200])
    first_means = np.sort(streamed.estimator_.means_[:, 0])
    for rows in np.array_split(np.arange(200, 800), 3):
        streamed.partial_fit(X[rows])
    # Warm-started: the two modes found on the first chunk are kept, not re-drawn.
    np.testing.assert_allclose(np.sort(streamed.estimator_.means_[:, 0]), first_means, atol=0.5)
    assert streamed.score(X) == pytest.approx(fitted.score(X), abs=0.02)


def test_partial_fit_after_fit_continues_from_the_fit():
    X, _ = _correlated_codes()
    prior = CoefficientPrior().fit(X[:300]).partial_fit(X[300:])
    np.testing.assert_allclose(prior.covariance_, CoefficientPrior().fit(X).covariance_)


def test_partial_fit_labels_and_classes_are_checked():
    X, y = _correlated_codes()
    inferred = CoefficientPrior().partial_fit(X[:50], y[:50] % 2)  # classes from this y
    np.testing.assert_array_equal(inferred.classes_, [0, 1])
    with pytest.raises(ValueError, match="y=2 is not in classes"):
        inferred.partial_fit(X[:2], [2, 0])
    refused = CoefficientPrior()
    with pytest.raises(ValueError, match="one label per sample"):
        refused.partial_fit(X[:10], y[:5])
    assert not hasattr(refused, "n_features_in_")  # a refused first call fits nothing
    prior = CoefficientPrior().partial_fit(X[:100], y[:100], classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="differs from the classes"):
        prior.partial_fit(X[:100], y[:100], classes=[0, 1])
    with pytest.raises(ValueError, match="y=7 is not in classes"):
        prior.partial_fit(X[:2], [7, 0])
    with pytest.raises(ValueError, match="no partial_fit call has given codes"):
        prior.sample(3, y=3)
    assert prior.sample(3, y=1).shape == (3, 4)
    unlabelled = CoefficientPrior().partial_fit(X[:100])
    with pytest.raises(ValueError, match="fitted without labels"):
        unlabelled.partial_fit(X[:10], y[:10])
    with pytest.raises(ValueError, match="features"):
        unlabelled.partial_fit(X[:10, :3])


def test_ledoit_wolf_cannot_stream():
    X, _ = _correlated_codes()
    with pytest.raises(ValueError, match="ledoit_wolf"):
        CoefficientPrior(shrinkage="ledoit_wolf").partial_fit(X)


def test_fit_on_a_dask_array_equals_fit_in_memory():
    da = pytest.importorskip("dask.array")
    X, y = _correlated_codes()
    lazy = da.from_array(X, chunks=(150, 2))
    np.testing.assert_allclose(CoefficientPrior().fit(lazy, y).score_samples(X),
                               CoefficientPrior().fit(X, y).score_samples(X), rtol=1e-9,
                               atol=1e-10)
    draws = CoefficientPrior(random_state=0).fit(X).sample(100, chunks=30, random_state=0)
    assert isinstance(draws, da.Array) and draws.chunks[0] == (30, 30, 30, 10)
    np.testing.assert_array_equal(draws.compute(), draws.compute())


def test_gmm_breakdown_names_the_remedies():
    # Codes of wildly different scales: EM cannot keep every covariance valid.
    X = np.random.RandomState(0).rand(11, 4)
    X[::3, 1] = 1e30
    with pytest.raises(FloatingPointError, match="diverged.*reg_covar.*n_components"):
        CoefficientPrior("gmm", n_components=3, reg_covar=0.0, random_state=0).fit(X)
