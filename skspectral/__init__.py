"""skspectral: interpretable generative image models built from dictionaries."""

from ._conv import ConvSparseCoder, conv_sparse_code
from ._prior import CoefficientPrior
from ._refiner import SpectrumRefiner
from ._sparse import SparseSupportMRF, orthogonal_mp_batch
from ._spectral import SpectralDictionary
from .pipeline import GenerativePipeline, make_pipeline

__version__ = "0.1.0"

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
