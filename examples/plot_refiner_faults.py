"""
=======================================================
Removing spectral faults with SpectrumRefiner
=======================================================

Generated images often differ from real ones in the frequency domain: the
transposed convolutions of GAN generators draw a grid (bright peaks in the
spectrum) and smooth models lose the high frequencies. This example builds
both faults from real CIFAR-10 images (as in Figure 1 of the STIG paper),
then corrects them with :class:`~skspectral.SpectrumRefiner`:

* ``method="profile"`` learns the real images' mean log-magnitude spectrum
  and applies one per-frequency gain to the faulty set (closed form);
* ``method="stig"`` trains a small translator of log-magnitude spectra
  (adversarial + PatchNCE + spectral losses).

Both keep each image's phase. We measure the log frequency distance (LFD)
and the PSNR to the clean images. The CIFAR-10 arrays in ``shared/data``
were decoded from a JPEG copy of the dataset (about 30 dB from the true
pixels), so the numbers are not official CIFAR-10 results.
"""

# %%
# Data and faults
# ---------------
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.nn import functional as F

from skspectral import SpectrumRefiner
from skspectral.datasets import load_images
from skspectral.metrics import log_frequency_distance, psnr
from skspectral.plotting import plot_image_grid, plot_log_spectrum, plot_radial_spectrum


def upsampling_grid(images):
    """x2 average-pool, then a x2 transposed convolution with a 3x3 kernel.

    With stride 2 the taps of ``(0.6, 1, 0.6) / 1.1`` overlap unevenly, which
    draws the checkerboard grid of transposed-convolution generators (Odena
    et al., "Deconvolution and Checkerboard Artifacts", 2016).
    """
    x = torch.as_tensor(np.asarray(images, dtype=np.float64)).permute(0, 3, 1, 2)
    n_channels = x.shape[1]
    taps = torch.tensor([0.6, 1.0, 0.6], dtype=x.dtype) / 1.1
    kernel = torch.outer(taps, taps).expand(n_channels, 1, 3, 3).contiguous()
    up = F.conv_transpose2d(F.avg_pool2d(x, 2), kernel, stride=2, padding=1,
                            output_padding=1, groups=n_channels)
    return up.permute(0, 2, 3, 1).numpy()


def low_pass(images, sigma=1.0):
    """Gaussian low-pass in the Fourier domain (periodic), ``sigma`` in pixels."""
    x = np.asarray(images, dtype=np.float64)
    fy = np.fft.fftfreq(x.shape[1])[:, None]
    fx = np.fft.fftfreq(x.shape[2])[None, :]
    transfer = np.exp(-2.0 * (np.pi * sigma) ** 2 * (fy**2 + fx**2))
    return np.fft.ifft2(np.fft.fft2(x, axes=(1, 2)) * transfer[None, :, :, None],
                        axes=(1, 2)).real


torch.set_num_threads(1)  # tiny networks: one thread is fastest on a shared machine
shape = (32, 32, 3)
real = load_images("../../shared/data/cifar10/train_images_20k.npy", n_samples=1500).data
clean = load_images("../../shared/data/cifar10/test_images.npy", n_samples=500).data

faults = {"grid (transposed conv)": upsampling_grid, "low-pass": low_pass}
faulty = {name: f(clean.reshape(-1, *shape)).reshape(len(clean), -1) for name, f in faults.items()}

# %%
# Refine: profile (closed form) and STIG (learned)
# --------------------------------------------------
# The profile refiner only needs real images. STIG also needs generated
# images with the same fault (here: the fault applied to other real images),
# marked ``y = 0``.
profile = SpectrumRefiner(image_shape=shape).fit(real[:1000])
refined = {}
for name, fault in faults.items():
    generated = fault(real[1000:].reshape(-1, *shape)).reshape(500, -1)
    X = np.vstack([real[:500], generated])
    y = np.r_[np.ones(500), np.zeros(500)]
    stig = SpectrumRefiner("stig", image_shape=shape, max_iter=5, random_state=0).fit(X, y)
    refined[name] = {
        "profile": profile.inverse_transform(faulty[name]),
        "stig": stig.inverse_transform(faulty[name]),
    }

print(f"{'fault':24s} {'method':8s} {'LFD':>6s} {'PSNR (dB)':>10s}")
for name in faults:
    rows = {"none": faulty[name], **refined[name]}
    for method, images in rows.items():
        print(f"{name:24s} {method:8s} {log_frequency_distance(images, clean, shape):6.2f} "
              f"{psnr(images, clean):10.2f}")

# %%
# Spectra before and after
# ------------------------
# The radial power spectrum shows the missing high frequencies of the
# low-passed images coming back; the log-spectrum images show the grid
# peaks of the upsampled images (at half the sampling rate) removed.
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for ax, name in zip(axes, faults):
    plot_radial_spectrum(
        {"clean": clean, "faulty": faulty[name], "profile": refined[name]["profile"],
         "stig": refined[name]["stig"]},
        shape, ax=ax, title=name,
    )
fig.tight_layout()

fig, axes = plt.subplots(2, 4, figsize=(10, 5.4))
for row, name in zip(axes, faults):
    panels = {"clean": clean, "faulty": faulty[name], **refined[name]}
    for ax, (label, images) in zip(row, panels.items()):
        plot_log_spectrum(images, shape, ax=ax, title=f"{label}", vmin=0, vmax=5)
    row[0].set_ylabel(name)
fig.tight_layout()

# %%
# The images
# ----------
fig, axes = plt.subplots(2, 4, figsize=(12, 6.6))
for row, name in zip(axes, faults):
    panels = {"clean": clean, "faulty": faulty[name], **refined[name]}
    for ax, (label, images) in zip(row, panels.items()):
        plot_image_grid(images[:16], shape, n_cols=4, ax=ax, title=f"{name}: {label}")
fig.tight_layout()
plt.show()
