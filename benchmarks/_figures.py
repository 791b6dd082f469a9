"""Sample grids of the "Choosing a model and prior" guide.

Run from the repository root (writes the PNG files into ``OUT_DIR``; name
figures after it to draw only those)::

    python -m benchmarks._figures docs/_static [mnist] [cifar] [gaussianized]

Every system is fitted as in ``_quality`` (the first 10,000 training
images) with ``random_state=0`` and draws 24 samples with seed 0.
"""

import sys
from pathlib import Path

import numpy as np

from . import _quality as q

N_SHOWN = 24


def _save_grids(X, systems, image_shape, path):
    """Real images beside the samples of every system fitted on ``X``, one grid each."""
    rows = [("real", X[:N_SHOWN])]
    rows += [(name, q.draw(model.fit(X), N_SHOWN)) for name, model in systems.items()]
    _save_rows(rows, image_shape, path)


def _save_rows(rows, image_shape, path):
    """One grid of images per (title, images) pair, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skspectral.plotting import plot_image_grid

    fig, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 3.0))
    for ax, (title, images) in zip(axes, rows):
        plot_image_grid(np.clip(images, 0, 1), image_shape, n_cols=6, ax=ax, title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def mnist_figure(path):
    """Real digits beside unconditional samples of the peer and two library models."""
    from skspectral import SparseSupportMRF, SpectralDictionary

    systems = {
        "PCA(64) + GMM(20)": q.SklearnBaseline(64, 20),
        "SpectralDictionary(64)": SpectralDictionary(n_atoms=64, image_shape=q.MNIST_SHAPE,
                                                     random_state=0),
        "SparseSupportMRF()": SparseSupportMRF(random_state=0),
    }
    _save_grids(q.mnist_data()[0], systems, q.MNIST_SHAPE, path)


def cifar_figure(path):
    """Real CIFAR-10 images beside samples of PCA + Gaussian and the spectral dictionary."""
    from skspectral import SpectralDictionary

    systems = {
        "PCA(256) + Gaussian": q.SklearnBaseline(256, 1),
        "SpectralDictionary(256)": SpectralDictionary(n_atoms=256, image_shape=q.CIFAR_SHAPE,
                                                      random_state=0),
    }
    _save_grids(q.cifar_data()[0], systems, q.CIFAR_SHAPE, path)


def gaussianized_figure(path, temperature=1.2):
    """Real CIFAR-10 images beside PCA + Gaussian and the Gaussianized prior at two temperatures."""
    X = q.cifar_data()[0]
    model = q.gaussianized_pca().fit(X)
    rows = [("real", X[:N_SHOWN]),
            ("PCA(256) + Gaussian", q.draw(q.SklearnBaseline(256, 1).fit(X), N_SHOWN))]
    for t in (1.0, temperature):
        model.set_params(coefficientprior__temperature=t)
        rows.append((f"gaussianize=3, temperature {t:g}", q.draw(model, N_SHOWN)))
    _save_rows(rows, q.CIFAR_SHAPE, path)


FIGURES = {
    "mnist": (mnist_figure, "choosing_mnist.png"),
    "cifar": (cifar_figure, "choosing_cifar10.png"),
    "gaussianized": (gaussianized_figure, "choosing_cifar10_gaussianized.png"),
}


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[2:] or FIGURES:
        figure, filename = FIGURES[name]
        figure(out / filename)
