"""The training loop of every gradient-trained estimator, and its divergence guard."""

import math

import numpy as np
import torch
from tqdm.auto import tqdm


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
