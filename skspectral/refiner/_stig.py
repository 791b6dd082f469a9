"""STIG: a learned translator of log-magnitude spectra (Lee, Jung, Seo, AAAI 2024).

The translator sees the centred log-magnitude spectrum ``log(1 + |FFT2|)`` of
a generated image (standardised by the real images' mean spectrum) and
outputs a corrected one; the image is rebuilt with its own phase. Training
combines, as in the paper,

* an adversarial (least-squares GAN) loss: a patch discriminator tells real
  spectra from translated ones;
* PatchNCE (contrastive, from CUT, Park et al. 2020): a translated patch must
  match the input patch at the same frequency position against the other
  positions, so the translation keeps each image's own structure;
* spectral auxiliaries: a power-spectral-density loss (radial profile of the
  translated batch vs the real batch), low-frequency consistency (the
  low frequencies, which carry the content, stay as they were) and an
  identity loss (real spectra pass through unchanged).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from .._backend import (
    Conv2d,
    Linear,
    init_parameters,
    log_magnitude_spectrum,
    radial_frequency_rings,
    with_magnitude,
)
from ..base import train_epochs


def centred_log_spectrum(images):
    """(n, C, H, W) images -> complex spectrum and centred ``log(1 + |F|)``."""
    return log_magnitude_spectrum(images, offset=1.0, centred=True)


def images_from_log_spectrum(spectrum, log_spectrum):
    """Rebuild images from a centred ``log(1 + |F|)`` and the phase of ``spectrum``."""
    magnitude = torch.expm1(torch.fft.ifftshift(log_spectrum, dim=(-2, -1))).clamp_min(0)
    return with_magnitude(spectrum, magnitude)


def frequency_coordinates(H, W):
    """(3, H, W) channels: centred vertical and horizontal frequency and radius, in [-1, 1]."""
    fy = (torch.arange(H, dtype=torch.float32) - H // 2) / max(H // 2, 1)
    fx = (torch.arange(W, dtype=torch.float32) - W // 2) / max(W // 2, 1)
    gy, gx = torch.meshgrid(fy, fx, indexing="ij")
    return torch.stack([gy, gx, torch.sqrt(gy**2 + gx**2)])


class Translator(nn.Module):
    """Residual conv net on spectra; exposes its encoder features for PatchNCE.

    The spectral correction depends on the frequency (high frequencies are
    the ones a smooth model misses), which a small convolution cannot see:
    the frequency coordinates are given as extra input channels (CoordConv).
    """

    def __init__(self, n_channels, n_filters, shape):
        super().__init__()
        self.register_buffer("coords", frequency_coordinates(*shape))
        self.enc1 = Conv2d(n_channels + 3, n_filters, 3, padding=1)
        self.enc2 = Conv2d(n_filters, n_filters, 3, padding=1)
        self.dec = Conv2d(n_filters, n_channels, 3, padding=1)

    def features(self, z):
        coords = self.coords.to(z.dtype).expand(z.shape[0], -1, -1, -1)
        h1 = F.leaky_relu(self.enc1(torch.cat([z, coords], dim=1)), 0.2)
        h2 = F.leaky_relu(self.enc2(h1), 0.2)
        return [h1, h2]

    def forward(self, z, return_features=False):
        feats = self.features(z)
        out = z + self.dec(feats[-1])
        return (out, feats) if return_features else out


def _downsampling(size):
    """Kernel, stride and padding along a side of ``size``, and the side's size after.

    A side of 2 or more is halved by a 4-wide, stride-2 convolution (padded
    by 1); a side of 1 (a 1-D signal's height, or a side already halved down
    to 1) is kept by a 1-wide one.
    """
    if size >= 2:
        return 4, 2, 1, size // 2
    return 1, 1, 0, size


class Discriminator(nn.Module):
    """PatchGAN-style discriminator on spectra (one logit per patch).

    Two convolutions halve every side of the spectrum (``shape``, ``(H, W)``)
    longer than 1 and keep the sides of 1, so the critic accepts 1-D signals
    (``H = 1``) and images of any size.
    """

    def __init__(self, n_channels, n_filters, shape):
        super().__init__()
        layers = []
        size, n_in = tuple(shape), n_channels
        for n_out in (n_filters, 2 * n_filters):
            (kh, sh, ph, h), (kw, sw, pw, w) = (_downsampling(side) for side in size)
            layers += [Conv2d(n_in, n_out, (kh, kw), stride=(sh, sw), padding=(ph, pw)),
                       nn.LeakyReLU(0.2)]
            size, n_in = (h, w), n_out
        layers.append(Conv2d(n_in, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


class PatchNCEHead(nn.Module):
    """Per-layer MLP projections of sampled feature patches (CUT's PatchSampleF)."""

    def __init__(self, n_filters, n_layers, n_out=64):
        super().__init__()
        self.mlps = nn.ModuleList(
            nn.Sequential(Linear(n_filters, n_out), nn.ReLU(), Linear(n_out, n_out))
            for _ in range(n_layers)
        )

    def forward(self, feats, positions):
        out = []
        for mlp, f in zip(self.mlps, feats):
            patches = f.flatten(2)[:, :, positions].transpose(1, 2)  # (n, P, filters)
            out.append(F.normalize(mlp(patches), dim=-1))
        return out


def patch_nce_loss(query, key, temperature=0.07):
    """InfoNCE over positions: query patch i must pick key patch i (n, P, d)."""
    logits = torch.bmm(query, key.detach().transpose(1, 2)) / temperature
    target = torch.arange(query.shape[1], device=query.device).expand(query.shape[0], -1)
    return F.cross_entropy(logits.flatten(0, 1), target.flatten())


def radial_profile(log_spectrum, ring_index, n_rings):
    """Mean over each frequency ring of a batch's centred spectrum: (n_rings,)."""
    flat = log_spectrum.mean(dim=(0, 1)).flatten()
    sums = torch.zeros(n_rings, dtype=flat.dtype, device=flat.device).index_add_(
        0, ring_index, flat
    )
    counts = torch.bincount(ring_index, minlength=n_rings).to(flat.dtype)
    return sums / counts


def ring_indices(H, W, device):
    """Ring of each centred frequency (flattened), the number of rings, and the
    mask of the rings below 1/8 of the band (the content the translator keeps)."""
    rings, radius = radial_frequency_rings(H, W, centred=True)
    low = torch.as_tensor(radius <= max(1.0, max(H, W) / 8.0), dtype=torch.float32,
                          device=device)
    return torch.as_tensor(rings.ravel(), device=device), int(rings.max()) + 1, low


class StigTrainer:
    """Holds the networks, optimisers and loss weights of one STIG fit."""

    def __init__(self, shape, params, device, dtype, generator):
        C, H, W = shape
        self.params = params
        self.device = device
        self.generator = generator
        self.translator = self._build(Translator(C, params["n_filters"], (H, W)), device, dtype)
        # Start at the identity map: only the residual is learned.
        nn.init.zeros_(self.translator.dec.weight)
        nn.init.zeros_(self.translator.dec.bias)
        self.discriminator = self._build(Discriminator(C, params["n_filters"], (H, W)),
                                         device, dtype)
        self.head = self._build(PatchNCEHead(params["n_filters"], 2), device, dtype)
        lr = params["learning_rate"]
        betas = (0.5, 0.999)
        self.opt_g = torch.optim.Adam(
            list(self.translator.parameters()) + list(self.head.parameters()), lr=lr, betas=betas
        )
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=betas)
        self.rings, self.n_rings, low = ring_indices(H, W, device)
        self.low_mask = low.to(dtype)
        self.n_patches = min(64, H * W)

    def _build(self, module, device, dtype):
        return init_parameters(module, self.generator).to(device, dtype)

    def generator_loss(self, z_gen, z_real):
        p = self.params
        out, feats_in = self.translator(z_gen, return_features=True)
        adversarial = ((self.discriminator(out) - 1) ** 2).mean()
        n_positions = feats_in[0].shape[-2] * feats_in[0].shape[-1]
        positions = torch.randperm(n_positions, generator=self.generator)[: self.n_patches]
        positions = positions.to(self.device)
        feats_out = self.translator.features(out)
        nce = sum(
            patch_nce_loss(q, k)
            for q, k in zip(self.head(feats_out, positions), self.head(feats_in, positions))
        ) / len(feats_in)
        psd = (radial_profile(out, self.rings, self.n_rings)
               - radial_profile(z_real, self.rings, self.n_rings)).abs().mean()
        low = ((out - z_gen).abs() * self.low_mask).sum() / (
            self.low_mask.sum() * out.shape[0] * out.shape[1]
        )
        identity = (self.translator(z_real) - z_real).abs().mean()
        loss = (adversarial + p["nce_weight"] * nce + p["psd_weight"] * psd
                + p["low_freq_weight"] * low + p["identity_weight"] * identity)
        return loss, out

    def discriminator_loss(self, out, z_real):
        real = ((self.discriminator(z_real) - 1) ** 2).mean()
        fake = (self.discriminator(out.detach()) ** 2).mean()
        return 0.5 * (real + fake)

    def step(self, z_gen, z_real):
        loss_g, out = self.generator_loss(z_gen, z_real)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        loss_d = self.discriminator_loss(out, z_real)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        return loss_g.item(), loss_d.item()


def fit_stig(z_real, z_gen, params, device, generator, name, verbose):
    """Train a translator; returns (translator, loss_curve) with one G loss per epoch."""
    trainer = StigTrainer(tuple(z_gen.shape[1:]), params, device, z_gen.dtype, generator)
    n_real = z_real.shape[0]

    def step(idx):
        real_idx = torch.randint(0, n_real, (idx.shape[0],), generator=generator)
        loss_g, _ = trainer.step(z_gen[idx.to(device)], z_real[real_idx.to(device)])
        return loss_g

    losses = train_epochs(
        step, z_gen.shape[0], max_iter=params["max_iter"], batch_size=params["batch_size"],
        generator=generator, name=name, verbose=verbose, min_batch_size=1,
        learning_rate=params["learning_rate"],
        # A GAN's generator loss is a game value, not a minimised objective.
        check_growth=False,
    )
    trainer.translator.eval()
    return trainer.translator, losses


def standardise(log_spectrum, mean, scale):
    return (log_spectrum - mean) / scale


def unstandardise(z, mean, scale):
    return z * scale + mean


def spectrum_scale(log_spectrum, mean):
    """One global scale for the standardisation (a per-frequency one would blow up flat bins)."""
    return max(float(torch.sqrt(((log_spectrum - mean) ** 2).mean())), math.sqrt(1e-12))
