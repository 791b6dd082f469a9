"""The ``device=`` parameter convention shared by every estimator."""

import re
import warnings

import torch
from sklearn.utils._param_validation import StrOptions

_CUDA_PATTERN = re.compile(r"^cuda(:\d+)?$")


class _DeviceString(StrOptions):
    """Accept ``"auto"``, ``"cpu"``, ``"cuda"`` and ``"cuda:N"``."""

    def __init__(self):
        super().__init__({"auto", "cpu", "cuda", "cuda:N"})

    def is_satisfied_by(self, val):
        return isinstance(val, str) and (
            val in ("auto", "cpu") or bool(_CUDA_PATTERN.match(val))
        )


#: Entry for ``_parameter_constraints["device"]`` of every estimator.
DEVICE_CONSTRAINT = [_DeviceString(), torch.device]


def resolve_device(device="auto"):
    """Turn a ``device=`` parameter value into a :class:`torch.device`.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        ``"auto"`` selects CUDA when it is available and the CPU otherwise.

    Returns
    -------
    torch.device
        The resolved device.

    Raises
    ------
    ValueError
        If the value is not understood, or names a CUDA device that this
        machine does not have.

    Examples
    --------
    >>> from skspectral._backend import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif isinstance(device, str) and (device == "cpu" or _CUDA_PATTERN.match(device)):
        dev = torch.device(device)
    else:
        raise ValueError(
            "The 'device' parameter must be 'auto', 'cpu', 'cuda', 'cuda:N' or a "
            f"torch.device; got {device!r}."
        )
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"The 'device' parameter is {device!r} but CUDA is not available "
                "on this machine; use device='cpu' or device='auto'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"The 'device' parameter is {device!r} but only "
                f"{torch.cuda.device_count()} CUDA device(s) are visible."
            )
    elif dev.type != "cpu":
        raise ValueError(
            f"The 'device' parameter must be a CPU or CUDA device; got {device!r}."
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
    if torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count():
        return device
    warnings.warn(
        f"This {what} was fitted on {device}, which this machine does not have; it runs on "
        f"the CPU.{hint}",
        UserWarning,
        stacklevel=3,
    )
    return torch.device("cpu")
