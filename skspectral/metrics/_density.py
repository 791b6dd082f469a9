"""Density metrics: bits per dimension of 8-bit images under a model's pixel-space density."""

import math
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_array, check_random_state

from .._backend import is_positive_int

#: What ``random_state`` takes (scikit-learn's convention).
_RandomStateLike = int | np.random.RandomState | None


class _PixelDensity(Protocol):
    """A fitted model with a pixel-space log-density per image."""

    def score_samples(self, X: np.ndarray) -> ArrayLike: ...


def _levels(X, n_levels):
    """The integer level ``k`` of every pixel of quantised images ``X``."""
    X = np.asarray(X)
    if X.ndim < 2 or 0 in X.shape:
        raise ValueError(f"X must hold at least one non-empty image; got shape {X.shape}.")
    X = X.reshape(X.shape[0], -1)
    if X.dtype.kind in "ui":
        levels = X.astype(np.int64)
    else:
        X = check_array(X, dtype=np.float64, input_name="X")
        levels = np.rint(X * (n_levels - 1))
        # A hundredth of a level of slack (float32 rounding): values must sit
        # on the grid k / (n_levels - 1).
        off_grid = np.abs(X * (n_levels - 1) - levels).max()
        if off_grid > 0.01:
            raise ValueError(
                f"X is not quantised to {n_levels} levels in [0, 1] (a value lies {off_grid:.3g} "
                f"levels off the grid k / {n_levels - 1}); pass the 8-bit images themselves "
                "(integers) or their values divided by 255."
            )
        levels = levels.astype(np.int64)
    if levels.min() < 0 or levels.max() > n_levels - 1:
        raise ValueError(
            f"X has levels from {levels.min()} to {levels.max()}; expected 0 to {n_levels - 1}."
        )
    return levels


def _check_n_levels(n_levels):
    if not is_positive_int(n_levels) or n_levels < 2:
        raise ValueError(f"n_levels must be an int >= 2; got {n_levels!r}.")
    return int(n_levels)


def dequantize(
    X: ArrayLike, *, n_levels: int = 256, random_state: _RandomStateLike = None
) -> np.ndarray:
    """Uniformly dequantised images: ``(k + u) / n_levels`` with ``u ~ U[0, 1)``.

    A continuous density must be scored on continuous data: each pixel of
    level ``k`` becomes a uniform draw over its bin ``[k, k + 1) / n_levels``
    (Theis et al., 2016; Dinh et al., 2017). Fit models on dequantised
    training images and score dequantised test images with
    :func:`bits_per_dim`.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Quantised images: integers ``0 .. n_levels - 1`` (8-bit images), or
        floats ``k / (n_levels - 1)`` in [0, 1] (such images divided by 255).
    n_levels : int, default=256
        Levels of the quantisation (256 for 8-bit images).
    random_state : int, RandomState instance or None, default=None
        Seed of the uniform noise.

    Returns
    -------
    X_dequantized : ndarray of shape (n_samples, n_features)
        Flattened float64 images in [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral.metrics import dequantize
    >>> X = dequantize(np.array([[0, 255]], dtype=np.uint8), random_state=0)
    >>> bool(0 <= X[0, 0] < 1 / 256 and 255 / 256 <= X[0, 1] < 1)
    True
    """
    n_levels = _check_n_levels(n_levels)
    levels = _levels(X, n_levels)
    rng = check_random_state(random_state)
    return (levels + rng.uniform(size=levels.shape)) / n_levels


def bits_per_dim(
    model: _PixelDensity,
    X: ArrayLike,
    *,
    n_levels: int = 256,
    random_state: _RandomStateLike = None,
) -> float:
    r"""Bits per dimension of quantised images under a fitted model's density.

    The standard measure of a generative model as a density (Theis et al.,
    2016): the images are dequantised (:func:`dequantize`), scored with the
    model's pixel-space ``score_samples`` (log-density per image, on images
    in [0, 1)), and converted to the bits a code built on the model would
    spend per pixel value of the original ``n_levels``-level images:

    .. math::

        \mathrm{bpd} = \frac{1}{n}\sum_i
        \frac{-\log p(\tilde x_i) + D \log n_\mathrm{levels}}{D \log 2}

    with ``D`` the number of pixel values per image and ``\tilde x_i`` the
    dequantised image scaled to [0, 1). This is an upper bound on the
    discrete model's code length; lower is better. Fit ``model`` on
    dequantised images as well, so that it is not scored on a different
    scale than it was fitted on.

    Parameters
    ----------
    model : estimator
        A fitted model with a pixel-space ``score_samples`` (any skspectral
        model or :class:`~skspectral.pipeline.GenerativePipeline`, or a
        scikit-learn density such as :class:`~sklearn.decomposition.PCA`).
    X : array-like of shape (n_samples, ...)
        Quantised test images, as :func:`dequantize` takes them.
    n_levels : int, default=256
        Levels of the quantisation.
    random_state : int, RandomState instance or None, default=None
        Seed of the dequantisation noise.

    Returns
    -------
    bpd : float
        Mean bits per dimension.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from skspectral.metrics import bits_per_dim, dequantize
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, size=(500, 4), dtype=np.uint8)
    >>> pca = PCA(4).fit(dequantize(X, random_state=0))
    >>> round(bits_per_dim(pca, X, random_state=1), 1)  # uniform noise: about 8 bits
    8.3
    """
    n_levels = _check_n_levels(n_levels)
    X_tilde = dequantize(X, n_levels=n_levels, random_state=random_state)
    log_p = np.asarray(model.score_samples(X_tilde), dtype=np.float64)
    n_dims = X_tilde.shape[1]
    return float(np.mean((-log_p + n_dims * math.log(n_levels)) / (n_dims * math.log(2.0))))
