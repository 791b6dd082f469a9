"""Utilities: estimator discovery and validation helpers."""

from ..base import check_finite_loss, epoch_progress
from ._discovery import all_estimators
from ._validation import check_image_shape

__all__ = ["all_estimators", "check_finite_loss", "check_image_shape", "epoch_progress"]
