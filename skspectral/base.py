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

import copy
import math
import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    clone,
)
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from tqdm.auto import tqdm

from ._backend import FLOAT_DTYPES, resolve_device, seed_from

__all__ = [
    "BaseDictionaryModel",
    "DeviceMixin",
    "GenerativeMixin",
    "check_finite_loss",
    "check_labels",
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
    if (
        isinstance(n_samples, (bool, np.bool_))
        or not isinstance(n_samples, Integral)
        or n_samples < 1
    ):
        raise InvalidParameterError(
            f"The '{name}' parameter must be an int >= 1; got {n_samples!r}."
        )
    return int(n_samples)


def check_labels(y, n_samples):
    """Validate class labels: 1-D, one per sample, finite, each class twice or more.

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
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        raise ValueError(
            "Each class in y needs at least 2 samples to fit its density; class "
            f"{classes[np.argmin(counts)]!r} has {counts.min()}."
        )
    return y, classes, counts


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
    labels = np.asarray(y)
    if labels.ndim == 0:
        labels = np.full(n_samples, labels.item(), dtype=classes.dtype)
    elif labels.shape != (n_samples,):
        raise ValueError(
            f"y must be one class label or {n_samples} labels; got shape {labels.shape}."
        )
    unknown = np.setdiff1d(labels, classes)
    if unknown.size:
        raise ValueError(
            f"y={unknown[0]!r} is not a class seen in fit; known classes: {classes.tolist()}."
        )
    return labels


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


def check_finite_loss(loss, epoch, estimator_name):
    """Raise a clear error when training diverges.

    Parameters
    ----------
    loss : float
        The loss just computed.
    epoch : int
        The epoch it was computed at.
    estimator_name : str
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
            f"{epoch}. Lower learning_rate, scale the input to [0, 1], or check it "
            "for extreme values."
        )


def train_epochs(step, n_samples, *, max_iter, batch_size, generator, name, verbose=0,
                 tol=None, min_batch_size=2):
    """The mini-batch training loop of every gradient-trained estimator.

    Each epoch visits the samples in an order drawn from ``generator`` (a
    local :class:`torch.Generator`, so concurrent fits do not share state)
    and calls ``step`` on each mini-batch; a non-finite loss raises
    :class:`FloatingPointError` at once.

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
            loss = float(step(idx))
            check_finite_loss(loss, epoch, name)
            total += loss * idx.numel()
            count += idx.numel()
        loss_curve.append(total / max(count, 1))
        if verbose:
            progress.set_postfix(loss=f"{loss_curve[-1]:.5g}")
        if tol is not None and _converged(loss_curve, tol):
            break
    return loss_curve


def _converged(loss_curve, tol):
    if len(loss_curve) < 2:
        return False
    previous, current = loss_curve[-2], loss_curve[-1]
    return previous - current < tol * abs(previous)


# ------------------------------------------------------------------- device
class DeviceMixin:
    """The device policy: a fitted model keeps the device it was fitted on.

    ``fit`` resolves the ``device`` parameter once into ``device_``; later
    ``transform``, ``inverse_transform`` and ``sample`` run there, whatever
    ``device`` says afterwards. :meth:`to` moves a fitted model. Pickles
    hold CPU copies of the torch state, so a model fitted on a GPU loads on
    a machine without one: it then keeps working on the CPU, with a warning.

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

    def __getstate__(self):
        state = super().__getstate__()
        device = state.get("device_")
        if device is not None and device.type != "cpu":
            state = dict(state)
            for name in self._device_attributes:
                if state.get(name) is not None:
                    state[name] = copy.deepcopy(state[name]).to("cpu")
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        device = getattr(self, "device_", None)
        if device is None or device.type == "cpu":
            return
        if torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count():
            self._move_device_attributes(device)
            return
        warnings.warn(
            f"This {type(self).__name__} was fitted on {device}, which this machine does "
            "not have; it runs on the CPU. Call .to(device) to move it.",
            UserWarning,
            stacklevel=2,
        )
        self.device_ = torch.device("cpu")


# --------------------------------------------------------------- sampling
class GenerativeMixin:
    """``sample`` for every generative estimator, written once.

    ``sample`` validates ``n_samples``, resolves the random state (the
    call's, else the estimator's ``random_state``) and checks labels, then
    calls the estimator's ``_sample(n_samples, y, rng, **params)``.
    Estimator-specific options of ``sample`` are declared in
    ``_sample_params``.
    """

    _sample_params = ()

    def sample(self, n_samples=1, *, y=None, random_state=None, **params):
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
        """
        check_is_fitted(self)
        n_samples = check_n_samples(n_samples)
        unknown = set(params) - set(self._sample_params)
        if unknown:
            raise TypeError(
                f"{type(self).__name__}.sample got unexpected keyword argument(s) "
                f"{sorted(unknown)}; it takes y, random_state"
                + "".join(f", {p}" for p in self._sample_params) + "."
            )
        if y is not None and getattr(self, "classes_", None) is None:
            draw_labels(None, None, n_samples, y, None, type(self).__name__)
        rng = check_random_state(self.random_state if random_state is None else random_state)
        return self._sample(n_samples, y, rng, **params)


class BaseDictionaryModel(
    DeviceMixin, GenerativeMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """A generative model made of a dictionary (an encoder and a decoder) and a prior.

    Subclasses implement ``fit`` (ending with :meth:`_fit_prior` on the
    training codes), ``_encode(X)`` (validated images to codes),
    ``_decode(codes)`` (validated codes to images) and ``_n_codes`` (the
    code width), and may override ``_sample`` to draw faster than
    ``decode(prior_.sample(...))``.
    """

    #: ``inverse_transform`` accepts sparse codes (CSR).
    _accept_sparse_codes = False

    def transform(self, X):
        """Encode images into codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Flattened images.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_codes)
            In the dtype of ``X`` (float32 or float64).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        return self._encode(X)

    def inverse_transform(self, X):
        """Decode codes into flattened images.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_codes)
            Codes, as returned by ``transform`` or drawn from ``prior_``.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        return self._decode(self._check_codes(X))

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
        prior = getattr(self, "prior", None)
        prior = clone(default_prior if prior is None else prior)
        params = prior.get_params()
        if "random_state" in params and params["random_state"] is None:
            prior.set_params(random_state=seed_from(rng))
        self.prior_ = prior.fit(codes, y)
        self.classes_ = getattr(self.prior_, "classes_", None)
        return self.prior_

    def _sample(self, n_samples, y, rng):
        codes = self._check_codes(self._draw_prior_codes(n_samples, y, rng))
        return self._decode(self._sampled_codes(codes))

    def _draw_prior_codes(self, n_samples, y, rng, **options):
        """``prior_.sample``, passing ``y`` only when given (a prior fitted
        without labels need not accept it)."""
        if y is not None:
            options["y"] = y
        return self.prior_.sample(n_samples, random_state=rng, **options)

    def _sampled_codes(self, codes):
        """Map codes drawn from the prior onto what the decoder expects (identity)."""
        return codes

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags
