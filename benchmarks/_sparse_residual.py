"""SparseSupportMRF's residual Gaussian on CIFAR-10 and MNIST (the sparse and choosing guides).

Run from the repository root::

    python -m benchmarks._sparse_residual cifar   # choose on held-out images, judge on test
    python -m benchmarks._sparse_residual mnist   # the same models on MNIST

``cifar``: ``SparseSupportMRF(residual_components=r, random_state=0)`` is
fitted on the first 10,000 training images (``_quality``'s protocol) for
every ``r`` of ``COMPONENTS``; each draws 2,000 samples (seed 2), judged by
FID against 2,000 training images no fit sees
(:func:`_quality.cifar_validation`). The ``r`` of the lowest FID is then
judged on the test images with seeds 0 and 1 (FID, LFD, NN ratio), beside
the model without a residual and scikit-learn's PCA(256) + one Gaussian, in
the same run.

``mnist``: the model without a residual and the one with
``MNIST_COMPONENTS`` residual components, fitted on 10,000 MNIST training
images, judged by :func:`_quality.judge_mnist` (mean over 16 draws of
1,000), and with labels
(100 samples per class, seed 0) by the share labelled as asked.
"""

import sys
import time

import numpy as np

from . import _quality as q

#: Residual components compared on held-out CIFAR-10 training images.
COMPONENTS = (0, 64, 128, 256)
#: Residual components of the MNIST comparison (CIFAR-10's choice).
MNIST_COMPONENTS = 256


def _model(residual_components):
    from skspectral import SparseSupportMRF

    return SparseSupportMRF(residual_components=residual_components, random_state=0)


def _print_auto(X):
    from skspectral.base._residual import resolve_residual_components

    print(f'residual_components="auto" fits {resolve_residual_components("auto", X)} '
          "components on these images", flush=True)


def _report(name, seed, r):
    print(f"{name}: {seed} {r['fid']:.1f} {r['lfd']:.2f} {r['nn_ratio']:.2f}", flush=True)


def cifar():
    X, _, X_test = q.cifar_data()
    X_val = q.cifar_validation()
    _print_auto(X)
    models, validation = {}, {}
    print("residual_components validation_fid (2,000 samples, seed 2) fit_seconds")
    for r in COMPONENTS:
        models[r], seconds = q.timed_fit(_model(r), X)
        samples = models[r].sample(q.N_FID, random_state=2)
        validation[r] = q.cifar_fid(samples, X_val, "validation")
        print(f"{r} {validation[r]:.1f} {seconds:.0f}", flush=True)
    chosen = min(validation, key=validation.get)
    baseline = q.SklearnBaseline(256, 1).fit(X)
    print("system: seed test_fid lfd nn_ratio")
    for seed in (0, 1):
        for r in dict.fromkeys((chosen, 0)):
            _report(f"SparseSupportMRF(residual_components={r})", seed,
                    q.judge_cifar(models[r].sample(q.N_FID, random_state=seed), X, X_test))
        _report("PCA(256) + one Gaussian", seed,
                q.judge_cifar(baseline.sample(q.N_FID, random_state=seed), X, X_test))


def mnist():
    X, y, X_test, X_real, y_real = q.mnist_data()
    classifier = q.mnist_classifier(X_real, y_real)
    asked = np.repeat(np.arange(10), 100)
    _print_auto(X)
    print("residual_components confident entropy nn_ratio lfd by_class_accuracy fit_seconds")
    for r in (0, MNIST_COMPONENTS):
        start = time.perf_counter()
        model = _model(r).fit(X)
        seconds = time.perf_counter() - start
        u = q.mean_judgement(model, lambda s: q.judge_mnist(s, X, X_test, classifier))
        by_class = _model(r).fit(X, y).sample(1000, y=asked, random_state=0)
        accuracy = q.judge_mnist(by_class, X, X_test, classifier, y=asked)["accuracy"]
        print(f"{r} {u['confident']:.3f} {u['entropy']:.3f} {u['nn_ratio']:.2f} "
              f"{u['lfd']:.2f} {accuracy:.3f} {seconds:.1f}", flush=True)


if __name__ == "__main__":
    {"cifar": cifar, "mnist": mnist}[sys.argv[1] if len(sys.argv) > 1 else "cifar"]()
