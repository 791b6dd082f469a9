"""The sparse-support density over codes: log Z, the code-space score, the sampler's law.

Tiny networks (5 atoms, supports of 2 signed atoms: 40 supports) are
enumerated, so every part is checked against an exact sum.
"""

import pickle

import numpy as np
import pytest
from scipy.special import log_ndtr, logsumexp
from scipy.stats import multivariate_normal

from skspectral import CoefficientPrior
from skspectral.prior import _partition, _support
from skspectral.sparse import orthogonal_mp_batch

N_ATOMS, K = 5, 2


def _codes(n=300, seed=0, n_atoms=N_ATOMS, k=K):
    """OMP codes of images drawn from a sparse model of ``n_atoms`` atoms."""
    rng = np.random.RandomState(seed)
    D = rng.normal(size=(n_atoms, 8))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = np.empty((n, 8))
    for i in range(n):
        atoms = rng.choice(n_atoms, k, replace=False)
        X[i] = (rng.uniform(0.2, 1.5, k) * rng.choice([-1, 1], k)) @ D[atoms]
    X += 0.05 * rng.normal(size=X.shape)
    return orthogonal_mp_batch(X, D, k)


@pytest.fixture(scope="module")
def codes():
    return _codes()


def _network(density):
    return density.sampler["log_unary"], density.sampler["log_pair"]


def _orthant(mean, cov):
    return multivariate_normal(mean, cov).cdf(np.full(len(mean), np.inf),
                                              lower_limit=np.zeros(len(mean)))


def _expected_scores(codes, density, log_z):
    """log p(S) + log p(c | S) of codes with K non-zeros, computed plainly."""
    u, A = _network(density)
    T = _support.N_POSITIVE_TRIES
    out = []
    for code in codes:
        atoms = np.flatnonzero(code)
        signed = np.sort(np.where(code[atoms] > 0, atoms, atoms + N_ATOMS))
        magnitudes = np.abs(code[signed % N_ATOMS])
        log_p = u[signed].sum() + A[signed[0], signed[1]] - log_z
        if density.coefficient_model == "regression":
            reg = density.sampler["regression"]
            w = reg["weights"]
            mean = reg["intercepts"][signed] + np.array(
                [w[signed[0], signed[1]], w[signed[1], signed[0]]])
            scale = reg["scales"][signed]
            p = np.exp(log_ndtr(mean / scale))
            log_c = (-0.5 * ((magnitudes - mean) / scale) ** 2 - np.log(scale)
                     - 0.5 * np.log(2 * np.pi) + np.log((1 - (1 - p) ** T) / p)).sum()
        else:
            means, chols = _support.em_gaussians(signed[None], density.sampler,
                                                 density.em_max_iter, density.overlap_power)
            cov = chols[0] @ chols[0].T
            p = _orthant(means[0], cov)
            log_c = (multivariate_normal(means[0], cov).logpdf(magnitudes)
                     + np.log((1 - (1 - p) ** T) / p))
        out.append(log_p + log_c)
    return np.array(out)


def test_elementary_symmetric_table_and_exact_draws():
    rng = np.random.RandomState(0)
    log_signed = rng.normal(size=2 * N_ATOMS)
    supports = _partition.all_supports(N_ATOMS, K)
    assert supports.shape == (_partition.n_supports(N_ATOMS, K), K) == (40, 2)
    log_weights, table = _partition.product_table(log_signed, N_ATOMS, K)
    exact = logsumexp(log_signed[supports].sum(axis=1))
    assert table[N_ATOMS, K] == pytest.approx(exact, abs=1e-12)
    draws, log_z0 = _partition.draw_independent(log_signed, N_ATOMS, K, 100_000, rng)
    assert log_z0 == pytest.approx(exact, abs=1e-12)
    assert (draws % N_ATOMS != np.roll(draws, 1, axis=1) % N_ATOMS).all()  # never both signs
    keys = {tuple(s): i for i, s in enumerate(np.sort(supports, axis=1))}
    counts = np.bincount([keys[tuple(s)] for s in np.sort(draws, axis=1)], minlength=40)
    expected = np.exp(log_signed[supports].sum(axis=1) - exact)
    assert 0.5 * np.abs(counts / counts.sum() - expected).sum() < 0.01


def test_log_space_table_survives_extreme_weights():
    log_signed = np.concatenate([np.full(N_ATOMS, 800.0), np.full(N_ATOMS, -900.0)])
    _, table = _partition.product_table(log_signed, N_ATOMS, K)
    # e_2 of five weights e^800 (each atom's other sign adds nothing): C(5, 2) e^1600.
    assert table[N_ATOMS, K] == pytest.approx(1600 + np.log(10), abs=1e-9)


def test_ais_matches_the_exact_log_partition(codes):
    density = CoefficientPrior("sparse_support", random_state=0).fit(codes)._densities[0]
    u, A = _network(density)
    exact = _partition.exact_log_partition(u, A, N_ATOMS, K)
    for seed in range(3):
        log_z, se = _partition.ais_log_partition(u, A, N_ATOMS, K, random_state=seed)
        assert 0 < se < 0.1
        assert abs(log_z - exact) < 4 * se + 0.02
    # A sharper network (pairs 3x stronger) still agrees.
    log_z, se = _partition.ais_log_partition(u, 3 * A, N_ATOMS, K, random_state=0)
    assert abs(log_z - _partition.exact_log_partition(u, 3 * A, N_ATOMS, K)) < 4 * se + 0.02


def test_modes_plus_ais_matches_the_exact_log_partition(monkeypatch):
    codes = _codes(n=400, n_atoms=8, k=3, seed=1)
    density = CoefficientPrior("sparse_support", random_state=0).fit(codes)._densities[0]
    u, A = _network(density)
    exact = _partition.exact_log_partition(u, A, 8, 3)
    monkeypatch.setattr(_partition, "EXACT_LIMIT", 0)
    for n_modes in (0, 1):
        log_z, se, method = _partition.log_partition(u, A, 8, 3, density.sampler["signed"],
                                                     n_modes=n_modes)
        assert method == "ais"
        assert abs(log_z - exact) < 4 * se + 0.02
    modes, potential = _partition.mode_supports(density.sampler["signed"], u, A, 8, 3, 1)
    assert logsumexp(potential) <= exact + 1e-12  # an exact part of Z
    assert np.unique(np.sort(modes, axis=1), axis=0).shape == modes.shape


def test_gibbs_sampler_draws_the_network(codes):
    """Long chains' support frequencies are exp(-E) / Z: the score's p(S) is the sampler's."""
    density = CoefficientPrior("sparse_support", random_state=0).fit(codes)._densities[0]
    u, A = _network(density)
    supports = _partition.all_supports(N_ATOMS, K)
    log_p = density.support_log_prior(supports)
    assert logsumexp(log_p) == pytest.approx(0.0, abs=1e-12)
    draws = _support.draw_supports(u, A, N_ATOMS, K, 40_000, 20, 2, np.random.RandomState(0))
    keys = {tuple(s): i for i, s in enumerate(np.sort(supports, axis=1))}
    counts = np.bincount([keys[tuple(s)] for s in np.sort(draws, axis=1)], minlength=40)
    assert 0.5 * np.abs(counts / counts.sum() - np.exp(log_p)).sum() < 0.02


@pytest.mark.parametrize("options", [{}, {"overlap_power": 0.0},
                                     {"coefficient_model": "regression"}])
def test_score_matches_enumeration(codes, options):
    prior = CoefficientPrior("sparse_support", random_state=0, **options).fit(codes)
    density = prior._densities[0]
    u, A = _network(density)
    log_z = _partition.exact_log_partition(u, A, N_ATOMS, K)
    assert density.log_partition() == (pytest.approx(log_z, abs=1e-12), 0.0)
    assert density.log_partition_method_ == "exact"
    sample = codes[:40]
    np.testing.assert_allclose(prior.score_samples(sample),
                               _expected_scores(sample, density, log_z), rtol=0, atol=2e-4)
    assert prior.score(sample) == pytest.approx(prior.score_samples(sample).mean())


@pytest.mark.parametrize("coefficient_model", ["em", "regression"])
def test_score_is_normalised(codes, coefficient_model):
    """sum_S p(S) = 1, and the coefficients integrate to the share of draws with k non-zeros."""
    prior = CoefficientPrior("sparse_support", coefficient_model=coefficient_model,
                             random_state=0).fit(codes)
    density = prior._densities[0]
    if coefficient_model == "regression":
        # Means below 0, so that clipped re-draws carry visible mass.
        regression = density.sampler["regression"]
        regression["intercepts"] = -1.2 * regression["scales"]
    supports = _partition.all_supports(N_ATOMS, K)
    log_p = density.support_log_prior(supports)
    assert logsumexp(log_p) == pytest.approx(0.0, abs=1e-12)
    T = _support.N_POSITIVE_TRIES
    if coefficient_model == "regression":
        mean, scale = _support.regression_gaussians(supports, density.sampler["regression"])
        kept = np.prod(1 - (1 - np.exp(log_ndtr(mean / scale))) ** T, axis=1)
        hi = mean + 8 * scale
    else:
        means, chols = _support.em_gaussians(supports, density.sampler, density.em_max_iter,
                                             density.overlap_power)
        kept = np.array([1 - (1 - _orthant(m, c @ c.T)) ** T for m, c in zip(means, chols)])
        hi = means + 8 * np.sqrt(np.einsum("nij,nij->ni", chols, chols))
    n_grid = 120
    total = 0.0
    for s, top in zip(supports, hi):
        axes = [(np.arange(n_grid) + 0.5) * t / n_grid for t in top]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, K)
        dense = np.zeros((grid.shape[0], N_ATOMS))
        dense[:, s % N_ATOMS] = np.where(s < N_ATOMS, 1.0, -1.0) * grid
        total += np.exp(prior.score_samples(dense)).sum() * np.prod(top / n_grid)
    expected = float(np.exp(log_p) @ kept)
    assert total == pytest.approx(expected, abs=2e-3)
    if coefficient_model == "regression":
        assert expected < 0.9


def test_codes_off_the_model_have_density_zero(codes):
    prior = CoefficientPrior("sparse_support", random_state=0).fit(codes)
    off = np.zeros((3, N_ATOMS))
    off[0, 1] = 1.0  # one non-zero
    off[1, :3] = 1.0  # three
    scores = prior.score_samples(np.vstack([off, codes[:1]]))
    assert np.isneginf(scores[:3]).all() and np.isfinite(scores[3])


def test_class_conditional_score_mixes_the_classes(codes):
    labels = np.arange(codes.shape[0]) % 3
    prior = CoefficientPrior("sparse_support", random_state=0).fit(codes, labels)
    per_class = np.stack([d.score_samples(codes[:20]) for d in prior._densities])
    expected = logsumexp(per_class + np.log(prior.class_weights_)[:, None], axis=0)
    np.testing.assert_allclose(prior.score_samples(codes[:20]), expected)


def test_log_partition_is_cached_seeded_and_pickled(monkeypatch):
    monkeypatch.setattr(_partition, "EXACT_LIMIT", 0)  # take the AIS path on a small network
    codes = _codes(n=200, n_atoms=8, k=3, seed=2)
    prior = CoefficientPrior("sparse_support", random_state=3).fit(codes)
    density = prior._densities[0]
    first = prior.score_samples(codes[:5])
    assert density.log_partition_method_ == "ais"
    cached = (density.log_partition_, density.log_partition_se_)
    clone = pickle.loads(pickle.dumps(prior))
    assert (clone._densities[0].log_partition_, clone._densities[0].log_partition_se_) == cached
    np.testing.assert_array_equal(clone.score_samples(codes[:5]), first)
    # A refit with the same seed gives the same log Z; new codes drop the cache.
    again = CoefficientPrior("sparse_support", random_state=3).fit(codes)
    np.testing.assert_array_equal(again.score_samples(codes[:5]), first)
    prior.partial_fit(codes[:50])
    assert not hasattr(prior._densities[0], "log_partition_")
    # A RandomState gives a seed from its state without advancing it.
    state = np.random.RandomState(0)
    before = state.get_state()[1].copy()
    CoefficientPrior("sparse_support", random_state=state).fit(codes).score_samples(codes[:2])
    np.testing.assert_array_equal(state.get_state()[1], before)


def test_ghk_orthant_probabilities_match_scipy():
    rng = np.random.RandomState(0)
    for k in (1, 2, 3, 5):
        means = rng.uniform(-0.5, 1.5, size=(4, k))
        chols = np.empty((4, k, k))
        expected = np.empty(4)
        for i in range(4):
            root = rng.normal(size=(k, k + 2))
            cov = root @ root.T / (k + 2) + 0.2 * np.eye(k)
            chols[i] = np.linalg.cholesky(cov)
            expected[i] = _orthant(means[i], cov)
        got = _support.orthant_probability(means, chols)
        np.testing.assert_allclose(got, expected, rtol=2e-3, atol=1e-5)


def test_accept_factor():
    T = _support.N_POSITIVE_TRIES
    p = np.array([0.0, 1e-300, 1e-3, 0.5, 1.0])
    np.testing.assert_allclose(
        _support.log_accept_factor(p),
        [np.log(T), np.log(T), np.log((1 - (1 - 1e-3) ** T) / 1e-3), np.log((1 - 0.5**T) / 0.5),
         0.0])
