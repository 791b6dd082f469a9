"""Mixtures over whitened PCA codes of CIFAR-10 (the choosing guide's table).

Run from the repository root::

    python -m benchmarks._cifar_pca_priors

For every row: ``PCA(n_components, whiten=True, random_state=0)`` of the
first 10,000 training images (``_quality``'s protocol), scikit-learn's
``GaussianMixture`` (the density ``CoefficientPrior("gmm")`` wraps, here
fitted directly with ``random_state=0``) on the codes, 1,000 codes drawn
with seed 0 and decoded; prints FID against the 2,000 test images, LFD and
the NN ratio (:func:`_quality.judge_cifar`) and the row's seconds.
"""

import time

from . import _quality as q

#: (name, PCA components, GaussianMixture keywords)
ROWS = (
    ("one Gaussian", 256, {"n_components": 1, "reg_covar": 1e-2}),
    ("20 components", 256, {"n_components": 20, "reg_covar": 1e-2}),
    ("20 components", 128, {"n_components": 20, "reg_covar": 1e-2}),
    ("20 components", 512, {"n_components": 20, "reg_covar": 1e-2}),
    ("200 diagonal components", 256,
     {"n_components": 200, "covariance_type": "diag", "reg_covar": 1e-2}),
    ("60 components", 256, {"n_components": 60, "reg_covar": 1e-1}),
)


def main():
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    X, _, X_test = q.cifar_data()
    print("prior n_components fid lfd nn_ratio seconds")
    for name, n_components, options in ROWS:
        start = time.perf_counter()
        pca = PCA(n_components, whiten=True, random_state=0).fit(X)
        mixture = GaussianMixture(random_state=0, **options).fit(pca.transform(X))
        mixture.random_state = 0
        samples = pca.inverse_transform(mixture.sample(1000)[0])
        r = q.judge_cifar(samples, X, X_test)
        print(f"{name}, {n_components} {r['fid']:.1f} {r['lfd']:.2f} {r['nn_ratio']:.2f} "
              f"{time.perf_counter() - start:.0f}", flush=True)


if __name__ == "__main__":
    main()
