"""The ``device=`` parameter convention shared by every estimator."""

import re
import warnings

import torch
from sklearn.utils._param_validation import StrOptions

_CUDA_PATTERN = re.compile(r"^cuda(:\d+)?$")


class _DeviceString(StrOptions):
    """Accept ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` and ``"mps"``.

    ``"mps"`` passes parameter validation everywhere; :func:`resolve_device`
    refuses it, naming the parameter, on a machine without MPS.
    """

    def __init__(self):
        super().__init__({"auto", "cpu", "cuda", "cuda:N", "mps"})

    def is_satisfied_by(self, val):
        return isinstance(val, str) and (
            val in ("auto", "cpu", "mps") or bool(_CUDA_PATTERN.match(val))
        )


#: Entry for ``_parameter_constraints["device"]`` of every estimator.
DEVICE_CONSTRAINT = [_DeviceString(), torch.device]


def mps_available():
    """Whether torch can run on Apple's Metal (MPS) on this machine."""
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(device="auto", *, name="the 'device' parameter", usage="device='{}'"):
    """Turn a ``device=`` parameter value into a :class:`torch.device`.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device, default="auto"
        ``"auto"`` selects CUDA when it is available and the CPU otherwise
        (never MPS, which has no float64: ask for ``"mps"`` explicitly).
        ``"mps"`` (Apple's Metal) is accepted where
        ``torch.backends.mps.is_available()``.
    name : str, default="the 'device' parameter"
        What errors call the value: the argument the caller was given (for
        example ``"the to(device=...) argument"`` or ``"--device"``).
    usage : str, default="device='{}'"
        How errors spell a suggested value (``{}`` is replaced by it).

    Returns
    -------
    torch.device
        The resolved device.

    Raises
    ------
    ValueError
        If the value is not understood, or names a CUDA or MPS device that
        this machine does not have; the message names ``name``.

    Examples
    --------
    >>> from skspectral._backend import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    subject = name[:1].upper() + name[1:]
    suggestion = f"use {usage.format('cpu')} or {usage.format('auto')}"
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif isinstance(device, str) and (
        device in ("cpu", "mps") or _CUDA_PATTERN.match(device)
    ):
        dev = torch.device(device)
    else:
        raise ValueError(
            f"{subject} must be 'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or a torch.device; "
            f"got {device!r}."
        )
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{subject} is {device!r} but CUDA is not available on this machine; "
                f"{suggestion}."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"{subject} is {device!r} but only {torch.cuda.device_count()} CUDA "
                "device(s) are visible."
            )
    elif dev.type == "mps":
        if not mps_available():
            raise ValueError(
                f"{subject} is {device!r} but MPS (Apple's Metal) is not available on this "
                f"machine; {suggestion}."
            )
    elif dev.type != "cpu":
        raise ValueError(
            f"{subject} must be a CPU, CUDA or MPS device; got {device!r}."
        )
    return dev


def loaded_device(device, what, hint=""):
    """The device a loaded model was fitted on, or the CPU where this machine lacks it.

    Parameters
    ----------
    device : torch.device or str
        ``device_`` of the saved model.
    what : str
        The model, as the warning names it.
    hint : str, default=""
        Appended to the warning (e.g. how to move the model later).

    Returns
    -------
    device : torch.device
    """
    device = torch.device(device)
    if device.type == "cpu":
        return device
    if device.type == "mps" and mps_available():
        return device
    if (device.type == "cuda" and torch.cuda.is_available()
            and (device.index or 0) < torch.cuda.device_count()):
        return device
    warnings.warn(
        f"This {what} was fitted on {device}, which this machine does not have; it runs on "
        f"the CPU.{hint}",
        UserWarning,
        stacklevel=3,
    )
    return torch.device("cpu")
