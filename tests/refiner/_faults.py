"""Controlled spectral faults (as in STIG's Figure 1), for tests, benchmarks and examples.

Both take images of shape (n, H, W, C) in [0, 1] and return float64 arrays of
the same shape: "generated" versions of real images with a known fault.
"""

import numpy as np
import torch
from torch.nn import functional as F


def upsampling_grid(images):
    """×2 average-pool, then ×2 transposed convolution with a 3×3 kernel.

    The kernel is the outer product of ``(0.6, 1, 0.6) / 1.1``: with stride 2
    the taps overlap unevenly (odd pixels receive 1.2 / 1.1, even ones
    1 / 1.1 per axis), which draws the checkerboard grid of transposed-
    convolution generators (Odena et al., "Deconvolution and Checkerboard
    Artifacts", 2016) on top of the detail lost by the pooling.
    """
    x = torch.as_tensor(np.asarray(images, dtype=np.float64)).permute(0, 3, 1, 2)
    n_channels = x.shape[1]
    low = F.avg_pool2d(x, 2)
    taps = torch.tensor([0.6, 1.0, 0.6], dtype=x.dtype) / 1.1
    kernel = torch.outer(taps, taps).expand(n_channels, 1, 3, 3).contiguous()
    up = F.conv_transpose2d(low, kernel, stride=2, padding=1, output_padding=1,
                            groups=n_channels)
    return up.permute(0, 2, 3, 1).numpy()


def low_pass(images, sigma=1.0):
    """Gaussian low-pass in the Fourier domain (periodic), standard deviation ``sigma`` pixels."""
    x = np.asarray(images, dtype=np.float64)
    H, W = x.shape[1:3]
    fy = np.fft.fftfreq(H)[:, None]
    fx = np.fft.fftfreq(W)[None, :]
    transfer = np.exp(-2.0 * (np.pi * sigma) ** 2 * (fy**2 + fx**2))
    spectrum = np.fft.fft2(x, axes=(1, 2)) * transfer[None, :, :, None]
    return np.fft.ifft2(spectrum, axes=(1, 2)).real
