"""ConvSparseCoder's samples with its defaults and other priors (the conv and choosing guides).

Run from the repository root::

    python -m benchmarks._conv_samples mnist    # defaults vs PCA(64) + GaussianMixture(20)
    python -m benchmarks._conv_samples cifar    # defaults vs PCA(256) + one Gaussian, test images
    python -m benchmarks._conv_samples priors   # priors over one fitted coder, held-out images
    python -m benchmarks._conv_samples subspaces  # which subspace the prior lives in

``mnist``: scikit-learn's PCA(64) + GaussianMixture(20) and
``ConvSparseCoder(image_shape=(28, 28), random_state=0)``, fitted on 10,000
MNIST training images, judged by :func:`_quality.judge_mnist` (mean of 16
draws of 1,000); then the coder fitted with labels draws 100 samples per
class (seed 0), judged by the share labelled as asked.

``cifar``: ``ConvSparseCoder(image_shape=(32, 32, 3), random_state=0)``
is fitted on the first 10,000 training images (``_quality``'s protocol);
2,000 samples with seeds 0 and 1 are judged by
:func:`_quality.judge_cifar` (FID against 2,000 test images, LFD, NN
ratio) beside scikit-learn's PCA(256) + one Gaussian in the same run, and
seed 0 of the same coder with its prior refitted over the raw codes
(``prior_dim=None``). It also prints the relative squared error of the
coder's reconstructions of 2,000 held-out training images
(:func:`_quality.cifar_validation`).

``subspaces``: the same coder, fitted once; a default mixture (seeds 0
and 1, fitted and drawn) over the training images' coordinates along the
256 principal directions of the coder's reconstructions around their
mean, the same directions around the images' mean, and the images' own
directions and mean (the default); samples ``m + c V`` are formed
directly, so that only the subspace differs, and judged by FID against
the test images.

``priors``: the same coder, fitted once; for every row of ``PRIORS`` its
prior is refitted on the training codes (``prior_dim`` and ``prior`` set,
the rest kept) and 500 samples (seed 2) are judged by FID against the
first 500 held-out training images, beside PCA(256) + one Gaussian (a
small sample: the FIDs are far above those of 2,000, but they rank).
"""

import sys
import time

import numpy as np

from . import _quality as q

#: (prior_dim, prior) rows of ``priors``: a None prior is the default mixture,
#: prior_dim None the former prior over the raw codes.
PRIORS = (
    (None, None),
    ("auto", None),
    ("auto", "gaussianized"),
)
N_PRIOR_SAMPLES = 500


def _coder(image_shape=q.CIFAR_SHAPE, **params):
    from skspectral import ConvSparseCoder

    return ConvSparseCoder(image_shape=image_shape, random_state=0, **params)


def _relative_error(model, X):
    """Mean squared reconstruction error over the mean pixel variance."""
    return model.reconstruction_error(X) / float(np.mean(X.var(axis=0)))


def _report(name, seed, r):
    print(f"{name}: {seed} {r['fid']:.1f} {r['lfd']:.2f} {r['nn_ratio']:.2f}", flush=True)


def mnist():
    X, y, X_test, X_real, y_real = q.mnist_data()
    classifier = q.mnist_classifier(X_real, y_real)

    def judge(samples, labels=None):
        return q.judge_mnist(samples, X, X_test, classifier, y=labels)

    def rounded(result):
        return {key: round(value, 3) for key, value in result.items()}

    baseline = q.SklearnBaseline(64, 20).fit(X)
    print("PCA(64) + GaussianMixture(20)", rounded(q.mean_judgement(baseline, judge)), flush=True)
    coder = _coder(image_shape=q.MNIST_SHAPE)
    model, seconds = q.timed_fit(coder, X)
    print("ConvSparseCoder(image_shape=(28, 28))", rounded(q.mean_judgement(model, judge)),
          f"fit {seconds:.0f} s", flush=True)
    model, seconds = q.timed_fit(coder, X, y)
    asked = np.repeat(np.arange(10), 100)
    print("same, fit(X, y), 100 per class",
          rounded(judge(model.sample(1000, y=asked, random_state=0), asked)),
          f"fit {seconds:.0f} s", flush=True)


def cifar():
    X, _, X_test = q.cifar_data()
    model, seconds = q.timed_fit(_coder(), X)
    print(f"fit {seconds:.0f} s; held-out relative error "
          f"{_relative_error(model, q.cifar_validation()):.4f}", flush=True)
    baseline = q.SklearnBaseline(256, 1).fit(X)
    print("system: seed test_fid lfd nn_ratio")
    for seed in (0, 1):
        _report("ConvSparseCoder(image_shape=(32, 32, 3))", seed,
                q.judge_cifar(model.sample(q.N_FID, random_state=seed), X, X_test))
        _report("PCA(256) + one Gaussian", seed,
                q.judge_cifar(baseline.sample(q.N_FID, random_state=seed), X, X_test))
    refit_prior(model, X, model.transform(X), None, None)
    _report("same coder, prior over the raw codes (prior_dim=None)", 0,
            q.judge_cifar(model.sample(q.N_FID, random_state=0), X, X_test))


def refit_prior(model, X, codes, prior_dim, prior):
    """The coder with its prior (and code subspace) refitted, as ``fit`` does, on ``X``."""
    model.set_params(prior_dim=prior_dim, prior=prior)
    model._fit_code_prior(X, None, np.random.RandomState(0), codes)
    return model


def priors():
    X, _, _ = q.cifar_data()
    X_val = q.cifar_validation()[:N_PRIOR_SAMPLES]
    model, seconds = q.timed_fit(_coder(), X)
    codes = model.transform(X)
    print(f"fit {seconds:.0f} s")
    print("prior_dim prior validation_fid (500 samples, seed 2) prior_fit_seconds")
    for prior_dim, prior in PRIORS:
        start = time.perf_counter()
        refit_prior(model, X, codes, prior_dim, q.gaussianized_prior() if prior else None)
        seconds = time.perf_counter() - start
        fid = q.cifar_fid(model.sample(N_PRIOR_SAMPLES, random_state=2), X_val, "validation")
        print(f"{prior_dim} {prior or 'default'} {fid:.1f} {seconds:.0f}", flush=True)
    baseline = q.SklearnBaseline(256, 1).fit(X)
    fid = q.cifar_fid(baseline.sample(N_PRIOR_SAMPLES, random_state=2), X_val, "validation")
    print(f"PCA(256) + one Gaussian {fid:.1f}", flush=True)


def subspaces():
    from sklearn.base import clone
    from sklearn.decomposition import PCA

    from skspectral.prior._estimator import mixture_prior

    X, _, X_test = q.cifar_data()
    model, seconds = q.timed_fit(_coder(), X)
    print(f"fit {seconds:.0f} s")
    reconstructions = PCA(256, random_state=0).fit(model.inverse_transform(model.transform(X)))
    images = PCA(256, random_state=0).fit(X)
    rows = {
        "reconstructions' directions and mean": (reconstructions.components_,
                                                 reconstructions.mean_),
        "reconstructions' directions, images' mean": (reconstructions.components_, images.mean_),
        "images' directions and mean (default)": (images.components_, images.mean_),
    }
    print("subspace: seed test_fid")
    for name, (V, mean) in rows.items():
        for seed in (0, 1):
            coordinates = (X - mean) @ V.T
            prior = clone(mixture_prior(None, coordinates.shape, whiten=True))
            prior.set_params(random_state=seed).fit(coordinates)
            samples = mean + prior.sample(q.N_FID, random_state=seed) @ V
            print(f"{name}: {seed} {q.cifar_fid(np.clip(samples, 0, 1), X_test):.1f}", flush=True)


if __name__ == "__main__":
    {"mnist": mnist, "cifar": cifar, "priors": priors, "subspaces": subspaces}[sys.argv[1] if len(sys.argv) > 1 else "cifar"]()
