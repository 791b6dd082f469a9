"""Sparse-support generative model (Vaksman & Elad) and the Batch-OMP function."""

from ._coding import orthogonal_mp_batch
from ._estimator import SparseSupportMRF

__all__ = ["SparseSupportMRF", "orthogonal_mp_batch"]
