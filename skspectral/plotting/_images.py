"""Grids of images."""

import numpy as np


def _as_images(X, image_shape):
    X = np.asarray(X)
    if image_shape is not None:
        X = X.reshape((len(X),) + tuple(image_shape))
    if X.ndim == 4 and X.shape[-1] == 1:
        X = X[..., 0]
    return X


def plot_image_grid(X, image_shape=None, *, n_cols=8, ax=None, title=None, vmin=0.0, vmax=1.0):
    """Show images as one tiled grid on a single axes.

    Parameters
    ----------
    X : array-like of shape (n_images, n_features) or (n_images, H, W[, C])
        Flattened images (with ``image_shape``) or image arrays.
    image_shape : tuple, default=None
        ``(H, W)`` or ``(H, W, C)`` for flattened ``X``.
    n_cols : int, default=8
        Images per row.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    title : str, default=None
        Axes title.
    vmin, vmax : float, default=0.0, 1.0
        Display range; values outside are clipped.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skspectral.plotting import plot_image_grid
    >>> ax = plot_image_grid(np.random.rand(10, 64), (8, 8), n_cols=5)
    """
    import matplotlib.pyplot as plt

    images = _as_images(X, image_shape)
    n = len(images)
    n_cols = max(1, min(n_cols, n))
    n_rows = int(np.ceil(n / n_cols))
    h, w = images.shape[1:3]
    pad = 1
    tile_shape = (n_rows * (h + pad) + pad, n_cols * (w + pad) + pad) + images.shape[3:]
    canvas = np.full(tile_shape, vmax, dtype=np.float64)
    for i, img in enumerate(images):
        r, c = divmod(i, n_cols)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    canvas = np.clip((canvas - vmin) / (vmax - vmin), 0, 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(n_cols, n_rows))
    ax.imshow(canvas, cmap="gray" if canvas.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
