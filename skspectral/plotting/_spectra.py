"""Spectra of image sets: radial power spectrum curves and log-spectrum images."""

from ..metrics import mean_log_spectrum, radial_power_spectrum


def plot_radial_spectrum(image_sets, image_shape=None, *, ax=None, title=None):
    """Plot the mean radial power spectrum of one or more image sets (log scale).

    Parameters
    ----------
    image_sets : dict of str -> array-like, or array-like
        Named image sets (flattened with ``image_shape``, or image arrays);
        a single array is drawn unnamed.
    image_shape : tuple, default=None
        ``(H, W)`` or ``(H, W, C)`` for flattened images.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    title : str, default=None
        Axes title.

    Returns
    -------
    ax : matplotlib Axes

    See Also
    --------
    skspectral.metrics.radial_power_spectrum : The curve drawn.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skspectral.plotting import plot_radial_spectrum
    >>> rng = np.random.RandomState(0)
    >>> ax = plot_radial_spectrum({"noise": rng.rand(5, 64)}, (8, 8))
    """
    import matplotlib.pyplot as plt

    if not isinstance(image_sets, dict):
        image_sets = {None: image_sets}
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for name, X in image_sets.items():
        freqs, power = radial_power_spectrum(X, image_shape)
        # The zero frequency has no place on a log axis.
        ax.semilogy(freqs[1:], power[1:], label=name)
    ax.set_xlabel("spatial frequency (cycles / pixel)")
    ax.set_ylabel("power")
    if any(name is not None for name in image_sets):
        ax.legend()
    if title is not None:
        ax.set_title(title)
    return ax


def plot_log_spectrum(X, image_shape=None, *, ax=None, title=None, vmin=None, vmax=None,
                      cmap="viridis"):
    """Show the mean centred log-magnitude spectrum ``log(1 + |FFT2|)`` of a set.

    The spectrum is averaged over images and channels; the zero frequency is
    at the centre. Grid artefacts show as bright isolated peaks, missing
    high frequencies as a dark border.

    Parameters
    ----------
    X : array-like of shape (n_images, n_features) or (n_images, H, W[, C])
        Images.
    image_shape : tuple, default=None
        ``(H, W)`` or ``(H, W, C)`` for flattened ``X``.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    title : str, default=None
        Axes title.
    vmin, vmax : float, default=None
        Colour range (share it between panels to compare sets).
    cmap : str, default="viridis"
        Colour map.

    Returns
    -------
    ax : matplotlib Axes

    See Also
    --------
    skspectral.metrics.mean_log_spectrum : The image drawn (before the channel mean).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skspectral.plotting import plot_log_spectrum
    >>> ax = plot_log_spectrum(np.random.rand(5, 64), (8, 8))
    """
    import matplotlib.pyplot as plt

    spectrum = mean_log_spectrum(X, image_shape).mean(axis=0)
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    H, W = spectrum.shape
    extent = (-(W // 2) - 0.5, W - W // 2 - 0.5, H - H // 2 - 0.5, -(H // 2) - 0.5)
    ax.imshow(spectrum, cmap=cmap, vmin=vmin, vmax=vmax, extent=extent)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return ax


__all__ = ["plot_log_spectrum", "plot_radial_spectrum"]
