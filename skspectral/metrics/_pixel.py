"""Pixel-domain quality: peak signal-to-noise ratio."""

from numbers import Real

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_array, check_consistent_length


def psnr(X: ArrayLike, X_hat: ArrayLike, *, data_range: float = 1.0) -> float:
    r"""Peak signal-to-noise ratio between paired images, averaged over pairs.

    .. math::

        \mathrm{PSNR}_i = 10 \log_{10} \frac{R^2}{\frac{1}{d}\lVert x_i - \hat x_i\rVert^2}

    with ``R = data_range``; the result is the mean of ``PSNR_i`` (identical
    pairs give ``inf``). Per image as in :func:`skimage.metrics.peak_signal_noise_ratio`.

    Parameters
    ----------
    X, X_hat : array-like of shape (n_samples, n_features)
        Paired images, flattened (any trailing shape is flattened).
    data_range : float, default=1.0
        Difference between the largest and smallest possible pixel value
        (1.0 for images in [0, 1], 255 for 8-bit images).

    Returns
    -------
    psnr : float
        In decibels.

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral.metrics import psnr
    >>> round(psnr(np.zeros((2, 4)), np.full((2, 4), 0.1)), 6)
    20.0
    """
    if not isinstance(data_range, Real) or isinstance(data_range, bool) or not data_range > 0:
        raise ValueError(f"data_range must be a positive number; got {data_range!r}.")
    X = np.asarray(X)
    X_hat = np.asarray(X_hat)
    for name, A in (("X", X), ("X_hat", X_hat)):
        if A.ndim < 2 or 0 in A.shape:
            raise ValueError(f"{name} must hold at least one non-empty image; got shape "
                             f"{A.shape}.")
    X = check_array(X.reshape(X.shape[0], -1), dtype=np.float64, input_name="X")
    X_hat = check_array(X_hat.reshape(X_hat.shape[0], -1), dtype=np.float64, input_name="X_hat")
    check_consistent_length(X, X_hat)
    if X.shape[1] != X_hat.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features per image but X_hat has {X_hat.shape[1]}."
        )
    mse = np.mean((X - X_hat) ** 2, axis=1)
    with np.errstate(divide="ignore"):
        per_image = 10.0 * np.log10(float(data_range) ** 2 / mse)
    return float(per_image.mean())
