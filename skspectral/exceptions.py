"""Warnings and errors specific to skspectral."""

from sklearn.exceptions import InconsistentVersionWarning as _SklearnVersionWarning

__all__ = ["InconsistentVersionWarning"]


class InconsistentVersionWarning(_SklearnVersionWarning):
    """Warn that an estimator was saved by another version of skspectral.

    Raised when a pickle, a joblib file or a skops file of a fitted
    estimator is loaded by a version of skspectral other than the one that
    saved it: its fitted state may no longer match what the running code
    expects. A subclass of scikit-learn's warning of the same name, so a
    filter on that one covers both libraries.

    Parameters
    ----------
    estimator_name : str
        Class name of the loaded estimator.
    current_version : str
        Version of skspectral loading the estimator.
    original_version : str
        Version of skspectral that saved it.

    Examples
    --------
    >>> from skspectral.exceptions import InconsistentVersionWarning
    >>> print(InconsistentVersionWarning(estimator_name="CoefficientPrior",
    ...       current_version="0.2.0", original_version="0.1.0"))
    Loading CoefficientPrior saved by skspectral 0.1.0 with skspectral 0.2.0. ...
    """

    def __init__(self, *, estimator_name, current_version, original_version):
        self.estimator_name = estimator_name
        self.current_version = current_version
        self.original_version = original_version

    def __str__(self):
        return (
            f"Loading {self.estimator_name} saved by skspectral {self.original_version} "
            f"with skspectral {self.current_version}. This might lead to breaking code "
            "or invalid results; refit the model with this version, or load it with "
            f"skspectral {self.original_version}."
        )
