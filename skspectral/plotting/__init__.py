"""Plots for images, atoms, spectra and codes (matplotlib)."""

from ._filters import plot_filters
from ._images import plot_image_grid
from ._spectra import plot_log_spectrum, plot_radial_spectrum
from ._spectral import plot_atoms, plot_learned_frequencies, plot_mixing_coefficients

__all__ = [
    "plot_atoms",
    "plot_filters",
    "plot_image_grid",
    "plot_learned_frequencies",
    "plot_log_spectrum",
    "plot_mixing_coefficients",
    "plot_radial_spectrum",
]
