"""Tests of SpectrumRefiner (profile and STIG) and the spectral faults."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from skspectral import CoefficientPrior, SpectrumRefiner
from skspectral.metrics import log_frequency_distance, psnr
from skspectral.pipeline import make_pipeline
from tests.refiner._faults import low_pass, upsampling_grid

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SHAPE = (8, 8, 3)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # The tiny STIG networks gain nothing from intra-op threads, and on a shared
    # 2-core machine the thread hand-offs cost far more than the arithmetic.
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


def _smooth_images(n, shape=SHAPE, seed=0):
    """Random images with a natural-looking 1/f spectrum, in [0, 1]."""
    rng = np.random.RandomState(seed)
    H, W, C = shape
    f = np.sqrt(np.fft.fftfreq(H)[:, None] ** 2 + np.fft.fftfreq(W)[None, :] ** 2)
    amplitude = 1.0 / np.maximum(f, 1.0 / H)
    noise = np.fft.fft2(rng.randn(n, H, W, C), axes=(1, 2)) * amplitude[None, :, :, None]
    x = np.fft.ifft2(noise, axes=(1, 2)).real
    x = (x - x.min()) / (x.max() - x.min())
    return x.reshape(n, -1)


def _log_magnitude(X, shape=SHAPE):
    H, W, C = shape
    F = np.fft.fft2(X.reshape(-1, H, W, C), axes=(1, 2))
    return F, np.log(np.abs(F) + 1e-8)


# -- profile ----------------------------------------------------------------------------


def test_profile_matches_target_spectrum_exactly_at_full_strength():
    real = _smooth_images(50, seed=0)
    generated = 0.3 * _smooth_images(40, seed=1) + 0.2
    refiner = SpectrumRefiner(image_shape=SHAPE, clip=False).fit(real)
    refined = refiner.inverse_transform(generated)
    _, log_mag = _log_magnitude(refined)
    target = refiner.real_log_spectrum_.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    np.testing.assert_allclose(log_mag.mean(axis=0), target, atol=1e-6)
    _, log_real = _log_magnitude(real)
    np.testing.assert_allclose(target, log_real.mean(axis=0), atol=1e-10)


def test_profile_preserves_phase_and_strength_zero_is_identity():
    real = _smooth_images(30, seed=0)
    generated = low_pass(_smooth_images(20, seed=2).reshape(-1, *SHAPE), 0.8).reshape(20, -1)
    refiner = SpectrumRefiner(image_shape=SHAPE, clip=False).fit(real)
    refined = refiner.inverse_transform(generated)
    F_in, _ = _log_magnitude(generated)
    F_out, _ = _log_magnitude(refined)
    mask = np.abs(F_in) > 1e-6
    phase_gap = np.angle(F_out[mask] * np.conj(F_in[mask]))
    np.testing.assert_allclose(phase_gap, 0, atol=1e-6)
    assert not np.allclose(refined, generated)
    identity = refiner.set_params(strength=0.0).inverse_transform(generated)
    np.testing.assert_allclose(identity, generated, atol=1e-12)


def test_strength_interpolates_log_magnitude():
    real = _smooth_images(30, seed=0)
    generated = 0.5 * _smooth_images(20, seed=3)
    refiner = SpectrumRefiner(image_shape=SHAPE, clip=False).fit(real)
    _, log_in = _log_magnitude(generated)
    _, log_full = _log_magnitude(refiner.inverse_transform(generated))
    _, log_half = _log_magnitude(refiner.set_params(strength=0.5).inverse_transform(generated))
    np.testing.assert_allclose(log_half, 0.5 * (log_in + log_full), atol=1e-5)


def test_transform_is_identity_and_clip_keeps_data_range():
    real = _smooth_images(30)
    refiner = SpectrumRefiner(image_shape=SHAPE).fit(real)
    np.testing.assert_array_equal(refiner.transform(real), real)
    out = refiner.inverse_transform(3.0 * _smooth_images(10, seed=5) - 1.0)
    assert out.min() >= refiner.data_min_ and out.max() <= refiner.data_max_
    assert refiner.refine(real[:5]).shape == (5, real.shape[1])


def test_tabular_rows_use_a_1d_fft():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 12)
    Y = rng.rand(30, 12) ** 3
    refiner = SpectrumRefiner(clip=False).fit(X)
    assert refiner.image_shape_ == (1, 12, 1)
    log_x = np.log(np.abs(np.fft.fft(X, axis=1)) + 1e-8).mean(axis=0)
    np.testing.assert_allclose(refiner.real_log_spectrum_.ravel(), log_x, atol=1e-12)
    refined = refiner.inverse_transform(Y)
    log_refined = np.log(np.abs(np.fft.fft(refined, axis=1)) + 1e-8).mean(axis=0)
    np.testing.assert_allclose(log_refined, log_x, atol=1e-6)


def test_float32_in_float32_out():
    real = _smooth_images(20).astype(np.float32)
    refiner = SpectrumRefiner(image_shape=SHAPE).fit(real)
    assert refiner.inverse_transform(real).dtype == np.float32
    assert refiner.transform(real).dtype == np.float32
    out64 = refiner.inverse_transform(real.astype(np.float64))
    np.testing.assert_allclose(refiner.inverse_transform(real), out64, atol=1e-4)


def test_profile_halves_lfd_and_raises_psnr_on_blurred_images():
    clean = _smooth_images(200, shape=(16, 16, 3), seed=7)
    real = _smooth_images(200, shape=(16, 16, 3), seed=8)
    blurred = low_pass(clean.reshape(-1, 16, 16, 3), 1.0).reshape(200, -1)
    refined = SpectrumRefiner(image_shape=(16, 16, 3)).fit(real).inverse_transform(blurred)
    before = log_frequency_distance(blurred, clean, (16, 16, 3))
    after = log_frequency_distance(refined, clean, (16, 16, 3))
    assert after < before / 2
    assert psnr(refined, clean) > psnr(blurred, clean)


def test_in_generative_pipeline_samples_are_refined():
    X = _smooth_images(120, seed=0)
    pipe = make_pipeline(SpectrumRefiner(image_shape=SHAPE), PCA(5, random_state=0),
                         CoefficientPrior()).fit(X)
    refiner = pipe[0]
    np.testing.assert_array_equal(refiner.transform(X), X)  # the forward pass sees real data
    raw = pipe[1].inverse_transform(pipe[-1].sample(200, random_state=0))
    samples = pipe.sample(200, random_state=0)
    np.testing.assert_allclose(samples, refiner.inverse_transform(raw))
    assert log_frequency_distance(samples, X, SHAPE) < log_frequency_distance(raw, X, SHAPE)


# -- bad input --------------------------------------------------------------------------


def test_bad_input_gives_clear_errors():
    X = _smooth_images(10)
    with pytest.raises(ValueError, match="image_shape"):
        SpectrumRefiner(image_shape=(5, 5)).fit(X)
    refiner = SpectrumRefiner(image_shape=SHAPE).fit(X)
    with pytest.raises(ValueError, match="features"):
        refiner.inverse_transform(X[:, :10])
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SpectrumRefiner(image_shape=SHAPE).fit(X_nan)
    with pytest.raises(ValueError, match="NaN"):
        refiner.inverse_transform(X_nan)
    with pytest.raises(ValueError, match="strength"):
        SpectrumRefiner(strength=2.0).fit(X)
    with pytest.raises(ValueError, match="method"):
        SpectrumRefiner(method="gan").fit(X)
    with pytest.raises(ValueError, match="device"):
        SpectrumRefiner(device="tpu").fit(X)


def _assert_same_stig_fit(a, b, generated):
    np.testing.assert_array_equal(a.real_log_spectrum_, b.real_log_spectrum_)
    assert (a.data_min_, a.data_max_) == (b.data_min_, b.data_max_)
    np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)
    state_a, state_b = a.translator_.state_dict(), b.translator_.state_dict()
    assert state_a.keys() == state_b.keys()
    for name in state_a:
        torch.testing.assert_close(state_a[name], state_b[name], rtol=0, atol=0)
    np.testing.assert_array_equal(a.inverse_transform(generated), b.inverse_transform(generated))


def test_stig_target_errors():
    # Real where y == 1 (or True), generated for every other label.
    X = _smooth_images(10)
    params = dict(image_shape=SHAPE, max_iter=1, random_state=0, device="cpu")
    stig = SpectrumRefiner("stig", **params)
    rule = r"reads y == 1 \(or True\) as a real image and every other label as a generated"
    with pytest.raises(ValueError, match=rule + ".*1 class only, real images"):
        stig.fit(X, np.ones(10))
    with pytest.raises(ValueError, match=rule + ".*1 class only, real images"):
        stig.fit(X, np.ones(10, dtype=bool))
    with pytest.raises(ValueError, match=rule + ".*1 class only, generated images"):
        stig.fit(X, np.zeros(10))
    with pytest.raises(ValueError, match=rule + ".*1 class only, generated images"):
        stig.fit(X, np.full(10, 2))  # 2 is generated too: no real image
    with pytest.raises(ValueError, match=rule + ".*1 class only, generated images"):
        stig.fit(X, np.arange(10) % 3 * 2)  # {0, 2, 4}: all generated
    with pytest.raises(ValueError, match="y=None"):
        stig.fit(X)
    with pytest.raises(ValueError, match="one entry per image"):
        stig.fit(X, np.ones(4))
    # Labels 0 and 2 are both generated: {0, 1, 2} fits exactly like {0, 1, 0}.
    y = np.arange(10) % 3
    mixed = SpectrumRefiner("stig", **params).fit(X, y)
    binary = SpectrumRefiner("stig", **params).fit(X, np.where(y == 2, 0, y))
    _assert_same_stig_fit(mixed, binary, X[y != 1])
    # A boolean y is read the same way.
    boolean = SpectrumRefiner("stig", **params).fit(X, y == 1)
    _assert_same_stig_fit(boolean, binary, X[y != 1])


# -- STIG -------------------------------------------------------------------------------


def _stig_data(n=96):
    real = _smooth_images(n, seed=0)
    generated = low_pass(_smooth_images(n, seed=1).reshape(-1, *SHAPE), 0.8).reshape(n, -1)
    X = np.vstack([real, generated])
    y = np.r_[np.ones(n), np.zeros(n)]
    return X, y, generated


def test_stig_trains_reproducibly_and_preserves_phase():
    X, y, generated = _stig_data()
    params = dict(image_shape=SHAPE, max_iter=3, batch_size=32, random_state=0, clip=False,
                  device="cpu")
    a = SpectrumRefiner("stig", **params).fit(X, y)
    b = SpectrumRefiner("stig", **params).fit(X, y)
    assert len(a.loss_curve_) == 3 and np.all(np.isfinite(a.loss_curve_))
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_)
    out = a.inverse_transform(generated)
    np.testing.assert_allclose(out, b.inverse_transform(generated))
    F_in, _ = _log_magnitude(generated)
    F_out, _ = _log_magnitude(out)
    mask = (np.abs(F_in) > 1e-6) & (np.abs(F_out) > 1e-6)
    np.testing.assert_allclose(np.angle(F_out[mask] * np.conj(F_in[mask])), 0, atol=1e-5)
    assert not np.allclose(out, generated, atol=1e-4)
    identity = a.set_params(strength=0.0).inverse_transform(generated)
    np.testing.assert_allclose(identity, generated, atol=1e-9)
    np.testing.assert_array_equal(a.transform(generated), generated)


def test_stig_generated_label_does_not_matter():
    # Only y == 1 marks a real image: y in {0, 1} and in {2, 1} fit identically.
    X, y, generated = _stig_data(32)
    params = dict(image_shape=SHAPE, max_iter=2, batch_size=16, random_state=0, device="cpu")
    a = SpectrumRefiner("stig", **params).fit(X, y)
    b = SpectrumRefiner("stig", **params).fit(X, np.where(y == 1, 1, 2))
    _assert_same_stig_fit(a, b, generated)


def test_stig_moves_spectrum_toward_real_images():
    X, y, generated = _stig_data(128)
    real = X[y == 1]
    stig = SpectrumRefiner("stig", image_shape=SHAPE, max_iter=15, random_state=0,
                           device="cpu").fit(X, y)
    refined = stig.inverse_transform(generated)
    before = log_frequency_distance(generated, real, SHAPE)
    assert log_frequency_distance(refined, real, SHAPE) < before


def test_stig_divergence_raises():
    X, y, _ = _stig_data(32)
    with pytest.raises(FloatingPointError, match="diverged"):
        SpectrumRefiner("stig", image_shape=SHAPE, max_iter=3, learning_rate=1e30,
                        random_state=0, device="cpu").fit(X, y)


# -- the faults -------------------------------------------------------------------------


# -- feature names and set_output ----------------------------------------------------------


def test_output_features_are_the_input_features():
    X = _smooth_images(20)
    refiner = SpectrumRefiner(image_shape=SHAPE, device="cpu").fit(X)
    np.testing.assert_array_equal(refiner.get_feature_names_out(),
                                  [f"x{i}" for i in range(X.shape[1])])
    # set_output exists (it needs get_feature_names_out) and "default" keeps arrays.
    assert isinstance(refiner.set_output(transform="default").transform(X), np.ndarray)


def test_set_output_pandas_on_the_refiner_and_its_pipelines():
    pd = pytest.importorskip("pandas")
    from sklearn.pipeline import make_pipeline as sklearn_pipeline

    X = _smooth_images(40)
    columns = [f"p{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X, columns=columns)
    refiner = SpectrumRefiner(image_shape=SHAPE, device="cpu").set_output(transform="pandas")
    out = refiner.fit(df).transform(df)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == columns
    np.testing.assert_array_equal(out.to_numpy(), X)

    pipe = sklearn_pipeline(SpectrumRefiner(image_shape=SHAPE, device="cpu"), PCA(3))
    out = pipe.set_output(transform="pandas").fit_transform(df)
    assert list(out.columns) == ["pca0", "pca1", "pca2"]

    generative = make_pipeline(SpectrumRefiner(image_shape=SHAPE, device="cpu"), PCA(5),
                               CoefficientPrior(random_state=0))
    generative.set_output(transform="pandas").fit(df)
    assert list(generative[:-1].transform(df).columns) == [f"pca{i}" for i in range(5)]
    with warnings.catch_warnings():
        # Samples carry no feature names: refining them does not warn about it.
        warnings.simplefilter("error")
        samples = generative.sample(4, random_state=0)
    assert samples.shape == (4, X.shape[1])


def test_inverse_transform_checks_the_width():
    refiner = SpectrumRefiner(image_shape=SHAPE, device="cpu").fit(_smooth_images(10))
    with pytest.raises(ValueError, match="X has 3 features, but SpectrumRefiner is expecting "
                                         "192 features as input"):
        refiner.inverse_transform(np.zeros((2, 3)))


def test_faults_keep_shape_and_mean():
    images = _smooth_images(4, shape=(8, 8, 3)).reshape(4, 8, 8, 3)
    for fault in (upsampling_grid, low_pass):
        assert fault(images).shape == images.shape
    # the low-pass keeps the mean exactly; the grid keeps it away from the border
    np.testing.assert_allclose(low_pass(images).mean(), images.mean())
    np.testing.assert_allclose(upsampling_grid(images)[:, 2:-2, 2:-2].mean(),
                               images[:, 2:-2, 2:-2].mean(), rtol=0.05)
    grid = upsampling_grid(np.ones((1, 8, 8, 1)))[0, 2:6, 2:6, 0]
    assert grid[0, 0] != grid[0, 1]  # the checkerboard


# -- the paper's bars on CIFAR-10 (slow) ----------------------------------------------------


def _cifar(name, n):
    from skspectral.datasets import load_images

    return load_images(SHARED / "cifar10" / name, n_samples=n).data


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "cifar10").is_dir(), reason="needs ../shared/data/cifar10")
@pytest.mark.parametrize("fault", [upsampling_grid, low_pass])
def test_profile_bars_on_cifar10_faults(fault):
    shape = (32, 32, 3)
    real = _cifar("train_images_20k.npy", 2000)
    clean = _cifar("test_images.npy", 500)
    faulty = fault(clean.reshape(-1, *shape)).reshape(len(clean), -1)
    refined = SpectrumRefiner(image_shape=shape).fit(real).inverse_transform(faulty)
    assert log_frequency_distance(refined, clean, shape) < 0.5 * log_frequency_distance(
        faulty, clean, shape
    )
    assert psnr(refined, clean) > psnr(faulty, clean)


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "cifar10").is_dir(), reason="needs ../shared/data/cifar10")
def test_stig_bars_on_cifar10_low_pass():
    shape = (32, 32, 3)
    train = _cifar("train_images_20k.npy", 1000)
    clean = _cifar("test_images.npy", 300)
    generated = low_pass(train[500:].reshape(-1, *shape)).reshape(500, -1)
    X = np.vstack([train[:500], generated])
    y = np.r_[np.ones(500), np.zeros(500)]
    stig = SpectrumRefiner("stig", image_shape=shape, max_iter=5, random_state=0).fit(X, y)
    faulty = low_pass(clean.reshape(-1, *shape)).reshape(len(clean), -1)
    refined = stig.inverse_transform(faulty)
    assert log_frequency_distance(refined, clean, shape) < 0.5 * log_frequency_distance(
        faulty, clean, shape
    )
    assert psnr(refined, clean) > psnr(faulty, clean)
