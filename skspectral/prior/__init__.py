"""Densities over codes: what turns a dictionary model into a sampler."""

from ._estimator import CoefficientPrior

__all__ = ["CoefficientPrior"]
