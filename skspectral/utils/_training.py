"""Helpers shared by the gradient-trained estimators."""

import math

from tqdm.auto import tqdm


def epoch_progress(n_epochs, verbose, desc):
    """A tqdm progress bar over epochs, silent when ``verbose`` is 0.

    Examples
    --------
    >>> from skspectral.utils import epoch_progress
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
    >>> from skspectral.utils import check_finite_loss
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
