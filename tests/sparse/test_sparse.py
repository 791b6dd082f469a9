"""SparseSupportMRF, Batch-OMP, K-SVD, the Gibbs sampler and EM with missing data."""

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.datasets import load_digits
from sklearn.linear_model import orthogonal_mp_gram

from skspectral import CoefficientPrior, SparseSupportMRF, orthogonal_mp_batch
from skspectral.pipeline import make_pipeline
from skspectral.prior import _support
from skspectral.prior._gibbs import gibbs_supports
from skspectral.sparse import _ksvd
from skspectral.sparse._omp import _batch_omp_torch, batch_omp, codes_to_dense
from tests.sparse.em_missing import fit_gaussian_missing

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _random_problem(n=300, n_features=64, n_atoms=128, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    D = rng.standard_normal((n_atoms, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((n, n_features))
    return X.astype(dtype), D.astype(dtype)


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data / 16.0).astype(np.float64)


@pytest.fixture(scope="module")
def digits_model(digits):
    return SparseSupportMRF(n_atoms=48, n_nonzero_coefs=5, max_iter=4, random_state=0).fit(digits)


# --- Batch-OMP -------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 5, 12])
def test_omp_matches_sklearn_orthogonal_mp_gram(k):
    X, D = _random_problem()
    ours = orthogonal_mp_batch(X, D, k)
    ref = orthogonal_mp_gram(D @ D.T, D @ X.T, n_nonzero_coefs=k).T
    np.testing.assert_array_equal(ours != 0, ref != 0)
    np.testing.assert_allclose(ours, ref, atol=1e-10)


def test_omp_matches_sklearn_on_digits_dictionary(digits):
    rng = np.random.RandomState(0)
    D = digits[rng.choice(len(digits), 100, replace=False)]
    D = D / np.linalg.norm(D, axis=1, keepdims=True)
    X = digits[:400]
    ours = orthogonal_mp_batch(X, D, 8)
    ref = orthogonal_mp_gram(D @ D.T, D @ X.T, n_nonzero_coefs=8).T
    np.testing.assert_array_equal(ours != 0, ref != 0)
    np.testing.assert_allclose(ours, ref, atol=1e-8)


def test_omp_float32_keeps_dtype_and_supports():
    X, D = _random_problem()
    ref = orthogonal_mp_batch(X, D, 6)
    ours = orthogonal_mp_batch(X.astype(np.float32), D.astype(np.float32), 6)
    assert ours.dtype == np.float32
    # float32 correlations may flip a near-tie; almost every support must agree.
    same = np.all((ours != 0) == (ref != 0), axis=1)
    assert same.mean() > 0.95
    np.testing.assert_allclose(ours[same], ref[same], atol=1e-4)


def test_omp_torch_batched_matches_numba():
    X, D = _random_problem(n=200)
    atoms, values, counts = batch_omp(X, D, 7)
    dense = codes_to_dense(atoms, values, counts, D.shape[0])
    idx, gamma, cnt = _batch_omp_torch(torch.as_tensor(X @ D.T), torch.as_tensor(D @ D.T), 7)
    dense_t = codes_to_dense(idx.numpy(), gamma.numpy(), cnt.numpy(), D.shape[0])
    np.testing.assert_array_equal(dense != 0, dense_t != 0)
    np.testing.assert_allclose(dense, dense_t, atol=1e-10)


def test_omp_sparse_output_chunks_and_gram():
    X, D = _random_problem(n=150)
    dense = orthogonal_mp_batch(X, D, 4)
    csr, n_nz = orthogonal_mp_batch(X, D, 4, sparse_output=True, chunk_size=17, gram=D @ D.T,
                                    n_jobs=1, return_n_nonzero=True)
    assert sparse.issparse(csr)
    np.testing.assert_allclose(csr.toarray(), dense)
    assert np.all(n_nz == 4)


def test_omp_exact_recovery_and_zero_signal():
    rng = np.random.RandomState(1)
    D = np.linalg.qr(rng.standard_normal((32, 32)))[0]
    codes = np.zeros((3, 32))
    codes[0, [1, 5, 9]] = [3.0, -2.0, 1.0]
    codes[1, [2]] = [1.5]
    X = codes @ D
    out, n_nz = orthogonal_mp_batch(X, D, 3, return_n_nonzero=True)
    np.testing.assert_allclose(out, codes, atol=1e-10)
    assert n_nz.tolist() == [3, 1, 0]  # stops once the residual vanishes


def test_omp_bad_input():
    X, D = _random_problem(n=10, n_features=8, n_atoms=16)
    with pytest.raises(ValueError, match="n_nonzero_coefs"):
        orthogonal_mp_batch(X, D, 9)
    with pytest.raises(ValueError, match="n_nonzero_coefs"):
        orthogonal_mp_batch(X, D, 0)
    with pytest.raises(ValueError, match="features"):
        orthogonal_mp_batch(X[:, :5], D, 2)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        orthogonal_mp_batch(X_nan, D, 2)
    with pytest.raises(ValueError, match="gram"):
        orthogonal_mp_batch(X, D, 2, gram=np.eye(3))
    with pytest.raises(ValueError, match="device"):
        orthogonal_mp_batch(X, D, 2, device="tpu")


# --- K-SVD -----------------------------------------------------------------------------


@pytest.mark.parametrize("n_power_iter", [1, 3])
def test_ksvd_update_never_increases_error_on_fixed_supports(digits, n_power_iter):
    X = digits[:500]
    rng = np.random.RandomState(0)
    D = _ksvd.init_dictionary(X, 40, rng)
    atoms, values, counts = batch_omp(X, D, 5)
    values = values.astype(np.float64)
    resid = _ksvd.residual(X, D, atoms, values, counts)
    errors = [np.mean(resid**2)]
    for _ in range(6):
        _ksvd.update_atoms(D, atoms, values, counts, resid, rng, n_power_iter=n_power_iter)
        # the in-place residual is the true residual of the updated code
        np.testing.assert_allclose(resid, _ksvd.residual(X, D, atoms, values, counts), atol=1e-9)
        errors.append(np.mean(resid**2))
    assert np.all(np.diff(errors) <= 1e-12)
    assert errors[-1] < 0.9 * errors[0]
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0)


def test_ksvd_replaces_unused_atoms():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((50, 10))
    D = _ksvd.init_dictionary(X, 8, rng)
    D[3] = D[2]  # a duplicate atom is never selected by OMP
    atoms, values, counts = batch_omp(X, D, 2)
    assert not np.any(atoms[np.arange(2)[None] < counts[:, None]] == 3)
    resid = _ksvd.residual(X, D, atoms, values.astype(float), counts)
    replaced = _ksvd.update_atoms(D, atoms, values.astype(float), counts, resid, rng)
    assert replaced >= 1
    assert abs(D[3] @ D[2]) < 0.999


# --- support model, Gibbs and EM ------------------------------------------------------


def _exact_pair_marginals(log_unary, log_pair, n_atoms, k):
    n_signed = log_unary.size
    probs = np.zeros((n_signed, n_signed))
    total = 0.0
    for sup in itertools.combinations(range(n_signed), k):
        if len({a % n_atoms for a in sup}) < k:
            continue
        w = np.exp(log_unary[list(sup)].sum()
                   + sum(log_pair[i, j] for i, j in itertools.combinations(sup, 2)))
        total += w
        for i, j in itertools.permutations(sup, 2):
            probs[i, j] += w
        for i in sup:
            probs[i, i] += w
    return probs / total


def test_gibbs_sampler_matches_exact_pairwise_marginals():
    rng = np.random.RandomState(0)
    n_atoms, k = 4, 3
    log_unary = rng.normal(size=2 * n_atoms)
    log_pair = rng.normal(scale=1.0, size=(2 * n_atoms, 2 * n_atoms))
    log_pair = (log_pair + log_pair.T) / 2
    np.fill_diagonal(log_pair, 0.0)
    exact = _exact_pair_marginals(log_unary, log_pair, n_atoms, k)
    n_chains, n_draws = 400, 25
    out = np.empty((n_chains, n_draws, k), dtype=np.int64)
    uniforms = rng.random_sample((n_chains, 1 + 10 + n_draws * 2, k))
    init = np.full((n_chains, k), -1, dtype=np.int64)
    gibbs_supports(log_unary, np.ascontiguousarray(log_pair), n_atoms, k, 10, 2, uniforms, init,
                   out)
    sups = out.reshape(-1, k)
    assert np.all([len({a % n_atoms for a in s}) == k for s in sups])
    B = np.zeros((len(sups), 2 * n_atoms))
    np.put_along_axis(B, sups, 1.0, axis=1)
    empirical = B.T @ B / len(sups)
    np.testing.assert_allclose(empirical, exact, atol=0.02)


def test_fitted_model_reproduces_training_pair_statistics():
    # Orthonormal dictionary, supports from 4 disjoint groups of 3 atoms.
    rng = np.random.RandomState(0)
    n_atoms, k, n = 12, 3, 3000
    groups = rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1])
    codes = np.zeros((n, n_atoms))
    for i, g in enumerate(groups):
        codes[i, 3 * g:3 * g + 3] = rng.uniform(1.0, 2.0, size=3)
    D = np.linalg.qr(rng.standard_normal((n_atoms, n_atoms)))[0]
    model = SparseSupportMRF(n_nonzero_coefs=k, dictionary=D, smoothing=0.01,
                             random_state=0).fit(codes @ D)
    _, sups = model.sample(2000, random_state=0, return_supports=True)
    B = np.zeros((len(sups), 2 * n_atoms))
    np.put_along_axis(B, sups, 1.0, axis=1)
    train = np.zeros((n, 2 * n_atoms))
    train[:, :n_atoms] = codes > 0
    np.testing.assert_allclose(B.T @ B / len(sups), train.T @ train / n, atol=0.05)


def test_smoothing_keeps_unseen_pairs_possible():
    signed = np.array([[0, 1], [0, 1], [2, 3]])
    marginals, pairwise = _support.support_statistics(signed, 8, smoothing=0.1)
    ratio = pairwise / np.outer(marginals, marginals)
    assert ratio[0, 2] == pytest.approx(0.1)  # never seen together -> factor s
    assert ratio[0, 1] > 1.0
    np.testing.assert_allclose(np.diag(pairwise), marginals)
    np.testing.assert_allclose(marginals[0], (2 + 1) / (3 + 2))


def test_em_with_missing_data_recovers_gaussian():
    rng = np.random.RandomState(0)
    mean = np.array([1.0, -2.0, 0.5, 3.0])
    A = rng.normal(size=(4, 4))
    cov = A @ A.T + np.eye(4)
    X = rng.multivariate_normal(mean, cov, size=6000)
    observed = rng.random_sample(X.shape) > 0.4
    observed[~observed.any(axis=1), 0] = True
    mu_hat, cov_hat, n_iter = fit_gaussian_missing(X, observed, max_iter=500, tol=1e-8)
    assert 1 < n_iter < 500
    np.testing.assert_allclose(mu_hat, mean, atol=0.1)
    np.testing.assert_allclose(cov_hat, cov, atol=0.3 * np.abs(cov).max() / 2)
    # Complete data: EM's answer is the sample mean and covariance in one step.
    mu_full, cov_full, _ = fit_gaussian_missing(X, np.ones_like(observed), max_iter=5)
    np.testing.assert_allclose(mu_full, X.mean(axis=0), atol=1e-10)
    np.testing.assert_allclose(cov_full, np.cov(X.T, bias=True), atol=1e-8)


# --- the estimator ---------------------------------------------------------------------


def test_fit_transform_inverse_and_attributes(digits, digits_model):
    model = digits_model
    assert model.components_.shape == (48, 64)
    np.testing.assert_allclose(np.linalg.norm(model.components_, axis=1), 1.0)
    codes = model.transform(digits[:50])
    assert codes.shape == (50, 48)
    assert np.all(np.count_nonzero(codes, axis=1) == 5)
    recon = model.inverse_transform(codes)
    np.testing.assert_allclose(recon, model.inverse_transform(sparse.csr_matrix(codes)))
    assert model.reconstruction_error(digits) == pytest.approx(
        np.mean((digits - model.inverse_transform(model.transform(digits))) ** 2))
    assert model.n_iter_ == 4 and model.reconstruction_error_.shape == (4,)
    assert model.support_marginals_.shape == (96,)
    assert model.support_pairwise_.shape == (96, 96)
    np.testing.assert_allclose(model.support_pairwise_, model.support_pairwise_.T)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_sparse_output_matches_dense(digits, digits_model, dtype):
    from sklearn.base import clone

    X = digits[:40].astype(dtype)
    model = clone(digits_model).set_params(sparse_output=True).fit(digits)
    codes = model.transform(X)
    assert sparse.issparse(codes) and codes.format == "csr" and codes.dtype == dtype
    assert codes.shape == (40, 48) and np.all(np.diff(codes.indptr) == 5)
    np.testing.assert_allclose(codes.toarray(), digits_model.transform(X), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(model.inverse_transform(codes),
                               digits_model.inverse_transform(codes.toarray()), rtol=1e-5,
                               atol=1e-6)


def test_ksvd_fit_error_decreases(digits, digits_model):
    err = digits_model.reconstruction_error_
    assert err[-1] < err[0]
    # a learned dictionary beats random training images as atoms
    D0 = _ksvd.init_dictionary(digits, 48, np.random.RandomState(0))
    base = np.mean((digits - orthogonal_mp_batch(digits, D0, 5) @ D0) ** 2)
    assert digits_model.reconstruction_error(digits) < base


def test_sample_reproducible_positive_and_in_range(digits_model):
    X1, sup = digits_model.sample(64, random_state=3, return_supports=True)
    X2 = digits_model.sample(64, random_state=3)
    np.testing.assert_array_equal(X1, X2)
    assert not np.array_equal(X1, digits_model.sample(64, random_state=4))
    assert X1.shape == (64, 64) and sup.shape == (64, 5)
    assert X1.min() >= digits_model.data_min_ and X1.max() <= digits_model.data_max_
    n_atoms = digits_model.components_.shape[0]
    assert np.all([len(set(s % n_atoms)) == 5 for s in sup])  # never +d and -d together
    # the synthesised code uses exactly the drawn signed atoms with positive magnitudes
    unclipped = SparseSupportMRF(n_atoms=48, n_nonzero_coefs=5, max_iter=4, clip=False,
                                 random_state=0)
    unclipped.__dict__.update({k: v for k, v in digits_model.__dict__.items() if k.endswith("_")
                               or k == "_sampler"})
    Xu, sup_u = unclipped.sample(64, random_state=3, return_supports=True)
    codes = np.linalg.lstsq(digits_model.components_.T, Xu.T, rcond=None)[0].T
    for c, s in zip(codes, sup_u):
        atoms, signs = s % n_atoms, np.where(s >= n_atoms, -1, 1)
        assert np.all(c[atoms] * signs >= -1e-8)


def test_float32_in_float32_out(digits):
    X = digits[:300].astype(np.float32)
    model = SparseSupportMRF(n_atoms=20, n_nonzero_coefs=3, max_iter=2, random_state=0).fit(X)
    assert model.components_.dtype == np.float32
    assert model.transform(X).dtype == np.float32
    assert model.inverse_transform(model.transform(X)).dtype == np.float32
    assert model.sample(5, random_state=0).dtype == np.float32


def test_fixed_dictionary_is_kept(digits):
    D = _ksvd.init_dictionary(digits, 30, np.random.RandomState(1))
    model = SparseSupportMRF(n_nonzero_coefs=4, dictionary=D).fit(digits)
    np.testing.assert_array_equal(model.components_, D)
    assert model.n_iter_ == 0 and model.reconstruction_error_.shape == (1,)


def test_clipping_of_k_and_atoms_warns():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(6, 3))
    with pytest.warns(UserWarning) as record:
        model = SparseSupportMRF(n_atoms=50, n_nonzero_coefs=10, random_state=0).fit(X)
    messages = " ".join(str(w.message) for w in record)
    assert "n_atoms=50" in messages and "n_nonzero_coefs=10" in messages
    assert model.components_.shape == (6, 3) and model.n_nonzero_coefs_ == 3
    assert model.sample(4, random_state=0).shape == (4, 3)


def test_bad_input(digits):
    X = digits[:100].copy()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity|inf"):
        SparseSupportMRF(n_atoms=10, n_nonzero_coefs=2).fit(X)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SparseSupportMRF(n_atoms=10, n_nonzero_coefs=2).fit(X)
    with pytest.raises(ValueError, match="n_atoms"):
        SparseSupportMRF(n_atoms=0).fit(digits)
    with pytest.raises(ValueError, match="n_nonzero_coefs"):
        SparseSupportMRF(n_nonzero_coefs=0).fit(digits)
    with pytest.raises(ValueError, match="smoothing"):
        SparseSupportMRF(smoothing=0.0).fit(digits)
    with pytest.raises(ValueError, match="dictionary"):
        SparseSupportMRF(dictionary=np.eye(5)).fit(digits)
    with pytest.raises(ValueError, match="device"):
        SparseSupportMRF(device="tpu").fit(digits)
    model = SparseSupportMRF(n_atoms=10, n_nonzero_coefs=2, max_iter=1, random_state=0)
    model.fit(digits)
    with pytest.raises(ValueError, match="n_samples"):
        model.sample(0)
    with pytest.raises(ValueError, match="n_atoms|columns"):
        model.inverse_transform(np.zeros((2, 11)))
    with pytest.raises(ValueError, match="features"):
        model.transform(digits[:, :10])


def test_k_larger_than_n_features_is_clipped(digits):
    with pytest.warns(UserWarning, match="n_nonzero_coefs"):
        model = SparseSupportMRF(n_atoms=80, n_nonzero_coefs=70, max_iter=1,
                                 random_state=0).fit(digits[:200])
    assert model.n_nonzero_coefs_ == 64


def test_in_generative_pipelines(digits):
    # first step of a pipeline whose last step samples codes
    pipe = make_pipeline(
        SparseSupportMRF(n_atoms=32, n_nonzero_coefs=4, max_iter=2, random_state=0),
        CoefficientPrior("diagonal", random_state=0),
    ).fit(digits)
    assert pipe.sample(6, random_state=0).shape == (6, 64)
    # the demo pipeline: encoder + the model's own Gibbs + EM sampler over codes
    demo = make_pipeline(
        SparseSupportMRF(n_atoms=32, n_nonzero_coefs=4, max_iter=2, random_state=0),
        CoefficientPrior("sparse_support", random_state=0),
    ).fit(digits)
    samples = demo.sample(6, random_state=0)
    assert samples.shape == (6, 64)
    direct = demo[0].sample(6, random_state=0)
    np.testing.assert_allclose(samples.clip(demo[0].data_min_, demo[0].data_max_), direct,
                               atol=1e-10)


def test_demo_registry_has_sparse():
    from skspectral._demo import DEMO_MODELS

    model = DEMO_MODELS["sparse"]((8, 8), "cpu", 0)
    X = load_digits().data[:300] / 16
    model.fit(X)
    enc = model[:-1]
    assert enc.inverse_transform(enc.transform(X[:5])).shape == (5, 64)
    assert model.sample(3, random_state=0).shape == (3, 64)


# --- real data (slow) ------------------------------------------------------------------


def _mnist(n, subset="train"):
    from skspectral.datasets import fetch_mnist

    return fetch_mnist(data_home=SHARED_DATA, subset=subset, n_samples=n,
                       download_if_missing=False)


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "mnist").exists(), reason="needs ../shared/data/mnist")
def test_mnist_samples_are_confident_digits():
    from sklearn.linear_model import LogisticRegression

    train, test = _mnist(10_000), _mnist(2_000, "test")
    clf = LogisticRegression(max_iter=300).fit(train.data, train.target)
    model = SparseSupportMRF(256, n_nonzero_coefs=10, random_state=0).fit(train.data)
    samples = model.sample(1000, random_state=0)
    # Figure 1 baseline: random supports, coefficients with the same statistics.
    rng = np.random.RandomState(0)
    codes = model.transform(train.data)
    nz = codes[codes != 0]
    random_codes = np.zeros((1000, 256), dtype=codes.dtype)
    for row in random_codes:
        row[rng.choice(256, 10, replace=False)] = rng.choice(nz, 10)
    baseline = np.clip(model.inverse_transform(random_codes), 0, 1)

    def confident(X):
        return float(np.mean(clf.predict_proba(X).max(axis=1) >= 0.9))

    share_samples, share_random, share_real = (confident(samples), confident(baseline),
                                               confident(test.data[:1000]))
    assert share_samples > 2 * share_random
    assert share_samples > share_real - 0.35
    # MiniBatchDictionaryLearning (256 atoms, OMP k=10) reaches 0.01372 here
    assert model.reconstruction_error(test.data) < 0.0139


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_overflowing_fit_raises_instead_of_returning_nan():
    X = np.random.RandomState(0).uniform(size=(50, 8)) * 1e200
    with pytest.raises(FloatingPointError, match="diverged"):
        SparseSupportMRF(n_atoms=10, n_nonzero_coefs=2, max_iter=2).fit(X)


# ------------------------------------------------------ hostile input
def test_support_model_beyond_62_atoms_ignores_their_order():
    # Supports of k > 62 atoms once overflowed a 64-bit pattern mask, so the
    # coefficient model depended on the order of the atoms in a support.
    rng = np.random.RandomState(0)
    n, n_atoms, k = 60, 90, 70
    codes = np.zeros((n, n_atoms))
    for row in codes:
        row[rng.choice(n_atoms, k, replace=False)] = rng.uniform(0.5, 2.0, k)
    atoms, values, counts = _support.dense_to_compact(codes, k)
    _, _, model = _support.build_sampler(atoms, values, counts, n_atoms, smoothing=1.0)
    support = model["signed"][0][model["signed"][0] >= 0]
    supports = np.stack([support, support[::-1]])
    coef = np.empty((2, k))
    from skspectral.prior._gibbs import support_coefficients

    support_coefficients(supports, model["signed"], model["magnitudes"], model["inv_ptr"],
                         model["inv_img"], model["atom_mean"], model["atom_var"], 50, 1e-8,
                         1e-6, np.zeros((2, 1, k)), coef)
    np.testing.assert_allclose(coef[1], coef[0][::-1], rtol=1e-6, atol=1e-9)


def _coefficients_of_support(codes, support, overlap_power):
    k = int(np.count_nonzero(codes, axis=1).max())
    atoms, values, counts = _support.dense_to_compact(codes, k)
    _, _, model = _support.build_sampler(atoms, values, counts, codes.shape[1], smoothing=1.0)
    supports = np.array([support])
    coef = np.empty((1, len(support)))
    from skspectral.prior._gibbs import support_coefficients

    support_coefficients(supports, model["signed"], model["magnitudes"], model["inv_ptr"],
                         model["inv_img"], model["atom_mean"], model["atom_var"], 50, 1e-10,
                         1e-6, np.zeros((1, 1, len(support))), coef, overlap_power)
    return coef[0]


def test_overlap_power_fits_coefficients_on_the_closest_supports():
    # Atom 0 has magnitude ~1 beside atom 1 and ~5 beside atom 2: the
    # coefficients of the support {0, 1} should come from the images that
    # use both of its atoms once overlaps are weighted.
    rng = np.random.RandomState(0)
    codes = np.zeros((40, 4))
    codes[:20, 0], codes[:20, 1] = 1 + 0.1 * rng.randn(20), 1 + 0.1 * rng.randn(20)
    codes[20:, 0], codes[20:, 2] = 5 + 0.1 * rng.randn(20), 1 + 0.1 * rng.randn(20)
    pooled = _coefficients_of_support(codes, [0, 1], 0.0)
    weighted = _coefficients_of_support(codes, [0, 1], 2.0)
    sharp = _coefficients_of_support(codes, [0, 1], 1e308)
    assert pooled[0] > 2.0  # pulled up by the images using atoms 0 and 2
    assert 1.0 < weighted[0] < pooled[0]
    # Only the images sharing both atoms count: their mean magnitudes.
    np.testing.assert_allclose(sharp, codes[:20, :2].mean(axis=0), rtol=1e-6)
    # Weights 2^p / 1^p = 4 : 1 for the two groups in EM.
    assert weighted[0] < 0.8 * 1 + 0.2 * 5 + 0.2


def test_overlap_power_reaches_the_coefficient_model(digits):
    model = SparseSupportMRF(n_atoms=32, n_nonzero_coefs=4, max_iter=2, random_state=0)
    model.fit(digits[:300])
    assert model.prior_.overlap_power == 2.0
    weighted, supports = model.sample(20, random_state=1, return_supports=True)
    model.set_params(overlap_power=0.0).fit(digits[:300])
    pooled, pooled_supports = model.sample(20, random_state=1, return_supports=True)
    # Same dictionary and supports (the power only enters the EM), other coefficients.
    np.testing.assert_array_equal(supports, pooled_supports)
    assert not np.allclose(weighted, pooled)
    # A sampler saved before the weighting existed pools the images alike.
    density = model.prior_._densities[0]
    del density.overlap_power
    np.testing.assert_allclose(model.sample(20, random_state=1), pooled)


def test_regression_draws_magnitudes_from_the_whole_support():
    # Atom 0 has magnitude ~1 beside atom 1 and ~5 beside atom 2.
    rng = np.random.RandomState(0)
    codes = np.zeros((60, 4))
    codes[:30, 0], codes[:30, 1] = 1 + 0.1 * rng.randn(30), 2 + 0.1 * rng.randn(30)
    codes[30:, 0], codes[30:, 2] = 5 + 0.1 * rng.randn(30), 1 + 0.1 * rng.randn(30)
    _, _, sampler = _support.build_sampler(*_support.dense_to_compact(codes, 2), 4,
                                           smoothing=1.0, coefficient_model="regression")
    regression = sampler["regression"]
    assert np.all(np.diag(regression["weights"]) == 0)
    supports = np.repeat([[0, 1], [0, 2], [1, -1]], 500, axis=0)
    coef = _support.draw_regression_coefficients(supports, regression, np.random.RandomState(1))
    beside_1, beside_2, alone = coef[:500], coef[500:1000], coef[1000:]
    np.testing.assert_allclose(beside_1.mean(axis=0), [1, 2], atol=0.1)
    np.testing.assert_allclose(beside_2.mean(axis=0), [5, 1], atol=0.1)
    # The residual spread is the groups' own (0.1), not the pooled one (2).
    assert beside_2[:, 0].std() < 0.2
    # An empty slot draws nothing; magnitudes are never negative.
    np.testing.assert_array_equal(alone[:, 1], 0.0)
    assert coef.min() >= 0.0


def test_regression_draws_are_bounded_in_blocks(monkeypatch):
    codes = np.abs(np.random.RandomState(0).randn(50, 6)) * (np.arange(6) < 3)
    _, _, sampler = _support.build_sampler(*_support.dense_to_compact(codes, 3), 6,
                                           smoothing=1.0, coefficient_model="regression")
    supports = np.tile([0, 1, 2], (25, 1))
    whole = _support.draw_regression_coefficients(supports, sampler["regression"],
                                                  np.random.RandomState(0))
    monkeypatch.setattr(_support, "REGRESSION_BLOCK", 7)
    blocked = _support.draw_regression_coefficients(supports, sampler["regression"],
                                                    np.random.RandomState(0))
    np.testing.assert_allclose(blocked, whole)


@pytest.mark.parametrize("y", [None, "classes"])
def test_coefficient_model_reaches_the_sampler(digits, y):
    labels = None if y is None else np.arange(300) % 3
    model = SparseSupportMRF(n_atoms=32, n_nonzero_coefs=4, max_iter=2, random_state=0)
    em, em_supports = model.fit(digits[:300], labels).sample(
        30, y=None if y is None else 1, random_state=1, return_supports=True)
    model.set_params(coefficient_model="regression").fit(digits[:300], labels)
    assert model.prior_.coefficient_model == "regression"
    assert all("regression" in d.sampler for d in model.prior_._densities)
    drawn, supports = model.sample(30, y=None if y is None else 1, random_state=1,
                                   return_supports=True)
    # The same supports (the model only draws the magnitudes), other images.
    np.testing.assert_array_equal(supports, em_supports)
    assert not np.allclose(drawn, em)
    # Every drawn code uses its support's signed atoms with their signs.
    codes = model.prior_.sample(30, y=None if y is None else 1, random_state=1)
    atoms = supports % 32
    signs = np.where(supports >= 32, -1.0, 1.0)
    picked = np.take_along_axis(codes, atoms, axis=1)
    assert np.all(picked * signs >= 0)
    # A sampler saved before the option existed draws by EM.
    for density in model.prior_._densities:
        del density.coefficient_model
    np.testing.assert_allclose(
        model.sample(30, y=None if y is None else 1, random_state=1), em)


def test_regression_prior_streamed_equals_fitted(digits):
    codes = SparseSupportMRF(n_atoms=32, n_nonzero_coefs=4, max_iter=2,
                             random_state=0).fit(digits[:400]).transform(digits[:400])
    streamed = CoefficientPrior("sparse_support", coefficient_model="regression")
    for chunk in np.array_split(codes, 4):
        streamed.partial_fit(chunk)
    fitted = CoefficientPrior("sparse_support", coefficient_model="regression").fit(codes)
    np.testing.assert_allclose(streamed.sample(50, random_state=0),
                               fitted.sample(50, random_state=0))


def test_em_beyond_62_coordinates_is_permutation_equivariant():
    rng = np.random.RandomState(1)
    X = rng.standard_normal((300, 70)) @ rng.standard_normal((70, 70)) * 0.1
    observed = rng.rand(300, 70) > 0.2
    perm = rng.permutation(70)
    mean, cov, _ = fit_gaussian_missing(X, observed, max_iter=20)
    mean_p, cov_p, _ = fit_gaussian_missing(X[:, perm], observed[:, perm], max_iter=20)
    np.testing.assert_allclose(mean_p, mean[perm], atol=1e-8)
    np.testing.assert_allclose(cov_p, cov[np.ix_(perm, perm)], atol=1e-8)


def test_inconsistent_gram_is_refused():
    rng = np.random.RandomState(0)
    D = rng.standard_normal((10, 16))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((5, 16))
    with pytest.raises(ValueError, match="'gram' is not dictionary @ dictionary.T"):
        orthogonal_mp_batch(X, D, 3, gram=rng.standard_normal((10, 10)))
    good = orthogonal_mp_batch(X, D, 3, gram=D @ D.T)
    np.testing.assert_allclose(good, orthogonal_mp_batch(X, D, 3))


def test_dictionary_of_zeros_is_refused():
    X = np.random.RandomState(0).rand(30, 16)
    D = np.ones((10, 16))
    D[3] = 0.0
    with pytest.raises(ValueError, match="'dictionary' parameter has 1 atom"):
        orthogonal_mp_batch(X, D, 3)
    with pytest.raises(ValueError, match="'dictionary' parameter has 10 atom"):
        SparseSupportMRF(dictionary=np.zeros((10, 16)), max_iter=1).fit(X)


def _planted_class_codes():
    """Class "a" uses atoms {0, 1} or {2, 3} alike; class "b" only {2, 3}."""
    rng = np.random.RandomState(0)
    codes = np.zeros((200, 6))
    codes[:50, [0, 1]] = 1 + 0.1 * rng.rand(50, 2)
    codes[50:, [2, 3]] = 1 + 0.1 * rng.rand(150, 2)
    return codes, np.array(["a"] * 100 + ["b"] * 100)


def _share_of_first_pair(prior):
    _, supports = prior.sample(2000, y="a", random_state=0, return_supports=True)
    return np.mean(np.all(np.sort(supports, axis=1) == [0, 1], axis=1))


def test_class_guidance_keeps_the_supports_typical_of_their_class():
    codes, y = _planted_class_codes()
    prior = CoefficientPrior("sparse_support", smoothing=1e-3, random_state=0)
    unguided = _share_of_first_pair(prior.set_params(class_guidance=0.0).fit(codes, y))
    assert prior.support_classifier_ is None
    guided = _share_of_first_pair(prior.set_params(class_guidance=4.0).fit(codes, y))
    # {2, 3} is as likely as {0, 1} under class a's own network, but class b
    # explains it better, so guidance rejects it.
    assert 0.35 < unguided < 0.65
    assert guided > 0.9
    classifier = prior.support_classifier_
    # Its classes are positions in classes_, whatever the labels' type.
    assert list(classifier.classes_) == [0, 1]
    assert list(prior.classes_) == ["a", "b"]
    # Features are signed atoms: atom j positive is column j.
    assert classifier.coef_.shape == (1, 12)


def test_class_guidance_is_bounded_and_leaves_unconditional_draws_alone():
    codes, y = _planted_class_codes()
    # No support has p(a | support) == 1: every round rejects every draw,
    # and the draw still ends, with supports of the network.
    prior = CoefficientPrior("sparse_support", class_guidance=1e308, random_state=0)
    drawn, supports = prior.fit(codes, y).sample(50, y="a", random_state=0,
                                                 return_supports=True)
    assert np.isfinite(drawn).all() and supports.min() >= 0
    unconditional = [CoefficientPrior("sparse_support", class_guidance=g).fit(codes)
                     for g in (0.0, 4.0)]
    assert all(p.support_classifier_ is None for p in unconditional)
    np.testing.assert_array_equal(*(p.sample(30, random_state=0) for p in unconditional))


def test_class_guidance_reaches_the_model_and_streams(digits):
    labels = np.arange(400) % 3
    model = SparseSupportMRF(n_atoms=32, n_nonzero_coefs=4, max_iter=2, class_guidance=2.0,
                             random_state=0).fit(digits[:400], labels)
    assert model.prior_.class_guidance == 2.0
    assert list(model.prior_.support_classifier_.classes_) == [0, 1, 2]
    codes = model.transform(digits[:400])
    streamed = CoefficientPrior("sparse_support", class_guidance=2.0)
    for rows in np.array_split(np.arange(400), 4):
        streamed.partial_fit(codes[rows], labels[rows], classes=[0, 1, 2])
    fitted = CoefficientPrior("sparse_support", class_guidance=2.0).fit(codes, labels)
    np.testing.assert_allclose(streamed.support_classifier_.coef_,
                               fitted.support_classifier_.coef_)
    np.testing.assert_allclose(streamed.sample(60, y=1, random_state=0),
                               fitted.sample(60, y=1, random_state=0))
    # A stream that has seen one class has nothing to tell it from: unguided.
    first = CoefficientPrior("sparse_support").partial_fit(
        codes[labels == 0], labels[labels == 0], classes=[0, 1, 2])
    assert first.support_classifier_ is None
    assert first.sample(5, y=0, random_state=0).shape == (5, 32)
