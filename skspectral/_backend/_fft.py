"""Batched image FFT helpers (torch.fft), written once for every model and metric.

Conventions: images are ``(n, C, H, W)`` tensors; spectra are in the
unshifted layout of :func:`torch.fft.fft2` unless ``centred=True`` (zero
frequency in the middle, as :func:`numpy.fft.fftshift` puts it).
"""

import numpy as np
import torch

from ._batches import iter_batches

#: Added to magnitudes before the log so that empty frequencies stay finite.
LOG_EPS = 1e-8


def log_magnitude(spectrum, offset=LOG_EPS):
    """``log(|F| + offset)`` of a complex spectrum (``log1p`` when ``offset`` is 1)."""
    magnitude = spectrum.abs()
    if offset == 1.0:
        return torch.log1p(magnitude)
    return torch.log(magnitude + offset)


def log_magnitude_spectrum(images, offset=LOG_EPS, centred=False):
    """The spectrum of ``images`` and its ``log(|FFT2| + offset)``.

    ``offset=1`` gives ``log(1 + |F|)``, the convention of the spectral
    metrics and of STIG; the refiner's closed-form profile uses the tiny
    default so that a gain adds exactly its log.

    Returns
    -------
    spectrum : complex Tensor of shape (n, C, H, W)
        Unshifted.
    log_spectrum : real Tensor of shape (n, C, H, W)
        Centred when ``centred`` is True.
    """
    spectrum = torch.fft.fft2(images)
    log_spec = log_magnitude(spectrum, offset)
    if centred:
        log_spec = torch.fft.fftshift(log_spec, dim=(-2, -1))
    return spectrum, log_spec


def sum_log_magnitude(images, offset=LOG_EPS, centred=False):
    """Sum over the batch of ``log(|FFT2(x)| + offset)``, accumulated in float64: (C, H, W)."""
    _, log_spec = log_magnitude_spectrum(images, offset, centred)
    return log_spec.sum(dim=0, dtype=torch.float64)


def mean_log_magnitude(images, batch_size, offset=LOG_EPS, centred=False):
    """Mean over images of ``log(|FFT2| + offset)``, batched, in float64: (C, H, W).

    Memory stays bounded by one batch of spectra however many images there are.
    """
    total = torch.zeros(images.shape[1:], dtype=torch.float64, device=images.device)
    for batch in iter_batches(images.shape[0], batch_size):
        total += sum_log_magnitude(images[batch], offset, centred)
    return total / images.shape[0]


def radial_frequency_rings(H, W, centred=False):
    """Ring of every 2-D frequency: its radius rounded to whole ``1/max(H, W)`` steps.

    Parameters
    ----------
    H, W : int
        Image size.
    centred : bool, default=False
        Return the maps in the centred layout.

    Returns
    -------
    rings : ndarray of int of shape (H, W)
        ``rint(radius)``; ring ``r`` holds the frequencies of about ``r /
        max(H, W)`` cycles per pixel.
    radius : ndarray of shape (H, W)
        The unrounded radius in the same units.

    Examples
    --------
    >>> from skspectral._backend import radial_frequency_rings
    >>> radial_frequency_rings(4, 4)[0]
    array([[0, 1, 2, 1],
           [1, 1, 2, 1],
           [2, 2, 3, 2],
           [1, 1, 2, 1]])
    """
    n = max(H, W)
    fy = np.fft.fftfreq(H) * n
    fx = np.fft.fftfreq(W) * n
    radius = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    if centred:
        radius = np.fft.fftshift(radius)
    return np.rint(radius).astype(np.intp), radius


def apply_spectral_gain(images, log_gain):
    """Multiply every frequency of ``images`` (n, C, H, W) by ``exp(log_gain)`` (C, H, W).

    The gain is real and positive, so each image keeps its phase; a gain
    that is symmetric under ``k -> -k`` (as any gain built from magnitude
    spectra of real images is) keeps the images real.
    """
    spectrum = torch.fft.fft2(images) * torch.exp(log_gain).to(images.dtype)
    return torch.fft.ifft2(spectrum).real


def hermitian_flip(a):
    """``a[..., k, l] -> a[..., -k mod H, -l mod W]`` (unshifted frequency layout)."""
    return torch.roll(torch.flip(a, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1))


def with_magnitude(spectrum, magnitude):
    """Images whose FFT has ``magnitude`` and the phase of ``spectrum``.

    ``magnitude`` is symmetrised under ``k -> -k`` first so the inverse FFT
    is exactly real and the phase is kept exactly.
    """
    magnitude = 0.5 * (magnitude + hermitian_flip(magnitude))
    return torch.fft.ifft2(torch.polar(magnitude, torch.angle(spectrum))).real
