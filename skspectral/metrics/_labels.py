"""Sample quality judged by a classifier trained on real images."""

from numbers import Real

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils import Bunch, check_array
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from .._backend import validate_params


def _label_entropy(labels, n_classes):
    counts = np.bincount(labels, minlength=n_classes)
    p = counts[counts > 0] / labels.size
    return float(-(p * np.log(p)).sum())


def _check_asked_labels(y, classes, n_samples):
    """``y`` of :func:`label_quality`: one label per sample, each a class of the classifier.

    A label the classifier never saw can never be predicted: the accuracy
    would be wrong silently (0.0 when none is known, e.g. labels of another
    encoding).
    """
    y = np.asarray(y)
    if y.shape != (n_samples,):
        raise ValueError(
            f"y must hold one class per sample ({n_samples}); got shape {y.shape}."
        )
    # Compared as Python values: a string for int classes is unknown, not an error.
    known = set(classes.tolist())
    unknown = [label for label in dict.fromkeys(y.tolist()) if label not in known]
    if unknown:
        shown = ", ".join(repr(label) for label in unknown[:5])
        raise ValueError(
            f"y holds labels the classifier never saw: {shown}"
            f"{', ...' if len(unknown) > 5 else ''}; its classes_ are {classes.tolist()}. "
            "y must name the classes the samples were drawn for, as the classifier "
            "labels them."
        )
    return y


@validate_params(
    {
        "X_gen": ["array-like"],
        "classifier": [object],
        "y": ["array-like", None],
        "threshold": [Interval(Real, 0, 1, closed="right")],
    },
    prefer_skip_nested_validation=True,
)
def label_quality(X_gen, classifier, *, y=None, threshold=0.9):
    """How recognisable and how varied samples are, to a classifier of real images.

    A generator whose samples look like real images of some class gets
    confident labels from a classifier trained on real images; one whose
    samples cover every class gets labels spread over all of them. With
    the classes the samples were drawn for (``y``, from a class-conditional
    ``sample(n, y=...)``), it also measures how often the classifier agrees.

    Parameters
    ----------
    X_gen : array-like of shape (n_samples, n_features)
        Generated images, flattened as the classifier expects them.
    classifier : fitted classifier
        A scikit-learn classifier with ``predict_proba`` (or a pipeline
        ending in one), trained on real images.
    y : array-like of shape (n_samples,), default=None
        The class each sample was drawn for; each must be one of
        ``classifier.classes_``.
    threshold : float in (0, 1], default=0.9
        A label is confident when its probability is at least ``threshold``.

    Raises
    ------
    ValueError
        If ``y`` holds a label not in ``classifier.classes_``.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``confident_share``: share of samples labelled with probability
        ``>= threshold``. ``label_entropy``: entropy (nats) of the
        distribution of predicted labels; ``log(n_classes)`` when samples
        spread evenly over the classes, 0 when all get one label.
        ``label_counts``: samples per class of ``classifier.classes_``.
        ``accuracy``: share of samples labelled as the class asked for
        (None without ``y``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skspectral.metrics import label_quality
    >>> X = np.array([[0.0], [0.1], [0.9], [1.0]])
    >>> clf = LogisticRegression(C=100).fit(X, [0, 0, 1, 1])
    >>> result = label_quality(np.array([[0.0], [1.0]]), clf, y=[0, 1])
    >>> result.confident_share, round(result.label_entropy, 3), result.accuracy
    (1.0, 0.693, 1.0)
    """
    if not (is_classifier(classifier) and hasattr(classifier, "predict_proba")):
        raise TypeError(
            "classifier must be a fitted scikit-learn classifier with predict_proba; got "
            f"{type(classifier).__name__}."
        )
    check_is_fitted(classifier)
    X_gen = check_array(X_gen, input_name="X_gen")
    classes = np.asarray(classifier.classes_)
    if y is not None:
        y = _check_asked_labels(y, classes, X_gen.shape[0])
    proba = classifier.predict_proba(X_gen)
    labels = proba.argmax(axis=1)
    accuracy = None
    if y is not None:
        accuracy = float(np.mean(classes[labels] == y))
    return Bunch(
        confident_share=float(np.mean(proba.max(axis=1) >= threshold)),
        label_entropy=_label_entropy(labels, classes.size),
        label_counts=np.bincount(labels, minlength=classes.size),
        accuracy=accuracy,
    )
