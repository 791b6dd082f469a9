"""Command-line interface: ``skspectral demo``."""

import argparse
import sys
import time

import numpy as np

from ._demo import DEFAULT_MODEL, DEMO_MODELS, load_demo_dataset


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="skspectral", description="Interpretable generative image models."
    )
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser(
        "demo",
        help="fit a generative model and write real images beside samples",
        description="Fit a generative model on a dataset, write a PNG of real images "
        "beside generated samples, and print timing and quality numbers.",
    )
    demo.add_argument("--model", choices=sorted(DEMO_MODELS), default=DEFAULT_MODEL)
    demo.add_argument(
        "--dataset",
        default="digits",
        help="digits (bundled, default), mnist, fashion_mnist, cifar10, or a path "
        "to a folder/glob of images or a .npy/.npz array",
    )
    demo.add_argument("--data-home", default=None, help="where downloaded datasets live")
    demo.add_argument("--n-train", type=int, default=None, help="use only this many images")
    demo.add_argument("--n-samples", type=int, default=500,
                      help="samples drawn and judged (default 500; the figure shows 32)")
    demo.add_argument("--unconditional", action="store_true",
                      help="ignore the dataset's labels: fit and sample without classes")
    demo.add_argument("--out", default="skspectral_demo.png", help="output PNG path")
    demo.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    return parser


def _reconstruct(model, X):
    """Encode and decode X with everything but the sampler at the end.

    A one-step pipeline (a model that both encodes and samples) reconstructs
    with that step itself.
    """
    encoder = model[:-1] if len(model) > 1 else model[-1]
    return encoder.inverse_transform(encoder.transform(X))


def _has_labels(target):
    """Labels the demo can condition on and judge with: >= 2 classes of >= 4 images."""
    if target is None:
        return False
    _, counts = np.unique(target, return_counts=True)
    return counts.size >= 2 and counts.min() >= 4


def _split(bunch, seed):
    """Images to fit on and held-out images (with labels: the judge's training set)."""
    from sklearn.model_selection import train_test_split

    if _has_labels(bunch.target):
        return train_test_split(bunch.data, bunch.target, test_size=0.5, random_state=seed,
                                stratify=bunch.target)
    X_fit, X_held = train_test_split(bunch.data, test_size=0.2, random_state=seed)
    return X_fit, X_held, None, None


def _judge(X_held, y_held, seed):
    """A classifier of real held-out images, which judges samples."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(128,), max_iter=500, random_state=seed).fit(
        X_held, y_held)


def _timed_fit(model, X, y=None):
    start = time.perf_counter()
    if y is None:
        model.fit(X)
    else:
        model.fit(X, y)
    return time.perf_counter() - start


def _quality(samples, X_fit, classifier, asked):
    """Confident share, label entropy, class accuracy and NN ratio of a sample set."""
    from .metrics import label_quality, nearest_neighbor_distance

    row = {"nn_ratio": float(np.median(
        nearest_neighbor_distance(samples, X_fit, return_ratio=True)[1]))}
    if classifier is not None:
        q = label_quality(samples, classifier, y=asked)
        row.update(confident=q.confident_share, entropy=q.label_entropy, accuracy=q.accuracy)
    return row


def _print_table(rows, stream):
    print(f"{'':34s}{'confident':>10s}{'entropy':>9s}{'as asked':>9s}{'NN ratio':>9s}"
          f"{'fit':>9s}", file=stream)
    for name, row in rows.items():
        cells = [row.get("confident"), row.get("entropy"), row.get("accuracy"),
                 row.get("nn_ratio")]
        text = "".join("{:>10s}".format("-" if v is None else f"{v:.2f}") for v in cells[:1])
        text += "".join("{:>9s}".format("-" if v is None else f"{v:.2f}") for v in cells[1:])
        fit = row.get("fit_seconds")
        text += "{:>9s}".format("-" if fit is None else f"{fit:.1f} s")
        print(f"{name:34s}{text}", file=stream)


def _save_figure(path, image_shape, real, samples, baseline, model, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_image_grid

    final = model[-1] if hasattr(model, "steps") else model
    atoms = getattr(final, "components_", None) if hasattr(final, "frequencies_") else None
    panels = [(real, "real (held out)"), (samples, title), (baseline, "PCA + GMM (scikit-learn)")]
    if atoms is not None:
        atoms = atoms[:32]
        low, high = atoms.min(axis=1, keepdims=True), atoms.max(axis=1, keepdims=True)
        panels.append(((atoms - low) / np.maximum(high - low, 1e-12), "atoms (lowest frequencies)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 6))
    for ax, (images, name) in zip(axes, panels):
        # Evenly spaced rows: class-conditional samples come ordered by class.
        shown = images[np.linspace(0, len(images) - 1, min(32, len(images))).astype(int)]
        plot_image_grid(shown, image_shape, ax=ax, title=name)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_demo(args, stream=None):
    """Fit a library model and the scikit-learn peer, judge both, save the figure.

    Returns a dict of the library model's numbers (``"baseline"`` holds the peer's).
    """
    from ._demo import baseline_model

    stream = sys.stdout if stream is None else stream
    bunch = load_demo_dataset(args.dataset, args.data_home, args.n_train)
    X_fit, X_held, y_fit, y_held = _split(bunch, args.seed)
    conditional = y_fit is not None and not args.unconditional
    model = DEMO_MODELS[args.model](bunch.image_shape, args.device, args.seed)
    fit_time = _timed_fit(model, X_fit, y_fit if conditional else None)
    baseline = baseline_model(bunch.image_shape, args.seed)
    baseline_time = _timed_fit(baseline, X_fit)

    mse = float(np.mean((_reconstruct(model, X_held) - X_held) ** 2))
    asked = None
    if conditional:
        classes = np.unique(y_fit)
        asked = classes[np.arange(args.n_samples) * classes.size // args.n_samples]
    samples = model.sample(args.n_samples, y=asked, random_state=args.seed)
    baseline_samples = baseline.sample(args.n_samples, random_state=args.seed)
    classifier = _judge(X_held, y_held, args.seed) if y_held is not None else None

    title = f"samples ({args.model}{', by class' if conditional else ''})"
    rows = {
        f"{args.model}{' (class-conditional)' if conditional else ''}":
            dict(_quality(samples, X_fit, classifier, asked), fit_seconds=fit_time),
        "PCA + GMM (scikit-learn)":
            dict(_quality(baseline_samples, X_fit, classifier, None), fit_seconds=baseline_time),
    }
    if classifier is not None:
        rows["real images (fitted on)"] = _quality(X_fit, X_held, classifier, y_fit)
    _save_figure(args.out, bunch.image_shape, X_held, samples, baseline_samples, model, title)

    print(f"dataset          {args.dataset}: {len(X_fit)} images to fit, {len(X_held)} held out, "
          f"of shape {bunch.image_shape}", file=stream)
    print(f"model            {args.model}{', class-conditional' if conditional else ''}; "
          f"held-out MSE {mse:.5f} (pixels in [0, 1])", file=stream)
    print(f"{args.n_samples} samples each; confident: share a classifier of the held-out images "
          "labels with p >= 0.9;\nentropy: of those labels (log of the number of classes when "
          "even); as asked: share labelled as the class drawn;\nNN ratio: median distance to "
          "the nearest image fitted on over that set's own (< 1: near-copies).", file=stream)
    _print_table(rows, stream)
    print(f"wrote            {args.out}", file=stream)
    report = dict(rows[next(iter(rows))], heldout_mse=mse)
    report["baseline"] = rows["PCA + GMM (scikit-learn)"]
    return report


def main(argv=None):
    """Entry point of the ``skspectral`` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["demo"] + (list(argv) if argv is not None else sys.argv[1:]))
    run_demo(args)
    return 0
