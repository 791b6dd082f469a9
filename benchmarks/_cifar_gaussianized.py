"""Gaussianization layers under the prior of PCA(256) codes of CIFAR-10 (the choosing guide).

Run from the repository root::

    python -m benchmarks._cifar_gaussianized

For every row: ``PCA(256, random_state=0)`` of the first 10,000 training
images (``_quality``'s protocol), then ``CoefficientPrior(kind,
n_components, reg_covar=1e-2, gaussianize=L, random_state=0)`` on the
codes; 1,000 samples drawn with seed 0 and decoded; prints FID against the
2,000 test images, LFD and the NN ratio (:func:`_quality.judge_cifar`) and
the seconds of the prior's fit.
"""

import time

from . import _quality as q

#: (kind, n_components, layers); layers 0 is the mixture on whitened codes.
ROWS = (
    ("gmm", 20, 0),
    ("gmm", 20, 1),
    ("gmm", 20, 2),
    ("gmm", 20, 3),
)


def main():
    from sklearn.decomposition import PCA

    from skspectral import CoefficientPrior

    X, _, X_test = q.cifar_data()
    pca = PCA(256, random_state=0).fit(X)
    codes = pca.transform(X)
    print("kind n_components layers fid lfd nn_ratio fit_seconds")
    for kind, n_components, layers in ROWS:
        start = time.perf_counter()
        prior = CoefficientPrior(kind, n_components=n_components, reg_covar=1e-2, whiten=True,
                                 gaussianize=layers, random_state=0).fit(codes)
        seconds = time.perf_counter() - start
        samples = pca.inverse_transform(prior.sample(1000, random_state=0))
        r = q.judge_cifar(samples, X, X_test)
        print(f"{kind} {n_components} {layers} {r['fid']:.1f} {r['lfd']:.2f} "
              f"{r['nn_ratio']:.2f} {seconds:.0f}", flush=True)


if __name__ == "__main__":
    main()
