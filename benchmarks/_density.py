"""Held-out density of every model beside probabilistic PCA: bits per dimension, grid searches.

Protocol: models are fitted on the first 10,000 training images,
dequantised (``skspectral.metrics.dequantize``, seed 0), and scored on the
test images (dequantised with seed 1) by ``skspectral.metrics.bits_per_dim``.
CIFAR-10 is the JPEG-decoded copy in ../shared/data, not the official
archive. Grid searches fit on the same 10,000 images and score the next
2,000 training images (held out from the fit; the test images stay unseen).

Run ``python -m benchmarks._density bpd mnist`` (or ``cifar``) for the
table, ``python -m benchmarks._density grid mnist`` for the curves; each
prints one JSON line per result and ``bench_density`` reports them to asv.
"""

import json
import math
import sys
import time

import numpy as np

from ._data import SHARED_DATA

N_FIT = 10_000
N_VALIDATION = 2_000
MNIST_SHAPE = (28, 28)
CIFAR_SHAPE = (32, 32, 3)


def levels(dataset, subset, n_samples):
    """8-bit images (uint8 levels, flattened) of MNIST or the CIFAR-10 copy."""
    if dataset == "mnist":
        from skspectral.datasets import fetch_mnist

        bunch = fetch_mnist(data_home=SHARED_DATA, subset=subset, n_samples=n_samples,
                            download_if_missing=False)
        return bunch.images.reshape(len(bunch.images), -1)
    name = "train_images_20k.npy" if subset == "train" else "test_images.npy"
    images = np.load(SHARED_DATA / "cifar10" / name, mmap_mode="r")[:n_samples]
    return np.ascontiguousarray(images).reshape(len(images), -1)


def data(dataset, n_test=None):
    """(X_fit, X_validation, test levels): dequantised fit and validation images."""
    from skspectral.metrics import dequantize

    train = levels(dataset, "train", N_FIT + N_VALIDATION)
    X = dequantize(train, random_state=0).astype(np.float32)
    return X[:N_FIT], X[N_FIT:], levels(dataset, "test", n_test)


def systems(dataset):
    """name -> (factory, number of components the density is compared at)."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    from skspectral import ConvSparseCoder, SparseSupportMRF, SpectralDictionary
    from skspectral.pipeline import make_pipeline

    size, shape = (64, MNIST_SHAPE) if dataset == "mnist" else (256, CIFAR_SHAPE)
    conv_dim = round(int(np.prod(shape)) / 12)
    return {
        f"probabilistic PCA({size})": (lambda: PCA(size, random_state=0), size),
        f"probabilistic PCA({conv_dim})": (lambda: PCA(conv_dim, random_state=0), conv_dim),
        f"PCA({size}) + GaussianMixture(20)": (
            lambda: make_pipeline(PCA(size, random_state=0),
                                  GaussianMixture(20, random_state=0)), size),
        f"SpectralDictionary(n_atoms={size})": (
            lambda: SpectralDictionary(n_atoms=size, image_shape=shape, random_state=0), size),
        "SparseSupportMRF()": (lambda: SparseSupportMRF(random_state=0), None),
        "ConvSparseCoder()": (
            lambda: ConvSparseCoder(image_shape=shape, random_state=0), conv_dim),
    }


def bpd_table(dataset, names=None, n_test=None):
    """Fit each system and report its test bits per dimension, fit and score times.

    Returns ``{system: result}`` and prints one JSON line per system.
    """
    from skspectral.metrics import bits_per_dim

    X_fit, _, test = data(dataset, n_test)
    results = {}
    for name, (factory, size) in systems(dataset).items():
        if names and name not in names:
            continue
        start = time.perf_counter()
        model = factory().fit(X_fit)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        bpd = bits_per_dim(model, test, random_state=1)
        score_s = time.perf_counter() - start
        results[name] = {"dataset": dataset, "system": name, "components": size,
                         "bpd": round(bpd, 4), "fit_s": round(fit_s, 1),
                         "score_s": round(score_s, 1), "n_test": len(test)}
        print(json.dumps(results[name]), flush=True)
    return results


def grids(dataset):
    """name -> (estimator, parameter, values) of the model-size searches."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    from skspectral import ConvSparseCoder, SparseSupportMRF, SpectralDictionary
    from skspectral.pipeline import make_pipeline

    shape = MNIST_SHAPE if dataset == "mnist" else CIFAR_SHAPE
    return {
        "PCA + GaussianMixture(20)": (
            make_pipeline(PCA(random_state=0), GaussianMixture(20, random_state=0)),
            "pca__n_components", [16, 32, 64, 128, 256, 512] if dataset == "mnist"
            else [64, 128, 256, 512]),
        "SpectralDictionary": (SpectralDictionary(image_shape=shape, random_state=0),
                               "n_atoms", [16, 64, 256, 512]),
        "SparseSupportMRF": (SparseSupportMRF(random_state=0), "n_atoms", [64, 256, 1024]),
        "SparseSupportMRF k": (SparseSupportMRF(random_state=0), "n_nonzero_coefs",
                               [2, 5, 10, 20]),
        # The density of the default coder lives in the images' principal
        # subspace: the filters do not enter it (every n_filters scores the
        # same), its dimension does.
        "ConvSparseCoder": (ConvSparseCoder(image_shape=shape, random_state=0), "n_filters",
                            [(8, 16), (16, 32), (32, 64)]),
        "ConvSparseCoder prior_dim": (ConvSparseCoder(image_shape=shape, random_state=0),
                                      "prior_dim", [16, 65, 256]),
    }


def grid_curves(dataset, names=None):
    """GridSearchCV with default scoring over one held-out split: the curve and the pick."""
    from sklearn.model_selection import GridSearchCV, PredefinedSplit

    X_fit, X_val, _ = data(dataset)
    X = np.vstack([X_fit, X_val])
    split = PredefinedSplit(np.r_[np.full(len(X_fit), -1), np.zeros(len(X_val), int)])
    n_dims = X.shape[1]
    results = {}
    for name, (estimator, param, values) in grids(dataset).items():
        if names and name not in names:
            continue
        start = time.perf_counter()
        search = GridSearchCV(estimator, {param: values}, cv=split, refit=False,
                              error_score="raise").fit(X)
        scores = search.cv_results_["mean_test_score"]
        # Held-out log-likelihood per image -> bits per dimension of the 8-bit levels.
        bpd = [(-s + n_dims * math.log(256)) / (n_dims * math.log(2)) for s in scores]
        results[name] = {"dataset": dataset, "search": name, "parameter": param,
                         "values": [str(v) for v in values],
                         "bpd": [round(b, 4) for b in bpd],
                         "pick": str(search.best_params_[param]),
                         "seconds": round(time.perf_counter() - start, 1)}
        print(json.dumps(results[name]), flush=True)
    return results


def picked_quality(dataset, names=None):
    """MNIST sample quality of a model at its default size and at the size a search picked.

    ``names`` are ``search=value`` pairs (the picks printed by :func:`grid_curves`);
    the judge is ``_quality``'s (16 draws of 1,000 samples, an MLP no model saw).
    """
    from functools import partial

    from sklearn.base import clone

    from . import _quality as q

    if dataset != "mnist":
        raise ValueError("Sample quality at picked sizes is measured on MNIST only.")
    X_judge, y_judge, X_test, X_real, y_real = q.mnist_data()
    classifier = q.mnist_classifier(X_real, y_real)
    X_fit = data(dataset)[0]
    judge = partial(q.judge_mnist, X_fit=X_fit, X_test=X_test, classifier=classifier)
    results = {}
    for pair in names:
        name, value = pair.split("=")
        estimator, param, _ = grids(dataset)[name]
        value = type(estimator.get_params()[param] or 0)(value) if value.isdigit() else value
        model = clone(estimator).set_params(**{param: value})
        model, seconds = q.timed_fit(model, X_fit)
        results[pair] = dict(q.mean_judgement(model, judge), fit_seconds=seconds)
        print(json.dumps({"dataset": dataset, "search": name, param: str(value),
                          **{k: round(v, 4) for k, v in results[pair].items()}}), flush=True)
    return results


if __name__ == "__main__":
    command, dataset, *names = sys.argv[1:]
    {"bpd": bpd_table, "grid": grid_curves, "quality": picked_quality}[command](
        dataset, names or None)
