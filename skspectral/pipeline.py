"""A scikit-learn Pipeline that can also draw samples."""

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.pipeline import make_pipeline as _sk_make_pipeline
from sklearn.utils.validation import check_is_fitted

from ._backend import DEFAULT_CHUNK, check_output_size
from ._backend._dask import map_row_blocks
from .base import _gather_batches, check_n_samples
from .base._density import step_log_likelihood

__all__ = ["GenerativePipeline", "make_pipeline"]


def _is_passthrough(step):
    return step is None or step == "passthrough"


class GenerativePipeline(Pipeline):
    """A :class:`~sklearn.pipeline.Pipeline` whose last step can ``sample``.

    ``sample`` draws from the final estimator's ``sample`` and maps the draws
    back to the input space with ``inverse_transform`` through the earlier
    steps, last to first. Everything else is scikit-learn's Pipeline:
    ``get_params``/``set_params`` with ``step__param``, ``clone``, grid search
    (scored by :meth:`score`), ``memory``, ``verbose``, slicing and pickling.

    When the last step is a density (it has ``score_samples``),
    :meth:`score_samples` and :meth:`score` are the pipeline's log-density
    in its *input* space: the last step's density pushed through the
    earlier steps. A step must be an invertible linear map
    (:class:`~sklearn.preprocessing.StandardScaler`) or a linear decoder
    with a noise model (:class:`~sklearn.decomposition.PCA` as
    probabilistic PCA, :class:`~skspectral.SpectralDictionary`,
    :class:`~skspectral.SparseSupportMRF` before a ``"sparse_support"``
    prior); other steps raise a ValueError naming them. Grid searches
    therefore compare candidates by held-out log-likelihood of the images,
    whatever their code widths.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        As in :class:`~sklearn.pipeline.Pipeline`.
    transform_input : list of str, default=None
        As in :class:`~sklearn.pipeline.Pipeline`.
    memory : str or object with the joblib.Memory interface, default=None
        As in :class:`~sklearn.pipeline.Pipeline`.
    verbose : bool, default=False
        As in :class:`~sklearn.pipeline.Pipeline`.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.decomposition import PCA
    >>> from skspectral import CoefficientPrior
    >>> from skspectral.pipeline import make_pipeline
    >>> X = load_digits().data
    >>> pipe = make_pipeline(PCA(16), CoefficientPrior("gmm", n_components=5, random_state=0))
    >>> pipe.fit(X).sample(10, random_state=0).shape
    (10, 64)
    """

    def sample(self, n_samples=1, *, y=None, random_state=None, chunks=None, **sample_params):
        """Draw samples in the pipeline's input space.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples, an int >= 1.
        y : label or array-like of shape (n_samples,), default=None
            Class of the samples, passed to the final step's ``sample``
            (a pipeline fitted with labels samples class-conditionally).
        random_state : int, RandomState instance or None, default=None
            Passed to the final step's ``sample``.
        chunks : int or tuple of int, default=None
            Return a lazy :class:`dask.array.Array` in blocks of ``chunks``
            rows: the final step draws each block in its own task (see
            :meth:`skspectral.base.GenerativeMixin.sample`) and the block is
            mapped back through the earlier steps in the same task.
        **sample_params : dict
            Further keyword arguments for the final step's ``sample``.

        Returns
        -------
        X : ndarray or dask array of shape (n_samples, n_features)
            Samples mapped back through every earlier step.

        Raises
        ------
        OutputTooLargeError
            If the samples would not fit in the available memory (checked
            before drawing; :meth:`iter_sample` streams them).
        """
        final = self._check_sample_call()
        n_samples = check_n_samples(n_samples)
        width = self._input_width()
        if y is not None:
            sample_params["y"] = y
        if chunks is not None:
            return self._sample_dask(final, n_samples, width, chunks, random_state,
                                     sample_params)
        if width is not None:
            check_output_size(
                n_samples, width, np.float64,
                what=f"GenerativePipeline.sample(n_samples={n_samples})",
                hint="Draw them in batches with iter_sample(n_samples, batch_size=...).",
            )
        if not hasattr(final, "iter_sample"):
            return self._map_back(final.sample(n_samples, random_state=random_state,
                                               **sample_params))
        batches = final.iter_sample(n_samples, batch_size=DEFAULT_CHUNK,
                                    random_state=random_state, **sample_params)
        return _gather_batches((self._map_back(b) for b in batches), n_samples)

    def iter_sample(self, n_samples, *, batch_size=DEFAULT_CHUNK, y=None, random_state=None,
                    **sample_params):
        """Draw ``n_samples`` samples as a stream of batches, each mapped back.

        Memory stays bounded by one batch; with the default ``batch_size``
        the batches of a seeded call concatenate to the same call of
        :meth:`sample`.

        Parameters
        ----------
        n_samples : int
            Total number of samples.
        batch_size : int, default=4096
            Samples per batch.
        y, random_state, **sample_params
            As in :meth:`sample`.

        Yields
        ------
        X : ndarray of shape (batch_size, n_features)
        """
        final = self._check_sample_call()
        if not hasattr(final, "iter_sample"):
            raise AttributeError(
                f"The last step ({type(final).__name__}) has no 'iter_sample' method."
            )
        if y is not None:
            sample_params["y"] = y
        batches = final.iter_sample(n_samples, batch_size=batch_size,
                                    random_state=random_state, **sample_params)
        return (self._map_back(b) for b in batches)

    def _sample_dask(self, final, n_samples, width, chunks, random_state, sample_params):
        draws = final.sample(n_samples, random_state=random_state, chunks=chunks,
                             **sample_params)
        if width is None:
            raise ValueError(
                "sample(chunks=...) needs the pipeline's input width; none of its steps "
                "records n_features_in_."
            )
        return map_row_blocks(self, "_map_back", draws, width, draws.dtype)

    def score_samples(self, X):
        """Log-density of each input image: the last step's density pushed through the steps.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images (the pipeline's input).

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            Natural log of the density at each image.

        Raises
        ------
        ValueError
            If a step is neither an invertible linear map nor a linear
            decoder with a noise model (see the class description).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_digits
        >>> from sklearn.decomposition import PCA
        >>> from skspectral import CoefficientPrior
        >>> from skspectral.pipeline import make_pipeline
        >>> X = load_digits().data / 16
        >>> pipe = make_pipeline(PCA(16), CoefficientPrior("gmm", n_components=5, random_state=0))
        >>> pipe.fit(X[:1000]).score_samples(X[1000:1003]).shape
        (3,)
        """
        check_is_fitted(self)
        steps = [step for _, step in self.steps if not _is_passthrough(step)]
        return _steps_log_density(steps, X)

    def score(self, X, y=None, sample_weight=None, **params):
        """Mean log-density of the input images (higher is better).

        The default scoring of :class:`~sklearn.model_selection.GridSearchCV`:
        held-out log-likelihood in the input space, comparable across
        candidates of any code width. A pipeline whose last step is not a
        density (no ``score_samples``) is scored as a
        :class:`~sklearn.pipeline.Pipeline` is.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images.
        y : None
            Ignored for densities.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the images in the mean.
        **params : dict
            Passed to ``Pipeline.score`` for non-density pipelines.

        Returns
        -------
        score : float
        """
        final = self.steps[-1][1]
        if _is_passthrough(final) or not hasattr(final, "score_samples"):
            return super().score(X, y, sample_weight=sample_weight, **params)
        return float(np.average(self.score_samples(X), weights=sample_weight))

    def _check_sample_call(self):
        name, final = self.steps[-1]
        if _is_passthrough(final) or not hasattr(final, "sample"):
            raise AttributeError(
                f"The last step {name!r} ({type(final).__name__}) has no 'sample' "
                "method; end the pipeline with a generative estimator such as "
                "CoefficientPrior."
            )
        self._check_inverse_steps()
        check_is_fitted(self)
        return final

    def _input_width(self):
        """Features of the pipeline's input (None if no step records it)."""
        for _, step in self.steps:
            if not _is_passthrough(step):
                return getattr(step, "n_features_in_", None)
        return None

    def _map_back(self, Xt):
        for _, step in reversed(self.steps[:-1]):
            if not _is_passthrough(step):
                Xt = step.inverse_transform(Xt)
        return Xt

    def _check_inverse_steps(self):
        for step_name, step in self.steps[:-1]:
            if not _is_passthrough(step) and not hasattr(step, "inverse_transform"):
                raise AttributeError(
                    f"Step {step_name!r} ({type(step).__name__}) has no "
                    "'inverse_transform', so samples cannot be mapped back to the "
                    "input space."
                )


class _TailDensity:
    """The density of the steps after one, over that step's output."""

    def __init__(self, steps):
        self.steps = steps

    def score_samples(self, X):
        return _steps_log_density(self.steps, X)


def _steps_log_density(steps, X):
    """``log p(x)`` of ``X`` under ``steps``: the last one's density, pushed through the others."""
    if len(steps) == 1:
        final = steps[0]
        if not hasattr(final, "score_samples"):
            raise ValueError(
                f"The last step ({type(final).__name__}) is not a density (it has no "
                "score_samples); end the pipeline with a prior such as CoefficientPrior."
            )
        return np.asarray(final.score_samples(X), dtype=np.float64)
    return step_log_likelihood(steps[0], X, _TailDensity(steps[1:]))


def make_pipeline(*steps, memory=None, transform_input=None, verbose=False):
    """Build a :class:`GenerativePipeline` from estimators, naming them automatically.

    Parameters
    ----------
    *steps : list of estimators
        As in :func:`sklearn.pipeline.make_pipeline`.
    memory : str or object with the joblib.Memory interface, default=None
        Caches fitted transformers.
    transform_input : list of str, default=None
        As in :func:`sklearn.pipeline.make_pipeline`.
    verbose : bool, default=False
        Print the time elapsed while fitting each step.

    Returns
    -------
    p : GenerativePipeline

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skspectral import CoefficientPrior
    >>> from skspectral.pipeline import make_pipeline
    >>> make_pipeline(StandardScaler(), CoefficientPrior())
    GenerativePipeline(steps=[('standardscaler', StandardScaler()),
                              ('coefficientprior', CoefficientPrior())])
    """
    pipe = _sk_make_pipeline(
        *steps, memory=memory, transform_input=transform_input, verbose=verbose
    )
    return GenerativePipeline(
        pipe.steps, memory=memory, transform_input=transform_input, verbose=verbose
    )
