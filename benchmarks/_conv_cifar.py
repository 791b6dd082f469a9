"""ConvSparseCoder on CIFAR-10: its defaults and its priors (the conv and choosing guides).

Run from the repository root::

    python -m benchmarks._conv_cifar            # defaults vs PCA(256) + one Gaussian, test images
    python -m benchmarks._conv_cifar priors     # priors over one fitted coder, held-out images

``defaults``: ``ConvSparseCoder(image_shape=(32, 32, 3), random_state=0)``
is fitted on the first 10,000 training images (``_quality``'s protocol);
2,000 samples with seeds 0 and 1 are judged by
:func:`_quality.judge_cifar` (FID against 2,000 test images, LFD, NN
ratio) beside scikit-learn's PCA(256) + one Gaussian in the same run. It
also prints the relative squared error of the coder's reconstructions of
2,000 held-out training images (:func:`_quality.cifar_validation`).

``priors``: the same coder, fitted once; for every row of ``PRIORS`` its
prior is refitted on the training codes (``prior_dim`` and ``prior`` set,
the rest kept) and 1,000 samples (seed 2) are judged by FID against the
first 1,000 held-out training images, beside PCA(256) + one Gaussian.
"""

import sys
import time

import numpy as np

from . import _quality as q

#: (prior_dim, prior) rows of ``priors``: None is the coder's default prior.
PRIORS = (
    (None, None),
    (256, None),
    (256, "gaussianized"),
)
N_PRIOR_SAMPLES = 1_000


def _coder(**params):
    from skspectral import ConvSparseCoder

    return ConvSparseCoder(image_shape=q.CIFAR_SHAPE, random_state=0, **params)


def _relative_error(model, X):
    rec = model.inverse_transform(model.transform(X))
    return float(np.mean((X - rec) ** 2) / np.mean(X.var(axis=0)))


def _report(name, seed, r):
    print(f"{name}: {seed} {r['fid']:.1f} {r['lfd']:.2f} {r['nn_ratio']:.2f}", flush=True)


def defaults():
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


def refit_prior(model, codes, prior_dim, prior):
    """The coder with its prior (and code subspace) refitted, as ``fit`` would, on ``codes``."""
    rng = np.random.RandomState(0)
    model.set_params(prior_dim=prior_dim, prior=prior)
    model.code_subspace_ = model._new_code_subspace(codes, rng)
    coordinates = model._prior_codes(codes)
    model._fit_prior(coordinates, None, model._default_prior(None, coordinates.shape), rng)
    return model


def priors():
    X, _, _ = q.cifar_data()
    X_val = q.cifar_validation()[:N_PRIOR_SAMPLES]
    model, seconds = q.timed_fit(_coder(), X)
    codes = model.transform(X)
    print(f"fit {seconds:.0f} s")
    print("prior_dim prior validation_fid (1,000 samples, seed 2) prior_fit_seconds")
    for prior_dim, prior in PRIORS:
        start = time.perf_counter()
        refit_prior(model, codes, prior_dim, q.gaussianized_prior() if prior else None)
        seconds = time.perf_counter() - start
        fid = q.cifar_fid(model.sample(N_PRIOR_SAMPLES, random_state=2), X_val, "validation")
        print(f"{prior_dim} {prior or 'default'} {fid:.1f} {seconds:.0f}", flush=True)
    baseline = q.SklearnBaseline(256, 1).fit(X)
    fid = q.cifar_fid(baseline.sample(N_PRIOR_SAMPLES, random_state=2), X_val, "validation")
    print(f"PCA(256) + one Gaussian {fid:.1f}", flush=True)


if __name__ == "__main__":
    {"defaults": defaults, "priors": priors}[sys.argv[1] if len(sys.argv) > 1 else "defaults"]()
