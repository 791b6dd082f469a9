"""Frequency-domain metrics: radial power spectra and spectral distances.

Generated images differ from real ones in the frequency domain (grid
artefacts of transposed convolutions, missing high frequencies of
over-smooth models). These metrics measure that gap; every one works in
float64 on batches of FFTs.
"""

import numpy as np
import torch

from .._backend import iter_batches, mean_log_magnitude, radial_frequency_rings
from ._image import to_image_batch

_CHUNK = 1024  # images per FFT batch: bounds memory on large sets


def _mean_centred_log_spectrum(images):
    """Mean over images of fftshift(log(1 + |FFT2|)), per channel: (C, H, W)."""
    tensor = torch.from_numpy(np.asarray(images, dtype=np.float64))
    return mean_log_magnitude(tensor, _CHUNK, offset=1.0, centred=True).numpy()


def mean_log_spectrum(X, image_shape=None):
    """Mean centred log-magnitude spectrum ``mean_i log(1 + |FFT2(x_i)|)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or image arrays
        Images (flattened in ``(H, W, C)`` order, or ``(n, H, W[, C])``).
    image_shape : tuple of int or None
        ``(H, W)`` or ``(H, W, C)``; needed for flattened images.

    Returns
    -------
    spectrum : ndarray of shape (C, H, W)
        Per channel, zero frequency at the centre (``np.fft.fftshift``).

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral.metrics import mean_log_spectrum
    >>> mean_log_spectrum(np.ones((2, 4)), (2, 2))[0]
    array([[0.        , 0.        ],
           [0.        , 1.60943791]])
    """
    images = to_image_batch(X, image_shape)
    return _mean_centred_log_spectrum(images)


def log_frequency_distance(X_a, X_b, image_shape=None):
    r"""Log frequency distance (LFD) between two sets of images.

    The set-level distance of STIG [1]_:

    .. math::

        \bar S_a = \frac{1}{n_a}\sum_i \log(1 + |\mathcal F(x_i)|), \qquad
        \mathrm{LFD} = \log\Big(\sum_{c,u,v} (\bar S_a - \bar S_b)^2 + 1\Big)

    with :math:`\mathcal F` the unnormalised 2-D DFT of each channel, centred.
    It is computed in floating point (STIG's own script goes through 8-bit
    PNG spectra, which wrap around). Zero for identical mean spectra.

    Parameters
    ----------
    X_a, X_b : array-like of shape (n_samples, n_features) or image arrays
        The two image sets (for example samples and held-out real images),
        in the same data range.
    image_shape : tuple of int or None
        ``(H, W)`` or ``(H, W, C)``; needed for flattened images.

    Returns
    -------
    lfd : float

    References
    ----------
    .. [1] Lee, Jung, Seo. "Spectrum Translation for Refinement of Image
       Generation (STIG) Based on Contrastive Learning and Spectral Filter
       Profile." AAAI 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral.metrics import log_frequency_distance
    >>> X = np.random.RandomState(0).rand(10, 16)
    >>> log_frequency_distance(X, X, (4, 4))
    0.0
    >>> # one image of ones: |FFT| = (4, 0, 0, 0), so LFD = log(log(5)**2 + 1)
    >>> round(log_frequency_distance(np.zeros((1, 4)), np.ones((1, 4)), (2, 2)), 4)
    1.2782
    """
    images_a = to_image_batch(X_a, image_shape, name="X_a")
    images_b = to_image_batch(X_b, image_shape, name="X_b")
    _check_same_shape(images_a, images_b, "X_a", "X_b")
    diff = _mean_centred_log_spectrum(images_a) - _mean_centred_log_spectrum(images_b)
    return float(np.log(np.sum(diff**2) + 1.0))


def frequency_distance(X, X_hat, image_shape=None):
    r"""Frequency distance between paired images (focal frequency loss form).

    .. math::

        \mathrm{FD}(x, \hat x) = \log\Big(\frac{1}{CHW}\sum_{c,u,v}
        |\mathcal F(x)_{cuv} - \mathcal F(\hat x)_{cuv}|^2 + 1\Big)

    averaged over the pairs, with :math:`\mathcal F` the orthonormal 2-D DFT
    (``norm="ortho"``, as in the focal frequency loss of Jiang et al., ICCV
    2021), so the inner mean equals the pixel mean squared error.

    Parameters
    ----------
    X, X_hat : array-like of shape (n_samples, n_features) or image arrays
        Paired images (row ``i`` of ``X`` with row ``i`` of ``X_hat``).
    image_shape : tuple of int or None
        ``(H, W)`` or ``(H, W, C)``; needed for flattened images.

    Returns
    -------
    fd : float

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral.metrics import frequency_distance
    >>> round(frequency_distance(np.zeros((1, 4)), np.ones((1, 4)), (2, 2)), 4)
    0.6931
    """
    images = to_image_batch(X, image_shape, name="X")
    images_hat = to_image_batch(X_hat, image_shape, name="X_hat")
    _check_same_shape(images, images_hat, "X", "X_hat", paired=True)
    per_pair = np.empty(images.shape[0])
    for batch in iter_batches(images.shape[0], _CHUNK):
        delta = np.fft.fft2(images[batch] - images_hat[batch], axes=(-2, -1), norm="ortho")
        per_pair[batch] = np.log(np.mean(np.abs(delta) ** 2, axis=(1, 2, 3)) + 1.0)
    return float(per_pair.mean())


def radial_power_spectrum(X, image_shape=None, *, average=True):
    r"""Azimuthally averaged power spectrum (the curve usually plotted).

    The power :math:`P(u, v) = |\mathcal F(x)_{uv}|^2 / (HW)` of each
    channel is averaged over the channels and over rings of integer radius
    :math:`r = \mathrm{round}(\sqrt{(n f_u)^2 + (n f_v)^2})`, ``n = max(H, W)``,
    with :math:`f` in cycles per pixel; rings beyond the Nyquist radius
    ``n // 2`` (the corners) are left out.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or image arrays
        Images.
    image_shape : tuple of int or None
        ``(H, W)`` or ``(H, W, C)``; needed for flattened images.
    average : bool, default=True
        Return the mean over images instead of one curve per image.

    Returns
    -------
    frequencies : ndarray of shape (n_bins,)
        Ring radii in cycles per pixel, ``0 .. 0.5``.
    power : ndarray of shape (n_bins,) or (n_samples, n_bins)

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral.metrics import radial_power_spectrum
    >>> freqs, power = radial_power_spectrum(np.ones((1, 16)), (4, 4))
    >>> freqs
    array([0.  , 0.25, 0.5 ])
    >>> power
    array([16.,  0.,  0.])
    """
    images = to_image_batch(X, image_shape)
    H, W = images.shape[-2:]
    bins, counts, n_bins = _radial_bins(H, W)
    keep = bins < n_bins
    # A (H*W, n_bins) averaging matrix turns the binning into one product.
    averaging = np.zeros((H * W, n_bins))
    averaging[np.flatnonzero(keep), bins[keep]] = 1.0 / counts[bins[keep]]
    power = np.empty((images.shape[0], n_bins))
    for batch in iter_batches(images.shape[0], _CHUNK):
        p = np.abs(np.fft.fft2(images[batch], axes=(-2, -1))) ** 2 / (H * W)
        power[batch] = p.mean(axis=1).reshape(p.shape[0], -1) @ averaging
    frequencies = np.arange(n_bins) / max(H, W)
    return frequencies, (power.mean(axis=0) if average else power)


def _radial_bins(H, W):
    bins = radial_frequency_rings(H, W)[0].ravel()
    n_bins = max(H, W) // 2 + 1
    counts = np.bincount(bins, minlength=n_bins)
    return bins, counts, n_bins


def _check_same_shape(a, b, name_a, name_b, paired=False):
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(
            f"{name_a} and {name_b} must hold images of the same shape; got "
            f"{a.shape[1:]} and {b.shape[1:]} (channels, height, width)."
        )
    if paired and a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must hold the same number of paired images; "
            f"got {a.shape[0]} and {b.shape[0]}."
        )
