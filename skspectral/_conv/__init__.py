"""Convolutional sparse coding: layers, training objectives, estimator and solver."""

from ._estimator import ConvSparseCoder
from ._solver import conv_sparse_code

__all__ = ["ConvSparseCoder", "conv_sparse_code"]
