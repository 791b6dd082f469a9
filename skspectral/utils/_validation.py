"""Validation helpers for image-shaped data."""

from numbers import Integral

import numpy as np


def check_image_shape(image_shape, n_features, param_name="image_shape"):
    """Validate an ``image_shape`` against the number of flattened features.

    Parameters
    ----------
    image_shape : tuple of int
        ``(H, W)`` or ``(H, W, C)``.
    n_features : int
        Number of features of the flattened images (H * W * C).
    param_name : str, default="image_shape"
        Named in error messages.

    Returns
    -------
    shape : tuple of int
        ``(H, W, C)``, with ``C = 1`` for greyscale images.

    Raises
    ------
    ValueError
        If the shape is malformed or does not multiply to ``n_features``.

    Examples
    --------
    >>> from skspectral.utils import check_image_shape
    >>> check_image_shape((8, 8), 64)
    (8, 8, 1)
    """
    if (
        not isinstance(image_shape, (tuple, list))
        or len(image_shape) not in (2, 3)
        or not all(isinstance(s, Integral) and s > 0 for s in image_shape)
    ):
        raise ValueError(
            f"The '{param_name}' parameter must be a tuple (H, W) or (H, W, C) of "
            f"positive integers; got {image_shape!r}."
        )
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = shape + (1,)
    if int(np.prod(shape)) != n_features:
        raise ValueError(
            f"The '{param_name}' parameter {tuple(image_shape)} implies "
            f"{int(np.prod(shape))} features but X has {n_features}."
        )
    return shape
