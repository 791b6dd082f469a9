"""Metrics for generated images: spectral distances, FID, memorisation checks."""

from ._neighbors import nearest_neighbor_distance

__all__ = ["nearest_neighbor_distance"]
