"""Data shared by the benchmarks: real data from ../shared/data when present."""

import os
from pathlib import Path

import numpy as np

#: The shared data folder beside the checkout (override with SKSPECTRAL_SHARED_DATA).
SHARED_DATA = Path(
    os.environ.get(
        "SKSPECTRAL_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
)


def _mnist_bunch(n_samples, subset):
    from skspectral.datasets import fetch_mnist

    return fetch_mnist(data_home=SHARED_DATA, subset=subset, n_samples=n_samples,
                       download_if_missing=False)


def mnist(n_samples, subset="train"):
    """The first ``n_samples`` real MNIST images (flattened, float32 in [0, 1])."""
    return _mnist_bunch(n_samples, subset).data


def mnist_labels(n_samples, subset="train"):
    """The digits of :func:`mnist`'s images."""
    return _mnist_bunch(n_samples, subset).target


def cifar10(n_samples, subset="train"):
    """The first ``n_samples`` CIFAR-10 images of the JPEG-decoded copy in ../shared/data."""
    from skspectral.datasets import load_images

    name = "train_images_20k.npy" if subset == "train" else "test_images.npy"
    return load_images(SHARED_DATA / "cifar10" / name, n_samples=n_samples).data


def random_codes(n_samples, n_features, seed=0):
    rng = np.random.RandomState(seed)
    return rng.standard_normal((n_samples, n_features)).astype(np.float32)
