"""The pixel-space density shared by the models: exact against scikit-learn's own densities."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from skspectral import CoefficientPrior
from skspectral.base._density import (
    LinearRange,
    RangeNoise,
    isotropic_noise,
    range_log_likelihood,
)
from skspectral.metrics import dequantize
from skspectral.pipeline import make_pipeline


@pytest.fixture(scope="module")
def digits():
    return dequantize(load_digits().data.astype(np.uint8), n_levels=17, random_state=0)


def _gaussian(variances):
    return lambda t: multivariate_normal(np.zeros(len(variances)), np.diag(variances)).logpdf(
        t).reshape(-1)


@pytest.mark.parametrize("n_components", [1, 10, 40])
def test_pca_with_its_gaussian_is_probabilistic_pca(digits, n_components):
    pca = PCA(n_components).fit(digits[:1000])
    log_p = range_log_likelihood(
        digits[1000:], LinearRange(pca.components_, pca.mean_), _gaussian(pca.explained_variance_),
        isotropic_noise(pca.noise_variance_, 64 - n_components),
    )
    np.testing.assert_allclose(log_p, pca.score_samples(digits[1000:]), rtol=1e-6)


def test_range_coordinates_change_of_variables(digits):
    # Any invertible mix of the principal directions describes the same density.
    pca = PCA(12).fit(digits[:1000])
    mix = np.random.default_rng(0).normal(size=(12, 12))
    A = mix @ pca.components_
    # x = t A = (t mix) W: the scores t mix have the PCA variances.
    unmix = np.linalg.inv(mix)
    covariance = unmix.T @ np.diag(pca.explained_variance_) @ unmix

    def density(t):
        return multivariate_normal(np.zeros(12), covariance).logpdf(t).reshape(-1)

    log_p = range_log_likelihood(digits[1000:], LinearRange(A, pca.mean_), density,
                                 isotropic_noise(pca.noise_variance_, 52))
    np.testing.assert_allclose(log_p, pca.score_samples(digits[1000:]), rtol=1e-6)


def test_identity_decoder_is_the_mixture_itself(digits):
    X = PCA(5).fit_transform(digits)
    gmm = GaussianMixture(3, random_state=0).fit(X[:1000])
    log_p = range_log_likelihood(X[1000:], LinearRange(np.eye(5), np.zeros(5)), gmm.score_samples,
                                 isotropic_noise(1.0, 0))
    np.testing.assert_allclose(log_p, gmm.score_samples(X[1000:]), rtol=1e-10)


def test_noise_with_leading_directions_is_a_dense_gaussian():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(8, 2)))[0].T
    R = rng.normal(size=(300, 8)) * np.linspace(0.2, 2, 8)
    R -= (R @ basis.T) @ basis
    noise = RangeNoise(2).fit(R, rank=2)
    # Dense reference on the 6-dimensional complement.
    complement = np.linalg.svd(np.eye(8) - basis.T @ basis)[0][:, :6].T
    cov = (complement @ (noise.components_.T * (noise.explained_variance_ - noise.variance_))
           @ noise.components_ @ complement.T) + noise.variance_ * np.eye(6)
    expected = multivariate_normal(np.zeros(6), cov).logpdf(R[:20] @ complement.T)
    np.testing.assert_allclose(noise.log_density(R[:20]), expected, rtol=1e-9)


def test_isotropic_noise_is_the_mean_residual_square_per_dimension():
    R = np.random.default_rng(0).normal(size=(50, 10))
    noise = RangeNoise().fit(R[:20], rank=3)
    noise.partial_fit(R[20:], rank=3)
    assert noise.variance_ == pytest.approx(np.sum(R**2) / (50 * 7))


def test_dependent_atoms_are_refused():
    A = np.array([[1.0, 0, 0], [2.0, 0, 0]])
    with pytest.raises(ValueError, match="linearly dependent"):
        LinearRange(A, np.zeros(3))
    with pytest.raises(ValueError, match="overcomplete"):
        LinearRange(np.ones((4, 3)), np.zeros(3))


def test_pipeline_pca_gaussian_is_ppca(digits):
    # The prior fits the scores' covariance with ddof=0 (and reg_covar): the
    # pipeline equals probabilistic PCA with those variances.
    pipe = make_pipeline(PCA(10), CoefficientPrior("gaussian", reg_covar=0.0))
    pipe.fit(digits[:1000])
    pca = pipe[0]
    variances = np.var(pca.transform(digits[:1000]), axis=0)
    expected = range_log_likelihood(
        digits[1000:], LinearRange(pca.components_, pca.mean_), _gaussian(variances),
        isotropic_noise(pca.noise_variance_, 54))
    np.testing.assert_allclose(pipe.score_samples(digits[1000:]), expected, rtol=1e-6)
    assert pipe.score(digits[1000:]) == pytest.approx(expected.mean(), rel=1e-6)


def test_pipeline_scaler_jacobian(digits):
    X = PCA(4).fit_transform(digits)
    pipe = make_pipeline(StandardScaler(), CoefficientPrior("gmm", n_components=2,
                                                             random_state=0)).fit(X)
    direct = pipe[-1].score_samples(pipe[0].transform(X)) - np.log(pipe[0].scale_).sum()
    np.testing.assert_allclose(pipe.score_samples(X), direct)


def test_pipeline_refuses_a_step_it_cannot_pass(digits):
    from sklearn.preprocessing import MinMaxScaler

    pipe = make_pipeline(MinMaxScaler(), CoefficientPrior()).fit(digits)
    with pytest.raises(ValueError, match="MinMaxScaler"):
        pipe.score(digits)


def test_grid_search_over_pca_size_picks_an_interior_size(digits):
    from sklearn.model_selection import GridSearchCV

    # A 10-component mixture over more scores than the data support overfits:
    # held-out likelihood peaks inside the grid (not at its largest size).
    pipe = make_pipeline(PCA(), CoefficientPrior("gmm", n_components=10, random_state=0))
    search = GridSearchCV(pipe, {"pca__n_components": [10, 40, 63]}, cv=3).fit(digits)
    assert search.best_params_ == {"pca__n_components": 40}
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > scores[0] and scores[1] > scores[2]


def test_exact_models_report_zero_standard_error(digits):
    from skspectral import SpectralDictionary

    model = SpectralDictionary(n_atoms=6, max_iter=2, random_state=0).fit(digits[:300])
    log_p, std = model.score_samples(digits[:5], return_std=True)
    np.testing.assert_array_equal(log_p, model.score_samples(digits[:5]))
    np.testing.assert_array_equal(std, np.zeros(5))
