"""A scikit-learn scorer that judges a generator by the quality of its samples."""


import numpy as np

from .._backend import is_positive_int
from ._spectral import frequency_distance, log_frequency_distance

# Lower-is-better metrics of this package; anything else defaults to greater-is-better.
_LOWER_IS_BETTER = {"log_frequency_distance", "frequency_distance", "fid_score",
                    "frechet_distance", "mean_squared_error"}


class _SampleScorer:
    """Callable ``scorer(estimator, X, y=None)`` for model selection."""

    def __init__(self, metric, n_samples, sign, random_state, image_shape, kwargs):
        self.metric = metric
        self.n_samples = n_samples
        self.sign = sign
        self.random_state = random_state
        self.image_shape = image_shape
        self.kwargs = kwargs

    def __call__(self, estimator, X, y=None):
        if not hasattr(estimator, "sample"):
            raise TypeError(
                f"make_sample_scorer needs a generator with a 'sample' method; "
                f"{type(estimator).__name__} has none."
            )
        samples = estimator.sample(self.n_samples, random_state=self.random_state)
        if isinstance(samples, tuple):  # e.g. GaussianMixture.sample returns (X, labels)
            samples = samples[0]
        kwargs = dict(self.kwargs)
        if self.image_shape is not None:
            kwargs["image_shape"] = self.image_shape
        return self.sign * float(self.metric(np.asarray(samples), np.asarray(X), **kwargs))

    def __repr__(self):
        name = getattr(self.metric, "__name__", repr(self.metric))
        return f"make_sample_scorer({name}, n_samples={self.n_samples})"


def make_sample_scorer(
    metric,
    *,
    n_samples=1000,
    image_shape=None,
    greater_is_better=None,
    random_state=0,
    **metric_kwargs,
):
    """Make a scorer that compares a generator's samples with held-out images.

    The scorer draws ``n_samples`` images with ``estimator.sample`` (a
    :class:`~skspectral.pipeline.GenerativePipeline` or any estimator with
    ``sample``) and returns ``metric(samples, X_test, ...)``, negated when
    lower is better, so that :class:`~sklearn.model_selection.GridSearchCV`
    picks the model whose samples are closest to the held-out images.

    Parameters
    ----------
    metric : callable
        ``metric(X_gen, X_real, **kwargs) -> float`` comparing two sets, for
        example :func:`log_frequency_distance` or :func:`fid_score`.
    n_samples : int, default=1000
        Samples drawn per evaluation.
    image_shape : tuple of int, default=None
        Passed to the metric as ``image_shape`` when given.
    greater_is_better : bool, default=None
        ``None`` guesses from the metric: the distances of this package
        (:func:`log_frequency_distance`, :func:`fid_score`, ...) are lower-is-better.
    random_state : int, RandomState instance or None, default=0
        Passed to ``sample``; a fixed seed makes the comparison between
        candidates fair.
    **metric_kwargs : dict
        Further keyword arguments for the metric.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skspectral import CoefficientPrior
    >>> from skspectral.metrics import log_frequency_distance, make_sample_scorer
    >>> from skspectral.pipeline import make_pipeline
    >>> X = load_digits().data / 16
    >>> scorer = make_sample_scorer(log_frequency_distance, n_samples=200, image_shape=(8, 8))
    >>> search = GridSearchCV(make_pipeline(PCA(), CoefficientPrior()),
    ...                       {"pca__n_components": [2, 20]}, scoring=scorer, cv=2).fit(X)
    >>> search.best_params_
    {'pca__n_components': 20}
    """
    if not callable(metric):
        raise TypeError(f"metric must be a callable; got {metric!r}.")
    if not is_positive_int(n_samples):
        raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
    if greater_is_better is None:
        name = getattr(metric, "__name__", "")
        greater_is_better = not (
            name in _LOWER_IS_BETTER or metric in (log_frequency_distance, frequency_distance)
        )
    sign = 1.0 if greater_is_better else -1.0
    return _SampleScorer(metric, int(n_samples), sign, random_state, image_shape, metric_kwargs)
