"""skspectral: interpretable generative image models built from dictionaries."""

from ._prior import CoefficientPrior
from ._refiner import SpectrumRefiner
from .pipeline import GenerativePipeline, make_pipeline

__version__ = "0.1.0"

__all__ = [
    "CoefficientPrior",
    "GenerativePipeline",
    "SpectrumRefiner",
    "make_pipeline",
    "__version__",
]
