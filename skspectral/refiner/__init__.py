"""Spectral refinement of generated images (profile matching and STIG)."""

from ._estimator import SpectrumRefiner

__all__ = ["SpectrumRefiner"]
