"""Save and load fitted estimators as skops files, which load without running code.

A pickle runs whatever code its file names, so it is only as safe as its
source. A skops file (:mod:`skops.io`) holds the state of an object and the
names of its types; loading checks every type against a list of trusted
ones before anything is built, and refuses the file otherwise.

Fitted skspectral estimators hold no torch object in their saved state
(tensors and modules are saved as NumPy arrays, see
:class:`~skspectral.base.PortableStateMixin`), so trusting the types of
:func:`get_trusted_types` is enough to load any of them, including a
:class:`~skspectral.pipeline.GenerativePipeline` whose other steps are
scikit-learn estimators. A model fitted on a GPU loads on a machine without
one and runs on its CPU.

The files are plain skops files: ``skops.io.load(file,
trusted=get_trusted_types())`` loads them too.
"""

import os
from collections.abc import Sequence
from typing import Any, BinaryIO

import numpy as np

__all__ = ["dump", "get_trusted_types", "load"]

#: A file that :func:`dump` writes and :func:`load` reads: a path or a binary file object.
_FileLike = str | os.PathLike[str] | BinaryIO


def _skops_io():
    # Imported on use: importing skops lists every scikit-learn estimator
    # (about a second), which importing this module, as
    # skspectral.utils.all_estimators does, should not cost.
    import skops.io

    return skops.io


def _qualified_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def get_trusted_types() -> list[str]:
    """The types, beyond skops' defaults, that a saved skspectral estimator holds.

    These are the estimators of skspectral, the densities (and their
    running statistics) that a fitted :class:`~skspectral.CoefficientPrior`
    holds, the code subspace of a fitted :class:`~skspectral.ConvSparseCoder`,
    the noise model of every model's density and :class:`numpy.dtype`.
    None of them runs code from the file when it is loaded: their state is
    restored from NumPy arrays and builtins.

    Returns
    -------
    trusted : list of str
        Fully qualified type names, sorted, for the ``trusted`` argument of
        :func:`skops.io.load`.

    Examples
    --------
    >>> from skspectral.io import get_trusted_types
    >>> "skspectral.prior._estimator.CoefficientPrior" in get_trusted_types()
    True
    """
    # Imported on use: this module is imported by skspectral/__init__.py.
    from .base._density import RangeNoise
    from .conv._subspace import DecodedSubspace
    from .pipeline import GenerativePipeline
    from .prior._densities import DENSITIES, Moments, Projected
    from .prior._gaussianize import GaussianizationLayer, Gaussianized, MarginalGaussianizer
    from .prior._support import SupportStatistics
    from .sparse._bcd import DictionaryStatistics
    from .utils import all_estimators

    types = [cls for _, cls in all_estimators()]
    types += [GenerativePipeline, DecodedSubspace, DictionaryStatistics, Moments, Projected,
              SupportStatistics, RangeNoise, Gaussianized, GaussianizationLayer, MarginalGaussianizer, *DENSITIES.values()]
    return sorted({_qualified_name(cls) for cls in types} | {_qualified_name(np.dtype)})


def dump(estimator: Any, file: _FileLike) -> None:
    """Save a fitted estimator (or any object skops supports) as a skops file.

    Parameters
    ----------
    estimator : object
        Typically a fitted skspectral estimator or pipeline.
    file : str, path-like or binary file object
        Where to write.

    See Also
    --------
    load : Load the file back.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from skspectral import CoefficientPrior
    >>> from skspectral.io import dump, load
    >>> prior = CoefficientPrior(random_state=0).fit(np.random.RandomState(0).rand(20, 3))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "prior.skops"
    ...     dump(prior, path)
    ...     loaded = load(path)
    >>> np.array_equal(loaded.sample(2, random_state=0), prior.sample(2, random_state=0))
    True
    """
    _skops_io().dump(estimator, file)


def load(file: _FileLike, *, trusted: Sequence[str] | None = None) -> Any:
    """Load a skops file after checking that it holds only trusted types.

    Parameters
    ----------
    file : str, path-like or binary file object
        A file written by :func:`dump` or :func:`skops.io.dump`.
    trusted : list of str, default=None
        Types to trust on top of skops' defaults and
        :func:`get_trusted_types`, as fully qualified names: for example
        the class of a transformer of your own in a pipeline. Review the
        names that :func:`skops.io.get_untrusted_types` reports before
        listing them here.

    Returns
    -------
    estimator : object
        The loaded object. A model fitted on a GPU that this machine lacks
        runs on the CPU, with a warning.

    Raises
    ------
    skops.io.exceptions.UntrustedTypesFoundException
        If the file holds a type that is not trusted; nothing of the file is
        built then.

    Warns
    -----
    skspectral.exceptions.InconsistentVersionWarning
        If the file was saved by another version of skspectral.

    See Also
    --------
    dump : Save an estimator.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from skspectral import SpectrumRefiner
    >>> from skspectral.io import dump, load
    >>> X = np.random.RandomState(0).rand(10, 16)
    >>> refiner = SpectrumRefiner(device="cpu").fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "refiner.skops"
    ...     dump(refiner, path)
    ...     loaded = load(path)
    >>> np.array_equal(loaded.refine(X), refiner.refine(X))
    True
    """
    return _skops_io().load(file, trusted=get_trusted_types() + list(trusted or []))
