"""SpectralDictionary: learned spectral atoms, their math and kernels."""

from ._estimator import SpectralDictionary

__all__ = ["SpectralDictionary"]
