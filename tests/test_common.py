"""scikit-learn's estimator checks on every public estimator, no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skspectral.utils import all_estimators


def _instances():
    return [cls() for _, cls in all_estimators()]


@parametrize_with_checks(_instances())
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
