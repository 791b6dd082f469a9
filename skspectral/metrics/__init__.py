"""Metrics for generated images: spectral distances, FID, memorisation checks, bits per dimension."""

from ._density import bits_per_dim, dequantize
from ._fid import fid_score, frechet_distance, inception_score
from ._labels import label_quality
from ._neighbors import nearest_neighbor_distance
from ._pixel import psnr
from ._scorer import make_sample_scorer
from ._spectral import (
    frequency_distance,
    log_frequency_distance,
    mean_log_spectrum,
    radial_power_spectrum,
)

__all__ = [
    "bits_per_dim",
    "dequantize",
    "fid_score",
    "frechet_distance",
    "frequency_distance",
    "inception_score",
    "label_quality",
    "log_frequency_distance",
    "make_sample_scorer",
    "mean_log_spectrum",
    "nearest_neighbor_distance",
    "psnr",
    "radial_power_spectrum",
]
