"""Turn flattened images (or image arrays) into a (n, C, H, W) float64 batch."""

import numpy as np
from sklearn.utils import check_array

from ..utils import check_image_shape


def to_image_batch(X, image_shape=None, *, dtype=np.float64, name="X"):
    """Reshape images to ``(n_samples, C, H, W)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, H, W, C)
        Flattened images in row-major ``(H, W, C)`` order, or image arrays.
    image_shape : tuple of int or None
        ``(H, W)`` or ``(H, W, C)``; required for flattened input, and
        checked against image arrays when given.
    dtype : numpy dtype, default=np.float64
        Output dtype.
    name : str, default="X"
        Named in error messages.

    Returns
    -------
    images : ndarray of shape (n_samples, C, H, W)
    """
    X = np.asarray(X)
    if X.ndim in (3, 4) and image_shape is None:
        image_shape = X.shape[1:]
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features) flattened images or 3-D/4-D "
            f"image arrays; got an array of shape {X.shape}."
        )
    if X.shape[0] == 0 or 0 in X.shape[1:]:
        raise ValueError(f"{name} must hold at least one non-empty image; got shape {X.shape}.")
    flat = check_array(X.reshape(X.shape[0], -1), dtype=dtype, input_name=name)
    if image_shape is None:
        raise ValueError(
            f"{name} holds flattened images: pass image_shape=(H, W) or (H, W, C)."
        )
    H, W, C = check_image_shape(tuple(image_shape), flat.shape[1])
    return flat.reshape(-1, H, W, C).transpose(0, 3, 1, 2)

