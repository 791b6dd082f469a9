"""The public convolutional basis pursuit solver."""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._backend import (
    DEVICE_CONSTRAINT,
    as_numpy,
    as_tensor,
    resolve_device,
    validate_params,
)
from ._csc import admm_cbpdn, fista_cbpdn

_SOLVERS = {"admm": admm_cbpdn, "fista": fista_cbpdn}


def _images_to_nchw(X, name, ndim_options):
    X = np.asarray(X)
    if X.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers; got dtype {X.dtype}.")
    if X.ndim not in ndim_options:
        raise ValueError(
            f"{name} must have {' or '.join(map(str, ndim_options))} dimensions; "
            f"got shape {X.shape}."
        )
    if 0 in X.shape:
        raise ValueError(f"{name} must hold at least one image of at least 1 pixel; got shape "
                         f"{X.shape}.")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinity.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.ndim == ndim_options[0]:
        X = X[..., None]
    return np.ascontiguousarray(np.moveaxis(X, -1, 1))


@validate_params(
    {
        "X": ["array-like"],
        "filters": ["array-like"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "positive": ["boolean"],
        "algorithm": [StrOptions(set(_SOLVERS))],
        "device": DEVICE_CONSTRAINT,
        "return_n_iter": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def conv_sparse_code(X, filters, alpha, *, max_iter=500, tol=1e-4, positive=False,
                     algorithm="admm", device="auto", return_n_iter=False):
    """Convolutional basis pursuit denoising, solved to convergence (ADMM or FISTA).

    Finds, for every image ``s`` of the batch, coefficient maps ``x_m``
    minimising::

        1/2 || sum_m d_m * x_m - s ||^2 + alpha * sum_m ||x_m||_1

    where ``*`` is the 2-D circular convolution (the boundary SPORCO's
    ``ConvBPDN`` uses; filters are zero-padded to the image size with their
    origin at the top-left pixel). Convolutions are products in the Fourier
    domain, done for the whole batch at once in torch on the CPU or a GPU.

    Two algorithms solve it. ``"admm"`` (the default) is Wohlberg's
    FFT-domain ADMM, the algorithm of SPORCO's ``ConvBPDN`` with its default
    penalty, over-relaxation and residual balancing: the linear step is
    solved exactly per frequency, and on the CPU each iteration is two FFTs
    plus two fused Numba passes. ``"fista"`` takes proximal gradient steps of
    size ``1/L`` (``L`` the exact squared norm of the operator) with
    momentum that restarts whenever the objective goes up; it needs about
    three times as many iterations, each as costly, but no linear solve.
    On the benchmark of ``benchmarks/bench_conv.py`` (16 64x64 patches, 32
    8x8 filters) ADMM reached 1% of the optimum 6.9x faster than SPORCO.

    Parameters
    ----------
    X : array-like of shape (n_images, H, W) or (n_images, H, W, C)
        Images.
    filters : array-like of shape (n_filters, kh, kw) or (n_filters, kh, kw, C)
        Filters; ``kh <= H`` and ``kw <= W``.
    alpha : float
        Weight of the l1 penalty (>= 0).
    max_iter : int, default=500
        Maximum number of iterations.
    tol : float, default=1e-4
        Relative tolerance (0 runs ``max_iter``). ADMM stops when its
        relative primal and dual residuals fall below it (SPORCO's
        ``RelStopTol``); FISTA when ``||x_k - x_{k-1}|| <= tol ||x_k||``.
    positive : bool, default=False
        Constrain the coefficients to be non-negative.
    algorithm : {"admm", "fista"}, default="admm"
        The solver (see above).
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        Where to compute.
    return_n_iter : bool, default=False
        Also return the number of iterations run.

    Returns
    -------
    codes : ndarray of shape (n_images, n_filters, H, W)
        Coefficient maps, in the dtype of ``X`` (float32 or float64).
    objective : float
        The objective above at ``codes``, summed over the images.
    n_iter : int
        Only when ``return_n_iter`` is True.

    Raises
    ------
    FloatingPointError
        If the objective overflows (NaN or infinite).

    See Also
    --------
    ConvSparseCoder : Learns the filters (and a fast unrolled encoder).

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral import conv_sparse_code
    >>> rng = np.random.RandomState(0)
    >>> images = rng.rand(2, 16, 16)
    >>> filters = rng.randn(4, 3, 3)
    >>> codes, objective = conv_sparse_code(images, filters, alpha=0.1, device="cpu")
    >>> codes.shape
    (2, 4, 16, 16)
    """
    dev = resolve_device(device)
    S = _images_to_nchw(X, "X", (3, 4))
    D = _images_to_nchw(filters, "filters", (3, 4))
    if D.shape[1] != S.shape[1]:
        raise ValueError(
            f"filters have {D.shape[1]} channel(s) but the images have {S.shape[1]}."
        )
    if D.shape[2] > S.shape[2] or D.shape[3] > S.shape[3]:
        raise ValueError(
            f"filters of size {D.shape[2:]} do not fit in images of size {S.shape[2:]}."
        )
    zero = ~np.any(D.reshape(D.shape[0], -1) != 0, axis=1)
    if zero.any():
        raise ValueError(
            f"filters has {int(zero.sum())} filter(s) of all zeros; every filter must be "
            "non-zero."
        )
    S_t = as_tensor(S, dev)
    D_t = as_tensor(D, dev, dtype=S.dtype)
    codes, objective, n_iter = _SOLVERS[algorithm](
        S_t, D_t, float(alpha), max_iter=max_iter, tol=tol, positive=positive
    )
    if not math.isfinite(objective):
        raise FloatingPointError(
            f"conv_sparse_code diverged: the objective became {objective} after {n_iter} "
            "iteration(s). Rescale X and the filters (or pass float64 data)."
        )
    codes = as_numpy(codes, dtype=S.dtype)
    if return_n_iter:
        return codes, objective, n_iter
    return codes, objective
