"""
=====================================================
Spectral dictionary learning on MNIST
=====================================================

:class:`~skspectral.SpectralDictionary` writes every image, flattened to a
signal of 784 samples, as a mix of learned, slowly modulated sinusoids. This
example fits it on 6,000 MNIST digits (the user guide has the 10,000-image
numbers), compares its held-out reconstruction
error with PCA's (the best any linear dictionary of the same size can do),
looks inside the model (atoms, learned frequencies, the per-image mixing
weights of the paper's Figure 2), draws 64 new digits with a Gaussian-mixture
prior over the weights, checks that they are not copies of training images,
and re-weights the atoms by frequency band at synthesis time.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

from skspectral import CoefficientPrior, SpectralDictionary
from skspectral.datasets import fetch_mnist
from skspectral.metrics import nearest_neighbor_distance
from skspectral.plotting import (
    plot_atoms,
    plot_image_grid,
    plot_learned_frequencies,
    plot_mixing_coefficients,
)

train = fetch_mnist(data_home="../../shared/data", n_samples=6_000)
test = fetch_mnist(data_home="../../shared/data", subset="test", n_samples=2_000)
X_train, X_test = train.data, test.data

# %%
# Fit
# ---
# Default training settings; 64 atoms and a 10-component Gaussian-mixture
# prior over the mixing weights (the paper uses one Gaussian; the default is
# a mixture of up to 30 components).
model = SpectralDictionary(
    n_atoms=64,
    image_shape=(28, 28),
    prior=CoefficientPrior("gmm", n_components=10, random_state=0),
    random_state=0,
)
start = time.perf_counter()
model.fit(X_train)
print(f"fit: {time.perf_counter() - start:.1f} s, {model.n_iter_} epochs")

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(np.arange(1, model.n_iter_ + 1), model.loss_curve_, marker="o")
ax.set_xlabel("epoch")
ax.set_ylabel("MSE + STFT loss")
fig.tight_layout()

# %%
# Held-out reconstruction against PCA
# -----------------------------------
pca = PCA(64, random_state=0).fit(X_train)
recon = model.inverse_transform(model.transform(X_test))
mse = np.mean((recon - X_test) ** 2)
pca_mse = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
print(f"held-out MSE: spectral {mse:.5f}, PCA {pca_mse:.5f} (ratio {mse / pca_mse:.3f})")
print(f"held-out log-likelihood per image: {model.score(X_test):.1f}")

fig, axes = plt.subplots(1, 2, figsize=(8, 2.5))
plot_image_grid(X_test[:16], (28, 28), ax=axes[0], title="held-out images")
plot_image_grid(recon[:16], (28, 28), ax=axes[1], title="reconstructions (64 atoms)")

# %%
# Inside the model
# ----------------
# Atoms are sorted by base frequency (cycles per sample along the flattened
# image). Atoms near a multiple of 1/28 cycles per sample line up with the
# image rows, so they read as vertical or slanted stripes.
plot_atoms(model, n_atoms=6)
plt.gcf().tight_layout()

# %%
# Base frequency of every atom, with the band its modulation sweeps along
# the signal (marker size: base amplitude).
plot_learned_frequencies(model)

# %%
# The paper's Figure 2: mixing weights of 20 images over the 64 atoms.
plot_mixing_coefficients(model, X_test, n_images=20)

# %%
# New digits
# ----------
# 64 samples: weights drawn from the prior, then synthesised. The distance to
# the nearest training image, divided by the training set's own
# nearest-neighbour distance, is well above zero: the samples are new images,
# not copies.
samples = np.clip(model.sample(64, random_state=0), 0, 1)
dist, ratio = nearest_neighbor_distance(samples, X_train, return_ratio=True)
print(f"nearest training image: median distance {np.median(dist):.2f} "
      f"({np.median(ratio):.2f}x the training set's nearest-neighbour distance)")
plot_image_grid(samples, (28, 28), title="64 samples")

# %%
# Controlled synthesis by frequency band
# --------------------------------------
# ``frequency_gain`` re-weights atoms by their base frequency when
# reconstructing or sampling. Keeping only the atoms below 0.1 cycles per
# sample removes the stripe-like detail carried by the higher bands.
codes = model.transform(X_test[:8])
bands = {
    "all atoms": None,
    "f < 0.1": SpectralDictionary.band_gain(0.0, 0.1),
    "f >= 0.1 boosted x2": SpectralDictionary.band_gain(0.1, 0.5, gain=2.0, outside=1.0),
}
fig, axes = plt.subplots(len(bands), 1, figsize=(8, 1.6 * len(bands)))
for ax, (name, gain) in zip(axes, bands.items()):
    images = np.clip(model.inverse_transform(codes, frequency_gain=gain), 0, 1)
    plot_image_grid(images, (28, 28), ax=ax, title=name)
fig.tight_layout()
plt.show()
