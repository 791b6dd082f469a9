"""Parameter validation: scikit-learn's, also rejecting bools for numbers."""

from .._backend import reject_bool_numbers


class StrictParamsMixin:
    """scikit-learn's parameter validation, also rejecting bools for numbers.

    ``Interval(Integral, ...)`` lets ``True`` through (a bool is an int), so
    ``n_atoms=True`` would fit one atom; every estimator here refuses it in
    ``fit`` with scikit-learn's error class.
    """

    def _validate_params(self):
        super()._validate_params()
        reject_bool_numbers(
            self.get_params(deep=False), self._parameter_constraints, type(self).__name__
        )
