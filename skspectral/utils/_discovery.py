"""Find every public estimator of skspectral (used by the common tests)."""

import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator


def all_estimators():
    """List the public estimators defined in skspectral.

    Pipelines (meta-estimators that need ``steps``) and the abstract bases of
    :mod:`skspectral.base` are left out.

    Returns
    -------
    estimators : list of (name, class) tuples
        Sorted by name.

    Examples
    --------
    >>> from skspectral.utils import all_estimators
    >>> "CoefficientPrior" in dict(all_estimators())
    True
    """
    import skspectral
    from skspectral.pipeline import GenerativePipeline

    found = {}
    modules = [skspectral] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(skspectral.__path__, prefix="skspectral.")
        if not _is_excluded(info.name)
    ]
    for module in modules:
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, BaseEstimator)
                and obj.__module__.startswith("skspectral")
                and not name.startswith(("_", "Base"))
                and not issubclass(obj, GenerativePipeline)
            ):
                found[name] = obj
    return sorted(found.items())


def _is_excluded(module_name):
    # Test modules and the CLI entry point are not libraries of estimators.
    parts = module_name.split(".")
    return "tests" in parts or parts[-1] in ("__main__", "_cli")
