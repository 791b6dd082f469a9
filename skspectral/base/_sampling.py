"""``sample`` and ``iter_sample``, written once for every generative estimator."""

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted

from .._backend import DEFAULT_CHUNK, check_output_size, iter_batches
from .._backend._dask import draw_blocks, normalize_row_chunks, row_bounds
from ._labels import check_known_labels, check_n_samples, draw_labels

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
        random_state : int, RandomState instance, Generator or None, default=None
            Seed of this draw; None uses the estimator's ``random_state``. A
            :class:`numpy.random.Generator` seeds the draw with one integer
            taken from it (so it advances): a Generator in the same state
            gives the same samples.
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

        Raises
        ------
        OutputTooLargeError
            At the call, if one batch would not fit in the available memory.

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
        # One batch must fit in memory (the stream holds one at a time).
        check_output_size(
            min(batch_size, n_samples), self._sample_width(), self._sample_dtype(),
            what=f"{type(self).__name__}.iter_sample(batch_size={batch_size}) (one batch)",
            hint="Pass a smaller batch_size.",
        )
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
            classes = getattr(self, "classes_", None)
            if classes is None:
                draw_labels(None, None, n_samples, y, None, type(self).__name__)
            # Every label is checked here, before a batch or a task graph is
            # built: a wrong one fails at the call, not mid-stream or at compute.
            y = check_known_labels(y, np.asarray(classes), n_samples)
        if random_state is not None:
            validate_parameter_constraints(
                {"random_state": ["random_state", np.random.Generator]},
                {"random_state": random_state},
                caller_name=f"{type(self).__name__}.sample",
            )
        if isinstance(random_state, np.random.Generator):
            # The draws use a RandomState seeded from the Generator, which
            # advances: the same Generator state gives the same samples.
            random_state = np.random.RandomState(random_state.integers(2**32 - 1))
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
