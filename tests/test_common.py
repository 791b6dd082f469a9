"""scikit-learn's estimator checks on every public estimator, no expected failures.

Every estimator's defaults are checked, and so is every kind of
:class:`~skspectral.CoefficientPrior` (with its projection, whitening and
Gaussianization options) and every method of
:class:`~skspectral.SpectrumRefiner`, as their code paths differ. The
instances are kept small (few components, tiny flows and networks, one
epoch) so that the whole file stays fast.
"""

from functools import partial

import pytest
from sklearn.utils.estimator_checks import estimator_checks_generator

from skspectral import CoefficientPrior, SpectrumRefiner
from skspectral.utils import all_estimators

#: A tiny flow: the checks fit it dozens of times.
_SMALL_FLOW = {"n_transforms": 2, "hidden_features": (8,), "max_iter": 3, "batch_size": 32}


def _instances():
    """(id, estimator) pairs: every estimator's defaults, then the variants."""
    defaults = [(name, cls()) for name, cls in all_estimators()]
    variants = [
        ("prior-gaussian-ledoit_wolf", CoefficientPrior(shrinkage="ledoit_wolf")),
        ("prior-diagonal", CoefficientPrior("diagonal")),
        ("prior-gmm", CoefficientPrior("gmm", n_components=2)),
        ("prior-gmm-diag", CoefficientPrior("gmm", n_components=2, covariance_type="diag")),
        ("prior-kde", CoefficientPrior("kde")),
        ("prior-sparse_support", CoefficientPrior("sparse_support")),
        ("prior-flow-maf", CoefficientPrior("flow", flow_type="maf", **_SMALL_FLOW)),
        ("prior-flow-nsf", CoefficientPrior("flow", flow_type="nsf", **_SMALL_FLOW)),
        ("prior-gaussian-pca_dim", CoefficientPrior(pca_dim=2)),
        ("prior-gmm-whiten", CoefficientPrior("gmm", n_components=2, whiten=True)),
        ("prior-gmm-gaussianize", CoefficientPrior("gmm", n_components=2, gaussianize=2)),
        ("refiner-stig", SpectrumRefiner("stig", max_iter=1, n_filters=2, batch_size=16)),
    ]
    return defaults + variants


def _check_id(check):
    """The check's name, with the keyword arguments it is bound to."""
    keywords = check.keywords if isinstance(check, partial) else {}
    func = check.func if isinstance(check, partial) else check
    if not keywords:
        return func.__name__
    return f"{func.__name__}({','.join(f'{k}={v}' for k, v in keywords.items())})"


def _cases():
    """One pytest case per (instance, check), named ``<instance id>-<check>``."""
    instances = _instances()
    ids = [name for name, _ in instances]
    assert len(ids) == len(set(ids)), "instance ids must be unique"
    for name, estimator in instances:
        for est, check in estimator_checks_generator(estimator, legacy=True):
            yield pytest.param(est, check, id=f"{name}-{_check_id(check)}")


@pytest.mark.parametrize("estimator, check", list(_cases()))
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
