"""
=====================================================
Spectral dictionary samples on CIFAR-10
=====================================================

A :class:`~skspectral.SpectralDictionary` on colour images: each 32x32x3
image is a signal of 3,072 samples (row-major, channels interleaved). We fit
128 atoms on 4,000 training images for three epochs, draw 64 samples from a
Gaussian-mixture prior over the mixing weights and check how far they are
from their nearest training images.

The CIFAR-10 arrays in ``shared/data`` were decoded from a JPEG copy of the
data set (about 30 dB from the true pixels), so numbers here are not
official CIFAR-10 results.
"""

import time

import matplotlib.pyplot as plt
import numpy as np

from skspectral import CoefficientPrior, SpectralDictionary
from skspectral.datasets import load_images
from skspectral.metrics import nearest_neighbor_distance
from skspectral.plotting import plot_image_grid, plot_learned_frequencies

data = load_images("../../shared/data/cifar10/train_images_20k.npy", n_samples=5_000)
X_train, X_test = data.data[:4_000], data.data[4_000:]

model = SpectralDictionary(
    n_atoms=128,
    max_iter=3,
    image_shape=(32, 32, 3),
    prior=CoefficientPrior("gmm", n_components=5, random_state=0),
    random_state=0,
)
start = time.perf_counter()
model.fit(X_train)
print(f"fit: {time.perf_counter() - start:.1f} s for {model.n_iter_} epochs")
recon = np.clip(model.inverse_transform(model.transform(X_test)), 0, 1)
print(f"held-out MSE with 128 atoms: {np.mean((recon - X_test) ** 2):.5f}")

fig, axes = plt.subplots(1, 2, figsize=(8, 2.5))
plot_image_grid(X_test[:16], (32, 32, 3), ax=axes[0], title="held-out images")
plot_image_grid(recon[:16], (32, 32, 3), ax=axes[1], title="reconstructions")

# %%
# 64 samples and their distance to the training set
# -------------------------------------------------
samples = np.clip(model.sample(64, random_state=0), 0, 1)
dist, ratio = nearest_neighbor_distance(samples, X_train, return_ratio=True)
print(f"nearest training image: median distance {np.median(dist):.2f} "
      f"({np.median(ratio):.2f}x the training set's nearest-neighbour distance)")
plot_image_grid(samples, (32, 32, 3), title="64 samples")

# %%
# Learned frequencies. Colour images interleave the three channels, so
# atoms gather near 1/3 cycles per sample (channel contrast) and near
# multiples of 1/96 (one image row is 96 samples).
plot_learned_frequencies(model)
plt.show()
