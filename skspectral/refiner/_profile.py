"""Closed-form spectral refinement: move the set's mean log-magnitude to the real one."""

import torch

from .._backend import apply_spectral_gain, iter_batches, mean_log_magnitude


def refine_profile(images, real_log_magnitude, strength, batch_size, generated_log_magnitude=None):
    """Apply the per-frequency gain ``exp(strength * (M_real - M_gen))``.

    ``M_gen`` is the mean log-magnitude of ``images`` themselves unless given.
    At ``strength=1`` the refined set's mean log-magnitude equals ``M_real``
    exactly (up to the log's epsilon), because a gain adds its log to every
    image's log-magnitude. The phase of each image is unchanged.
    """
    if generated_log_magnitude is None:
        generated_log_magnitude = mean_log_magnitude(images, batch_size)
    log_gain = strength * (real_log_magnitude - generated_log_magnitude)
    out = torch.empty_like(images)
    for batch in iter_batches(images.shape[0], batch_size):
        out[batch] = apply_spectral_gain(images[batch], log_gain)
    return out
