"""Convolutional sparse coding: estimator, layers, objectives, solvers and kernels."""

from ._estimator import ConvSparseCoder
from ._solver import conv_sparse_code

__all__ = ["ConvSparseCoder", "conv_sparse_code"]
