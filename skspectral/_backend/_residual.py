"""A Gaussian over what a decoder misses of the training images, added to its samples.

A dictionary that codes each image with few atoms loses detail (texture, edges)
that no prior over its codes can give back. Modelling the residuals
``X - decode(encode(X))`` by a Gaussian on their leading principal directions
and adding a draw to every decoded sample puts that detail back as
structured noise: the model becomes ``x = decode(a) + e``,
``e ~ N(mean, low-rank covariance)``, with ``e`` independent of the codes.
"""

import warnings

import numpy as np
from sklearn.decomposition import PCA


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
    """Refuse online fits of a model asked for a residual model (it needs every image at once)."""
    n_components = getattr(estimator, "residual_components", 0)
    if n_components:
        raise ValueError(
            f"{type(estimator).__name__}: residual_components={n_components} fits a PCA of "
            "the residuals of all training images at once; use fit on an in-memory array, or "
            "residual_components=0 with partial_fit and dask arrays."
        )
