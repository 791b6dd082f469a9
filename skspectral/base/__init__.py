"""The base every generative model of skspectral derives from.

Layers, from the bottom: ``_backend`` (devices, dtypes, seeds, threads,
kernels' compilation, shared numerics) -> this package (the estimator
contract: ``sample``, ``score``, codes, device after ``fit``, the training loop) ->
one package per model (its estimator, its math and its kernels), all
holding their density as a :class:`~skspectral.CoefficientPrior`.

A dictionary model implements three steps, ``fit`` (learn the dictionary,
then call :meth:`BaseDictionaryModel._fit_prior` on the training codes),
``_encode`` and ``_decode``; everything else (``transform``,
``inverse_transform``, ``sample``, class-conditional sampling, the code-width
check, tags, the device policy and pickling) comes from here.

One job per module, each importing only ``_backend`` and the modules
listed before it:

* ``_labels``: checks of sample counts and class labels, the classes drawn
  for a class-conditional sample, the start of a fit on a dask array.
* ``_params``: :class:`StrictParamsMixin`, parameter validation.
* ``_training``: :func:`train_epochs`, the training loop and its
  divergence guard.
* ``_persistence``: :class:`PortableStateMixin`, saved states free of torch
  objects and stamped with the version.
* ``_device``: :class:`DeviceMixin`, the device policy.
* ``_sampling``: :class:`GenerativeMixin`, ``sample`` and ``iter_sample``.
* ``_residual``: the Gaussian over what a decoder misses, added to samples.
* ``_density``: the pixel-space density every model derives ``score`` from:
  the decoder's range, the noise off it, the change of variables, and
  :class:`PixelDensityMixin` (``score_samples``, ``score``,
  ``reconstruction_error`` of every model).
* ``_model``: :class:`BaseDictionaryModel`, the dictionary model.
"""

# Names not in __all__ are re-exported (as ``name as name``) for the modules
# that import them from ``skspectral.base``.
from ._density import LinearRange, RangeNoise
from ._device import DeviceMixin
from ._labels import (
    check_labels,
    check_n_samples,
    check_partial_labels,
    draw_labels,
)
from ._labels import start_dask_fit as start_dask_fit
from ._model import BaseDictionaryModel
from ._params import StrictParamsMixin
from ._persistence import PortableStateMixin
from ._persistence import _load_module_state as _load_module_state
from ._persistence import _module_to_state as _module_to_state
from ._sampling import CHECK_DRAWS as CHECK_DRAWS
from ._sampling import SAMPLE_SPREAD_LIMIT as SAMPLE_SPREAD_LIMIT
from ._sampling import GenerativeMixin
from ._sampling import _gather_batches as _gather_batches
from ._training import DIVERGENCE_GROWTH as DIVERGENCE_GROWTH
from ._training import _lower_rate_hint as _lower_rate_hint
from ._training import (
    check_finite_loss,
    check_loss_growth,
    epoch_progress,
    train_epochs,
)
from ._training import epoch_means as epoch_means

__all__ = [
    "BaseDictionaryModel",
    "LinearRange",
    "RangeNoise",
    "DeviceMixin",
    "GenerativeMixin",
    "StrictParamsMixin",
    "PortableStateMixin",
    "check_finite_loss",
    "check_labels",
    "check_partial_labels",
    "check_loss_growth",
    "check_n_samples",
    "draw_labels",
    "epoch_progress",
    "train_epochs",
]
