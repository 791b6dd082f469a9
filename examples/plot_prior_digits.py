"""
=====================================================
Sampling digits with PCA and a CoefficientPrior
=====================================================

The simplest generative pipeline: PCA is a linear dictionary, a Gaussian
mixture over its codes is the prior, and :class:`~skspectral.pipeline.GenerativePipeline`
maps draws back to pixels. Every model in skspectral plugs into the same
pattern in place of PCA.
"""

import matplotlib.pyplot as plt
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from skspectral import CoefficientPrior
from skspectral.datasets import load_digits_images
from skspectral.metrics import nearest_neighbor_distance
from skspectral.pipeline import make_pipeline
from skspectral.plotting import plot_image_grid

digits = load_digits_images()
X_train, X_test = train_test_split(digits.data, test_size=0.25, random_state=0)

# %%
# Fit the pipeline and compare priors by held-out log-likelihood of the codes
# (the pipeline's ``score`` is the last step's score on transformed data).
for kind, n_components in [("gaussian", 1), ("gmm", 10)]:
    model = make_pipeline(
        PCA(n_components=24, random_state=0),
        CoefficientPrior(kind, n_components=n_components, random_state=0),
    ).fit(X_train)
    print(f"{kind:>8}: held-out log-likelihood of codes {model.score(X_test):.1f}")

# %%
# Draw 32 samples from the mixture model and show them beside real digits.
samples = model.sample(32, random_state=0)
fig, axes = plt.subplots(1, 2, figsize=(10, 5))
plot_image_grid(X_test[:32], digits.image_shape, ax=axes[0], title="real digits")
plot_image_grid(samples, digits.image_shape, ax=axes[1], title="PCA + GMM samples")
plt.show()

# %%
# Samples are new images, not copies: their distance to the nearest training
# digit is comparable to the distance between two different training digits.
_, ratio = nearest_neighbor_distance(samples, X_train, return_ratio=True)
print(f"median nearest-training-image distance ratio: {float(ratio.mean()):.2f}")
