"""Plots for images, atoms, spectra and codes (matplotlib)."""

from ._images import plot_image_grid

__all__ = ["plot_image_grid"]
