"""Batched image FFT helpers (torch.fft) shared by the spectral models."""

import torch

#: Added to magnitudes before the log so that empty frequencies stay finite.
LOG_EPS = 1e-8


def log_magnitude(spectrum, eps=LOG_EPS):
    """``log(|F| + eps)`` of a complex spectrum."""
    return torch.log(spectrum.abs() + eps)


def sum_log_magnitude(images, eps=LOG_EPS):
    """Sum over the batch of ``log(|FFT2(x)| + eps)``, accumulated in float64: (C, H, W)."""
    return log_magnitude(torch.fft.fft2(images), eps).sum(dim=0, dtype=torch.float64)


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
