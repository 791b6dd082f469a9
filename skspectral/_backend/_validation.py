"""Parameter validation on top of scikit-learn's: what its constraints let through.

scikit-learn's ``Interval(Integral, ...)`` and ``Interval(Real, ...)``
accept ``True`` and ``False`` (``bool`` is an ``int`` in Python), so
``n_atoms=True`` would reach the numerics as 1. Every estimator (through
:class:`~skspectral.base.StrictParamsMixin`) and every validated public
function (through :func:`validate_params`) rejects a bool where a number is
expected.
"""

import functools
import inspect
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, InvalidParameterError
from sklearn.utils._param_validation import validate_params as _sklearn_validate_params

#: ``n_jobs``: None, or an int other than 0 (scikit-learn's meaning).
N_JOBS_CONSTRAINT = [
    None,
    Interval(Integral, None, -1, closed="right"),
    Interval(Integral, 1, None, closed="left"),
]


def is_positive_int(value):
    """Whether ``value`` is an int >= 1 (Python or NumPy), bools excluded.

    Examples
    --------
    >>> from skspectral._backend import is_positive_int
    >>> is_positive_int(3), is_positive_int(True), is_positive_int(2.0)
    (True, False, False)
    """
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_)) and value >= 1


def _accepts_bool(constraints):
    return any(c in ("boolean", "verbose", "no_validation", bool, object) for c in constraints)


def _is_numeric(constraints):
    return any(isinstance(c, Interval) or c in (Integral, int, float) for c in constraints)


def reject_bool_numbers(params, constraints, owner):
    """Raise when a bool is passed for a numeric parameter.

    Parameters
    ----------
    params : dict
        Parameter values by name.
    constraints : dict
        scikit-learn constraints by name.
    owner : str
        The estimator or function, named in the message.

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        A subclass of both ``ValueError`` and ``TypeError``.

    Examples
    --------
    >>> from numbers import Integral
    >>> from sklearn.utils._param_validation import Interval
    >>> from skspectral._backend import reject_bool_numbers
    >>> rules = {"n_atoms": [Interval(Integral, 1, None, closed="left")]}
    >>> reject_bool_numbers({"n_atoms": True}, rules, "Model")
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: The 'n_atoms' parameter of Model must be a number, not a bool; got True.
    """
    for name, value in params.items():
        if not isinstance(value, (bool, np.bool_)):
            continue
        rules = constraints.get(name, [])
        if _is_numeric(rules) and not _accepts_bool(rules):
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be a number, not a bool; got {value!r}."
            )


def validate_params(parameter_constraints, *, prefer_skip_nested_validation):
    """scikit-learn's ``validate_params`` decorator, also rejecting bools for numbers."""

    def decorator(func):
        checked = _sklearn_validate_params(
            parameter_constraints, prefer_skip_nested_validation=prefer_skip_nested_validation
        )(func)
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return checked(*args, **kwargs)  # let scikit-learn word the error
            reject_bool_numbers(bound.arguments, parameter_constraints, func.__qualname__)
            return checked(*args, **kwargs)

        return wrapper

    return decorator
