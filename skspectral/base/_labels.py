"""Checks of what ``fit`` and ``sample`` are told: sample counts and class labels.

One error message per mistake, whichever estimator gets it: ``n_samples``
of every ``sample``, the labels ``y`` of ``fit``, ``partial_fit`` and
``sample``, the classes drawn for a class-conditional sample, and the
start of a fit on a dask array (its row blocks and the classes of its
labels).
"""

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import column_or_1d

from .._backend import is_positive_int
from .._backend._dask import row_blocks


def check_n_samples(n_samples, name="n_samples"):
    """Validate a number of samples to draw: an int >= 1 (bools rejected).

    Every ``sample`` (models, priors and pipelines) calls this, so each
    gives the same error for ``True``, ``0`` or ``2.5``.

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        A subclass of both ``ValueError`` and ``TypeError``.

    Examples
    --------
    >>> from skspectral.base import check_n_samples
    >>> check_n_samples(3)
    3
    >>> check_n_samples(True)
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: The 'n_samples' parameter must be an int >= 1; got True.
    """
    if not is_positive_int(n_samples):
        raise InvalidParameterError(
            f"The '{name}' parameter must be an int >= 1; got {n_samples!r}."
        )
    return int(n_samples)


def check_labels(y, n_samples, min_count=2):
    """Validate class labels: 1-D, one per sample, finite, each class ``min_count`` times or more.

    Returns
    -------
    y : ndarray of shape (n_samples,)
    classes : ndarray
        The sorted distinct labels.
    counts : ndarray
        Samples per class.
    """
    y = column_or_1d(y, warn=True)
    if y.shape[0] != n_samples:
        raise ValueError(f"y must have one label per sample ({n_samples}); got {y.shape[0]}.")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinity; class labels must be finite.")
    if y.dtype.kind == "O" and any(v is None or (isinstance(v, float) and v != v) for v in y):
        raise ValueError("y contains None or NaN; every sample needs a class label.")
    if y.dtype.kind == "c":
        raise TypeError("y holds complex numbers; class labels must be ints or strings.")
    try:
        classes, counts = np.unique(y, return_counts=True)
    except TypeError as exc:
        raise TypeError(
            "y mixes label types that cannot be ordered (e.g. ints and strings); "
            "use one type for all class labels."
        ) from exc
    if counts.min() < min_count:
        raise ValueError(
            f"Each class in y needs at least {min_count} samples to fit its density; class "
            f"{classes.tolist()[np.argmin(counts)]!r} has {counts.min()}."
        )
    return y, classes, counts


def _check_sample_labels(y, n_samples):
    """``y`` of ``sample``: one label (0-d) or one per sample (1-D)."""
    labels = np.asarray(y)
    if labels.ndim > 1 or (labels.ndim == 1 and labels.shape[0] != n_samples):
        raise ValueError(
            f"y must be one class label or {n_samples} labels; got shape {labels.shape}."
        )
    return labels


def draw_labels(classes, class_weights, n_samples, y, rng, owner):
    """The class of each of ``n_samples`` draws.

    ``y=None`` draws classes in their training proportions; a single label
    or one label per sample fixes them. ``classes=None`` (a model fitted
    without labels) accepts only ``y=None`` and returns None.
    """
    if classes is None:
        if y is not None:
            raise ValueError(
                f"sample(y=...) needs a model fitted with class labels; this {owner} was "
                "fitted without y."
            )
        return None
    if y is None:
        return classes[rng.choice(len(classes), n_samples, p=class_weights)]
    labels = check_known_labels(y, classes, n_samples).reshape(-1)
    labels = labels.astype(classes.dtype, copy=False)
    return np.broadcast_to(labels, (n_samples,)) if labels.shape[0] == 1 else labels


def check_known_labels(y, classes, n_samples):
    """``y`` of ``sample``: one label or ``n_samples`` labels, each a class seen in fit.

    Returns ``y`` as an array of its own shape (0-d or 1-D), unconverted:
    :func:`draw_labels` converts it to the dtype of ``classes`` per draw.
    ``sample`` and ``iter_sample`` call this before drawing anything, so a
    wrong label is refused at the call, not after some batches or at the
    compute of a lazy draw.
    """
    labels = _check_sample_labels(y, n_samples)
    # Compared as Python values: a label of another type (a string for int
    # classes) is unknown, not a conversion error.
    known = set(classes.tolist())
    unknown = [label for label in dict.fromkeys(labels.reshape(-1).tolist())
               if label not in known]
    if unknown:
        raise ValueError(
            f"y={unknown[0]!r} is not a class seen in fit; known classes: {classes.tolist()}."
        )
    return labels


def start_dask_fit(estimator, X, y):
    """What every ``fit`` on a dask array starts with.

    Drops every fitted attribute (and any stream state), so the fit starts
    from scratch, and returns ``(X, y, blocks, classes)``: ``X`` with its
    columns in one chunk, the labels in memory, the row ``slice`` of every
    block and the classes of ``y`` (None without labels). Call it inside
    :func:`~skspectral._backend._dask.restore_on_failure`, so a fit refused
    later (a block with NaN, a lost worker) gives back the model fitted
    before rather than one without attributes.
    """
    for name in [n for n in vars(estimator) if n.endswith("_") and not n.startswith("__")]:
        delattr(estimator, name)
    estimator.__dict__.pop("_stream", None)
    X, y, blocks = row_blocks(X, y)
    classes = None if y is None else check_labels(y, X.shape[0])[1]
    return X, y, blocks, classes


def check_partial_labels(y, classes, n_samples, owner, *, first, known=None):
    """Labels of one ``partial_fit`` call, and the classes of the stream.

    The first call fixes the classes: ``classes`` (every label the stream
    will hold), or else the labels of its ``y``; without ``y`` the stream is
    unlabelled for good. Later calls may omit ``classes`` or repeat it
    unchanged (``known`` is what the first call fixed). Unlike
    :func:`check_labels`, a class may be absent from a chunk or appear once.

    Returns
    -------
    y : ndarray of shape (n_samples,) or None
    classes : ndarray or None
        The sorted classes of the stream (None for an unlabelled stream).
    """
    if classes is not None:
        classes = np.unique(column_or_1d(np.asarray(classes)))
    if not first:
        if classes is not None and (known is None or not np.array_equal(classes, known)):
            raise ValueError(
                f"classes={classes.tolist()} differs from the classes of the first "
                f"partial_fit call ({None if known is None else known.tolist()}); pass the "
                "same classes or none."
            )
        classes = known
        if y is not None and classes is None:
            raise ValueError(
                f"This {owner} was fitted without labels; partial_fit cannot add y now."
            )
    if y is None:
        return None, classes
    y = column_or_1d(y, warn=True)
    if y.shape[0] != n_samples:
        raise ValueError(f"y must have one label per sample ({n_samples}); got {y.shape[0]}.")
    if classes is None:
        classes = check_labels(y, n_samples, min_count=1)[1]
    unknown = sorted(set(y.tolist()) - set(classes.tolist()), key=repr)
    if unknown:
        raise ValueError(
            f"y={unknown[0]!r} is not in classes; known classes: {classes.tolist()}."
        )
    return y.astype(classes.dtype, copy=False), classes
