"""Class guidance of ``SparseSupportMRF`` on MNIST (the sparse guide's table).

Run from the repository root::

    python -m benchmarks._guidance

Fits ``SparseSupportMRF(coefficient_model=..., random_state=0)`` on the
first 10,000 training digits with their labels (``_quality``'s protocol),
then, for every ``class_guidance``, draws three sets of 100 samples per
class (seeds 0, 1, 2) and prints the means of: the share labelled as asked,
the confident share, the NN ratio, the within-class spread and the pixel
recall (see :func:`within_class_diversity`; first for 100 other real
digits per class, the ceiling), and the time of one
``sample(1000, y=...)`` call (seed 99).
"""

import time

import numpy as np

from . import _quality as q

GUIDANCE = {"em": (0.0, 1.0, 2.0, 4.0, 8.0, 16.0), "regression": (0.0, 1.0, 2.0, 4.0, 8.0)}
N_PER_CLASS = 100
N_DRAWS = 3
#: Neighbours that set a draw's radius in the recall of Kynkäänniemi et al. (2019).
RECALL_K = 3


def within_class_diversity(samples, real, labels):
    """Mean over classes of (spread, recall) of ``samples`` against ``real``.

    Spread: mean distance between two samples of a class over that between
    two real images of it. Recall: share of real images of a class within
    the ``RECALL_K``-nearest-neighbour radius of some sample of the class.
    Both arrays hold the classes in the order of ``labels``.
    """
    from scipy.spatial.distance import cdist, pdist

    spread, recall = [], []
    for c in np.unique(labels):
        drawn, seen = samples[labels == c], real[labels == c]
        spread.append(pdist(drawn).mean() / pdist(seen).mean())
        between = cdist(drawn, drawn)
        np.fill_diagonal(between, np.inf)
        radius = np.sort(between, axis=1)[:, RECALL_K - 1]
        recall.append(np.mean((cdist(seen, drawn) <= radius).any(axis=1)))
    return float(np.mean(spread)), float(np.mean(recall))


def judge(samples, data, classifier, asked, real):
    X_fit, _, X_test, _, _ = data
    result = q.judge_mnist(samples, X_fit, X_test, classifier, asked)
    result["spread"], result["recall"] = within_class_diversity(samples, real, asked)
    return result


def main():
    from skspectral import SparseSupportMRF

    data = q.mnist_data()
    X, y, _, X_real, y_real = data
    classifier = q.mnist_classifier(X_real, y_real)
    asked = np.repeat(np.arange(10), N_PER_CLASS)
    # Real digits the classifier was trained on, none of them fitted by the model.
    real = np.concatenate([X_real[y_real == c][:N_PER_CLASS] for c in range(10)])
    others = np.concatenate([X_real[y_real == c][N_PER_CLASS:2 * N_PER_CLASS] for c in range(10)])
    spread, recall = within_class_diversity(others, real, asked)
    print(f"real digits against real digits: spread {spread:.3f} recall {recall:.3f}")
    print("coefficient_model class_guidance as_asked confident nn_ratio spread recall sample_s")
    for coefficient_model, strengths in GUIDANCE.items():
        model = SparseSupportMRF(coefficient_model=coefficient_model, random_state=0).fit(X, y)
        for strength in strengths:
            model.prior_.set_params(class_guidance=strength)
            start = time.perf_counter()
            model.sample(len(asked), y=asked, random_state=99)
            seconds = time.perf_counter() - start
            r = q.mean_judgement(model, lambda s: judge(s, data, classifier, asked, real), asked,
                                 n_draws=N_DRAWS)
            print(f"{coefficient_model} {strength:g} {r['accuracy']:.3f} {r['confident']:.3f} "
                  f"{r['nn_ratio']:.2f} {r['spread']:.3f} {r['recall']:.3f} {seconds:.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
