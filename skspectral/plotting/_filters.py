"""Grids of convolutional filters."""

import numpy as np

from ._images import plot_image_grid


def _filters_as_images(filters):
    filters = np.asarray(filters, dtype=np.float64)
    if filters.ndim == 3:
        # 1-D filters (M, C, k): one row of pixels per input channel.
        return filters
    if filters.ndim != 4:
        raise ValueError(
            "filters must have shape (n_filters, in_channels, k, k) or "
            f"(n_filters, in_channels, k); got {filters.shape}."
        )
    if filters.shape[1] == 3:
        return filters.transpose(0, 2, 3, 1)
    if filters.shape[1] == 1:
        return filters[:, 0]
    # Deeper layers: show where each filter puts its energy.
    return np.sqrt((filters**2).sum(axis=1))


def plot_filters(filters, *, n_cols=8, ax=None, title=None, signed=True):
    """Show the filters of a convolutional dictionary as one grid.

    Parameters
    ----------
    filters : array-like of shape (n_filters, in_channels, k, k) or (n_filters, in_channels, k)
        For example ``ConvSparseCoder().fit(X).dictionaries_[0]``. Filters on
        1 channel are grey, on 3 channels RGB; for other channel counts the
        per-pixel energy across channels is shown.
    n_cols : int, default=8
        Filters per row.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    title : str, default=None
        Axes title.
    signed : bool, default=True
        Scale each filter symmetrically around zero (mid-grey is 0); when
        False each filter is stretched from its minimum to its maximum.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skspectral.plotting import plot_filters
    >>> ax = plot_filters(np.random.randn(16, 1, 5, 5), n_cols=8)
    """
    shape = np.shape(filters)
    energy = len(shape) == 4 and shape[1] not in (1, 3)
    images = _filters_as_images(filters)
    flat = images.reshape(len(images), -1)
    if signed and not energy:
        scale = np.abs(flat).max(axis=1)
        scale[scale == 0] = 1.0
        flat = 0.5 + 0.5 * flat / scale[:, None]
    else:
        lo, hi = flat.min(axis=1), flat.max(axis=1)
        span = np.where(hi > lo, hi - lo, 1.0)
        flat = (flat - lo[:, None]) / span[:, None]
    images = flat.reshape(images.shape)
    return plot_image_grid(images, n_cols=n_cols, ax=ax, title=title, vmin=0.0, vmax=1.0)
