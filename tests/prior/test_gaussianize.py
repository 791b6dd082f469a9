"""Gaussianization layers under a CoefficientPrior (``gaussianize``)."""

import numpy as np
import pytest
from scipy.stats import kurtosis

from skspectral import CoefficientPrior
from skspectral.prior._gaussianize import GaussianizationLayer, MarginalGaussianizer


@pytest.fixture
def sparse_codes():
    # Independent heavy-tailed (Laplace) sources, linearly mixed: what
    # natural-image codes look like to a Gaussian, in 4 dimensions.
    rng = np.random.RandomState(0)
    mixing = rng.normal(size=(4, 4))
    return rng.laplace(size=(3000, 4)) @ mixing, mixing


def test_marginal_map_is_an_increasing_bijection_beyond_the_training_range():
    rng = np.random.RandomState(0)
    X = rng.exponential(size=(500, 2))
    marginals = MarginalGaussianizer().fit(X)
    x = np.linspace(-50, 50, 2001)[:, None].repeat(2, axis=1)
    G, log_slope = marginals.transform(x)
    assert np.all(np.diff(G, axis=0) > 0)  # strictly increasing, far outside the data too
    assert np.all(np.isfinite(log_slope))
    np.testing.assert_allclose(marginals.inverse_transform(G), x, atol=1e-9)
    # Training data come out standard normal.
    G_train = marginals.transform(X)[0]
    np.testing.assert_allclose(G_train.mean(0), 0, atol=0.05)
    np.testing.assert_allclose(G_train.std(0), 1, atol=0.05)


def test_marginal_map_of_tied_and_constant_columns_stays_finite():
    X = np.column_stack([np.zeros(50), np.repeat([0.0, 1.0], 25)])
    marginals = MarginalGaussianizer().fit(X)
    G, log_slope = marginals.transform(X)
    assert np.all(np.isfinite(G)) and np.all(np.isfinite(log_slope))
    np.testing.assert_allclose(marginals.inverse_transform(G), X, atol=1e-6)


def test_layer_log_jacobian_matches_finite_differences(sparse_codes):
    X, _ = sparse_codes
    X = (X - X.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(X.T)).T)  # white
    layer = GaussianizationLayer().fit(X, random_state=0)
    x0 = X[:3]
    G, log_jac = layer.transform(x0)
    eps = 1e-6
    for i in range(3):
        jac = np.column_stack([
            (layer.transform(x0[i:i + 1] + eps * e)[0] - layer.transform(x0[i:i + 1] - eps * e)[0])[0]
            / (2 * eps)
            for e in np.eye(4)
        ])
        assert log_jac[i] == pytest.approx(np.linalg.slogdet(jac)[1], abs=1e-4)


def test_gaussianized_density_integrates_to_one():
    rng = np.random.RandomState(0)
    X = rng.laplace(size=(2000, 2)) @ np.array([[1.0, 0.5], [0.0, 1.0]])
    prior = CoefficientPrior("gmm", n_components=2, gaussianize=2, random_state=0).fit(X)
    grid = np.linspace(-25, 25, 1001)
    xx, yy = np.meshgrid(grid, grid)
    density = np.exp(prior.score_samples(np.column_stack([xx.ravel(), yy.ravel()])))
    step = grid[1] - grid[0]
    assert density.sum() * step**2 == pytest.approx(1.0, abs=0.01)


def test_gaussianization_fits_sparse_codes_better_than_the_density_alone(sparse_codes):
    X, _ = sparse_codes
    train, held_out = X[:2000], X[2000:]
    plain = CoefficientPrior("gaussian", random_state=0).fit(train)
    layered = CoefficientPrior("gaussian", gaussianize=2, random_state=0).fit(train)
    # Laplace sources can gain at most 4 x 0.073 nats over a Gaussian of the
    # same covariance (the entropy gap); 2 layers on 2,000 codes gain 0.12.
    assert layered.score(held_out) > plain.score(held_out) + 0.08
    # Its draws are as heavy-tailed as the codes; the Gaussian's are not.
    sources = np.linalg.solve(sparse_codes[1].T, layered.sample(3000, random_state=0).T).T
    assert np.all(kurtosis(sources, axis=0) > 1.5)  # Laplace: 3, Gaussian: 0
    plain_sources = np.linalg.solve(sparse_codes[1].T, plain.sample(3000, random_state=0).T).T
    assert np.all(np.abs(kurtosis(plain_sources, axis=0)) < 0.5)


def test_gaussianized_prior_is_reproducible_and_keeps_float32(sparse_codes):
    X = sparse_codes[0].astype(np.float32)
    a = CoefficientPrior("gmm", n_components=2, gaussianize=2, random_state=0).fit(X)
    b = CoefficientPrior("gmm", n_components=2, gaussianize=2, random_state=0).fit(X)
    np.testing.assert_array_equal(a.sample(5, random_state=1), b.sample(5, random_state=1))
    assert a.sample(5, random_state=1).dtype == np.float32


def test_gaussianized_class_conditional_prior_and_flow(sparse_codes):
    X, _ = sparse_codes
    y = (X[:, 0] > 0).astype(int)
    prior = CoefficientPrior("gmm", n_components=2, gaussianize=1, random_state=0).fit(X, y)
    assert prior.sample(4, y=1, random_state=0).shape == (4, 4)
    flow = CoefficientPrior("flow", gaussianize=1, max_iter=2, hidden_features=(8,),
                            random_state=0).fit(X)
    assert len(flow.validation_scores_) == flow.n_iter_
    assert np.all(np.isfinite(flow.score_samples(X[:10])))


def test_partial_fit_keeps_the_layers_of_the_first_chunk(sparse_codes):
    X, _ = sparse_codes
    prior = CoefficientPrior("gaussian", gaussianize=1, random_state=0)
    prior.partial_fit(X[:1500])
    layers = prior._densities[0].density.layers
    rotation = layers[0].rotation.copy()
    prior.partial_fit(X[1500:])
    assert prior._densities[0].density.layers is layers
    np.testing.assert_array_equal(layers[0].rotation, rotation)
    assert prior._densities[0].density.density.moments.n == X.shape[0]


def test_gaussianize_is_refused_for_sparse_supports():
    codes = np.zeros((10, 6))
    codes[np.arange(10), np.arange(10) % 6] = 1.0
    with pytest.raises(ValueError, match="'gaussianize'.*sparse_support.*gaussianize=0"):
        CoefficientPrior("sparse_support", gaussianize=1).fit(codes)


def test_negative_gaussianize_is_named():
    with pytest.raises(ValueError, match="'gaussianize' parameter"):
        CoefficientPrior(gaussianize=-1).fit(np.zeros((5, 2)))


def test_marginal_map_of_nearly_tied_codes_stays_bounded():
    # All but one code coincide up to rounding: quantiles 1e-15 apart would
    # otherwise send the last code to a normal score near 1e15.
    X = np.array([[0.0], [1e-15], [-1e-15], [2e-15], [1.0]])
    marginals = MarginalGaussianizer().fit(X)
    G, log_slope = marginals.transform(X)
    assert np.abs(G).max() < 1e3
    assert log_slope.max() <= np.log(100.0 / X.std()) + 1e-9
    np.testing.assert_allclose(marginals.inverse_transform(G), X, atol=1e-12)


def test_class_conditional_layers_on_a_handful_of_codes_fit():
    # Five codes per class in four dimensions, as scikit-learn's common checks fit.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(15, 4))
    y = rng.permutation(np.repeat(np.arange(3), 5))
    for seed in range(20):
        prior = CoefficientPrior("gmm", n_components=2, gaussianize=2, random_state=seed).fit(X, y)
        assert np.all(np.isfinite(prior.sample(10, random_state=0)))
        assert np.all(np.isfinite(prior.score_samples(X)))
