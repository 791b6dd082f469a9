"""Downloaders for MNIST, Fashion-MNIST and CIFAR-10 (official files, known hashes)."""

import gzip
import pickle
import tarfile

import numpy as np
import pooch

from ._base import check_n_samples, check_subset, get_data_home, images_to_bunch

# Official file names and MD5 checksums as published with each dataset.
MNIST = {
    "urls": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "files": {
        "train-images-idx3-ubyte.gz": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "md5:d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "md5:9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "md5:ec29112dd5afa0611ce80d1b7f02629c",
    },
}
FASHION_MNIST = {
    "urls": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    "files": {
        "train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310",
    },
}
CIFAR10 = {
    "urls": ["https://www.cs.toronto.edu/~kriz/"],
    "files": {"cifar-10-python.tar.gz": "md5:c58f30108f718f92721af3b95e74349a"},
}


class DatasetFileError(OSError):
    """A dataset file is missing (and cannot be downloaded) or corrupted."""


def fetch_file(name, fname, spec, data_home=None, download_if_missing=True):
    """Return the local path of one dataset file, downloading it if needed.

    A file already on disk is checked against its published hash and never
    used when it does not match.
    """
    folder = get_data_home(data_home) / name
    path = folder / fname
    known_hash = spec["files"][fname]
    if path.exists():
        algorithm, expected = known_hash.split(":")
        actual = pooch.file_hash(str(path), alg=algorithm)
        if actual != expected:
            raise DatasetFileError(
                f"{path} is corrupted: its {algorithm} is {actual}, expected {expected}. "
                "Delete it to download it again, or replace it with the official file."
            )
        return path
    if not download_if_missing:
        raise DatasetFileError(_missing_message(path, spec, fname))
    errors = []
    for url in spec["urls"]:
        try:
            return pooch.retrieve(
                url + fname, known_hash=known_hash, fname=fname, path=folder, progressbar=False
            )
        except Exception as exc:  # network failures come in many types
            errors.append(f"{url + fname}: {exc}")
    raise DatasetFileError(_missing_message(path, spec, fname) + " Download failed: " + "; ".join(errors))


def _missing_message(path, spec, fname):
    return (
        f"Dataset file {path} is missing. Download {spec['urls'][0] + fname} and put it "
        "there, or point data_home= (or SKSPECTRAL_DATA) at a folder that has it."
    )


def _read_idx(path):
    """Read a gzipped IDX file (the MNIST container format)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    n_dims = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=n_dims, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(dims)


def _fetch_idx_dataset(name, spec, descr, data_home, subset, n_samples, download_if_missing):
    check_subset(subset)
    check_n_samples(n_samples)
    prefix = "train" if subset == "train" else "t10k"
    images = _read_idx(
        fetch_file(name, f"{prefix}-images-idx3-ubyte.gz", spec, data_home, download_if_missing)
    )
    labels = _read_idx(
        fetch_file(name, f"{prefix}-labels-idx1-ubyte.gz", spec, data_home, download_if_missing)
    )
    return images_to_bunch(images, labels.astype(np.int64), descr, n_samples)


def fetch_mnist(*, data_home=None, subset="train", n_samples=None, download_if_missing=True):
    """Load the MNIST handwritten digits (28x28 greyscale, 10 classes).

    Files are read from ``data_home/mnist/`` under their official names and
    downloaded there with pooch when missing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Parent folder of the ``mnist`` folder; see :func:`get_data_home`.
    subset : {"train", "test"}, default="train"
        The 60,000 training or the 10,000 test images.
    n_samples : int, default=None
        Keep only the first ``n_samples`` images.
    download_if_missing : bool, default=True
        Raise instead of downloading when a file is missing.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` (n, 28, 28) uint8, ``data`` (n, 784) float32 in [0, 1],
        ``target`` (n,), ``image_shape`` (28, 28), ``DESCR``.

    Raises
    ------
    DatasetFileError
        When a file is missing and cannot be downloaded, or does not match its
        published MD5.
    """
    return _fetch_idx_dataset(
        "mnist", MNIST, "MNIST handwritten digits (LeCun et al., 1998).",
        data_home, subset, n_samples, download_if_missing,
    )


def fetch_fashion_mnist(*, data_home=None, subset="train", n_samples=None, download_if_missing=True):
    """Load Fashion-MNIST (28x28 greyscale clothing images, 10 classes).

    Files live in ``data_home/fashion_mnist/``; parameters and return value
    are as in :func:`fetch_mnist`.
    """
    return _fetch_idx_dataset(
        "fashion_mnist", FASHION_MNIST, "Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017).",
        data_home, subset, n_samples, download_if_missing,
    )


def fetch_cifar10(*, data_home=None, subset="train", n_samples=None, download_if_missing=True):
    """Load CIFAR-10 (32x32 colour images, 10 classes) from the official archive.

    The archive ``cifar-10-python.tar.gz`` is read from (or downloaded to)
    ``data_home/cifar10/``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Parent folder of the ``cifar10`` folder; see :func:`get_data_home`.
    subset : {"train", "test"}, default="train"
        The 50,000 training or the 10,000 test images.
    n_samples : int, default=None
        Keep only the first ``n_samples`` images.
    download_if_missing : bool, default=True
        Raise instead of downloading when the archive is missing.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` (n, 32, 32, 3) uint8, ``data`` (n, 3072) float32 in [0, 1],
        ``target`` (n,), ``image_shape`` (32, 32, 3), ``DESCR``.
    """
    check_subset(subset)
    check_n_samples(n_samples)
    path = fetch_file("cifar10", "cifar-10-python.tar.gz", CIFAR10, data_home, download_if_missing)
    batches = [f"data_batch_{i}" for i in range(1, 6)] if subset == "train" else ["test_batch"]
    images, labels = [], []
    with tarfile.open(path, "r:gz") as tar:
        for batch in batches:
            with tar.extractfile(f"cifar-10-batches-py/{batch}") as f:
                entry = pickle.load(f, encoding="bytes")
            images.append(entry[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.append(np.asarray(entry[b"labels"], dtype=np.int64))
            if n_samples is not None and sum(map(len, images)) >= n_samples:
                break
    return images_to_bunch(
        np.concatenate(images), np.concatenate(labels),
        "CIFAR-10 (Krizhevsky, 2009), official python archive.", n_samples,
    )
