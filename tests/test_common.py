"""scikit-learn's estimator checks on every public estimator, no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skspectral import CoefficientPrior
from skspectral.utils import all_estimators


def _instances():
    # Every estimator's defaults, and the priors whose code paths differ
    # from the default Gaussian (the flow trains a torch model; small here;
    # Gaussianization layers wrap the density in ICA rotations and marginal maps).
    variants = [
        CoefficientPrior("gmm", n_components=2),
        CoefficientPrior("flow", max_iter=3, hidden_features=(8,), batch_size=32),
        CoefficientPrior("gmm", n_components=2, gaussianize=2),
    ]
    return [cls() for _, cls in all_estimators()] + variants


@parametrize_with_checks(_instances())
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
