"""
==========================================================
Refining the samples of a generative pipeline
==========================================================

A :class:`~skspectral.SpectrumRefiner` placed first in a
:class:`~skspectral.pipeline.GenerativePipeline` learns the spectrum of the
real images that flow through ``fit`` (its forward ``transform`` leaves them
unchanged) and refines the samples on their way back (``inverse_transform``).

Here the generator is PCA + a Gaussian prior on CIFAR-10: its samples are
over-smooth, which shows as missing power at high frequencies. The CIFAR-10
arrays were decoded from a JPEG copy of the dataset (about 30 dB from the
true pixels), so the numbers are not official CIFAR-10 results.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import StandardScaler

from skspectral import CoefficientPrior, SpectrumRefiner
from skspectral.datasets import load_images
from skspectral.metrics import log_frequency_distance
from skspectral.pipeline import make_pipeline
from skspectral.plotting import plot_image_grid, plot_log_spectrum, plot_radial_spectrum

shape = (32, 32, 3)
train = load_images("../../shared/data/cifar10/train_images_20k.npy", n_samples=2000).data
test = load_images("../../shared/data/cifar10/test_images.npy", n_samples=1000).data

plain = make_pipeline(PCA(64, random_state=0), CoefficientPrior()).fit(train)
refined_model = make_pipeline(
    SpectrumRefiner(image_shape=shape), PCA(64, random_state=0), CoefficientPrior()
).fit(train)

raw = plain.sample(1000, random_state=0)
refined = refined_model.sample(1000, random_state=0)  # the same draws, refined
print(f"LFD to held-out images: raw {log_frequency_distance(raw, test, shape):.2f}, "
      f"refined {log_frequency_distance(refined, test, shape):.2f}, "
      f"real train images {log_frequency_distance(train[:1000], test, shape):.2f}")

# %%
# A detector on log-spectra
# -------------------------
# STIG's test: a logistic regression on the (channel-averaged) log-magnitude
# spectra tells real from generated images. After refinement it should be
# much closer to chance (0.5). Train on half, test on the other half.


def log_spectra(X):
    spectra = np.fft.fft2(np.asarray(X, dtype=np.float64).reshape(-1, *shape), axes=(1, 2))
    return np.log1p(np.abs(spectra)).mean(axis=3).reshape(len(X), -1)


def detector_accuracy(generated):
    features = np.vstack([log_spectra(test), log_spectra(generated)])
    labels = np.r_[np.ones(len(test)), np.zeros(len(generated))]
    half = np.arange(len(labels)) % 2 == 0
    clf = sk_make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=2000))
    clf.fit(features[half], labels[half])
    return clf.score(features[~half], labels[~half])


print(f"detector accuracy: raw {detector_accuracy(raw):.3f}, "
      f"refined {detector_accuracy(refined):.3f}")

# %%
# Spectra and samples
# -------------------
fig, axes = plt.subplots(1, 4, figsize=(12, 3))
plot_radial_spectrum({"held-out real": test, "raw samples": raw, "refined": refined},
                     shape, ax=axes[0])
for ax, (label, images) in zip(axes[1:], {"real": test, "raw": raw, "refined": refined}.items()):
    plot_log_spectrum(images, shape, ax=ax, title=label, vmin=0, vmax=5)
fig.tight_layout()

fig, axes = plt.subplots(1, 3, figsize=(12, 4.4))
for ax, (label, images) in zip(axes, {"real": test, "raw": raw, "refined": refined}.items()):
    plot_image_grid(images[:24], shape, n_cols=6, ax=ax, title=label)
fig.tight_layout()
plt.show()
