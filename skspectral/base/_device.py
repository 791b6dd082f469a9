"""The device policy: a fitted model keeps the device it was fitted on."""

from sklearn.utils.validation import check_is_fitted

from .._backend import loaded_device, resolve_device
from ._persistence import PortableStateMixin


class DeviceMixin(PortableStateMixin):
    """The device policy: a fitted model keeps the device it was fitted on.

    ``fit`` resolves the ``device`` parameter once into ``device_``; later
    ``transform``, ``inverse_transform`` and ``sample`` run there, whatever
    ``device`` says afterwards. :meth:`to` moves a fitted model. Saved
    models hold CPU copies of the torch state (see
    :class:`PortableStateMixin`), so a model fitted on a GPU loads on a
    machine without one: it then keeps working on the CPU, with a warning.

    Subclasses list in ``_device_attributes`` the fitted attributes (torch
    modules or tensors) that live on ``device_``.
    """

    _device_attributes = ()

    def _resolve_fit_device(self):
        self.device_ = resolve_device(self.device)
        return self.device_

    def to(self, device):
        """Move the fitted model to ``device`` (in place) and return it.

        Parameters
        ----------
        device : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device
            Where later calls run (``"mps"`` where torch has Apple's Metal).

        Returns
        -------
        self : estimator
            The model, now on ``device``.

        Raises
        ------
        ValueError
            If this machine lacks ``device``; the model stays where it was.

        Examples
        --------
        >>> import numpy as np
        >>> from skspectral import SpectrumRefiner
        >>> refiner = SpectrumRefiner(device="cpu").fit(np.random.rand(10, 16))
        >>> refiner.to("cpu").device_
        device(type='cpu')
        """
        check_is_fitted(self)
        # Errors name this argument, not the estimator's ``device`` parameter.
        self._move_device_attributes(
            resolve_device(device, name="the to(device=...) argument", usage="to('{}')")
        )
        return self

    def _move_device_attributes(self, device):
        for name in self._device_attributes:
            value = getattr(self, name, None)
            if value is not None:
                setattr(self, name, value.to(device))
        self.device_ = device

    def __setstate__(self, state):
        # The torch state comes back on the CPU; move it to device_ if present.
        super().__setstate__(state)
        device = getattr(self, "device_", None)
        if device is None or device.type == "cpu":
            return
        self._move_device_attributes(
            loaded_device(device, type(self).__name__, " Call .to(device) to move it.")
        )
