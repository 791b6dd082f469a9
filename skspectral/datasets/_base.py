"""Where datasets live and how a loader builds its Bunch."""

import os
from pathlib import Path

import numpy as np
import pooch
from sklearn.utils import Bunch

from .._backend import is_positive_int


def get_data_home(data_home=None):
    """The folder under which each dataset gets a sub-folder of its own.

    Resolution order: the ``data_home`` argument, the ``SKSPECTRAL_DATA``
    environment variable, then pooch's per-user cache folder for skspectral.

    Examples
    --------
    >>> from skspectral.datasets import get_data_home
    >>> str(get_data_home("/tmp/data"))
    '/tmp/data'
    """
    if data_home is None:
        data_home = os.environ.get("SKSPECTRAL_DATA") or pooch.os_cache("skspectral")
    return Path(data_home).expanduser()


def images_to_bunch(images, target, descr, n_samples=None):
    """Build the standard Bunch from uint8 or float images.

    uint8 images are scaled by 1/255; float images are assumed in [0, 1].
    """
    images = np.asarray(images)
    if n_samples is not None:
        images = images[:n_samples]
        target = None if target is None else np.asarray(target)[:n_samples]
    if images.dtype == np.uint8:
        data = images.astype(np.float32) / np.float32(255)
    else:
        data = images.astype(np.float32, copy=False)
    return Bunch(
        images=images,
        data=data.reshape(len(images), -1),
        target=target,
        image_shape=tuple(images.shape[1:]),
        DESCR=descr,
    )


def check_subset(subset):
    if subset not in ("train", "test"):
        raise ValueError(f"The 'subset' parameter must be 'train' or 'test'; got {subset!r}.")


def check_n_samples(n_samples):
    if n_samples is not None and not is_positive_int(n_samples):
        raise ValueError(
            f"The 'n_samples' parameter must be a positive integer or None; got {n_samples!r}."
        )
