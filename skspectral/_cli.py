"""Command-line interface: ``skspectral demo``, ``skspectral --version``.

A bare ``skspectral`` prints the help; it runs nothing.
"""

import argparse
import glob
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ._backend._device import DEVICE_CONSTRAINT, resolve_device
from ._demo import DEFAULT_MODEL, DEMO_MODELS, load_demo_dataset
from ._version import __version__

#: Datasets ``--dataset`` knows by name (anything else is a path or a glob).
DEMO_DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")

#: Share of a labelled dataset held out (the judge's training set), and of an
#: unlabelled one (for the held-out reconstruction error); see :func:`_split`.
HELD_OUT_LABELLED, HELD_OUT_UNLABELLED = 0.5, 0.2


class DemoArgumentError(ValueError):
    """An argument of ``skspectral demo`` that would fail the demo; raised before fitting."""


def _positive_int(text):
    """An argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1; got {value}")
    return value


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="skspectral", description="Interpretable generative image models."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", title="commands")
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
    demo.add_argument("--n-train", type=_positive_int, default=None,
                      help="use only this many images")
    demo.add_argument("--n-samples", type=_positive_int, default=500,
                      help="samples drawn and judged (default 500; the figure shows 32)")
    demo.add_argument("--unconditional", action="store_true",
                      help="ignore the dataset's labels: fit and sample without classes")
    demo.add_argument("--out", default="skspectral_demo.png",
                      help="output image path, in an existing writable folder; its extension "
                      "(.png, .pdf, .svg, ...) picks the format")
    demo.add_argument("--device", default="auto",
                      help="auto (CUDA if available, else the CPU), cpu, cuda, cuda:N or mps "
                      "(where torch has Apple's Metal)")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    return parser


def _check_count(args, name, option):
    value = getattr(args, name, None)
    if value is None and name == "n_train":
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DemoArgumentError(f"{option} must be an int >= 1; got {value!r}.")


def _check_dataset(name):
    """A known dataset name, or a path or glob that names something."""
    if name in DEMO_DATASETS or os.path.exists(name) or glob.glob(name):
        return
    raise DemoArgumentError(
        f"--dataset {name!r} is neither a known dataset ({', '.join(DEMO_DATASETS)}) nor an "
        "existing file, folder or glob of images."
    )


def _check_device(device):
    """A device this machine has (as the models' ``device`` parameter takes it)."""
    if not DEVICE_CONSTRAINT[0].is_satisfied_by(device):
        raise DemoArgumentError(
            f"--device must be auto, cpu, cuda, cuda:N or mps; got {device!r}."
        )
    try:
        resolve_device(device, name="--device", usage="--device {}")
    except ValueError as exc:
        raise DemoArgumentError(str(exc)) from None


def _check_out(out):
    """The figure's path: an extension matplotlib writes, in an existing writable folder."""
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(out)
    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    extension = path.suffix.lower().lstrip(".")
    if extension not in formats:
        found = f"its extension is {path.suffix!r}" if extension else "it has no extension"
        raise DemoArgumentError(
            f"--out {out!r}: {found}; matplotlib writes {', '.join('.' + f for f in formats)} "
            "(e.g. demo.png)."
        )
    folder = path.parent
    if not folder.is_dir():
        raise DemoArgumentError(f"--out {out!r}: the folder {str(folder)!r} does not exist.")
    if path.is_dir():
        raise DemoArgumentError(f"--out {out!r} is a folder; give a file name in it.")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".skspectral-", suffix=".tmp"):
            pass
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(f"{path} is read-only")
    except OSError as exc:
        raise DemoArgumentError(
            f"--out {out!r}: cannot write in the folder {str(folder)!r} ({exc})."
        ) from exc


def _check_demo_args(args):
    """Refuse, before loading or fitting anything, arguments the demo would fail on."""
    _check_count(args, "n_train", "--n-train")
    _check_count(args, "n_samples", "--n-samples")
    _check_dataset(args.dataset)
    _check_device(args.device)
    _check_out(args.out)


def _min_fit_images(n_features):
    """Images to fit on that the demo's models need.

    The PCA of the scikit-learn peer (and of ``--model pca``) keeps
    ``min(32, n_features)`` components, and its Gaussian mixture has 10
    (:func:`skspectral._demo.baseline_model`); each needs as many images.
    """
    return max(10, min(32, n_features))


def _check_fit_size(bunch, args):
    """Refuse, after loading and before fitting, a dataset too small for the demo."""
    n = len(bunch.data)
    held = HELD_OUT_LABELLED if _has_labels(bunch.target) else HELD_OUT_UNLABELLED
    n_fit = n - math.ceil(held * n)
    need = _min_fit_images(bunch.data.shape[1])
    if n_fit >= need:
        return
    enough = need
    while enough - math.ceil(held * enough) < need:
        enough += 1
    source = (f"--n-train {args.n_train}" if args.n_train is not None
              else f"--dataset {args.dataset!r} ({n} images)")
    raise DemoArgumentError(
        f"{source} leaves {n_fit} images to fit on ({held:.0%} are held out), fewer than "
        f"the {need} the demo's models need; use at least {enough} images."
    )


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
        return train_test_split(bunch.data, bunch.target, test_size=HELD_OUT_LABELLED,
                                random_state=seed, stratify=bunch.target)
    X_fit, X_held = train_test_split(bunch.data, test_size=HELD_OUT_UNLABELLED,
                                     random_state=seed)
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
    Arguments it would fail on (``--n-train``, ``--n-samples``, ``--dataset``,
    ``--device``, ``--out``) raise :class:`DemoArgumentError` before anything is fitted.
    """
    from ._demo import baseline_model

    stream = sys.stdout if stream is None else stream
    _check_demo_args(args)
    bunch = load_demo_dataset(args.dataset, args.data_home, args.n_train)
    _check_fit_size(bunch, args)
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
    """Entry point of the ``skspectral`` console script.

    Returns the exit status: 0, or 2 for an argument the demo refuses. A
    bare ``skspectral`` prints the help and returns 0; ``--version`` and
    ``--help`` exit (:class:`SystemExit`) as argparse does.
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        run_demo(args)
    except DemoArgumentError as exc:
        # As argparse reports a bad argument: one line, exit status 2.
        print(f"skspectral demo: error: {exc}", file=sys.stderr)
        return 2
    return 0
