"""Saving and loading: an estimator's state without torch objects, stamped with the version."""

import inspect
import warnings

import numpy as np
import torch

from ..exceptions import InconsistentVersionWarning

#: Key of the skspectral version in a saved estimator's state.
_VERSION_KEY = "_skspectral_version"
#: Key of the torch attributes, as NumPy arrays and strings, in a saved state.
_TORCH_KEY = "_torch_state"


def _running_version():
    # Imported on use: skspectral/__init__.py imports this module before it
    # defines __version__.
    from .. import __version__

    return __version__


def _tensor_to_array(tensor):
    # A copy: the state is a snapshot, not a view of the live model.
    return tensor.detach().cpu().numpy().copy()


def _array_to_tensor(array):
    # np.array copies: arrays read from a file may be read-only.
    return torch.from_numpy(np.array(array))


def _module_to_state(module):
    """A torch module as NumPy arrays and builtins: its weights and its modes."""
    return {
        "state_dict": {k: _tensor_to_array(v) for k, v in module.state_dict().items()},
        "frozen": [k for k, p in module.named_parameters() if not p.requires_grad],
        "training": {k: m.training for k, m in module.named_modules()},
    }


def _load_module_state(module, saved):
    """Put a state from :func:`_module_to_state` into a freshly built ``module``."""
    tensors = {k: _array_to_tensor(v) for k, v in saved["state_dict"].items()}
    # assign=True keeps the saved dtypes (a float64 fit stays float64).
    module.load_state_dict(tensors, strict=True, assign=True)
    frozen = set(saved["frozen"])
    for name, parameter in module.named_parameters():
        parameter.requires_grad_(name not in frozen)
    training = saved["training"]
    for name, submodule in module.named_modules():
        submodule.training = bool(training.get(name, submodule.training))
    return module


class PortableStateMixin:
    """Saved estimators: stamped with the version, free of torch objects.

    ``__getstate__``, which pickle, joblib, :func:`copy.deepcopy` and skops
    all use, replaces each torch attribute by NumPy arrays and builtins: a
    tensor by an array, a module by its ``state_dict`` as arrays (plus which
    parameters are frozen and which submodules train), a
    :class:`torch.device` by its name. A saved estimator therefore holds
    only types that skops can load without running code from the file, and
    loads on a machine without the device it was fitted on.

    The state also records the running ``skspectral.__version__``; loading
    a state saved by another version (or by a version older than the stamp)
    warns with :class:`~skspectral.exceptions.InconsistentVersionWarning`,
    as scikit-learn does for its own estimators.

    An estimator holding torch modules rebuilds them in
    ``_new_module(name)``: an untrained module of the architecture of the
    attribute ``name``, from the estimator's parameters and its other
    fitted attributes (already restored when it is called).
    """

    def __getstate__(self):
        state = dict(super().__getstate__())
        torch_state = {"devices": {}, "tensors": {}, "modules": {}}
        for name, value in list(state.items()):
            if isinstance(value, torch.device):
                torch_state["devices"][name] = str(state.pop(name))
            elif isinstance(value, torch.Tensor):
                torch_state["tensors"][name] = _tensor_to_array(state.pop(name))
            elif isinstance(value, torch.nn.Module):
                torch_state["modules"][name] = _module_to_state(state.pop(name))
        if any(torch_state.values()):
            state[_TORCH_KEY] = torch_state
        state[_VERSION_KEY] = _running_version()
        return state

    def __setstate__(self, state):
        state = dict(state)
        self._check_saved_version(state.pop(_VERSION_KEY, "pre-0.2.0"))
        torch_state = state.pop(_TORCH_KEY, None)
        super().__setstate__(state)
        self._default_missing_params()
        if torch_state is not None:
            self._restore_torch_state(torch_state)

    def _default_missing_params(self):
        # A file saved before a parameter existed loads with its default,
        # which is the behaviour the model was fitted with (new parameters
        # default to the former behaviour).
        for name, parameter in inspect.signature(type(self).__init__).parameters.items():
            if parameter.default is not parameter.empty and not hasattr(self, name):
                setattr(self, name, parameter.default)

    def _check_saved_version(self, saved_version):
        current = _running_version()
        if saved_version != current:
            warnings.warn(
                InconsistentVersionWarning(
                    estimator_name=type(self).__name__,
                    current_version=current,
                    original_version=saved_version,
                ),
                stacklevel=3,
            )

    def _restore_torch_state(self, torch_state):
        # Devices and tensors first: a module may be rebuilt from them.
        for name, device in torch_state["devices"].items():
            setattr(self, name, torch.device(device))
        for name, array in torch_state["tensors"].items():
            setattr(self, name, _array_to_tensor(array))
        for name, saved in torch_state["modules"].items():
            setattr(self, name, _load_module_state(self._new_module(name), saved))

    def _new_module(self, name):
        """An untrained module of the architecture of the fitted attribute ``name``."""
        raise NotImplementedError(
            f"{type(self).__name__} does not say how to rebuild its torch module "
            f"{name!r}; implement _new_module."
        )
