"""SpectrumRefiner and the spectral metrics on 10,000 CIFAR-10 images (32x32x3)."""

import time

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from skspectral import SpectrumRefiner
from skspectral.metrics import log_frequency_distance, radial_power_spectrum

from ._data import cifar10

SHAPE = (32, 32, 3)


def low_pass(images, sigma=1.0):
    """Blurred copies of (n, H, W, C) images: "generated" images missing high frequencies."""
    return gaussian_filter(np.asarray(images, dtype=np.float64), sigma=(0, sigma, sigma, 0),
                           mode="wrap")


class ProfileSuite:
    """method="profile": fit on 10,000 real images, refine 10,000 low-passed ones.

    ``time_fft_roundtrip`` is the floor: three batched FFTs (the refiner's
    two forward passes and one inverse) over the same images, measured in
    the same run. Timed in CPU seconds of this process (``process_time``),
    which concurrent load on the machine does not inflate as it does
    wall-clock time.
    """

    timer = time.process_time
    params = ["float32", "float64"]
    param_names = ["dtype"]
    timeout = 300

    def setup_cache(self):
        real = cifar10(10_000)
        generated = low_pass(cifar10(10_000, subset="test").reshape(-1, *SHAPE))
        return real, generated.reshape(len(generated), -1)

    def setup(self, data, dtype):
        real, generated = data
        self.real = real.astype(dtype)
        self.generated = generated.astype(dtype)
        self.refiner = SpectrumRefiner(image_shape=SHAPE, device="cpu").fit(self.real)
        self.images = torch.as_tensor(
            self.generated.reshape(-1, *SHAPE).transpose(0, 3, 1, 2).copy()
        )

    def time_fit(self, data, dtype):
        SpectrumRefiner(image_shape=SHAPE, device="cpu").fit(self.real)

    def time_refine(self, data, dtype):
        self.refiner.inverse_transform(self.generated)

    def time_fft_roundtrip(self, data, dtype):
        torch.fft.fft2(self.images)
        _ = torch.fft.ifft2(torch.fft.fft2(self.images)).real

    def peakmem_refine(self, data, dtype):
        self.refiner.inverse_transform(self.generated)


class MetricSuite:
    """Spectral metrics between two sets of 10,000 images (float64 inside)."""

    timeout = 300

    def setup_cache(self):
        return cifar10(10_000), cifar10(10_000, subset="test")

    def time_log_frequency_distance(self, data):
        log_frequency_distance(data[0], data[1], SHAPE)

    def time_radial_power_spectrum(self, data):
        radial_power_spectrum(data[0], SHAPE)


class StigSuite:
    """method="stig": one training epoch on 500 real + 500 low-passed images."""

    timeout = 600

    def setup_cache(self):
        real = cifar10(1000)
        generated = low_pass(real[500:].reshape(-1, *SHAPE)).reshape(500, -1)
        X = np.vstack([real[:500], generated])
        y = np.r_[np.ones(500), np.zeros(500)]
        return X, y

    def time_fit_one_epoch(self, data):
        SpectrumRefiner("stig", image_shape=SHAPE, max_iter=1, random_state=0,
                        device="cpu").fit(*data)
