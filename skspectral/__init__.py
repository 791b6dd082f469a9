"""skspectral: interpretable generative image models built from dictionaries."""

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
