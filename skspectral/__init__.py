"""skspectral: interpretable generative image models built from dictionaries.

The submodules (``skspectral.datasets``, ``skspectral.metrics``, ...) are
attributes of the package: those not imported yet are imported on first
access (PEP 562), so ``import skspectral; skspectral.metrics`` works without
``import skspectral.metrics``.
"""

from importlib import import_module as _import_module

from ._version import __version__
from .conv import ConvSparseCoder, conv_sparse_code
from .pipeline import GenerativePipeline, make_pipeline
from .prior import CoefficientPrior
from .refiner import SpectrumRefiner
from .sparse import SparseSupportMRF, orthogonal_mp_batch
from .spectral import SpectralDictionary

__all__ = [
    "CoefficientPrior",
    "ConvSparseCoder",
    "GenerativePipeline",
    "SparseSupportMRF",
    "SpectrumRefiner",
    "SpectralDictionary",
    "conv_sparse_code",
    "make_pipeline",
    "orthogonal_mp_batch",
    "__version__",
]

#: Public submodules, imported on first access as attributes of the package.
_SUBMODULES = (
    "conv",
    "datasets",
    "exceptions",
    "io",
    "metrics",
    "pipeline",
    "plotting",
    "prior",
    "refiner",
    "sparse",
    "spectral",
    "utils",
)


def __getattr__(name):
    # Called only for names not found in the module: import a submodule on access.
    if name in _SUBMODULES:
        return _import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
