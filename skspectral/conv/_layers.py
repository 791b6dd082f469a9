"""Convolutional sparse coding layers: unrolled FISTA encoder, tied decoder."""

import torch
import torch.nn.functional as F
from torch import nn

from .._backend import randn
from ._csc import fista_momentum, power_iteration, soft_threshold

_CONV = {1: F.conv1d, 2: F.conv2d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d}


def conv_output_size(size, kernel_size, stride, padding):
    """Spatial size after a strided convolution (one axis)."""
    return (size + 2 * padding - kernel_size) // stride + 1


def _native_kernels_suit(signal, A):
    """Whether torch's own CPU kernels should convolve with the 2-D filters ``A``.

    oneDNN, which ``F.conv2d`` picks on the CPU, is slow for a single image
    channel: the transposed convolution back to one channel (and the input
    gradient of the convolution from it, the same operation) measured 3 to
    5 times slower than torch's im2col kernels, forward and backward.
    """
    return signal.device.type == "cpu" and A.ndim == 4 and A.shape[1] == 1


class CSCLayer(nn.Module):
    """One convolutional sparse coding layer with dictionary ``A``.

    The encoder approximates ``argmin_z alpha ||z||_1 + 1/2 ||x - A * z||^2``
    with ``n_unrolled`` unrolled FISTA steps of size ``1/L`` (``L`` from a power
    iteration on ``A^T A``, refreshed with warm starts while training); the
    decoder is ``A * z``. ``A * z`` is a transposed (strided) convolution and
    ``A^T x`` the matching convolution, so the gradient is exact. Filters are
    kept at unit norm so that the l1 weight has a fixed meaning.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the signal and number of filters.
    kernel_size, stride : int
        Filter size and stride (stride 2 halves the resolution).
    in_size : tuple of int
        Spatial shape of the layer's input (1 or 2 axes).
    n_unrolled : int
        Unrolled FISTA steps after the initial thresholded correlation.
    alpha : float
        l1 weight, relative to the running RMS of the layer's input.
    positive : bool
        Non-negative codes.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride, in_size, *,
                 n_unrolled, alpha, positive):
        super().__init__()
        self.ndim = len(in_size)
        self.stride = stride
        self.padding = kernel_size // 2
        self.n_unrolled = n_unrolled
        self.alpha = alpha
        self.positive = positive
        self.in_size = tuple(in_size)
        self.out_size = tuple(
            conv_output_size(s, kernel_size, stride, self.padding) for s in in_size
        )
        self.output_padding = tuple(
            s - ((o - 1) * stride - 2 * self.padding + kernel_size)
            for s, o in zip(self.in_size, self.out_size)
        )
        if any(not 0 <= p < max(stride, 1) for p in self.output_padding) or min(
            self.out_size
        ) < 1:
            raise ValueError(
                f"kernel_size={kernel_size} with stride={stride} cannot map an input of "
                f"spatial size {self.in_size} back to itself; choose an odd kernel_size "
                "or a smaller stride."
            )
        shape = (out_channels, in_channels) + (kernel_size,) * self.ndim
        self.weight = nn.Parameter(torch.empty(shape))
        # A fixed local seed keeps construction free of global RNG state;
        # CSCNet.reset_parameters redraws the filters from the fit's generator.
        self.reset_parameters(torch.Generator().manual_seed(0))
        self.register_buffer("lipschitz", torch.tensor(1.0))
        # Running RMS of the layer's input (like batch norm's running
        # statistics): the l1 weight is alpha times it, so that a deeper layer,
        # whose input is a code ~1/L smaller than an image, is not thresholded
        # to zero. Frozen outside training, so encoding is per-sample.
        self.register_buffer("input_scale", torch.tensor(-1.0))
        self.register_buffer("_power_vector", torch.zeros((1, out_channels) + self.out_size))

    @torch.no_grad()
    def reset_parameters(self, generator):
        """Draw the filters from ``generator`` (standard normal, normalised when used)."""
        self.weight.copy_(randn(self.weight.shape, generator, dtype=self.weight.dtype,
                                device=self.weight.device))

    @property
    def out_channels(self):
        return self.weight.shape[0]

    def dictionary(self):
        """The unit-norm filters ``(out_channels, in_channels, k[, k])``."""
        dims = tuple(range(1, self.weight.ndim))
        return self.weight / torch.linalg.vector_norm(self.weight, dim=dims, keepdim=True)

    def analysis(self, x, A):
        """``A^T x``: correlate the signal with every filter (strided)."""
        if _native_kernels_suit(x, A):
            return torch.ops.aten.thnn_conv2d(x, A, A.shape[2:], None, (self.stride,) * 2,
                                              (self.padding,) * 2)
        return _CONV[self.ndim](x, A, stride=self.stride, padding=self.padding)

    def synthesis(self, z, A):
        """``A * z``: sum of filters placed at the code positions."""
        if _native_kernels_suit(z, A):
            return torch.ops.aten.slow_conv_transpose2d(
                z, A, A.shape[2:], None, (self.stride,) * 2, (self.padding,) * 2,
                self.output_padding, (1, 1),
            )
        return _CONV_T[self.ndim](
            z, A, stride=self.stride, padding=self.padding, output_padding=self.output_padding
        )

    @torch.no_grad()
    def update_lipschitz(self, n_iter=2):
        """Refresh ``L = ||A||^2`` by (warm-started) power iteration."""
        A = self.dictionary()
        v0 = self._power_vector
        if not bool(v0.abs().sum() > 0):
            v0, n_iter = None, max(n_iter, 30)
        L, v = power_iteration(
            lambda z: self.analysis(self.synthesis(z, A), A),
            self._power_vector.shape, n_iter=n_iter, v0=v0,
            dtype=self.weight.dtype, device=self.weight.device,
        )
        self._power_vector.copy_(v)
        # The Rayleigh quotient underestimates L; a small margin keeps 1/L safe.
        self.lipschitz.fill_(1.01 * L)

    def effective_alpha(self):
        """``alpha`` times the running RMS of the layer's input."""
        scale = float(self.input_scale)
        return self.alpha * (scale if scale > 0 else 1.0)

    @torch.no_grad()
    def _track_input_scale(self, x):
        rms = torch.sqrt(torch.mean(x.detach() ** 2))
        if float(self.input_scale) <= 0:
            self.input_scale.copy_(rms)
        else:
            self.input_scale.mul_(0.9).add_(0.1 * rms)

    def encode(self, x):
        """Unrolled FISTA for ``min_z alpha ||z||_1 + 1/2 ||x - A * z||^2``."""
        if self.training:
            self._track_input_scale(x)
        A = self.dictionary()
        # Python floats let soft_threshold use the fused softshrink kernel.
        step = 1.0 / float(self.lipschitz)
        thresh = self.effective_alpha() * step
        # The step scales the filters once rather than every gradient map.
        A_step = step * A
        correlation = self.analysis(x, A_step)
        z = soft_threshold(correlation, thresh, self.positive)
        # The gradient step y - step A^T (A y - x) subtracts x from the
        # synthesis, or step A^T x (the correlation above) from its
        # analysis: whichever is smaller, as the signal and the codes of a
        # strided layer with more filters than channels differ in size, so
        # that fewer and smaller maps are added, forwards and backwards.
        subtract_signal = x.numel() <= correlation.numel()
        z_prev, t = z, 1.0
        for _ in range(self.n_unrolled):
            t_next, beta = fista_momentum(t)
            # z + beta (z - z_prev) in one pass; the first step has no momentum.
            y = torch.lerp(z_prev, z, 1.0 + beta) if beta else z
            # Updating the fresh convolution outputs in place: their backward
            # needs only the convolutions' inputs.
            if subtract_signal:
                v = self.analysis(self.synthesis(y, A).sub_(x), -A_step).add_(y)
            else:
                v = self.analysis(self.synthesis(y, A), -A_step).add_(correlation).add_(y)
            z_prev, z = z, soft_threshold(v, thresh, self.positive)
            t = t_next
        return z

    def decode(self, z):
        return self.synthesis(z, self.dictionary())


class CSCNet(nn.Module):
    """A stack of :class:`CSCLayer` (encoder ``f``) and its tied decoder ``g``.

    For the closed-loop objective the code is normalised to the unit sphere
    and the decoder owns a per-layer, per-channel gain on the codes it
    synthesises from plus a global scale: the only parameters it does not
    share with the encoder.
    """

    def __init__(self, in_channels, in_size, n_filters, kernel_size, strides, *,
                 n_unrolled, alpha, positive, normalize):
        super().__init__()
        layers = []
        channels, size = in_channels, tuple(in_size)
        for n_out, stride in zip(n_filters, strides):
            layer = CSCLayer(channels, n_out, kernel_size, stride, size,
                             n_unrolled=n_unrolled, alpha=alpha, positive=positive)
            layers.append(layer)
            channels, size = n_out, layer.out_size
        self.layers = nn.ModuleList(layers)
        self.normalize = normalize
        self.code_shape = (channels,) + size
        self.gains = nn.ParameterList(
            [nn.Parameter(torch.zeros(layer.out_channels)) for layer in layers]
        )
        self.log_scale = nn.Parameter(torch.zeros(()))

    def reset_parameters(self, generator):
        """Draw every layer's filters from ``generator``."""
        for layer in self.layers:
            layer.reset_parameters(generator)
        return self

    def encoder_parameters(self):
        return [layer.weight for layer in self.layers]

    def decoder_parameters(self):
        return list(self.gains) + [self.log_scale]

    def update_lipschitz(self, n_iter=2):
        for layer in self.layers:
            layer.update_lipschitz(n_iter)

    def lipschitz_state(self):
        """Copies of every layer's ``L`` and power-iteration warm start."""
        return [(layer.lipschitz.clone(), layer._power_vector.clone()) for layer in self.layers]

    @torch.no_grad()
    def load_lipschitz_state(self, state):
        """Put back a state from :meth:`lipschitz_state`."""
        for layer, (lipschitz, vector) in zip(self.layers, state):
            layer.lipschitz.copy_(lipschitz)
            layer._power_vector.copy_(vector)

    def encode_all(self, x):
        """Codes of every layer, last one normalised when ``normalize``."""
        codes = []
        for layer in self.layers:
            x = layer.encode(x)
            codes.append(x)
        if self.normalize:
            flat = codes[-1].flatten(1)
            norm = torch.linalg.vector_norm(flat, dim=1).clamp_min(1e-8)
            codes[-1] = codes[-1] / norm.view((-1,) + (1,) * (codes[-1].ndim - 1))
        return codes

    def encode(self, x):
        return self.encode_all(x)[-1]

    def decode(self, z):
        if self.normalize:
            z = z * torch.exp(self.log_scale)
        for layer, gain in zip(reversed(self.layers), reversed(list(self.gains))):
            shape = (1, -1) + (1,) * (z.ndim - 2)
            z = layer.decode(z * torch.exp(gain).view(shape))
        return z
