"""The dictionary model: an encoder, a decoder and a prior over the codes.

:class:`BaseDictionaryModel` turns a model's ``_encode`` and ``_decode``
into a scikit-learn transformer that samples: ``transform``,
``inverse_transform``, ``partial_fit`` and ``fit`` on dask arrays, the
prior over the codes and the check of the samples after ``fit``.
"""

import warnings

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import (
    _num_samples,
    check_is_fitted,
    validate_data,
)

from .._backend import (
    DEFAULT_CHUNK,
    FLOAT_DTYPES,
    check_output_size,
    iter_batches,
    seed_from,
)
from .._backend._dask import (
    check_dask_input,
    compute_block,
    is_dask_array,
    map_row_blocks,
    restore_on_failure,
)
from ._density import PixelDensityMixin
from ._device import DeviceMixin
from ._labels import check_partial_labels, start_dask_fit
from ._params import StrictParamsMixin
from ._residual import (
    check_no_residual_stream,
    draw_residuals,
    fit_residual_pca,
    resolve_residual_components,
)
from ._sampling import CHECK_DRAWS, SAMPLE_SPREAD_LIMIT, GenerativeMixin, _gather_batches, _rms
from ._training import _lower_rate_hint


class BaseDictionaryModel(
    PixelDensityMixin,
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

    Each of these required hooks is declared here and raises
    :class:`NotImplementedError` naming the class and the hook until the
    model implements it.

    A model whose prior does not model its dense codes as they are maps
    them with two optional hooks, both the identity by default:
    ``_prior_codes(X, codes=None)`` (what the prior is fitted on, for
    validated images ``X``) and ``_codes_from_prior(draws)`` (the codes the
    decoder takes, for draws of the prior). Its density in pixel space comes
    from ``_prior_range()`` (the decoder's range in the prior's coordinates)
    and ``noise_``; see :meth:`score_samples`.
    """

    #: ``inverse_transform`` accepts sparse codes (CSR).
    _accept_sparse_codes = False
    #: Whether the stream state of ``partial_fit`` is saved with the model.
    #: Models whose stream holds torch optimisers and generators set False: a
    #: loaded (or copied) model then resumes from its fitted attributes, with
    #: fresh optimisers.
    _stream_is_saved = True

    # ------------------------------------------------- hooks a model implements
    def _missing_hook(self, hook, job):
        return NotImplementedError(
            f"{type(self).__name__} does not implement {hook}, which BaseDictionaryModel "
            f"needs {job}."
        )

    def fit(self, X, y=None):
        """Learn the dictionary, then call :meth:`_fit_prior` on the training codes.

        Every model implements its own ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Flattened training images.
        y : array-like of shape (n_samples,), default=None
            Class labels, for a class-conditional prior.

        Returns
        -------
        self : object
            The fitted model.
        """
        raise self._missing_hook("fit", "to learn the dictionary and the prior")

    def _encode(self, X):
        """Codes of validated images ``X`` (a 2-D float array)."""
        raise self._missing_hook("_encode(X)", "to turn images into codes")

    def _decode(self, codes):
        """Images of validated codes (a 2-D float array ``_n_codes`` wide)."""
        raise self._missing_hook("_decode(codes)", "to turn codes into images")

    @property
    def _n_codes(self):
        """The code width: columns of ``transform``'s output."""
        raise self._missing_hook("the _n_codes property", "for the code width")

    def _default_prior(self):
        """The prior a stream fits when the ``prior`` parameter is None."""
        raise self._missing_hook("_default_prior()", "for partial_fit and dask fits")

    def _start_stream(self, X, classes, resume):
        """Set up ``self._stream`` (a dict holding at least ``"rng"``) from the first chunk."""
        raise self._missing_hook("_start_stream(X, classes, resume)",
                                 "for partial_fit and dask fits")

    def _stream_step(self, X, y):
        """Update the model with one validated chunk of a stream."""
        raise self._missing_hook("_stream_step(X, y)", "for partial_fit and dask fits")

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
        A sparse output (``transform`` with ``sparse_output=True``) is
        stacked with :func:`scipy.sparse.vstack`; its size is not checked
        (it holds only the nonzeros).
        """
        n_rows = X.shape[0]
        sparse_out = getattr(self, "sparse_output", False) and method == "transform"
        if not sparse_out:
            check_output_size(
                n_rows, n_columns, X.dtype,
                what=f"{type(self).__name__}.{method} of {n_rows} rows",
                hint="Call it on batches of rows.",
            )
        if n_rows <= DEFAULT_CHUNK:
            return func(X)
        batches = (func(X[rows]) for rows in iter_batches(n_rows, DEFAULT_CHUNK))
        if sparse_out:
            from scipy import sparse

            return sparse.vstack(list(batches), format="csr")
        return _gather_batches(batches, n_rows)

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
        self._fit_noise(X, update=True, codes=codes)

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
        under the final model. Every block is validated as ``fit`` validates
        its input (a block with NaN or infinity is refused with the same
        error); a refused fit leaves the model as it was before the call.
        """
        with restore_on_failure(self):
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
        codes = self._check_codes(self._draw_codes(n_samples, y, rng))
        return self._add_residual(self._decode(codes), rng)

    def _draw_codes(self, n_samples, y, rng, **options):
        """Codes drawn from ``prior_`` and mapped by :meth:`_codes_from_prior`.

        ``y`` is passed to ``prior_.sample`` only when given (a prior fitted
        without labels need not accept it).
        """
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
        return self._encode(X) if codes is None else codes

    def _codes_from_prior(self, draws):
        """Hook: the codes the decoder takes for draws of ``prior_`` (the identity here).

        The inverse of :meth:`_prior_codes`, followed by whatever the decoder
        expects of its codes.
        """
        return draws

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags
