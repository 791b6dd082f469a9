"""SpectralDictionary: fit with defaults, CIFAR-10 epochs, synthesis/transform vs a bare GEMM."""

import numpy as np
from sklearn.decomposition import PCA

from skspectral import SpectralDictionary
from skspectral.spectral._ridge import synthesize, synthesize_numba

from ._data import cifar10, mnist


def _held_out_mse(model, X):
    """Mean squared error of ``inverse_transform(transform(X))``."""
    return np.mean((model.inverse_transform(model.transform(X)) - X) ** 2)


class FitMNISTSuite:
    """Fit time of the defaults (K=256, 10 epochs) on 10,000 MNIST images.

    ``image_shape=None`` reads the images as 1-D signals; ``(28, 28)`` also
    feeds each pixel's row and column to the modulation network.
    """

    params = [None, (28, 28)]
    param_names = ["image_shape"]
    timeout = 600
    number = 1
    repeat = 1
    warmup_time = 0

    def setup(self, image_shape):
        self.X = mnist(10_000)

    def time_fit_defaults(self, image_shape):
        SpectralDictionary(image_shape=image_shape, random_state=0, device="cpu").fit(self.X)


class HeldOutErrorSuite:
    """Held-out MSE of transform + inverse_transform divided by PCA's at the same K.

    ``layout="signal"`` fits the flattened images as plain 1-D signals (no
    ``image_shape``: the raster as given, the network reads ``t`` alone);
    ``"image"`` passes ``image_shape`` (colour read channel by channel, the
    network also reads row, column and channel). MNIST: 64 atoms, 10,000
    training and 2,000 test images; CIFAR-10 (JPEG-decoded copy): 256 atoms,
    training images 0-8,000 and 8,000-10,000 held out.
    """

    params = [["mnist", "cifar10"], ["signal", "image"]]
    param_names = ["dataset", "layout"]
    timeout = 1800
    number = 1
    repeat = 1

    def setup_cache(self):
        cifar = cifar10(10_000)
        data = {
            "mnist": (mnist(10_000), mnist(2_000, subset="test"), (28, 28), 64),
            "cifar10": (cifar[:8_000], cifar[8_000:], (32, 32, 3), 256),
        }
        ratios = {}
        for name, (train, test, shape, k) in data.items():
            pca_mse = _held_out_mse(PCA(k, random_state=0).fit(train), test)
            for layout in self.params[1]:
                model = SpectralDictionary(
                    k, image_shape=shape if layout == "image" else None, random_state=0,
                    device="cpu",
                ).fit(train)
                ratios[name, layout] = float(_held_out_mse(model, test) / pca_mse)
        return ratios

    def track_mse_over_pca(self, ratios, dataset, layout):
        return ratios[dataset, layout]

    track_mse_over_pca.unit = "ratio"


class FitCIFAR10EpochSuite:
    """Seconds per epoch on 10,000 CIFAR-10 images (T=3072, K=256), CPU."""

    timeout = 600
    number = 1
    repeat = 1
    warmup_time = 0

    def setup(self):
        self.X = cifar10(10_000)

    def time_fit_two_epochs(self):
        SpectralDictionary(256, max_iter=2, tol=0, random_state=0, device="cpu").fit(self.X)


class SynthesisSuite:
    """sample(10_000) and transform(10_000) at K=256 against the bare GEMM of the same shape."""

    params = ["mnist", "cifar10"]
    param_names = ["dataset"]
    timeout = 600

    def setup_cache(self):
        models = {}
        for name, load in (("mnist", mnist), ("cifar10", cifar10)):
            X = load(2_000)
            # One epoch is enough: timing does not depend on the atoms' quality.
            models[name] = SpectralDictionary(256, max_iter=1, random_state=0, device="cpu").fit(X)
        return models

    def setup(self, models, dataset):
        self.model = models[dataset]
        rng = np.random.RandomState(0)
        t = self.model.n_features_in_
        self.X = rng.rand(10_000, t).astype(np.float32)
        self.W = rng.standard_normal((10_000, 256)).astype(np.float32)
        self.S = self.model.components_
        self.mean = self.model.mean_
        self.out = np.empty((10_000, t), dtype=np.float32)

    def time_gemm_floor_synthesis(self, models, dataset):
        self.W @ self.S

    def time_gemm_floor_transform(self, models, dataset):
        self.X @ self.S.T

    def time_sample_10k(self, models, dataset):
        self.model.sample(10_000, random_state=0)

    def time_inverse_transform_10k(self, models, dataset):
        self.model.inverse_transform(self.W)

    def time_transform_10k(self, models, dataset):
        self.model.transform(self.X)

    def time_synthesis_blas_10k(self, models, dataset):
        synthesize(self.W, self.S, self.mean, out=self.out)



class SynthesisNumbaSuite:
    """The Numba synthesis kernel against BLAS (MNIST shape, 10,000 x 256 -> 784).

    Kept to justify the BLAS choice on the CPU; the CIFAR-10 shape is left out
    because the Numba kernel takes tens of seconds there.
    """

    timeout = 300

    def setup(self):
        rng = np.random.RandomState(0)
        self.W = rng.standard_normal((10_000, 256)).astype(np.float32)
        self.S = rng.standard_normal((256, 784)).astype(np.float32)
        self.mean = rng.rand(784).astype(np.float32)
        self.out = np.empty((10_000, 784), dtype=np.float32)
        synthesize_numba(self.W[:10], self.S, self.mean, self.out[:10])  # compile

    def time_blas(self):
        synthesize(self.W, self.S, self.mean, out=self.out)

    def time_numba(self):
        synthesize_numba(self.W, self.S, self.mean, self.out)
