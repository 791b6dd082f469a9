"""A scikit-learn Pipeline that can also draw samples."""

from sklearn.pipeline import Pipeline
from sklearn.pipeline import make_pipeline as _sk_make_pipeline
from sklearn.utils.validation import check_is_fitted

from .base import check_n_samples

__all__ = ["GenerativePipeline", "make_pipeline"]


def _is_passthrough(step):
    return step is None or step == "passthrough"


class GenerativePipeline(Pipeline):
    """A :class:`~sklearn.pipeline.Pipeline` whose last step can ``sample``.

    ``sample`` draws from the final estimator's ``sample`` and maps the draws
    back to the input space with ``inverse_transform`` through the earlier
    steps, last to first. Everything else is scikit-learn's Pipeline:
    ``get_params``/``set_params`` with ``step__param``, ``clone``, grid search
    (scored by the final step's ``score``), ``memory``, ``verbose``, slicing
    and pickling.

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

    def sample(self, n_samples=1, *, y=None, random_state=None, **sample_params):
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
        **sample_params : dict
            Further keyword arguments for the final step's ``sample``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Samples mapped back through every earlier step.
        """
        name, final = self.steps[-1]
        if _is_passthrough(final) or not hasattr(final, "sample"):
            raise AttributeError(
                f"The last step {name!r} ({type(final).__name__}) has no 'sample' "
                "method; end the pipeline with a generative estimator such as "
                "CoefficientPrior."
            )
        n_samples = check_n_samples(n_samples)
        self._check_inverse_steps()
        check_is_fitted(self)
        if y is not None:
            sample_params["y"] = y
        Xt = final.sample(n_samples, random_state=random_state, **sample_params)
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
