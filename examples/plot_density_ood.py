"""
=====================================================
Out-of-distribution detection by log-likelihood
=====================================================

Every skspectral model is a density in pixel space: ``score_samples`` gives
the log-likelihood of each image (see the user guide, "Densities and model
selection"). A model fitted on handwritten digits should find digits likely
and other images unlikely, which makes the log-likelihood a detector of
inputs the model was not trained for.

This example fits :class:`~skspectral.SpectralDictionary` and
:class:`~skspectral.ConvSparseCoder` on 3,000 MNIST digits, scores held-out
digits against grey 28 x 28 crops of CIFAR-10 photographs (the JPEG-decoded
copy beside the repository) and against digits turned upside down, and
measures each detector by its ROC AUC (1 is perfect, 0.5 is chance), beside
probabilistic PCA of the same size. All images are dequantised first, as a
continuous density must be scored on continuous data.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

from skspectral import ConvSparseCoder, SpectralDictionary
from skspectral.datasets import fetch_mnist, load_images
from skspectral.metrics import bits_per_dim, dequantize

train = fetch_mnist(data_home="../../shared/data", n_samples=3_000)
test = fetch_mnist(data_home="../../shared/data", subset="test", n_samples=1_000)
X_train = dequantize(train.images, random_state=0)
digits = test.images.reshape(len(test.images), -1)

# Other images: CIFAR-10 photographs in grey, centre-cropped to 28 x 28.
photos = load_images("../../shared/data/cifar10/test_images.npy", n_samples=1_000).images
grey = photos[:, 2:30, 2:30].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
photos = np.rint(grey).astype(np.uint8).reshape(len(grey), -1)
# Digits upside down: the same strokes, in places no training digit has them.
flipped = test.images[:, ::-1, ::-1].reshape(len(test.images), -1)

# %%
# Fit the models
# --------------
models = {
    "probabilistic PCA(64)": PCA(64, random_state=0),
    "SpectralDictionary(n_atoms=64)": SpectralDictionary(
        n_atoms=64, image_shape=(28, 28), max_iter=10, random_state=0),
    "ConvSparseCoder()": ConvSparseCoder(image_shape=(28, 28), max_iter=3, random_state=0),
}
for model in models.values():
    model.fit(X_train)

# %%
# Score and detect
# ----------------
# ``score_samples`` of dequantised images; the bits per dimension of the
# held-out digits show how good each density is, the AUC how well its
# log-likelihood separates digits from the other images.
scores, rows = {}, []
for name, model in models.items():
    scores[name] = {
        label: model.score_samples(dequantize(images, random_state=1))
        for label, images in [("digits", digits), ("photos", photos), ("flipped", flipped)]
    }
    auc = {
        other: roc_auc_score(
            np.r_[np.ones(len(digits)), np.zeros(len(scores[name][other]))],
            np.r_[scores[name]["digits"], scores[name][other]])
        for other in ("photos", "flipped")
    }
    rows.append((name, bits_per_dim(model, digits, random_state=1), auc["photos"],
                 auc["flipped"]))

print(f"{'model':32s} {'bits/dim':>9s} {'AUC photos':>11s} {'AUC flipped':>12s}")
for name, bpd, auc_photos, auc_flipped in rows:
    print(f"{name:32s} {bpd:9.3f} {auc_photos:11.3f} {auc_flipped:12.3f}")

# %%
# The log-likelihoods
# -------------------
# Per image, in bits per pixel value (higher log-likelihood is to the right).
fig, axes = plt.subplots(1, len(models), figsize=(12, 3.2), sharey=True)
for ax, (name, by_set) in zip(axes, scores.items()):
    for label, values in by_set.items():
        bits = values / (digits.shape[1] * np.log(2))
        ax.hist(bits, bins=40, alpha=0.6, label=label, density=True)
    ax.set_title(name, fontsize=9)
    ax.set_xlabel("log-likelihood (bits per dimension)")
axes[0].legend()
fig.tight_layout()
plt.show()
