"""Coordinates of codes along the directions that carry the most image variance.

A model whose decoder is linear, ``x = G z``, can have codes far wider than
its images (a convolutional coder's codes hold every filter at every
position). A density over such codes must live in a subspace, and the
codes' own principal directions are a poor one: a direction of large code
variance can decode to almost nothing (or to a checkerboard), while one
of small code variance can carry an image's whole layout. What a sampler
needs is the subspace whose codes decode to the images' main variations.

:class:`DecodedSubspace` finds it from the training codes ``Z``: the
principal directions ``V`` of the decoded codes ``G Z`` are computed in
image space, and each is mapped back to the code direction ``w`` that
reaches it through the training codes (``G w = v``, a least-squares
combination of centred training codes). Coordinates of a code are
``c = V G (z - mean)``, computed with the adjoint of the decoder, so that
``decode(inverse_transform(c)) = decoded mean + c V`` (up to the PCA's
precision): a density over ``c`` is a density over images in the span of
``V``.

An encoder that shrinks its codes (a sparse coder's soft threshold) gives
reconstructions with less variance than the images along the same
directions. :meth:`DecodedSubspace.project` gives the images' own
coordinates, ``c = V (x - decoded mean)``: the coordinates of the
least-squares code of ``x`` within the subspace, so that a density fitted
on them draws images with the training images' spread, not the
reconstructions'.
"""

import numpy as np
from sklearn.decomposition import PCA


class DecodedSubspace:
    """A linear map between codes and their decoded principal coordinates.

    Parameters
    ----------
    n_components : int
        Dimension of the subspace, clipped to what the codes allow
        (``min(n_codes - 1, n_pixels, code width)``).
    random_state : int or None
        Seed of the PCA of the decoded codes.

    Attributes
    ----------
    mean_ : ndarray of shape (code_width,)
        Mean training code.
    projection_ : ndarray of shape (n_components_, code_width)
        ``V G``: rows map a centred code to its coordinates.
    components_ : ndarray of shape (n_components_, code_width)
        Code directions, one per coordinate: they decode to the rows of
        ``V`` (the principal directions of the decoded codes).
    explained_variance_ : ndarray of shape (n_components_,)
        Variance of the decoded training codes along each direction.
    directions_ : ndarray of shape (n_components_, n_pixels)
        ``V``: the principal directions of the decoded training codes.
    decoded_mean_ : ndarray of shape (n_pixels,)
        The decoded mean code.
    n_components_ : int
        Dimension actually used.
    """

    def __init__(self, n_components, random_state=None):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, codes, decode, decode_adjoint):
        """Learn the subspace from training codes.

        Parameters
        ----------
        codes : ndarray of shape (n_codes, code_width)
        decode : callable
            Codes -> flattened images (linear, without offset).
        decode_adjoint : callable
            Flattened images ``(r, n_pixels)`` -> ``(r, code_width)``, the
            adjoint of ``decode``.

        Returns
        -------
        self : DecodedSubspace
        """
        decoded = decode(codes)
        n_components = max(1, min(self.n_components, codes.shape[0] - 1,
                                  decoded.shape[1], codes.shape[1]))
        pca = PCA(n_components, random_state=self.random_state).fit(decoded)
        coordinates = pca.transform(decoded)
        # PCA scores are orthogonal and centred: the least-squares map from
        # coordinates back to codes is C^T Z scaled by 1 / ||c_j||^2, with no
        # centred copy of the (wide) codes. Directions without spread map
        # back to nothing: rounding noise has a squared norm near eps^2 times
        # the largest, while the 256th principal direction of CIFAR-10
        # carries 6e-4 of the first one's variance, so the floor sits at eps.
        norms = np.einsum("ij,ij->j", coordinates, coordinates, dtype=np.float64)
        floor = norms.max() * np.finfo(codes.dtype).eps
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > floor)
        back = (coordinates.T.astype(codes.dtype) @ codes) * scale[:, None].astype(codes.dtype)
        self.mean_ = codes.mean(axis=0, dtype=np.float64).astype(codes.dtype)
        self.directions_ = pca.components_.astype(codes.dtype)
        self.decoded_mean_ = pca.mean_.astype(codes.dtype)
        self.components_ = back
        self.projection_ = np.asarray(decode_adjoint(self.directions_), dtype=codes.dtype)
        self.explained_variance_ = pca.explained_variance_
        self.n_components_ = n_components
        return self

    def transform(self, codes):
        """Coordinates ``(codes - mean_) @ projection_.T``."""
        return (codes - self.mean_) @ self.projection_.T

    def project(self, images):
        """Coordinates of flattened images: ``(images - decoded_mean_) @ directions_.T``.

        For a training code's reconstruction this equals :meth:`transform` of
        the code; for the image itself it undoes the encoder's shrinkage.
        """
        images = np.asarray(images, dtype=self.directions_.dtype)
        return (images - self.decoded_mean_) @ self.directions_.T

    def inverse_transform(self, coordinates):
        """Codes ``mean_ + coordinates @ components_``."""
        coordinates = np.asarray(coordinates, dtype=self.components_.dtype)
        return coordinates @ self.components_ + self.mean_
