"""``SparseSupportMRF`` without labels, with k-means clusters as classes (the sparse guide's table).

Run from the repository root::

    python -m benchmarks._clusters

Fits ``SparseSupportMRF(random_state=0)`` on the first 10,000 training
digits (``_quality``'s protocol), then, for every number of clusters and
both feature spaces (the pixels, or which atoms each digit's code holds),
labels the digits with ``KMeans(k, n_init=3, random_state=0)`` and fits
``SparseSupportMRF(class_guidance=g, random_state=0)`` on those labels.
Draws are unconditional (each cluster drawn with its share of the digits);
prints the means over three draws of 1,000 of the confident share, the
label entropy and the NN ratio.
"""


from . import _quality as q

N_CLUSTERS = (10, 20, 40)
GUIDANCE = (0.0, 8.0)
N_DRAWS = 3


def cluster_features(X, codes, space):
    """What k-means reads: the pixels, or the indicators of each code's atoms."""
    return X if space == "pixels" else (codes != 0).astype(float)


def main():
    from sklearn.cluster import KMeans

    from skspectral import SparseSupportMRF

    X, _, X_test, X_real, y_real = q.mnist_data()
    classifier = q.mnist_classifier(X_real, y_real)

    def judge(samples):
        return q.judge_mnist(samples, X, X_test, classifier)

    def report(name, model):
        r = q.mean_judgement(model, judge, n_draws=N_DRAWS)
        print(f"{name} {r['confident']:.3f} {r['entropy']:.3f} {r['nn_ratio']:.2f}", flush=True)

    print("clusters space class_guidance confident entropy nn_ratio")
    model = SparseSupportMRF(random_state=0).fit(X)
    report("none - -", model)
    codes = model.transform(X)
    for k in N_CLUSTERS:
        for space in ("pixels", "support"):
            labels = KMeans(k, n_init=3, random_state=0).fit_predict(
                cluster_features(X, codes, space))
            for strength in GUIDANCE:
                clustered = SparseSupportMRF(class_guidance=strength, random_state=0)
                report(f"{k} {space} {strength:g}", clustered.fit(X, labels))


if __name__ == "__main__":
    main()
