"""Loaders for data that needs no download: bundled digits and the user's files."""

import glob
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from .._backend import is_positive_int
from ._base import check_n_samples, images_to_bunch

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def load_digits_images(*, n_samples=None):
    """scikit-learn's bundled 8x8 handwritten digits as images (no download).

    Parameters
    ----------
    n_samples : int, default=None
        Keep only the first ``n_samples`` images.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` (1797, 8, 8) float32 in [0, 1], ``data`` (1797, 64),
        ``target``, ``image_shape`` (8, 8), ``DESCR``.

    Examples
    --------
    >>> from skspectral.datasets import load_digits_images
    >>> digits = load_digits_images()
    >>> digits.data.shape, digits.image_shape
    ((1797, 64), (8, 8))
    """
    check_n_samples(n_samples)
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    return images_to_bunch(images, digits.target, digits.DESCR, n_samples)


def load_images(path, *, size=None, grayscale=False, n_samples=None, target=None):
    """Load the user's own images.

    Parameters
    ----------
    path : str or path-like
        A folder (every PNG/JPEG/BMP/TIFF file in it, sorted by name), a glob
        pattern, or a ``.npy``/``.npz`` file holding an array of images
        (n, H, W) or (n, H, W, C): floats in [0, 1], bools, or integers (8-bit
        values 0..255 are scaled by 1/255, 16-bit ones by 1/65535). For
        ``.npz`` the array named ``images`` is used, else the first one.
    size : tuple (H, W), default=None
        Resize every image to this size.
    grayscale : bool, default=False
        Convert colour images to one channel.
    n_samples : int, default=None
        Keep only the first ``n_samples`` images.
    target : array-like of shape (n_samples,), default=None
        Labels to attach.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Same fields as the other loaders.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skspectral.datasets import load_images
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.zeros((3, 4, 4, 3), dtype=np.uint8))
    >>> load_images(path, grayscale=True).data.shape
    (3, 16)
    """
    check_n_samples(n_samples)
    size = _check_size(size)
    if not isinstance(grayscale, (bool, np.bool_)):
        raise TypeError(f"The 'grayscale' parameter must be a bool; got {grayscale!r}.")
    path = Path(path)
    if path.suffix in (".npy", ".npz"):
        images = _load_array(path)[:n_samples]
        if size is not None or grayscale:
            images = np.stack([_convert(img, size, grayscale) for img in images])
    else:
        images = _load_files(path, size, grayscale, n_samples)
    if target is not None:
        target = np.asarray(target)
        # With n_samples, target may label the whole file; it is cut like the images.
        expected_at_least = len(images) if n_samples is not None else None
        if target.ndim != 1 or (
            len(target) != len(images)
            and (expected_at_least is None or len(target) < expected_at_least)
        ):
            raise ValueError(
                f"target must hold one label per image ({len(images)}); got shape "
                f"{target.shape}."
            )
        target = target[: len(images)]
    return images_to_bunch(images, target, f"Images loaded from {path}.", n_samples)


def _check_size(size):
    if size is None:
        return None
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(is_positive_int(s) for s in size)
    ):
        raise ValueError(f"The 'size' parameter must be a pair of ints (H, W) >= 1; got {size!r}.")
    return tuple(int(s) for s in size)


def _load_array(path):
    if not path.exists():
        raise FileNotFoundError(f"No such file: {path}")
    try:
        loaded = np.load(path)
        if path.suffix == ".npz":
            if not loaded.files:
                raise ValueError("it holds no arrays")
            loaded = loaded["images"] if "images" in loaded.files else loaded[loaded.files[0]]
    except (OSError, EOFError, ValueError) as exc:
        # Object arrays (which would need pickle) land here too.
        raise ValueError(f"{path} is not a readable NumPy image file: {exc}.") from exc
    images = np.asarray(loaded)
    if images.ndim not in (3, 4) or images.shape[0] == 0 or 0 in images.shape[1:]:
        raise ValueError(
            f"{path} holds an array of shape {images.shape}; expected (n, H, W) or "
            "(n, H, W, C) with n, H, W (and C) >= 1."
        )
    return _unit_range(images, path)


#: Largest value of integer images of each bit depth, by which they are scaled.
_INTEGER_RANGES = (255, 65535)


def _unit_range(images, path):
    """uint8 images as they are; every other type as float32 in [0, 1]."""
    kind = images.dtype.kind
    if kind == "b":
        return images.astype(np.float32)
    if kind in "iu":
        if images.dtype == np.uint8:
            return images
        low, high = int(images.min()), int(images.max())
        top = next((r for r in _INTEGER_RANGES if high <= r), None)
        if low < 0 or top is None:
            raise ValueError(
                f"{path} holds integer images with values in [{low}, {high}]; expected 8-bit "
                "(0..255) or 16-bit (0..65535) values."
            )
        return (images / np.float32(top)).astype(np.float32)
    if kind != "f":
        raise TypeError(
            f"{path} holds an array of dtype {images.dtype}; expected float, integer or bool "
            "images."
        )
    if not np.all(np.isfinite(images)):
        raise ValueError(f"{path} holds NaN or infinite values; images must be finite.")
    low, high = float(images.min()), float(images.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{path} holds float images with values in [{low:g}, {high:g}]; float images must "
            "lie in [0, 1] (save 8-bit images as uint8, or divide by their maximum)."
        )
    return images.astype(np.float32)


def _load_files(path, size, grayscale, n_samples):
    from PIL import Image

    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
    else:
        files = sorted(Path(p) for p in glob.glob(str(path)))
    if not files:
        raise FileNotFoundError(f"No image files found at {path}.")
    arrays = [_convert(np.asarray(Image.open(f)), size, grayscale) for f in files[:n_samples]]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(
            f"Images at {path} have different shapes {sorted(shapes)}; pass size=(H, W) "
            "and, if some are colour, grayscale=True."
        )
    return np.stack(arrays)


def _convert(img, size, grayscale):
    """Resize and/or convert one image with PIL (uint8 out)."""
    from PIL import Image

    if size is None and not grayscale:
        return img
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]  # PIL has no one-channel colour mode
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    pil = Image.fromarray(img)
    if grayscale:
        pil = pil.convert("L")
    elif pil.mode not in ("L", "RGB"):
        pil = pil.convert("RGB")
    if size is not None:
        pil = pil.resize((size[1], size[0]), Image.BILINEAR)
    return np.asarray(pil)
