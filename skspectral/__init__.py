"""skspectral: interpretable generative image models built from dictionaries."""

from .conv import ConvSparseCoder, conv_sparse_code
from .pipeline import GenerativePipeline, make_pipeline
from .prior import CoefficientPrior
from .refiner import SpectrumRefiner
from .sparse import SparseSupportMRF, orthogonal_mp_batch
from .spectral import SpectralDictionary

__version__ = "0.2.0.dev0"

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
