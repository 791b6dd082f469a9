"""Codes that decode to the images' principal subspace.

A model whose decoder is linear, ``x = G z``, can have codes far wider than
its images (a convolutional coder's codes hold every filter at every
position). A density over such codes must live in a subspace, and the
codes' own principal directions are a poor one: a direction of large code
variance can decode to almost nothing (or to a checkerboard), while one
of small code variance can carry an image's whole layout. What a sampler
needs is a subspace of codes that decodes to the images' main variations.

:class:`DecodedSubspace` takes the principal directions ``V`` and the mean
``m`` of the training images and reaches each through the decoder with its
minimum-norm code (``G w = v``, solved by conjugate gradients with the
decoder and its adjoint, never forming ``G``). Coordinates of an image are
its principal coordinates ``c = V (x - m)``; coordinates of a code are
``V (G z - m)``, computed with the adjoint; and
``decode(inverse_transform(c)) = m + c V``: a density over ``c`` is a
density over images in the images' principal subspace.

Why the images' directions and not those of the model's reconstructions:
an encoder that shrinks its codes (a sparse coder's soft threshold) loses
most along the directions of small variance, so the reconstructions'
trailing principal directions, and their mean, drift from the images'. On
CIFAR-10 with 256 directions the two spans share 97 % (mean squared cosine)
and samples drawn in the images' span score a lower FID (the user guide
on convolutional sparse coding measures it).
"""

import numpy as np
from sklearn.decomposition import PCA

from .._backend._linalg import minimum_norm_preimages


class DecodedSubspace:
    """A linear map between codes and the images' principal coordinates.

    Parameters
    ----------
    n_components : int
        Dimension of the subspace, clipped to what the images and codes
        allow (``min(n_images - 1, n_pixels, code width)``, at least 1).
    tol : float, default=1e-4
        Relative residual at which the search for each direction's code
        stops (see ``decode_error_``).
    max_iter : int, default=500
        Most conjugate-gradient iterations of that search, each one call of
        the decoder and of its adjoint on ``n_components + 1`` codes.
    random_state : int or None, default=None
        Seed of the PCA of the images.

    Attributes
    ----------
    mean_ : ndarray of shape (code_width,)
        Minimum-norm code that decodes to the images' mean.
    components_ : ndarray of shape (n_components_, code_width)
        Minimum-norm code of each principal direction: row ``j`` decodes to
        ``directions_[j]``.
    projection_ : ndarray of shape (n_components_, code_width)
        ``V G``: rows map a code (less ``mean_``) to its coordinates.
    directions_ : ndarray of shape (n_components_, n_pixels)
        ``V``: the principal directions of the training images.
    decoded_mean_ : ndarray of shape (n_pixels,)
        The training images' mean.
    explained_variance_ : ndarray of shape (n_components_,)
        Variance of the training images along each direction.
    decode_error_ : ndarray of shape (n_components_ + 1,)
        Relative error of the decoded ``mean_`` (first) and of each decoded
        row of ``components_`` against their targets: near 0 when the
        decoder reaches the images' subspace, larger for a decoder whose
        range misses part of it (the code is then the least-squares one).
    n_iter_ : int
        Conjugate-gradient iterations of the search for the codes.
    n_components_ : int
        Dimension actually used.
    """

    def __init__(self, n_components, *, tol=1e-4, max_iter=500, random_state=None):
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, images, decode, decode_adjoint, code_width):
        """Learn the subspace from training images.

        Parameters
        ----------
        images : ndarray of shape (n_images, n_pixels)
            Flattened training images.
        decode : callable
            Codes ``(r, code_width)`` -> flattened images (linear, no offset).
        decode_adjoint : callable
            Flattened images ``(r, n_pixels)`` -> ``(r, code_width)``, the
            adjoint of ``decode``.
        code_width : int
            Length of a flattened code.

        Returns
        -------
        self : DecodedSubspace
        """
        images = np.asarray(images)
        n_components = max(1, min(self.n_components, images.shape[0] - 1,
                                  images.shape[1], code_width))
        pca = PCA(n_components, random_state=self.random_state).fit(images)
        dtype = images.dtype
        self.directions_ = pca.components_.astype(dtype)
        self.decoded_mean_ = pca.mean_.astype(dtype)
        targets = np.vstack([self.decoded_mean_, self.directions_])
        codes, self.decode_error_, self.n_iter_ = minimum_norm_preimages(
            targets, decode, decode_adjoint, tol=self.tol, max_iter=self.max_iter)
        self.mean_ = codes[0].astype(dtype)
        self.components_ = codes[1:].astype(dtype)
        self.projection_ = np.asarray(decode_adjoint(self.directions_), dtype=dtype)
        self.explained_variance_ = pca.explained_variance_
        self.n_components_ = n_components
        return self

    def transform(self, codes):
        """Coordinates of codes: ``(codes - mean_) @ projection_.T``."""
        return (codes - self.mean_) @ self.projection_.T

    def project(self, images):
        """Coordinates of flattened images: ``(images - decoded_mean_) @ directions_.T``.

        For an image this is its principal coordinates; for a code's
        decoding it equals :meth:`transform` of the code.
        """
        images = np.asarray(images, dtype=self.directions_.dtype)
        return (images - self.decoded_mean_) @ self.directions_.T

    def inverse_transform(self, coordinates):
        """Codes ``mean_ + coordinates @ components_``: they decode to ``decoded_mean_ + c V``."""
        coordinates = np.asarray(coordinates, dtype=self.components_.dtype)
        return coordinates @ self.components_ + self.mean_
