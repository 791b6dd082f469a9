"""support_log_likelihood: the sparse-support model's pixel-space log-density.

A tiny model (5 atoms, supports of 2 signed atoms: 40 supports) is
enumerated: every support's Gaussian is formed densely and scored by SciPy,
and the positivity of the magnitudes (re-draws until positive, the last try
clipped) is integrated exactly, so the importance-sampling estimate is
checked against the exact log-density.
"""

import numpy as np
import pytest
from scipy import integrate
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm

from skspectral import SparseSupportMRF
from skspectral.prior import _partition, _support
from skspectral.sparse._density import support_log_likelihood

N_ATOMS, K, N_PIXELS = 5, 2, 6
T = _support.N_POSITIVE_TRIES


def _images(n=300, seed=0):
    rng = np.random.RandomState(seed)
    D = rng.normal(size=(N_ATOMS, N_PIXELS))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = np.empty((n, N_PIXELS))
    for i in range(n):
        atoms = rng.choice(N_ATOMS, K, replace=False)
        X[i] = (rng.uniform(0.05, 1.5, K) * rng.choice([-1, 1], K)) @ D[atoms]
    return X + 0.05 * rng.normal(size=X.shape)


@pytest.fixture(scope="module")
def images():
    return _images()


def _model(images, **options):
    return SparseSupportMRF(n_atoms=N_ATOMS, n_nonzero_coefs=K, max_iter=5,
                            residual_components=0, random_state=0, **options).fit(images)


def _noise():
    """A residual-PCA noise covariance: 2 orthonormal directions over isotropic noise."""
    rng = np.random.RandomState(1)
    U = np.linalg.qr(rng.normal(size=(N_PIXELS, 2)))[0].T
    variances = np.array([0.01, 0.004])
    s2 = 0.05**2
    return s2, U, variances, s2 * np.eye(N_PIXELS) + U.T @ np.diag(variances - s2) @ U


def _exact_log_likelihood(X, D, density, N0):
    """log sum_S p(S) p(x | S), every support enumerated, positivity integrated exactly."""
    u, A = density.sampler["log_unary"], density.sampler["log_pair"]
    supports = _partition.all_supports(N_ATOMS, K)
    log_z = _partition.exact_log_partition(u, A, N_ATOMS, K)
    log_prior = _partition.log_potential(supports, u, A) - log_z
    N0_inv = np.linalg.inv(N0)
    noise = multivariate_normal(np.zeros(N_PIXELS), N0)
    regression = density.coefficient_model == "regression"
    if regression:
        means, scales = _support.regression_gaussians(supports, density.sampler["regression"])
        covs = np.stack([np.diag(s**2) for s in scales])
    else:
        means, chols = _support.em_gaussians(supports, density.sampler, density.em_max_iter,
                                             density.overlap_power)
        covs = np.einsum("nij,nkj->nik", chols, chols)
    out = []
    for x in X:
        terms = []
        for s, mu, cov, log_p in zip(supports, means, covs, log_prior):
            DS = (D[s % N_ATOMS] * np.where(s < N_ATOMS, 1.0, -1.0)[:, None]).T
            terms.append(log_p + np.log(_support_likelihood(x, DS, mu, cov, N0, N0_inv, noise,
                                                            regression)))
        out.append(logsumexp(terms))
    return np.array(out)


def _positive(mean, cov):
    return multivariate_normal(mean, cov).cdf(np.full(len(mean), np.inf),
                                              lower_limit=np.zeros(len(mean)))


def _posterior(x, DS, mu, cov, N0_inv):
    precision = np.linalg.inv(cov) + DS.T @ N0_inv @ DS
    post_cov = np.linalg.inv(precision)
    return post_cov @ (np.linalg.solve(cov, mu) + DS.T @ N0_inv @ x), post_cov


def _support_likelihood(x, DS, mu, cov, N0, N0_inv, noise, regression):
    """p(x | S) for the sampler's magnitudes: v ~ N(mu, cov) re-drawn until positive
    (per slot for the regression model), the last try clipped to 0."""
    if regression:
        # Each slot: density F(P_t) N(m_t) on m_t > 0, mass (1 - P_t)^T at 0.
        p = norm.cdf(mu / np.sqrt(np.diag(cov)))
        accept, zero = (1 - (1 - p) ** T) / p, (1 - p) ** T
        total = zero.prod() * noise.pdf(x)
        for t in range(K):  # slot t positive, the other at 0
            d, m, v = DS[:, t], mu[t], cov[t, t]
            gauss = multivariate_normal(d * m, v * np.outer(d, d) + N0).pdf(x)
            pm, pc = _posterior(x, DS[:, [t]], mu[[t]], cov[[t]][:, [t]], N0_inv)
            total += accept[t] * zero[1 - t] * gauss * norm.cdf(pm[0] / np.sqrt(pc[0, 0]))
        gauss = multivariate_normal(DS @ mu, DS @ cov @ DS.T + N0).pdf(x)
        pm, pc = _posterior(x, DS, mu, cov, N0_inv)
        return total + accept.prod() * gauss * _positive(pm, pc)
    p = _positive(mu, cov)
    gauss = multivariate_normal(DS @ mu, DS @ cov @ DS.T + N0).pdf(x)
    pm, pc = _posterior(x, DS, mu, cov, N0_inv)
    accepted = (1 - (1 - p) ** T) / p * gauss * _positive(pm, pc)
    # The last try, not all positive, clipped: v_j > 0 >= v_o, or both <= 0.
    clipped = multivariate_normal(mu, cov).cdf(np.zeros(K)) * noise.pdf(x)
    for j in range(K):
        o = 1 - j
        slope = cov[o, j] / cov[j, j]
        spread = np.sqrt(cov[o, o] - cov[o, j] * slope)

        def density(vj, j=j, o=o, slope=slope, spread=spread):
            c = np.zeros(K)
            c[j] = vj
            r = x - DS @ c
            return (norm.pdf(vj, mu[j], np.sqrt(cov[j, j]))
                    * norm.cdf(-(mu[o] + slope * (vj - mu[j])) / spread)
                    * np.exp(-0.5 * r @ N0_inv @ r) / np.sqrt(np.linalg.det(2 * np.pi * N0)))

        clipped += integrate.quad(density, 0, np.inf, limit=200)[0]
    return accepted + (1 - p) ** (T - 1) * clipped


def test_matches_enumeration_with_residual_noise(images):
    model = _model(images)
    density = model.prior_._densities[0]
    s2, U, variances, N0 = _noise()
    D = model.components_
    X = images[:6]
    exact = _exact_log_likelihood(X, D, density, N0)
    log_p, se = support_log_likelihood(X, D, model.prior_, s2, U, variances,
                                       n_importance=2000, random_state=0)
    assert np.all(np.abs(log_p - exact) < 4 * se + 0.05)
    # The density alone gives the same estimate as its prior.
    alone = support_log_likelihood(X, D, density, s2, U, variances, n_importance=2000,
                                   random_state=0)
    np.testing.assert_allclose(alone[0], log_p)


def test_matches_enumeration_with_isotropic_noise_and_clipped_draws(images):
    """Regression magnitudes with means below 0: most draws have a clipped slot."""
    model = _model(images, coefficient_model="regression")
    density = model.prior_._densities[0]
    regression = density.sampler["regression"]
    regression["intercepts"] = regression["intercepts"] - 1.2 * regression["scales"]
    s2 = 0.05**2
    X = np.vstack([images[:4], model.sample(3, random_state=0)])
    exact = _exact_log_likelihood(X, model.components_, density, s2 * np.eye(N_PIXELS))
    log_p, se = support_log_likelihood(X, model.components_, model.prior_, s2,
                                       n_importance=2000, random_state=1)
    assert np.all(np.abs(log_p - exact) < 4 * se + 0.05)


def test_standard_error_shrinks_with_more_draws(images):
    model = _model(images)
    s2 = 0.04  # wide posteriors over supports: weights vary even among 10 draws
    X = images[10:30]
    errors = [np.median(support_log_likelihood(X, model.components_, model.prior_, s2,
                                               n_importance=n, random_state=0)[1])
              for n in (10, 100, 1000)]
    assert errors[0] > errors[1] > errors[2] > 0
    assert errors[2] < errors[0] / 3  # about 1 / sqrt(n)
    exact = _exact_log_likelihood(X[:5], model.components_, model.prior_._densities[0],
                                  s2 * np.eye(N_PIXELS))
    log_p, se = support_log_likelihood(X[:5], model.components_, model.prior_, s2,
                                       n_importance=1000, random_state=0)
    assert np.all(np.abs(log_p - exact) < 4 * se + 0.05)


def test_class_conditional_prior_is_the_mixture_of_its_classes(images):
    labels = np.arange(images.shape[0]) % 2
    model = _model(images, class_guidance=0.0).fit(images, labels)
    s2 = 0.05**2
    X = images[:4]
    log_p, se = support_log_likelihood(X, model.components_, model.prior_, s2,
                                       n_importance=500, random_state=0)
    per_class = [_exact_log_likelihood(X, model.components_, d, s2 * np.eye(N_PIXELS))
                 for d in model.prior_._densities]
    exact = logsumexp(np.stack(per_class) + np.log(model.prior_.class_weights_)[:, None],
                      axis=0)
    assert np.all(np.abs(log_p - exact) < 4 * se + 0.05)


def test_reproducible_and_independent_of_blocks(images, monkeypatch):
    import skspectral.sparse._density as module

    model = _model(images)
    X = images[:7]
    first = support_log_likelihood(X, model.components_, model.prior_, 0.01, n_importance=50,
                                   random_state=3)
    monkeypatch.setattr(module, "BLOCK", 2)
    second = support_log_likelihood(X, model.components_, model.prior_, 0.01, n_importance=50,
                                    random_state=3)
    # Equal but for the rounding of the blocks' matrix products.
    np.testing.assert_allclose(first[0], second[0], rtol=1e-12)
    np.testing.assert_allclose(first[1], second[1], rtol=1e-9)


def test_checks_its_inputs(images):
    model = _model(images)
    D = model.components_
    with pytest.raises(ValueError, match="orthonormal"):
        support_log_likelihood(images[:2], D, model.prior_, 0.01, 2 * np.eye(N_PIXELS)[:2],
                               [0.1, 0.1])
    with pytest.raises(ValueError, match="noise_variances"):
        support_log_likelihood(images[:2], D, model.prior_, 0.01, np.eye(N_PIXELS)[:2])
    with pytest.raises(ValueError, match="dictionary"):
        support_log_likelihood(images[:2], D[:, :3], model.prior_, 0.01)
    with pytest.raises(ValueError, match="atoms"):
        support_log_likelihood(images[:2], D[:4], model.prior_, 0.01)
    with pytest.raises(ValueError, match="noise_variance"):
        support_log_likelihood(images[:2], D, model.prior_, 0.0)


# ------------------------------------------------------- the estimator's score
def test_model_score_is_the_support_density_of_its_images():
    from sklearn.datasets import load_digits

    from skspectral import SparseSupportMRF
    from skspectral.metrics import dequantize
    from skspectral.sparse._density import support_log_likelihood

    X = dequantize(load_digits().data.astype(np.uint8), n_levels=17, random_state=0)
    model = SparseSupportMRF(n_atoms=32, n_nonzero_coefs=3, max_iter=3, residual_components=0,
                             random_state=0)
    model.fit(X[:600])
    log_p, std = model.score_samples(X[600:640], return_std=True)
    expected, expected_std = support_log_likelihood(
        X[600:640], model.components_, model.prior_, model.noise_.variance_,
        n_importance=model.n_importance, random_state=0)
    np.testing.assert_allclose(log_p, expected)
    np.testing.assert_allclose(std, expected_std)
    assert model.score(X[600:640]) == pytest.approx(log_p.mean())
    # The residual per dimension off the k atoms of each code.
    residual = X[:600] - model.inverse_transform(model.transform(X[:600]))
    assert model.noise_.variance_ == pytest.approx(
        np.sum(residual**2) / (600 * (64 - 3)), rel=1e-6)
    # Reproducible and independent of the other rows.
    np.testing.assert_allclose(model.score_samples(X[600:640][::-1])[::-1], log_p, rtol=1e-10)
    np.testing.assert_allclose(model.score_samples(X[610:620]), log_p[10:20], rtol=1e-10)


def test_residual_gaussian_is_the_noise_of_the_density():
    from sklearn.datasets import load_digits

    from skspectral import SparseSupportMRF
    from skspectral.metrics import dequantize
    from skspectral.sparse._density import support_log_likelihood

    X = dequantize(load_digits().data.astype(np.uint8), n_levels=17, random_state=0)
    model = SparseSupportMRF(n_atoms=32, n_nonzero_coefs=3, max_iter=3, residual_components=4,
                             random_state=0).fit(X[:600])
    pca = model.residual_pca_
    np.testing.assert_allclose(model.noise_.components_, pca.components_)
    assert model.noise_.variance_ == pytest.approx(pca.noise_variance_)
    expected = support_log_likelihood(
        X[600:610] - pca.mean_, model.components_, model.prior_, pca.noise_variance_,
        pca.components_, pca.explained_variance_, n_importance=model.n_importance,
        random_state=0)[0]
    np.testing.assert_allclose(model.score_samples(X[600:610]), expected)


def test_pipeline_through_the_sparse_model_needs_its_support_prior():
    from sklearn.datasets import load_digits

    from skspectral import CoefficientPrior, SparseSupportMRF
    from skspectral.pipeline import make_pipeline

    X = load_digits().data[:300] / 16
    pipe = make_pipeline(SparseSupportMRF(n_atoms=16, n_nonzero_coefs=2, max_iter=2,
                                          random_state=0),
                         CoefficientPrior("sparse_support", random_state=0)).fit(X)
    assert np.all(np.isfinite(pipe.score_samples(X[:5])))
    gaussian = make_pipeline(SparseSupportMRF(n_atoms=16, n_nonzero_coefs=2, max_iter=2,
                                              random_state=0), CoefficientPrior()).fit(X)
    with pytest.raises(ValueError, match="sparse_support"):
        gaussian.score(X[:5])
