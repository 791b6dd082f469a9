"""Interpretability plots of a fitted SpectralDictionary."""

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted


def _atom_indices(model, atoms, n_atoms):
    if atoms is None:
        k = model.n_atoms_
        return np.unique(np.linspace(0, k - 1, min(n_atoms, k)).round().astype(int))
    atoms = np.atleast_1d(np.asarray(atoms, dtype=int))
    if atoms.size == 0 or atoms.min() < 0 or atoms.max() >= model.n_atoms_:
        raise ValueError(
            f"atoms must be indices in [0, {model.n_atoms_}); got {atoms.tolist()}."
        )
    return atoms


def plot_atoms(model, atoms=None, *, n_atoms=6, image_shape=None, axes=None):
    """Waveform, spectrum (and image, when the shape is known) of some atoms.

    Parameters
    ----------
    model : SpectralDictionary
        A fitted model.
    atoms : array-like of int, default=None
        Atom indices (atoms are sorted by base frequency); by default
        ``n_atoms`` indices spread from the lowest to the highest frequency.
    n_atoms : int, default=6
        Number of atoms shown when ``atoms`` is None.
    image_shape : tuple, default=None
        ``(H, W)`` or ``(H, W, C)``; defaults to ``model.image_shape``. Adds a
        column showing each atom as an image.
    axes : array of matplotlib Axes of shape (n, 2) or (n, 3), default=None
        Where to draw; a new figure when None.

    Returns
    -------
    axes : ndarray of matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skspectral import SpectralDictionary
    >>> from skspectral.plotting import plot_atoms
    >>> X = np.random.RandomState(0).rand(50, 64)
    >>> model = SpectralDictionary(n_atoms=4, max_iter=1, random_state=0).fit(X)
    >>> plot_atoms(model, n_atoms=2, image_shape=(8, 8)).shape
    (2, 3)
    """
    import matplotlib.pyplot as plt

    check_is_fitted(model)
    idx = _atom_indices(model, atoms, n_atoms)
    image_shape = image_shape if image_shape is not None else model.image_shape
    n_cols = 3 if image_shape is not None else 2
    if axes is None:
        _, axes = plt.subplots(len(idx), n_cols, figsize=(3.2 * n_cols, 1.6 * len(idx)), squeeze=False)
    axes = np.asarray(axes).reshape(len(idx), n_cols)
    t = model.components_.shape[1]
    freqs = np.fft.rfftfreq(t)
    for row, i in enumerate(idx):
        atom = model.components_[i]
        axes[row, 0].plot(atom, lw=0.6)
        axes[row, 0].set_ylabel(f"atom {i}", fontsize=8)
        axes[row, 1].semilogy(freqs, np.abs(np.fft.rfft(atom)) + 1e-12, lw=0.6)
        axes[row, 1].axvline(model.frequencies_[i], color="C3", lw=0.8, ls="--")
        if n_cols == 3:
            shape = tuple(image_shape)
            img = atom.reshape(shape if len(shape) == 2 or shape[-1] == 1 else shape)
            if img.ndim == 3 and img.shape[-1] == 1:
                img = img[..., 0]
            if img.ndim == 3:
                img = (img - img.min()) / max(np.ptp(img), 1e-12)
            axes[row, 2].imshow(img, cmap="RdBu_r" if img.ndim == 2 else None)
            axes[row, 2].set_axis_off()
    axes[0, 0].set_title("waveform s_i(t)", fontsize=9)
    axes[0, 1].set_title("|spectrum| (dashed: base frequency)", fontsize=9)
    axes[-1, 0].set_xlabel("t (sample)")
    axes[-1, 1].set_xlabel("cycles per sample")
    if n_cols == 3:
        axes[0, 2].set_title("as an image", fontsize=9)
    return axes


def plot_learned_frequencies(model, *, ax=None):
    """Base frequency of every atom, with the range its modulation sweeps.

    Parameters
    ----------
    model : SpectralDictionary
        A fitted model.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skspectral import SpectralDictionary
    >>> from skspectral.plotting import plot_learned_frequencies
    >>> X = np.random.RandomState(0).rand(50, 64)
    >>> model = SpectralDictionary(n_atoms=4, max_iter=1, random_state=0).fit(X)
    >>> ax = plot_learned_frequencies(model)
    """
    import matplotlib.pyplot as plt

    check_is_fitted(model)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    t = model.n_features_in_
    pos = model._signal_positions()
    with torch.no_grad():
        d_freq = model.modulation_(pos)[:, 1].numpy()
    inst = np.logaddexp(0.0, model.base_frequencies_[None] + d_freq) / t
    k = np.arange(model.n_atoms_)
    ax.vlines(k, inst.min(axis=0), inst.max(axis=0), color="0.7", lw=1, label="modulation range")
    size = 4 + 30 * model.amplitudes_ / max(float(model.amplitudes_.max()), 1e-12)
    ax.scatter(k, model.frequencies_, s=size, color="C0", zorder=3, label="base frequency")
    ax.set_xlabel("atom (sorted by base frequency)")
    ax.set_ylabel("cycles per sample")
    ax.set_ylim(0, max(0.5, float(inst.max()) * 1.02))
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_mixing_coefficients(model, X, *, n_images=20, ax=None, cmap="RdBu_r"):
    """Heatmap of the mixing weights of some images (images x atoms).

    The paper's Figure 2: each row is one image's code, each column one atom
    (sorted by base frequency), so the frequency content of each image reads
    across its row.

    Parameters
    ----------
    model : SpectralDictionary
        A fitted model.
    X : array-like of shape (n_images, n_features)
        Images; the first ``n_images`` are shown.
    n_images : int, default=20
        Rows shown.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    cmap : str, default="RdBu_r"
        Diverging colour map, symmetric around zero.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skspectral import SpectralDictionary
    >>> from skspectral.plotting import plot_mixing_coefficients
    >>> X = np.random.RandomState(0).rand(50, 64)
    >>> model = SpectralDictionary(n_atoms=4, max_iter=1, random_state=0).fit(X)
    >>> ax = plot_mixing_coefficients(model, X, n_images=5)
    """
    import matplotlib.pyplot as plt

    check_is_fitted(model)
    codes = model.transform(np.asarray(X)[:n_images])
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    lim = float(np.abs(codes).max()) or 1.0
    im = ax.imshow(codes, aspect="auto", cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
    ax.figure.colorbar(im, ax=ax, label="w_i")
    ax.set_xlabel("atom (sorted by base frequency)")
    ax.set_ylabel("image")
    return ax
