"""Spectral refinement of generated images (profile matching and STIG)."""

from ._refiner import SpectrumRefiner

__all__ = ["SpectrumRefiner"]
