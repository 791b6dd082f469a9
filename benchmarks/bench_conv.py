"""Convolutional sparse coding: conv_sparse_code vs SPORCO, ConvSparseCoder epochs.

The solver comparison is the problem of issue 5: 16 grayscale 64x64 patches
of scikit-learn's ``china.jpg`` (mean removed), 32 random unit-norm 8x8
filters, alpha = 0.05, circular boundary, float32. All solvers are scored by
the same function (``circular_objective``, in float64) and timed for the
number of iterations each needs to come within 1% of the best final
objective (SPORCO's ``ConvBPDN`` or our ADMM after 200 iterations, FISTA
after 1000). The iteration counts are found once in ``setup_cache`` from each
solver's trace; the ``track_`` results record them and the objective each
timed run reaches. SPORCO runs with its defaults (pyfftw, a dependency of
``sporco``, does its FFTs).
"""

import numpy as np
import torch

from skspectral import ConvSparseCoder, conv_sparse_code
from skspectral._backend import threads
from skspectral.conv._csc import admm_cbpdn, circular_objective, fista_cbpdn
from skspectral.conv._objectives import ctrl_value, ctrl_value_per_rate, label_groups

from ._data import SHARED_DATA, cifar10

ALPHA = 0.05


def china_problem():
    """16 mean-removed 64x64 grayscale patches and 32 unit-norm 8x8 filters (float32)."""
    from sklearn.datasets import load_sample_images

    image = load_sample_images().images[0].astype(np.float32).mean(axis=-1) / 255.0
    H, W = image.shape
    r0, c0 = H // 2 - 128, W // 2 - 128
    S = np.stack([
        image[r0 + 64 * i: r0 + 64 * i + 64, c0 + 64 * j: c0 + 64 * j + 64]
        for i in range(4) for j in range(4)
    ])
    S -= S.mean(axis=(1, 2), keepdims=True)
    D = np.random.RandomState(0).randn(32, 8, 8).astype(np.float32)
    D /= np.linalg.norm(D.reshape(32, -1), axis=1)[:, None, None]
    return S, D


def objective(S, codes, D):
    """The shared score: 1/2 ||sum_m d_m * x_m - s||^2 + alpha sum ||x_m||_1 (circular)."""
    return circular_objective(
        torch.as_tensor(S[:, None], dtype=torch.float64),
        torch.as_tensor(codes, dtype=torch.float64),
        torch.as_tensor(D[:, None], dtype=torch.float64),
        ALPHA,
    )


def run_sporco(S, D, n_iter, callback=None):
    from sporco.admm import cbpdn

    opt = cbpdn.ConvBPDN.Options(
        {"Verbose": False, "MaxMainIter": n_iter, "RelStopTol": 0.0, "Callback": callback}
    )
    solver = cbpdn.ConvBPDN(
        np.ascontiguousarray(D.transpose(1, 2, 0)),
        np.ascontiguousarray(S.transpose(1, 2, 0)),
        ALPHA, opt, dimK=1,
    )
    X = solver.solve()  # (H, W, 1, K, M)
    return np.ascontiguousarray(X[:, :, 0].transpose(2, 3, 0, 1))


def run_ours(S, D, n_iter, algorithm):
    codes, _ = conv_sparse_code(S, D, ALPHA, max_iter=n_iter, tol=0.0, algorithm=algorithm,
                                device="cpu")
    return codes


def _iterations_to(trace, target):
    return 1 + int(np.argmax(np.asarray(trace) <= target))


class CBPDNSuite:
    """conv_sparse_code (ADMM and FISTA, FFT domain) vs SPORCO admm.cbpdn.ConvBPDN."""

    timeout = 1200
    number = 1
    repeat = 5
    rounds = 1

    def setup_cache(self):
        S, D = china_problem()
        sporco_trace = []

        def record(solver):
            Y = np.asarray(solver.getcoef())[:, :, 0].transpose(2, 3, 0, 1)
            sporco_trace.append(objective(S, Y, D))
            return False

        run_sporco(S, D, 200, callback=record)
        # Our traces come from the solvers themselves (the same objective in
        # the Fourier domain, checked by the track_*_objective_at_its_count).
        S_t, D_t = torch.as_tensor(S[:, None]), torch.as_tensor(D[:, None])
        traces = {"sporco": sporco_trace, "admm": [], "fista": []}
        admm_cbpdn(S_t, D_t, ALPHA, max_iter=200, tol=0.0,
                   callback=lambda k, obj: traces["admm"].append(obj))
        fista_cbpdn(S_t, D_t, ALPHA, max_iter=1000, tol=0.0,
                    callback=lambda k, obj: traces["fista"].append(obj))
        best = min(trace[-1] for trace in traces.values())
        out = {"S": S, "D": D, "best": best}
        for name, trace in traces.items():
            out[name + "_iter"] = _iterations_to(trace, 1.01 * best)
            out[name + "_final"] = trace[-1]
        run_ours(S, D, 2, "admm")  # compile the Numba kernels outside the timings
        return out

    def time_sporco_to_1pct(self, cache):
        run_sporco(cache["S"], cache["D"], cache["sporco_iter"])

    def time_admm_to_1pct(self, cache):
        run_ours(cache["S"], cache["D"], cache["admm_iter"], "admm")

    def time_fista_to_1pct(self, cache):
        run_ours(cache["S"], cache["D"], cache["fista_iter"], "fista")

    def track_sporco_iterations_to_1pct(self, cache):
        return cache["sporco_iter"]

    def track_admm_iterations_to_1pct(self, cache):
        return cache["admm_iter"]

    def track_fista_iterations_to_1pct(self, cache):
        return cache["fista_iter"]

    def track_best_final_objective(self, cache):
        return cache["best"]

    def track_target_objective(self, cache):
        return 1.01 * cache["best"]

    def track_sporco_200_objective(self, cache):
        return cache["sporco_final"]

    def track_admm_200_objective(self, cache):
        return cache["admm_final"]

    def track_fista_1000_objective(self, cache):
        return cache["fista_final"]

    def track_sporco_objective_at_its_count(self, cache):
        S, D = cache["S"], cache["D"]
        return objective(S, run_sporco(S, D, cache["sporco_iter"]), D)

    def track_admm_objective_at_its_count(self, cache):
        S, D = cache["S"], cache["D"]
        return objective(S, run_ours(S, D, cache["admm_iter"], "admm"), D)

    def track_fista_objective_at_its_count(self, cache):
        S, D = cache["S"], cache["D"]
        return objective(S, run_ours(S, D, cache["fista_iter"], "fista"), D)


class ConvSparseCoderSuite:
    """One training epoch with the default parameters on 10,000 CIFAR-10 images.

    CIFAR-10 here is the JPEG-decoded copy in ../shared/data (about 30 dB from
    the original pixels). ``fit`` includes encoding the 10,000 images and
    fitting the prior on the codes.
    """

    timeout = 1800
    number = 1
    repeat = 1
    rounds = 1

    def setup_cache(self):
        return cifar10(10_000)

    def time_fit_one_epoch(self, X):
        ConvSparseCoder(image_shape=(32, 32, 3), max_iter=1, device="cpu",
                        random_state=0).fit(X)


def labelled_digits(n_samples):
    """The first MNIST images and labels, or labelled 28x28 blobs when MNIST is absent."""
    from skspectral.datasets import fetch_mnist

    try:
        bunch = fetch_mnist(data_home=SHARED_DATA, subset="train", n_samples=n_samples,
                            download_if_missing=False)
        return bunch.data, bunch.target
    except OSError:
        # Each class a blurred stroke at its own place: the timings need the
        # sizes, not the digits.
        rng = np.random.RandomState(0)
        y = rng.randint(0, 10, size=n_samples)
        rows, cols = np.mgrid[:28, :28]
        centres = 6 + 16 * rng.rand(10, 2)
        X = np.exp(-((rows - centres[y, 0, None, None]) ** 2
                     + (cols - centres[y, 1, None, None]) ** 2) / 18.0)
        X += 0.05 * rng.rand(n_samples, 28, 28)
        return X.reshape(n_samples, -1).astype(np.float32), y


class CTRLSuite:
    """``ConvSparseCoder(objective="ctrl")`` with the default network on 28x28 digits.

    ``time_fit_one_epoch``: one epoch on 2,000 MNIST images (32 batches,
    each one simultaneous step of the encoder and the decoder), then
    encoding them and fitting the class-conditional prior, on one thread
    (``n_jobs=None``);
    ``time_fit_one_epoch_all_cores`` the same with ``n_jobs=-1``.
    ``time_ctrl_value``: the closed-loop value of one batch (64 codes and
    their reconstructions' codes, 64 x 14 x 14 = 12,544 features, the labels
    of 64 digits) and its gradient, all rates from one Gram matrix as
    training computes them; ``time_ctrl_value_reference`` the peer, one Gram
    matrix and logdet per rate (52 of them).
    """

    timeout = 600
    number = 1
    repeat = 2
    rounds = 1
    warmup_time = 0

    def setup_cache(self):
        X, y = labelled_digits(2_000)
        rng = np.random.RandomState(0)
        codes = rng.standard_normal((2, 64, 64 * 14 * 14)).astype(np.float32)
        codes /= np.linalg.norm(codes, axis=2, keepdims=True)
        return {"X": X, "y": y, "codes": codes}

    def _fit(self, cache, n_jobs):
        ConvSparseCoder(image_shape=(28, 28), objective="ctrl", max_iter=1, n_jobs=n_jobs,
                        device="cpu", random_state=0).fit(cache["X"], cache["y"])

    def time_fit_one_epoch(self, cache):
        self._fit(cache, None)

    def time_fit_one_epoch_all_cores(self, cache):
        self._fit(cache, -1)

    def _value_and_gradient(self, cache, value_of):
        Z, Z_hat = (torch.tensor(c, requires_grad=True) for c in cache["codes"])
        value_of(Z, Z_hat, label_groups(cache["y"][:64]), 0.5).backward()

    def time_ctrl_value(self, cache):
        self._value_and_gradient(cache, ctrl_value)

    def time_ctrl_value_reference(self, cache):
        self._value_and_gradient(cache, ctrl_value_per_rate)

    def track_ctrl_value_relative_difference(self, cache):
        Z, Z_hat = (torch.as_tensor(c, dtype=torch.float64) for c in cache["codes"])
        groups = label_groups(cache["y"][:64])
        fast = float(ctrl_value(Z, Z_hat, groups, 0.5))
        reference = float(ctrl_value_per_rate(Z, Z_hat, groups, 0.5))
        return abs(fast - reference) / abs(reference)


class CTRLStepSuite:
    """Training steps of ``ConvSparseCoder(objective="ctrl")``, without the prior.

    ``time_four_steps``: four steps on batches of 64 labelled 28x28 digits
    with the default network, on one thread; each step takes both players'
    gradients from one forward pass, then their Adam steps and the decoder
    scale's update. The network comes from a one-epoch fit on 64 images.
    """

    timeout = 300
    number = 1
    repeat = 3
    rounds = 1
    warmup_time = 0

    def setup(self):
        X, y = labelled_digits(320)
        model = ConvSparseCoder(image_shape=(28, 28), objective="ctrl", max_iter=1,
                                device="cpu", random_state=0).fit(X[:64], y[:64])
        self.model = model
        self.net = model._net.train()
        self.optimizers = model._new_optimizers(X, init_scale=False)
        self.batches = [(model._to_signals(X[k:k + 64], torch.device("cpu")), y[k:k + 64])
                        for k in range(64, 320, 64)]
        self.generator = torch.Generator().manual_seed(0)

    def time_four_steps(self):
        with threads(None):
            for xb, yb in self.batches:
                self.net.update_lipschitz(n_iter=2)
                self.model._ctrl_step(self.net, xb, yb, self.generator, *self.optimizers)
