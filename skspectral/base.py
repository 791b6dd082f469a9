"""The base every generative model of skspectral derives from.

Layers, from the bottom: ``_backend`` (devices, dtypes, seeds, threads,
kernels' compilation, shared numerics) -> this module (the estimator
contract: ``sample``, codes, device after ``fit``, the training loop) ->
one package per model (its estimator, its math and its kernels), all
holding their density as a :class:`~skspectral.CoefficientPrior`.

A dictionary model implements three steps, ``fit`` (learn the dictionary,
then call :meth:`BaseDictionaryModel._fit_prior` on the training codes),
``_encode`` and ``_decode``; everything else (``transform``,
``inverse_transform``, ``sample``, class-conditional sampling, the code-width
check, tags, the device policy and pickling) comes from here.
"""

import inspect
import math
import warnings

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import (
    InvalidParameterError,
    validate_parameter_constraints,
)
from sklearn.utils.validation import (
    _num_samples,
    check_is_fitted,
    column_or_1d,
    validate_data,
)
from tqdm.auto import tqdm

from ._backend import (
    DEFAULT_CHUNK,
    FLOAT_DTYPES,
    check_output_size,
    is_positive_int,
    iter_batches,
    loaded_device,
    reject_bool_numbers,
    resolve_device,
    seed_from,
)
from ._backend._dask import (
    check_dask_input,
    compute_block,
    draw_blocks,
    is_dask_array,
    map_row_blocks,
    normalize_row_chunks,
    row_blocks,
    row_bounds,
)
from ._backend._residual import (
    check_no_residual_stream,
    draw_residuals,
    fit_residual_pca,
    resolve_residual_components,
)
from .exceptions import InconsistentVersionWarning

__all__ = [
    "BaseDictionaryModel",
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


# --------------------------------------------------------------- validation
def check_n_samples(n_samples, name="n_samples"):
    """Validate a number of samples to draw: an int >= 1 (bools rejected).

    Every ``sample`` (models, priors and pipelines) calls this, so each
    gives the same error for ``True``, ``0`` or ``2.5``.

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        A subclass of both ``ValueError`` and ``TypeError``.

    Examples
    --------
    >>> from skspectral.base import check_n_samples
    >>> check_n_samples(3)
    3
    >>> check_n_samples(True)
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: The 'n_samples' parameter must be an int >= 1; got True.
    """
    if not is_positive_int(n_samples):
        raise InvalidParameterError(
            f"The '{name}' parameter must be an int >= 1; got {n_samples!r}."
        )
    return int(n_samples)


def check_labels(y, n_samples, min_count=2):
    """Validate class labels: 1-D, one per sample, finite, each class ``min_count`` times or more.

    Returns
    -------
    y : ndarray of shape (n_samples,)
    classes : ndarray
        The sorted distinct labels.
    counts : ndarray
        Samples per class.
    """
    y = column_or_1d(y, warn=True)
    if y.shape[0] != n_samples:
        raise ValueError(f"y must have one label per sample ({n_samples}); got {y.shape[0]}.")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinity; class labels must be finite.")
    if y.dtype.kind == "O" and any(v is None or (isinstance(v, float) and v != v) for v in y):
        raise ValueError("y contains None or NaN; every sample needs a class label.")
    if y.dtype.kind == "c":
        raise TypeError("y holds complex numbers; class labels must be ints or strings.")
    try:
        classes, counts = np.unique(y, return_counts=True)
    except TypeError as exc:
        raise TypeError(
            "y mixes label types that cannot be ordered (e.g. ints and strings); "
            "use one type for all class labels."
        ) from exc
    if counts.min() < min_count:
        raise ValueError(
            f"Each class in y needs at least {min_count} samples to fit its density; class "
            f"{classes.tolist()[np.argmin(counts)]!r} has {counts.min()}."
        )
    return y, classes, counts


def _check_sample_labels(y, n_samples):
    """``y`` of ``sample``: one label (0-d) or one per sample (1-D)."""
    labels = np.asarray(y)
    if labels.ndim > 1 or (labels.ndim == 1 and labels.shape[0] != n_samples):
        raise ValueError(
            f"y must be one class label or {n_samples} labels; got shape {labels.shape}."
        )
    return labels


def draw_labels(classes, class_weights, n_samples, y, rng, owner):
    """The class of each of ``n_samples`` draws.

    ``y=None`` draws classes in their training proportions; a single label
    or one label per sample fixes them. ``classes=None`` (a model fitted
    without labels) accepts only ``y=None`` and returns None.
    """
    if classes is None:
        if y is not None:
            raise ValueError(
                f"sample(y=...) needs a model fitted with class labels; this {owner} was "
                "fitted without y."
            )
        return None
    if y is None:
        return classes[rng.choice(len(classes), n_samples, p=class_weights)]
    labels = _check_sample_labels(y, n_samples).reshape(-1)
    # Compared as Python values: a label of another type (a string for int
    # classes) is unknown, not a conversion error.
    known = set(classes.tolist())
    unknown = [label for label in dict.fromkeys(labels.tolist()) if label not in known]
    if unknown:
        raise ValueError(
            f"y={unknown[0]!r} is not a class seen in fit; known classes: {classes.tolist()}."
        )
    labels = labels.astype(classes.dtype, copy=False)
    return np.broadcast_to(labels, (n_samples,)) if labels.shape[0] == 1 else labels


def start_dask_fit(estimator, X, y):
    """What every ``fit`` on a dask array starts with.

    Drops every fitted attribute (and any stream state), so the fit starts
    from scratch, and returns ``(X, y, blocks, classes)``: ``X`` with its
    columns in one chunk, the labels in memory, the row ``slice`` of every
    block and the classes of ``y`` (None without labels).
    """
    for name in [n for n in vars(estimator) if n.endswith("_") and not n.startswith("__")]:
        delattr(estimator, name)
    estimator.__dict__.pop("_stream", None)
    X, y, blocks = row_blocks(X, y)
    classes = None if y is None else check_labels(y, X.shape[0])[1]
    return X, y, blocks, classes


def check_partial_labels(y, classes, n_samples, owner, *, first, known=None):
    """Labels of one ``partial_fit`` call, and the classes of the stream.

    The first call fixes the classes: ``classes`` (every label the stream
    will hold), or else the labels of its ``y``; without ``y`` the stream is
    unlabelled for good. Later calls may omit ``classes`` or repeat it
    unchanged (``known`` is what the first call fixed). Unlike
    :func:`check_labels`, a class may be absent from a chunk or appear once.

    Returns
    -------
    y : ndarray of shape (n_samples,) or None
    classes : ndarray or None
        The sorted classes of the stream (None for an unlabelled stream).
    """
    if classes is not None:
        classes = np.unique(column_or_1d(np.asarray(classes)))
    if not first:
        if classes is not None and (known is None or not np.array_equal(classes, known)):
            raise ValueError(
                f"classes={classes.tolist()} differs from the classes of the first "
                f"partial_fit call ({None if known is None else known.tolist()}); pass the "
                "same classes or none."
            )
        classes = known
        if y is not None and classes is None:
            raise ValueError(
                f"This {owner} was fitted without labels; partial_fit cannot add y now."
            )
    if y is None:
        return None, classes
    y = column_or_1d(y, warn=True)
    if y.shape[0] != n_samples:
        raise ValueError(f"y must have one label per sample ({n_samples}); got {y.shape[0]}.")
    if classes is None:
        classes = check_labels(y, n_samples, min_count=1)[1]
    unknown = sorted(set(y.tolist()) - set(classes.tolist()), key=repr)
    if unknown:
        raise ValueError(
            f"y={unknown[0]!r} is not in classes; known classes: {classes.tolist()}."
        )
    return y.astype(classes.dtype, copy=False), classes


class StrictParamsMixin:
    """scikit-learn's parameter validation, also rejecting bools for numbers.

    ``Interval(Integral, ...)`` lets ``True`` through (a bool is an int), so
    ``n_atoms=True`` would fit one atom; every estimator here refuses it in
    ``fit`` with scikit-learn's error class.
    """

    def _validate_params(self):
        super()._validate_params()
        reject_bool_numbers(
            self.get_params(deep=False), self._parameter_constraints, type(self).__name__
        )


# ------------------------------------------------------------ training loop
def epoch_progress(n_epochs, verbose, desc):
    """A tqdm progress bar over epochs, silent when ``verbose`` is 0.

    Examples
    --------
    >>> from skspectral.base import epoch_progress
    >>> sum(1 for _ in epoch_progress(3, verbose=0, desc="fit"))
    3
    """
    return tqdm(range(n_epochs), desc=desc, disable=not verbose, leave=verbose > 1)


#: An epoch loss this many times the lowest one so far means the fit diverged.
DIVERGENCE_GROWTH = 100.0


def _lower_rate_hint(learning_rate):
    now = "" if learning_rate is None else f" (now {learning_rate:g})"
    return (f"Lower learning_rate{now}, scale the input to [0, 1], or check it for extreme "
            "values.")


def check_finite_loss(loss, epoch, estimator_name, learning_rate=None):
    """Raise a clear error when training diverges.

    Parameters
    ----------
    loss : float
        The loss just computed.
    epoch : int
        The epoch it was computed at.
    estimator_name : str
        Named in the message.
    learning_rate : float or None, default=None
        Named in the message.

    Raises
    ------
    FloatingPointError
        If ``loss`` is NaN or infinite.

    Examples
    --------
    >>> from skspectral.base import check_finite_loss
    >>> check_finite_loss(float("nan"), 3, "Model")
    Traceback (most recent call last):
    ...
    FloatingPointError: Model diverged: the training loss became nan at epoch 3. ...
    """
    if not math.isfinite(loss):
        raise FloatingPointError(
            f"{estimator_name} diverged: the training loss became {loss} at epoch "
            f"{epoch}. {_lower_rate_hint(learning_rate)}"
        )


def check_loss_growth(loss_curve, estimator_name, learning_rate=None, loss_floor=0.0):
    """Raise when the epoch loss has grown by orders of magnitude.

    A minimised loss that ends :data:`DIVERGENCE_GROWTH` times above its
    lowest value (or above ``loss_floor``, if higher) has left any basin it
    was in: the steps are too large. ``loss_floor`` keeps a loss that rose
    from almost nothing to still almost nothing (Adam's steps about an exact
    fit) from counting as a divergence.

    Examples
    --------
    >>> from skspectral.base import check_loss_growth
    >>> check_loss_growth([1.0, 0.5, 0.4], "Model")
    >>> check_loss_growth([1.0, 0.5, 80.0], "Model", learning_rate=10)
    Traceback (most recent call last):
    ...
    FloatingPointError: Model diverged: the training loss grew from 0.5 to 80 ...
    """
    lowest = min(loss_curve)
    reference = max(lowest, loss_floor)
    if reference > 0 and loss_curve[-1] > DIVERGENCE_GROWTH * reference:
        raise FloatingPointError(
            f"{estimator_name} diverged: the training loss grew from {lowest:.3g} to "
            f"{loss_curve[-1]:.3g} (epoch {len(loss_curve) - 1}). "
            f"{_lower_rate_hint(learning_rate)}"
        )


def train_epochs(step, n_samples, *, max_iter, batch_size, generator, name, verbose=0,
                 tol=None, min_batch_size=2, learning_rate=None, check_growth=True,
                 loss_floor=0.0):
    """The mini-batch training loop of every gradient-trained estimator.

    Each epoch visits the samples in an order drawn from ``generator`` (a
    local :class:`torch.Generator`, so concurrent fits do not share state)
    and calls ``step`` on each mini-batch. The loop is also the divergence
    guard: a non-finite loss, a failed factorisation inside a step (the
    parameters left the region where the model is defined) or, with
    ``check_growth``, an epoch loss grown :data:`DIVERGENCE_GROWTH` times
    above its lowest raise :class:`FloatingPointError` naming
    ``learning_rate``.

    Parameters
    ----------
    step : callable
        ``step(indices) -> float``: one optimisation step on the samples
        ``indices`` (a CPU ``LongTensor``), returning the batch's mean loss.
    n_samples : int
        Number of training samples.
    max_iter : int
        Maximum number of epochs.
    batch_size : int
        Samples per step.
    generator : torch.Generator
        Draws the order of every epoch.
    name : str
        Names the estimator in the progress bar and in errors.
    verbose : int, default=0
        Show a progress bar with the loss.
    tol : float or None, default=None
        Stop when an epoch lowers the mean loss by less than ``tol`` times
        its previous value; None runs ``max_iter`` epochs.
    min_batch_size : int, default=2
        A last batch smaller than this is skipped (a step on one sample has
        no spread for batch statistics or rate reduction).
    learning_rate : float or None, default=None
        The step size, named in divergence errors.
    check_growth : bool, default=True
        Whether a growing loss means divergence (False for objectives that
        are not minimised, such as the value of a game).
    loss_floor : float, default=0.0
        Growth is measured from at least this loss (see
        :func:`check_loss_growth`).

    Returns
    -------
    loss_curve : list of float
        Mean loss of each epoch run (weighted by batch size).
    """
    loss_curve = []
    progress = epoch_progress(max_iter, verbose, name)
    for epoch in progress:
        order = torch.randperm(n_samples, generator=generator)
        total, count = 0.0, 0
        for start in range(0, n_samples, batch_size):
            idx = order[start : start + batch_size]
            if idx.numel() < min_batch_size and n_samples >= min_batch_size:
                continue
            loss = _guarded_step(step, idx, epoch, name, learning_rate)
            check_finite_loss(loss, epoch, name, learning_rate)
            total += loss * idx.numel()
            count += idx.numel()
        loss_curve.append(total / max(count, 1))
        if check_growth:
            check_loss_growth(loss_curve, name, learning_rate, loss_floor)
        if verbose:
            progress.set_postfix(loss=f"{loss_curve[-1]:.5g}")
        if tol is not None and _converged(loss_curve, tol):
            break
    return loss_curve


def epoch_means(losses, rows, n_epochs):
    """Row-weighted mean loss of each of ``n_epochs`` equal runs of passes.

    A fit on a dask array trains one pass per block; this turns the
    per-block losses into one loss per epoch, as an in-memory fit reports.
    """
    per_epoch = max(len(losses) // n_epochs, 1)
    losses, rows = np.asarray(losses, dtype=np.float64), np.asarray(rows, dtype=np.float64)
    return [
        float(np.average(losses[i : i + per_epoch], weights=rows[i : i + per_epoch]))
        for i in range(0, len(losses), per_epoch)
    ]


def _guarded_step(step, idx, epoch, name, learning_rate):
    try:
        return float(step(idx))
    except (torch.linalg.LinAlgError, np.linalg.LinAlgError) as exc:
        raise FloatingPointError(
            f"{name} diverged at epoch {epoch}: a factorisation failed ({exc}). "
            f"{_lower_rate_hint(learning_rate)}"
        ) from exc


def _converged(loss_curve, tol):
    if len(loss_curve) < 2:
        return False
    previous, current = loss_curve[-2], loss_curve[-1]
    return previous - current < tol * abs(previous)


# -------------------------------------------------------------- persistence
#: Key of the skspectral version in a saved estimator's state.
_VERSION_KEY = "_skspectral_version"
#: Key of the torch attributes, as NumPy arrays and strings, in a saved state.
_TORCH_KEY = "_torch_state"


def _running_version():
    # Imported on use: skspectral/__init__.py imports this module before it
    # defines __version__.
    from . import __version__

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


# ------------------------------------------------------------------- device
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
        device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device
            Where later calls run.

        Returns
        -------
        self : estimator
            The model, now on ``device``.

        Examples
        --------
        >>> import numpy as np
        >>> from skspectral import SpectrumRefiner
        >>> refiner = SpectrumRefiner(device="cpu").fit(np.random.rand(10, 16))
        >>> refiner.to("cpu").device_
        device(type='cpu')
        """
        check_is_fitted(self)
        self._move_device_attributes(resolve_device(device))
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


# --------------------------------------------------------------- sampling
#: Samples drawn after ``fit`` to check that the model samples sense.
CHECK_DRAWS = 64

#: Samples this many times wider than the data (in RMS) mean the fit diverged.
SAMPLE_SPREAD_LIMIT = 10.0


def _rms(A):
    return float(np.sqrt(np.mean(np.square(A, dtype=np.float64))))


class GenerativeMixin:
    """``sample`` and ``iter_sample`` for every generative estimator, written once.

    Both validate ``n_samples``, resolve the random state (the call's, else
    the estimator's ``random_state``) and check labels, then call the
    estimator's ``_sample(n_samples, y, rng, **params)`` on batches of at
    most :data:`~skspectral._backend.DEFAULT_CHUNK` rows, so the memory a
    draw needs beyond its output is that of one batch; an output larger than
    the available memory is refused before anything is allocated.
    Estimator-specific options of ``sample`` are declared in
    ``_sample_params``; constructor parameters read when sampling (which may
    be set after ``fit``) in ``_sampling_parameters``, validated against
    ``_parameter_constraints`` at every call.
    """

    _sample_params = ()
    _sampling_parameters = ()

    def sample(self, n_samples=1, *, y=None, random_state=None, chunks=None, **params):
        """Draw new samples (images, or codes for a prior).

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples, an int >= 1.
        y : label or array-like of shape (n_samples,), default=None
            Class of the samples (a single label, or one per sample), for a
            model fitted with labels; it must be a class seen in ``fit``.
            None draws classes in their training proportions.
        random_state : int, RandomState instance or None, default=None
            Seed of this draw; None uses the estimator's ``random_state``.
        chunks : int or tuple of int, default=None
            Return a lazy :class:`dask.array.Array` instead, in blocks of
            ``chunks`` rows (or of the given row counts). Each block is one
            task drawing with its own seed, derived from ``random_state``:
            the result is reproducible for a given seed and ``chunks``, but
            not equal to the in-memory draw.
        **params : dict
            Options of the estimator's own (see its ``_sample_params``):
            ``frequency_gain`` for :class:`~skspectral.SpectralDictionary`
            (per-atom gains, as in its ``inverse_transform``);
            ``return_supports`` for :class:`~skspectral.SparseSupportMRF` and
            ``CoefficientPrior("sparse_support")`` (also return the drawn
            supports of signed atoms).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The samples, in the dtype seen in ``fit``.
        supports : ndarray of shape (n_samples, k)
            Only with ``return_supports=True``.

        Raises
        ------
        OutputTooLargeError
            (A :class:`MemoryError` and :class:`ValueError`.) If the samples
            would not fit in the available memory; :meth:`iter_sample` then
            streams them.
        """
        n_samples, y, rng = self._check_sample_call(n_samples, y, random_state, params)
        if chunks is not None:
            return self._sample_dask(n_samples, chunks, y, rng, params)
        check_output_size(
            n_samples, self._sample_width(), self._sample_dtype(),
            what=f"{type(self).__name__}.sample(n_samples={n_samples})",
            hint="Draw them in batches with iter_sample(n_samples, batch_size=...).",
        )
        if n_samples <= DEFAULT_CHUNK:
            return self._sample(n_samples, y, rng, **params)
        return _gather_batches(self._sample_batches(n_samples, DEFAULT_CHUNK, y, rng, params),
                               n_samples)

    def iter_sample(self, n_samples, *, batch_size=DEFAULT_CHUNK, y=None, random_state=None,
                    **params):
        """Draw ``n_samples`` samples as a stream of batches.

        For draws too large to hold in memory at once: memory stays bounded
        by one batch whatever ``n_samples`` is. The batches of one seeded
        call concatenate to ``sample(n_samples, random_state=...)`` when
        ``batch_size`` is the default.

        Parameters
        ----------
        n_samples : int
            Total number of samples, an int >= 1.
        batch_size : int, default=4096
            Samples per batch (the last one may be smaller).
        y, random_state, **params
            As in :meth:`sample`; ``y`` with one label per sample is split
            along the batches.

        Yields
        ------
        X : ndarray of shape (batch_size, n_features)
            A batch of samples (a tuple with the supports when
            ``return_supports=True``).

        Examples
        --------
        >>> import numpy as np
        >>> from skspectral import CoefficientPrior
        >>> prior = CoefficientPrior("gaussian", random_state=0).fit(np.random.rand(20, 3))
        >>> [batch.shape for batch in prior.iter_sample(5, batch_size=2)]
        [(2, 3), (2, 3), (1, 3)]
        """
        n_samples, y, rng = self._check_sample_call(n_samples, y, random_state, params)
        batch_size = check_n_samples(batch_size, name="batch_size")
        # Validation above runs at the call; the draws run lazily.
        return self._sample_batches(n_samples, batch_size, y, rng, params)

    def _check_sample_call(self, n_samples, y, random_state, params):
        check_is_fitted(self)
        if self._sampling_parameters:
            validate_parameter_constraints(
                {name: self._parameter_constraints[name] for name in self._sampling_parameters},
                {name: getattr(self, name) for name in self._sampling_parameters},
                caller_name=f"{type(self).__name__}.sample",
            )
        n_samples = check_n_samples(n_samples)
        unknown = set(params) - set(self._sample_params)
        if unknown:
            raise TypeError(
                f"{type(self).__name__}.sample got unexpected keyword argument(s) "
                f"{sorted(unknown)}; it takes y, random_state"
                + "".join(f", {p}" for p in self._sample_params) + "."
            )
        if y is not None:
            if getattr(self, "classes_", None) is None:
                draw_labels(None, None, n_samples, y, None, type(self).__name__)
            y = _check_sample_labels(y, n_samples)
        if random_state is not None:
            validate_parameter_constraints(
                {"random_state": ["random_state"]}, {"random_state": random_state},
                caller_name=f"{type(self).__name__}.sample",
            )
        rng = check_random_state(self.random_state if random_state is None else random_state)
        return n_samples, y, rng

    def _sample_dask(self, n_samples, chunks, y, rng, params):
        if params.get("return_supports"):
            raise ValueError("sample(return_supports=True) cannot be combined with chunks=.")
        sizes = normalize_row_chunks(n_samples, chunks)
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(sizes))
        if y is None or y.ndim == 0:
            labels = [y] * len(sizes)
        else:
            bounds = row_bounds(sizes)
            labels = [y[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        return draw_blocks(self, n_samples, sizes, seeds, labels, self._sample_width(),
                           self._sample_dtype(), params)

    def _sample_batches(self, n_samples, batch_size, y, rng, params):
        for batch in iter_batches(n_samples, batch_size):
            labels = y if y is None or y.ndim == 0 else y[batch]
            yield self._sample(batch.stop - batch.start, labels, rng, **params)

    def _sample_width(self):
        """Columns of one sample (for the output-size check)."""
        return self.n_features_in_

    def _sample_dtype(self):
        return getattr(self, "_dtype", np.float64)


def _gather_batches(batches, n_samples):
    """Write a stream of batches (arrays, or tuples of arrays) into one output."""
    out, start = None, 0
    for batch in batches:
        parts = batch if isinstance(batch, tuple) else (batch,)
        if out is None:
            out = tuple(np.empty((n_samples,) + p.shape[1:], dtype=p.dtype) for p in parts)
        stop = start + parts[0].shape[0]
        for target, part in zip(out, parts):
            target[start:stop] = part
        start = stop
    return out if len(out) > 1 else out[0]


class BaseDictionaryModel(
    StrictParamsMixin, DeviceMixin, GenerativeMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """A generative model made of a dictionary (an encoder and a decoder) and a prior.

    Subclasses implement ``fit`` (ending with :meth:`_fit_prior` on the
    training codes), ``_encode(X)`` (validated images to codes),
    ``_decode(codes)`` (validated codes to images) and ``_n_codes`` (the
    code width), and may override ``_sample`` to draw faster than
    ``decode(prior_.sample(...))``.

    Streaming (``partial_fit`` and ``fit`` on a dask array) needs three
    more: ``_default_prior()`` (the prior used when the ``prior`` parameter
    is None), ``_start_stream(X, classes, resume)`` (set up ``self._stream``,
    a dict holding at least ``"rng"``, from the first chunk, or from the
    fitted model when ``resume``) and ``_stream_step(X, y)`` (update the
    model with one validated chunk). ``fit`` on a dask array starts with
    ``return self._fit_dask(X, y)``.
    """

    #: ``inverse_transform`` accepts sparse codes (CSR).
    _accept_sparse_codes = False
    #: Whether the stream state of ``partial_fit`` is saved with the model.
    #: Models whose stream holds torch optimisers and generators set False: a
    #: loaded (or copied) model then resumes from its fitted attributes, with
    #: fresh optimisers.
    _stream_is_saved = True

    def __getstate__(self):
        state = super().__getstate__()
        if not self._stream_is_saved:
            state.pop("_stream", None)
        return state

    def transform(self, X):
        """Encode images into codes.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            Flattened images.

        Returns
        -------
        codes : ndarray or dask array of shape (n_samples, n_codes)
            In the dtype of ``X`` (float32 or float64); a lazy dask array,
            block for block, when ``X`` is one.
        """
        check_is_fitted(self)
        if is_dask_array(X):
            return self._map_dask("transform", X, self.n_features_in_, self._n_codes)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        return self._map_rows(self._encode, X, self._n_codes, "transform")

    def inverse_transform(self, X):
        """Decode codes into flattened images.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_codes)
            Codes, as returned by ``transform`` or drawn from ``prior_``.

        Returns
        -------
        X_new : ndarray or dask array of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        if is_dask_array(X):
            return self._map_dask("inverse_transform", X, self._n_codes, self.n_features_in_)
        return self._map_rows(self._decode, self._check_codes(X), self.n_features_in_,
                              "inverse_transform")

    def _map_rows(self, func, X, n_columns, method):
        """``func`` over batches of rows of ``X``, into one output.

        Memory beyond the output is that of one batch of
        :data:`~skspectral._backend.DEFAULT_CHUNK` rows; an output larger
        than the available memory is refused before anything is allocated.
        """
        n_rows = X.shape[0]
        if not getattr(self, "sparse_output", False):
            check_output_size(
                n_rows, n_columns, X.dtype,
                what=f"{type(self).__name__}.{method} of {n_rows} rows",
                hint="Call it on batches of rows.",
            )
        if n_rows <= DEFAULT_CHUNK:
            return func(X)
        return _gather_batches(
            (func(X[rows]) for rows in iter_batches(n_rows, DEFAULT_CHUNK)), n_rows
        )

    def _map_dask(self, method, X, n_in, n_out, **kwargs):
        """``method`` over the row blocks of a dask array, lazily (the model shipped once)."""
        if getattr(self, "sparse_output", False) and method == "transform":
            raise ValueError(
                "sparse_output=True cannot build a dask array; set sparse_output=False to "
                "transform dask arrays."
            )
        X = check_dask_input(X, n_in)
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        return map_row_blocks(self, method, X, n_out, dtype, **kwargs)

    # ------------------------------------------------------------- streaming
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, *, classes=None):
        """Update the model with one chunk of images (online learning).

        The first call initialises the model from this chunk; later calls
        update it, so a stream of chunks too large to hold in memory at once
        trains it. The prior is updated with the codes of every chunk, so
        the model can ``sample`` after any call.

        Parameters
        ----------
        X : array-like of shape (n_chunk, n_features)
            A chunk of flattened images; every chunk has the features of the
            first.
        y : array-like of shape (n_chunk,), default=None
            Class labels of the chunk (a class-conditional prior).
        classes : array-like, default=None
            Every class of the stream, given on the first call with ``y``
            (else the classes of its ``y`` are all the stream may hold);
            optional, and unchanged, afterwards.

        Returns
        -------
        self : object
            The updated model.
        """
        self._partial_fit(X, y, classes, update_prior=True)
        return self

    def _partial_fit(self, X, y, classes, update_prior):
        check_no_residual_stream(self)
        first = not hasattr(self, "n_features_in_")
        # Labels first: a refused first call must leave the estimator unfitted.
        y, classes = check_partial_labels(
            y, classes, _num_samples(X), type(self).__name__, first=first,
            known=getattr(self, "classes_", None),
        )
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=first, ensure_min_samples=2)
        # An online update leaves a residual model of an earlier fit stale.
        self.__dict__.pop("residual_pca_", None)
        if first:
            self.classes_ = classes
        if not hasattr(self, "_stream"):
            # First call, or the first after fit(): the stream continues from there.
            self._start_stream(X, classes, resume=not first)
        self._stream_step(X, y)
        if update_prior:
            self._update_stream_prior(X, y, classes)
            self._check_samples(X)

    def _update_stream_prior(self, X, y, classes):
        codes = self._prior_codes(X)
        if not hasattr(self, "prior_"):
            self.prior_ = self._new_prior(self._default_prior(), self._stream["rng"])
        self.prior_.partial_fit(codes, y, classes=classes)
        self.classes_ = self.prior_.classes_
        self._prior_updated()

    def _stream_codes(self, X):
        """Codes of a validated chunk, as the prior is fitted on them (dense)."""
        return self._encode(X)

    def _prior_updated(self):
        """Hook: refresh what a model derives from ``prior_`` (nothing by default)."""

    def _n_epochs(self):
        """Passes over the data of a fit: ``max_iter`` (models resolving "auto" override)."""
        return self.max_iter

    def _fit_dask(self, X, y):
        """Fit on a dask array: epochs of ``partial_fit`` over its blocks in a seeded order.

        Blocks are computed one at a time (on a ``dask.distributed`` cluster
        when a client is active), so memory holds one block, never the
        whole array. The prior is then fitted on the codes of every block
        under the final model.
        """
        X, y, blocks, classes = start_dask_fit(self, X, y)
        order = check_random_state(self.random_state)
        for _ in range(self._n_epochs()):
            for i in order.permutation(len(blocks)):
                labels = None if y is None else y[blocks[i]]
                self._partial_fit(compute_block(X, i), labels, classes, update_prior=False)
        self._end_stream_epochs()
        last = None
        for i, rows in enumerate(blocks):
            last = validate_data(self, compute_block(X, i), dtype=FLOAT_DTYPES, reset=False)
            self._update_stream_prior(last, None if y is None else y[rows], classes)
        self._check_samples(last)
        return self

    def _end_stream_epochs(self):
        """Hook: finish training after the epochs of a dask fit (nothing by default)."""

    def _check_codes(self, codes):
        """Validate codes for decoding: a 2-D float array ``n_codes`` wide."""
        accept = "csr" if self._accept_sparse_codes else False
        codes = check_array(codes, accept_sparse=accept, dtype=FLOAT_DTYPES, input_name="X")
        if codes.shape[1] != self._n_codes:
            raise ValueError(
                f"X has {codes.shape[1]} columns, but {type(self).__name__} expects "
                f"codes with {self._n_codes} features ({self._code_width_note()})."
            )
        return codes

    def _code_width_note(self):
        """Where the code width comes from, for error messages."""
        return "its code width"

    @property
    def _n_features_out(self):
        return self._n_codes

    def _fit_prior(self, codes, y, default_prior, rng):
        """Fit a clone of the ``prior`` parameter (or ``default_prior``) on the training codes.

        With labels ``y`` the prior is class-conditional and ``classes_``
        holds the classes. The prior's own ``random_state`` is drawn from
        ``rng`` unless the user set one.
        """
        # A fit ends any stream: a later partial_fit resumes from this fit.
        self.__dict__.pop("_stream", None)
        self.prior_ = self._new_prior(default_prior, rng).fit(codes, y)
        self.classes_ = getattr(self.prior_, "classes_", None)
        return self.prior_

    def _fit_residual(self, X, codes, rng):
        """Fit ``residual_pca_``: a Gaussian over what the decoder misses of ``X``.

        Models with a ``residual_components`` parameter call this at the end of
        ``fit`` (after the prior, so the prior's seed does not depend on it);
        ``residual_pca_`` is None when it is 0 (or ``"auto"`` chose none).
        """
        n_components = resolve_residual_components(self.residual_components, X)
        residuals = X - self._decode(codes) if n_components else None
        self.residual_pca_ = fit_residual_pca(
            residuals, n_components, seed_from(rng) if n_components else None,
            type(self).__name__,
        )

    def _add_residual(self, X, rng):
        """Add a draw of the residual Gaussian (if fitted) to decoded samples ``X``."""
        pca = getattr(self, "residual_pca_", None)
        if pca is not None:
            X += draw_residuals(pca, X.shape[0], rng, X.dtype)
        return X

    def _new_prior(self, default_prior, rng):
        """A clone of the ``prior`` parameter (or ``default_prior``), seeded from ``rng``."""
        prior = getattr(self, "prior", None)
        prior = clone(default_prior if prior is None else prior)
        params = prior.get_params()
        if "random_state" in params and params["random_state"] is None:
            prior.set_params(random_state=seed_from(rng))
        return prior

    def _sample_dtype(self):
        return self.components_.dtype

    def _check_samples(self, X):
        """After ``fit``: raise or warn when the model would sample nonsense.

        A prior fitted on the training codes reproduces their spread, so
        samples should spread about as far from the data mean as the data
        do. Non-finite samples raise :class:`FloatingPointError`; samples
        :data:`SAMPLE_SPREAD_LIMIT` times wider than the data, or collapsed
        to (nearly) one image, warn with a
        :class:`~sklearn.exceptions.ConvergenceWarning`. The check draws
        from its own fixed seed, so it does not change later draws.
        """
        center = X.mean(axis=0, dtype=np.float64)
        data_spread = _rms(X - center)
        if not data_spread > 0:
            return
        draws = self.sample(CHECK_DRAWS, random_state=0).astype(np.float64)
        hint = self._divergence_hint()
        name = type(self).__name__
        if not np.all(np.isfinite(draws)):
            raise FloatingPointError(f"{name} diverged: its samples are not finite. {hint}")
        ratio = _rms(draws - center) / data_spread
        own_spread = _rms(draws - draws.mean(axis=0)) / data_spread
        if ratio > SAMPLE_SPREAD_LIMIT:
            message = f"its samples spread {ratio:.3g} times as far as the training data"
        elif own_spread < 1.0 / SAMPLE_SPREAD_LIMIT**3:
            message = "its samples collapsed onto one image"
        else:
            return
        warnings.warn(f"{name} diverged: {message}. {hint}", ConvergenceWarning, stacklevel=3)

    def _divergence_hint(self):
        if "learning_rate" in self.get_params():
            return _lower_rate_hint(self.learning_rate)
        return "Scale the input to [0, 1] and check it for extreme values."

    def _sample(self, n_samples, y, rng):
        codes = self._check_codes(self._draw_prior_codes(n_samples, y, rng))
        return self._add_residual(self._decode(self._sampled_codes(codes)), rng)

    def _draw_prior_codes(self, n_samples, y, rng, **options):
        """``prior_.sample``, passing ``y`` only when given (a prior fitted
        without labels need not accept it)."""
        if y is not None:
            options["y"] = y
        return self._codes_from_prior(self.prior_.sample(n_samples, random_state=rng, **options))

    def _prior_codes(self, X, codes=None):
        """What the prior is fitted on for training images ``X``: their codes here.

        ``codes`` are the images' codes when the caller has them already;
        otherwise they are computed here. A model whose prior lives in a
        subspace maps the codes, or the images, there (and back with
        :meth:`_codes_from_prior`), and need not encode at all.
        """
        return self._stream_codes(X) if codes is None else codes

    def _codes_from_prior(self, draws):
        """Codes for draws of ``prior_`` (the inverse of :meth:`_prior_codes`)."""
        return draws

    def _sampled_codes(self, codes):
        """Map codes drawn from the prior onto what the decoder expects (identity)."""
        return codes

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags
