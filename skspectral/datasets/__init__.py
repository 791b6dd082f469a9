"""Image datasets as scikit-learn Bunches.

Every loader returns a :class:`~sklearn.utils.Bunch` with ``images``
(n, H, W) or (n, H, W, C), ``data`` (n, H*W*C float32 in [0, 1]), ``target``,
``image_shape`` and ``DESCR``.
"""

from ._base import get_data_home
from ._fetch import fetch_cifar10, fetch_fashion_mnist, fetch_mnist
from ._local import load_digits_images, load_images

__all__ = [
    "fetch_cifar10",
    "fetch_fashion_mnist",
    "fetch_mnist",
    "get_data_home",
    "load_digits_images",
    "load_images",
]
