"""A Gaussian over what a decoder misses of the training images, added to its samples.

A dictionary that codes each image with few atoms loses detail (texture, edges)
that no prior over its codes can give back. Modelling the residuals
``X - decode(encode(X))`` by a Gaussian on their leading principal directions
and adding a draw to every decoded sample puts that detail back as
structured noise: the model becomes ``x = decode(a) + e``,
``e ~ N(mean, low-rank covariance)``, with ``e`` independent of the codes.

Whether that noise helps depends on the images. On continuous-toned images
(photographs) it is texture the atoms lost. On images whose pixels mostly
sit at the range's ends (digits, line art, masks: a flat background and
saturated strokes), a Gaussian cannot keep those values flat: it draws
noise over the background and beside the strokes, and fewer samples are
recognisable. ``residual_components="auto"`` therefore sizes the residual
from the pixel count on the first kind and fits none on the second.
"""

import warnings

import numpy as np
from sklearn.decomposition import PCA

#: Pixels per component of the "auto" sizes (``residual_components`` of the
#: sparse model, ``prior_dim`` of the convolutional one): 256 components for
#: 32 x 32 colour images, as chosen on held-out CIFAR-10 training images,
#: and 65 for 28 x 28 digits, near the 64 of the PCA peer (see the user guide).
PIXELS_PER_COMPONENT = 12
#: Share of pixel values at the training range's ends from which images count
#: as flat (digits, line art): 81 % on MNIST and 58 % on scikit-learn's 8 x 8
#: digits, against 2 % on CIFAR-10.
FLAT_SHARE = 0.25


def extreme_share(X):
    """Share of the values of ``X`` equal to its minimum or maximum."""
    low, high = X.min(), X.max()
    at_ends = np.count_nonzero(X == low)
    if high != low:
        at_ends += np.count_nonzero(X == high)
    return at_ends / X.size


def auto_components(n_features):
    """The "auto" number of components for images of ``n_features`` pixels."""
    return max(1, round(n_features / PIXELS_PER_COMPONENT))


def resolve_residual_components(residual_components, X):
    """The number of residual components to fit on images ``X``.

    An integer is returned as given. ``"auto"`` gives 0 for flat images (at
    least :data:`FLAT_SHARE` of the values at the range's ends) and
    otherwise one component per :data:`PIXELS_PER_COMPONENT` pixels,
    clipped to ``min(n_samples, n_features)`` without a warning.
    """
    if residual_components != "auto":
        return residual_components
    if extreme_share(X) >= FLAT_SHARE:
        return 0
    return min(auto_components(X.shape[1]), *X.shape)


def fit_residual_pca(residuals, n_components, random_state, owner):
    """PCA of the training residuals, or None when ``n_components`` is 0.

    ``n_components`` above ``min(n_samples, n_features)`` is clipped to it
    with a warning naming ``residual_components``, reported at the caller of
    the model's ``fit`` (through ``_fit_residual``, ``fit`` and scikit-learn's
    ``_fit_context`` wrapper).
    """
    if n_components == 0:
        return None
    limit = min(residuals.shape)
    if n_components > limit:
        warnings.warn(
            f"{owner}: residual_components={n_components} is more than min(n_samples, "
            f"n_features)={limit}; using {limit}.",
            UserWarning,
            stacklevel=5,
        )
        n_components = limit
    return PCA(n_components, random_state=random_state).fit(residuals)


def draw_residuals(pca, n_samples, rng, dtype):
    """``n_samples`` draws of the Gaussian ``mean_ + z * sqrt(explained_variance_) @ components_``."""
    scales = np.sqrt(np.maximum(pca.explained_variance_, 0.0))
    z = rng.standard_normal((n_samples, scales.shape[0])) * scales
    return (z @ pca.components_ + pca.mean_).astype(dtype, copy=False)


def check_no_residual_stream(estimator):
    """Refuse online fits of a model asked for a residual model (it needs every image at once).

    ``residual_components="auto"`` passes: online fits fit no residual model.
    """
    n_components = getattr(estimator, "residual_components", 0)
    if n_components and n_components != "auto":
        raise ValueError(
            f"{type(estimator).__name__}: residual_components={n_components} fits a PCA of "
            "the residuals of all training images at once; use fit on an in-memory array, or "
            "residual_components=0 or 'auto' (no residual model online) with partial_fit and "
            "dask arrays."
        )
