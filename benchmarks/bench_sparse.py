"""Batch-OMP, K-SVD and SparseSupportMRF sampling against their peers.

Every suite measures skspectral and the peer in the same asv run:

* ``OMPSuite``: 10,000 signals of 784 features, a 512-atom dictionary,
  k = 10. skspectral's :func:`~skspectral.orthogonal_mp_batch` (float64 and
  float32), scikit-learn's ``orthogonal_mp_gram`` (given the Gram matrix and
  the correlations, computed inside the timed call) and the CPU mode
  ``run_omp(..., alg="v0_blas")`` of the PyPI package
  ``orthogonal-matching-pursuit-gpu``. ``random``: Gaussian signals and
  atoms; ``mnist``: real MNIST training images coded on 512 other,
  normalised MNIST images.
* ``KSVDSuite``: K-SVD (``SparseSupportMRF``'s dictionary learning) versus
  ``MiniBatchDictionaryLearning`` on 10,000 MNIST images, M = 256, k = 10:
  wall time and held-out OMP error on 2,000 test images.
* ``SampleSuite``: ``SparseSupportMRF.sample(1000)`` of a model fitted to
  10,000 MNIST images (M = 256, k = 10); with labels, 100 draws per class
  with the default class guidance and without it (``class_guidance=0``).
"""

import copy
import time

import numpy as np

from ._data import mnist, mnist_labels

N_SIGNALS, N_ATOMS, K = 10_000, 512, 10
#: Labels of a class-conditional draw of 1,000: 100 of each digit.
PER_CLASS = np.repeat(np.arange(10), 100)


def _unit(unit):
    def decorate(func):
        func.unit = unit
        return func

    return decorate


def _omp_problem(kind):
    if kind == "random":
        rng = np.random.RandomState(0)
        X = rng.standard_normal((N_SIGNALS, 784))
        D = rng.standard_normal((N_ATOMS, 784))
    else:
        data = mnist(N_SIGNALS + N_ATOMS).astype(np.float64)
        X, D = data[:N_SIGNALS], data[N_SIGNALS:]
    D = D / np.linalg.norm(D, axis=1, keepdims=True)
    return np.ascontiguousarray(X), np.ascontiguousarray(D)


class OMPSuite:
    """OMP throughput: skspectral vs scikit-learn vs orthogonal-matching-pursuit-gpu (CPU)."""

    params = ["random", "mnist"]
    param_names = ["signals"]
    timeout = 600
    number = 1
    repeat = 3

    def setup(self, kind):
        from skspectral import orthogonal_mp_batch

        self.X, self.D = _omp_problem(kind)
        self.X32, self.D32 = self.X.astype(np.float32), self.D.astype(np.float32)
        # compile (or load) the Numba kernels outside the timings
        orthogonal_mp_batch(self.X[:4], self.D, K)
        orthogonal_mp_batch(self.X32[:4], self.D32, K)

    def time_skspectral_orthogonal_mp_batch(self, kind):
        from skspectral import orthogonal_mp_batch

        orthogonal_mp_batch(self.X, self.D, K)

    def time_skspectral_orthogonal_mp_batch_float32(self, kind):
        from skspectral import orthogonal_mp_batch

        orthogonal_mp_batch(self.X32, self.D32, K)

    def time_sklearn_orthogonal_mp_gram(self, kind):
        from sklearn.linear_model import orthogonal_mp_gram

        orthogonal_mp_gram(self.D @ self.D.T, self.D @ self.X.T, n_nonzero_coefs=K)

    def time_omp_gpu_v0_blas_cpu(self, kind):
        import torch
        from orthogonal_matching_pursuit_gpu import run_omp

        run_omp(torch.as_tensor(self.D.T.copy()), torch.as_tensor(self.X), K,
                normalize=False, fit_intercept=False, alg="v0_blas")

    @_unit("fraction")
    def track_support_agreement_with_sklearn(self, kind):
        """Share of the signals whose support equals scikit-learn's (first 1,000)."""
        from sklearn.linear_model import orthogonal_mp_gram

        from skspectral import orthogonal_mp_batch

        X = self.X[:1000]
        ours = orthogonal_mp_batch(X, self.D, K) != 0
        ref = orthogonal_mp_gram(self.D @ self.D.T, self.D @ X.T, n_nonzero_coefs=K).T != 0
        return float(np.mean(np.all(ours == ref, axis=1)))



class KSVDSuite:
    """K-SVD vs MiniBatchDictionaryLearning on 10,000 MNIST images, M=256, k=10.

    Both are fitted once, in the same run, in ``setup_cache``; the tracks
    report their wall time and held-out OMP error (2,000 test images).
    """

    timeout = 900

    def setup_cache(self):
        from sklearn.decomposition import MiniBatchDictionaryLearning

        from skspectral import SparseSupportMRF, orthogonal_mp_batch

        X, X_test = mnist(10_000), mnist(2_000, subset="test")
        SparseSupportMRF(16, 2, max_iter=1, random_state=0).fit(X[:500])  # compile kernels
        out = {}
        for name, max_iter in [("ksvd_10", 10), ("ksvd_30", 30)]:
            start = time.perf_counter()
            model = SparseSupportMRF(256, n_nonzero_coefs=K, max_iter=max_iter, random_state=0).fit(X)
            out[name] = (time.perf_counter() - start, model.reconstruction_error(X_test))
        start = time.perf_counter()
        mbdl = MiniBatchDictionaryLearning(n_components=256, batch_size=256, max_iter=10,
                                           random_state=0).fit(X)
        seconds = time.perf_counter() - start
        D = mbdl.components_
        codes = orthogonal_mp_batch(X_test, D, K)
        out["minibatch"] = (seconds, float(np.mean((X_test - codes @ D) ** 2)))
        return out

    @_unit("seconds")
    def track_ksvd_10_seconds(self, out):
        return out["ksvd_10"][0]

    @_unit("mse")
    def track_ksvd_10_heldout_mse(self, out):
        return out["ksvd_10"][1]

    @_unit("seconds")
    def track_ksvd_30_seconds(self, out):
        return out["ksvd_30"][0]

    @_unit("mse")
    def track_ksvd_30_heldout_mse(self, out):
        return out["ksvd_30"][1]

    @_unit("seconds")
    def track_minibatch_dictionary_learning_seconds(self, out):
        return out["minibatch"][0]

    @_unit("mse")
    def track_minibatch_dictionary_learning_heldout_mse(self, out):
        return out["minibatch"][1]



class SampleSuite:
    """SparseSupportMRF.sample(1000), model fitted on 10,000 MNIST images, M=256, k=10.

    ``coefficient_model="em"`` (the paper's per-support EM) and
    ``"regression"`` are both fitted in ``setup_cache``, so one run compares them;
    so are the class-conditional draws of a model fitted with the labels, guided
    (the default) and unguided.
    """

    timeout = 600
    number = 1
    repeat = 3

    def setup_cache(self):
        from skspectral import SparseSupportMRF

        models = {}
        for coefficient_model in ("em", "regression"):
            model = SparseSupportMRF(256, n_nonzero_coefs=K, coefficient_model=coefficient_model,
                                     random_state=0).fit(mnist(10_000))
            model.sample(10, random_state=0)  # compile the sampling kernels
            models[coefficient_model] = model
        guided = SparseSupportMRF(256, n_nonzero_coefs=K, random_state=0).fit(
            mnist(10_000), mnist_labels(10_000))
        unguided = copy.deepcopy(guided)
        unguided.prior_.set_params(class_guidance=0.0)
        models["by class"], models["by class, unguided"] = guided, unguided
        return models

    def time_sample_1000(self, models):
        models["em"].sample(1000, random_state=0)

    def time_sample_1000_regression(self, models):
        models["regression"].sample(1000, random_state=0)

    def time_sample_1000_by_class(self, models):
        models["by class"].sample(1000, y=PER_CLASS, random_state=0)

    def time_sample_1000_by_class_unguided(self, models):
        models["by class, unguided"].sample(1000, y=PER_CLASS, random_state=0)

    def time_gibbs_supports_1000(self, models):
        from skspectral.prior import _support

        model = models["em"]
        s = model.prior_._densities[0].sampler
        _support.draw_supports(s["log_unary"], s["log_pair"], model.components_.shape[0],
                               model.n_nonzero_coefs_, 1000,
                               _support.burn_in_sweeps(model.burn_in, "sequential"),
                               model.n_gibbs_sweeps, np.random.RandomState(0))
