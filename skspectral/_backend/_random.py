"""Seeding: local generators only, never the global NumPy or torch RNG state.

A fit seeded with ``random_state`` draws everything (initial weights,
mini-batch order, augmentations) from generators it owns, so two threads
fitting with the same seed at once give the same model as a serial fit.
"""

import math

import numpy as np
import torch
from sklearn.utils import check_random_state


def seed_from(random_state):
    """Draw a 31-bit integer seed from a ``random_state`` parameter value."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def torch_generator(random_state):
    """A CPU :class:`torch.Generator` seeded from ``random_state``.

    Examples
    --------
    >>> import torch
    >>> from skspectral._backend import torch_generator
    >>> a = torch.rand(2, generator=torch_generator(0))
    >>> b = torch.rand(2, generator=torch_generator(0))
    >>> bool(torch.equal(a, b))
    True
    """
    return torch.Generator().manual_seed(seed_from(random_state))


def randn(shape, generator, *, dtype=torch.float32, device=None):
    """Standard normal draws from a CPU ``generator``, placed on ``device``.

    Drawing on the CPU keeps a seed's numbers the same on every device.
    """
    return torch.randn(shape, generator=generator, dtype=dtype).to(device)


@torch.no_grad()
def init_parameters(module, generator):
    """(Re)initialise every linear and convolution layer of ``module`` from ``generator``.

    The distribution is torch's default for these layers (weights and biases
    uniform in ``+-1/sqrt(fan_in)``), drawn from a local generator instead of
    the global one.
    """
    for layer in module.modules():
        if not isinstance(layer, (torch.nn.Linear, torch.nn.modules.conv._ConvNd)):
            continue
        weight = layer.weight
        fan_in = weight[0].numel()
        bound = 1.0 / math.sqrt(max(fan_in, 1))
        weight.copy_(_uniform(weight.shape, bound, generator, weight))
        if layer.bias is not None:
            layer.bias.copy_(_uniform(layer.bias.shape, bound, generator, layer.bias))
    return module


class Linear(torch.nn.Linear):
    """:class:`torch.nn.Linear` whose construction draws nothing from the global RNG.

    Its weights are left for :func:`init_parameters` to draw from a local
    generator (until then they are uninitialised memory).
    """

    def reset_parameters(self):
        pass


class Conv2d(torch.nn.Conv2d):
    """:class:`torch.nn.Conv2d` whose construction draws nothing from the global RNG."""

    def reset_parameters(self):
        pass


def _uniform(shape, bound, generator, like):
    values = torch.rand(shape, generator=generator, dtype=like.dtype) * (2 * bound) - bound
    return values.to(like.device)
