"""Gaussianization layers under the prior of PCA(256) codes of CIFAR-10 (the choosing guide).

Run from the repository root::

    python -m benchmarks._cifar_gaussianized              # layer sweep
    python -m benchmarks._cifar_gaussianized temperature  # temperature of the draws
    python -m benchmarks._cifar_gaussianized spread       # spread of tempered draws

Both start from ``PCA(256, random_state=0)`` of the first 10,000 training
images (``_quality``'s protocol) and fit ``CoefficientPrior("gmm",
n_components=20, reg_covar=1e-2, gaussianize=L, random_state=0)`` on the
codes.

``layers``: for every row, 1,000 samples drawn with seed 0 and decoded;
prints FID against the 2,000 test images, LFD and the NN ratio
(:func:`_quality.judge_cifar`) and the seconds of the prior's fit.

``temperature``: the 3-layer prior, fitted once, draws 2,000 samples (seed
2) at each of ``TEMPERATURES``, judged by FID against 2,000 training images
no fit sees (:func:`_quality.cifar_validation`); the temperature of the
lowest FID is then judged on the test images with seeds 0 and 1, beside
the same pipeline at temperature 1 and PCA(256) + one Gaussian (scikit-learn's
``GaussianMixture(1)``), drawn as it is and at the chosen temperature, in
the same run.

``spread``: the 3-layer prior draws 5,000 codes (seed 0) at temperatures 1
and ``SPREAD_TEMPERATURE``; prints the median over coordinates of their
variance over the real codes', and the pixel standard deviation of the
decoded (clipped) images beside that of the real images.
"""

import sys
import time

from . import _quality as q

#: (kind, n_components, layers); layers 0 is the mixture on whitened codes.
ROWS = (
    ("gmm", 20, 0),
    ("gmm", 20, 1),
    ("gmm", 20, 2),
    ("gmm", 20, 3),
)
#: Temperatures of the 3-layer prior's draws compared on held-out training images.
TEMPERATURES = (1.0, 1.1, 1.2, 1.3, 1.4)
#: The temperature whose draws ``spread`` describes (the one chosen above).
SPREAD_TEMPERATURE = 1.2


def _prior(layers, **params):
    from skspectral import CoefficientPrior

    return CoefficientPrior("gmm", n_components=20, reg_covar=1e-2, whiten=True,
                            gaussianize=layers, random_state=0, **params)


def layer_sweep(pca, codes, X, X_test):
    print("kind n_components layers fid lfd nn_ratio fit_seconds")
    for kind, n_components, layers in ROWS:
        start = time.perf_counter()
        prior = _prior(layers).set_params(kind=kind, n_components=n_components).fit(codes)
        seconds = time.perf_counter() - start
        samples = pca.inverse_transform(prior.sample(1000, random_state=0))
        r = q.judge_cifar(samples, X, X_test)
        print(f"{kind} {n_components} {layers} {r['fid']:.1f} {r['lfd']:.2f} "
              f"{r['nn_ratio']:.2f} {seconds:.0f}", flush=True)


def temperature_sweep(pca, codes, X, X_test):
    from skspectral import CoefficientPrior

    prior = _prior(3).fit(codes)
    X_val = q.cifar_validation()
    print("temperature validation_fid (2,000 samples, seed 2)")
    validation = {}
    for temperature in TEMPERATURES:
        codes_drawn = prior.set_params(temperature=temperature).sample(q.N_FID, random_state=2)
        validation[temperature] = q.cifar_fid(pca.inverse_transform(codes_drawn), X_val,
                                              "validation")
        print(f"{temperature} {validation[temperature]:.1f}", flush=True)
    chosen = min(validation, key=validation.get)
    baseline = q.SklearnBaseline(256, 1).fit(X)
    # The baseline's Gaussian drawn at the same temperature, for comparison.
    gaussian = CoefficientPrior("gaussian", temperature=chosen).fit(codes)
    print("system seed test_fid lfd nn_ratio")
    for seed in (0, 1):
        for name, temperature in ((f"temperature {chosen}", chosen), ("temperature 1", 1.0)):
            drawn = prior.set_params(temperature=temperature).sample(q.N_FID, random_state=seed)
            _report(name, seed, q.judge_cifar(pca.inverse_transform(drawn), X, X_test))
        _report("PCA(256) + one Gaussian", seed,
                q.judge_cifar(baseline.sample(q.N_FID, random_state=seed), X, X_test))
        drawn = gaussian.sample(q.N_FID, random_state=seed)
        _report(f"PCA(256) + one Gaussian at temperature {chosen}", seed,
                q.judge_cifar(pca.inverse_transform(drawn), X, X_test))


def spread(pca, codes, X, X_test):
    import numpy as np

    prior = _prior(3).fit(codes)
    print(f"real: pixel_std {X.std():.3f}")
    print("temperature median_variance_ratio pixel_std")
    for temperature in (1.0, SPREAD_TEMPERATURE):
        drawn = prior.set_params(temperature=temperature).sample(5000, random_state=0)
        ratio = np.median(drawn.var(axis=0) / codes.var(axis=0))
        pixels = np.clip(pca.inverse_transform(drawn), 0.0, 1.0)
        print(f"{temperature} {ratio:.2f} {pixels.std():.3f}", flush=True)


def _report(name, seed, r):
    print(f"{name}: {seed} {r['fid']:.1f} {r['lfd']:.2f} {r['nn_ratio']:.2f}", flush=True)


def main(mode="layers"):
    from sklearn.decomposition import PCA

    X, _, X_test = q.cifar_data()
    pca = PCA(256, random_state=0).fit(X)
    sweeps = {"layers": layer_sweep, "temperature": temperature_sweep, "spread": spread}
    sweeps[mode](pca, pca.transform(X), X, X_test)


if __name__ == "__main__":
    main(*sys.argv[1:])
