"""
============================================================================
Generating digits from a sparsity model (K-SVD + Markov network on supports)
============================================================================

:class:`~skspectral.SparseSupportMRF` implements Vaksman & Elad's "Image
Generation Using a Sparsity Model". A K-SVD dictionary codes every MNIST
digit with exactly 10 atoms (Batch-OMP). A pairwise Markov network over the
*supports* (which signed atoms are used together) is fitted from the training
codes; new supports are drawn by Gibbs sampling and their coefficients by a
Gaussian fitted with EM to the training images that share atoms with the
drawn support.

This example fits the model on 10,000 real MNIST digits, shows learned
atoms, 64 samples beside their nearest training images (the paper's
Figures 2-3), and the paper's Figure 1 baseline: the same number of atoms,
chosen at random, with coefficients of the same statistics.
"""

import time

import matplotlib.pyplot as plt
import numpy as np

from skspectral import SparseSupportMRF
from skspectral.datasets import fetch_mnist
from skspectral.plotting import plot_image_grid

# sphinx-gallery runs examples from examples/; the data live beside the checkout.
train = fetch_mnist(data_home="../../shared/data", n_samples=10_000)
test = fetch_mnist(data_home="../../shared/data", subset="test", n_samples=2_000)

# %%
# Fit: K-SVD (256 atoms, 10 per image) and the support statistics.
start = time.perf_counter()
model = SparseSupportMRF(n_atoms=256, n_nonzero_coefs=10, random_state=0).fit(train.data)
print(f"fit in {time.perf_counter() - start:.1f} s; K-SVD error per iteration:")
print(np.round(model.reconstruction_error_, 5))
print(f"held-out reconstruction MSE (OMP, k=10): {model.reconstruction_error(test.data):.5f}")

fig, ax = plt.subplots(figsize=(6, 6))
order = np.argsort(-model.support_marginals_[:256] - model.support_marginals_[256:])
plot_image_grid(model.components_[order[:64]] / np.abs(model.components_).max() * 2,
                train.image_shape, ax=ax, vmin=-1, vmax=1,
                title="the 64 most used atoms")
plt.show()

# %%
# Sample: Gibbs-sampled supports, EM-fitted Gaussian coefficients.
start = time.perf_counter()
samples, supports = model.sample(64, random_state=0, return_supports=True)
print(f"64 samples in {time.perf_counter() - start:.2f} s")
print("support of the first sample (signed atoms, m + 256 is -d_m):", np.sort(supports[0]))

# %%
# Samples beside their nearest training images (Euclidean distance). Close
# but different neighbours mean the model combines what it has seen rather
# than copying training digits.
d2 = ((samples**2).sum(1)[:, None] - 2 * samples @ train.data.T
      + (train.data**2).sum(1)[None, :])
nearest = train.data[np.argmin(d2, axis=1)]
fig, axes = plt.subplots(1, 2, figsize=(12, 6))
plot_image_grid(samples, train.image_shape, ax=axes[0], title="SparseSupportMRF samples")
plot_image_grid(nearest, train.image_shape, ax=axes[1], title="nearest training image")
plt.show()

# %%
# The Figure 1 baseline: 10 atoms chosen uniformly at random, coefficients
# drawn from the training coefficients. Without the support model the
# images are not digits, which is what the Markov network adds.
rng = np.random.RandomState(0)
codes = model.transform(train.data)
nonzero = codes[codes != 0]
random_codes = np.zeros((64, 256), dtype=codes.dtype)
for row in random_codes:
    row[rng.choice(256, 10, replace=False)] = rng.choice(nonzero, 10)
baseline = np.clip(model.inverse_transform(random_codes), 0, 1)
fig, ax = plt.subplots(figsize=(6, 6))
plot_image_grid(baseline, train.image_shape, ax=ax, title="random 10-atom combinations")
plt.show()
