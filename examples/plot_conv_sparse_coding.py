"""
==============================================================
Convolutional sparse coding: regenerations and class samples
==============================================================

:class:`~skspectral.ConvSparseCoder` encodes an image with a few unrolled
FISTA steps of convolutional sparse coding and decodes it with the *same*
filters. This example

1. solves convolutional basis pursuit exactly with
   :func:`~skspectral.conv_sparse_code` (ADMM, the default) for random
   filters,
2. learns filters on CIFAR-10 and shows regenerations ``g(f(x))`` of
   held-out CIFAR-10 images and of MNIST digits the model never saw,
3. fits one prior per digit class on MNIST codes and draws class-conditional
   samples.

The CIFAR-10 arrays are a JPEG-decoded copy of the dataset (about 30 dB from
the original pixels), so numbers on them are not official CIFAR-10 results.
Trainings are kept to one or two epochs on a couple of thousand images so that the
example runs in about a minute on two CPU cores.
"""

# %%
# Exact convolutional basis pursuit
# ---------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_sample_images

from skspectral import ConvSparseCoder, conv_sparse_code
from skspectral.datasets import fetch_mnist, load_images
from skspectral.plotting import plot_filters, plot_image_grid

image = load_sample_images().images[0].astype(np.float32).mean(axis=-1) / 255
patches = np.stack([image[100 + 64 * i: 164 + 64 * i, 200:264] for i in range(4)])
patches -= patches.mean(axis=(1, 2), keepdims=True)
filters = np.random.RandomState(0).randn(32, 8, 8).astype(np.float32)
filters /= np.linalg.norm(filters.reshape(32, -1), axis=1)[:, None, None]
codes, objective, n_iter = conv_sparse_code(
    patches, filters, alpha=0.05, max_iter=300, device="cpu", return_n_iter=True
)
print(f"objective {objective:.2f} after {n_iter} ADMM iterations; "
      f"{np.mean(codes != 0):.1%} of the coefficients are non-zero")

# %%
# Regenerating CIFAR-10, and digits it never saw
# ----------------------------------------------
data = "../../shared/data"
X = load_images(f"{data}/cifar10/train_images_20k.npy", n_samples=1500).data
X_test = load_images(f"{data}/cifar10/test_images.npy", n_samples=16).data
model = ConvSparseCoder(n_filters=(32, 64), image_shape=(32, 32, 3), max_iter=1,
                        device="cpu", random_state=0).fit(X)

digits = fetch_mnist(data_home=data, subset="test", n_samples=16).data.reshape(16, 28, 28)
digits = np.pad(digits, ((0, 0), (2, 2), (2, 2)))
digits = np.repeat(digits[..., None], 3, axis=-1).reshape(16, -1).astype(np.float32)


def psnr(a, b):
    return np.mean(10 * np.log10(1 / np.mean((a - b) ** 2, axis=1)))


fig, axes = plt.subplots(2, 2, figsize=(10, 5.5))
for row, (name, imgs) in enumerate([("CIFAR-10 (held out)", X_test), ("MNIST (unseen)", digits)]):
    rec = np.clip(model.inverse_transform(model.transform(imgs)), 0, 1)
    plot_image_grid(imgs, (32, 32, 3), ax=axes[row, 0], title=name)
    plot_image_grid(rec, (32, 32, 3), ax=axes[row, 1],
                    title=f"g(f(x)), PSNR {psnr(imgs, rec):.1f} dB")
fig.tight_layout()

# %%
# The learned first-layer filters
plot_filters(model.dictionaries_[0], title="layer 1 filters (RGB)")

# %%
# Class-conditional MNIST samples
# -------------------------------
# With ``y``, one prior is fitted per class, on the images' principal
# coordinates; ``code_subspace_`` maps them to codes that decode to those
# directions, and ``sample(y=c)`` decodes codes drawn from class ``c``'s prior.
mnist = fetch_mnist(data_home=data, n_samples=2000)
coder = ConvSparseCoder(n_filters=(8, 16), image_shape=(28, 28), alpha=0.01, max_iter=2,
                        device="cpu", random_state=0).fit(mnist.data, mnist.target)
samples = coder.sample(60, y=np.repeat(np.arange(10), 6), random_state=0)
ax = plot_image_grid(np.clip(samples.reshape(10, 6, -1).transpose(1, 0, 2).reshape(60, -1), 0, 1),
                     (28, 28), n_cols=10, title="samples, one class per column (0-9)")
plt.show()
