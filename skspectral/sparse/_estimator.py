"""SparseSupportMRF: Vaksman & Elad's sparsity-based image generator."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from .._backend import (
    DEFAULT_CHUNK,
    DEVICE_CONSTRAINT,
    FLOAT_DTYPES,
    N_JOBS_CONSTRAINT,
    iter_batches,
)
from .._backend._dask import check_finite_block, is_dask_array, restore_on_failure
from ..base import BaseDictionaryModel, RangeNoise, start_dask_fit
from ..base._density import isotropic_noise
from ..base._residual import check_no_residual_stream
from ..prior import CoefficientPrior
from ._bcd import (
    coded_statistics,
    dictionary_statistics,
    learn_dictionary,
    statistics_of_codes,
    update_dictionary,
)
from ._coding import check_dictionary
from ._density import support_log_likelihood
from ._ksvd import init_dictionary, ksvd
from ._omp import batch_omp, codes_to_csr, codes_to_dense


class SparseSupportMRF(BaseDictionaryModel):
    """Generative sparsity model: K-SVD codes, a Markov network on supports, Gibbs + EM.

    Implements "Image Generation Using a Sparsity Model" (Vaksman & Elad).
    A dictionary of ``n_atoms`` atoms is learned with K-SVD and every image is
    coded with exactly ``n_nonzero_coefs`` atoms by Batch-OMP. Coefficients
    are made positive by treating ``+d`` and ``-d`` as different atoms (a
    doubled dictionary of signed atoms). The support (the set of chosen
    signed atoms) gets a fully connected pairwise Markov network whose factors
    are the training marginals,
    ``P(a) ∝ prod_i P(a_i) prod_{i<j} P(a_i, a_j) / (P(a_i) P(a_j))``.

    ``sample`` draws supports by Gibbs sampling (each sweep re-draws every
    slot given the others), then, per drawn support ``ã``, fits a Gaussian
    ``N(mu, Sigma)`` to the coefficients of the training images whose
    supports intersect ``ã``: their coefficients on the shared atoms are
    observed, the rest are missing, and EM for a Gaussian with missing data
    estimates ``mu`` and ``Sigma``. A coefficient vector is drawn and re-drawn
    (up to 20 times) until it is positive, remaining negative entries of the
    last draw are set to 0, and the image ``sum_t sign_t u_t d_t`` is clipped
    to the training data range.

    Parameters
    ----------
    n_atoms : int, default=256
        Dictionary size ``M`` (ignored when ``dictionary`` is given). Clipped,
        with a warning, to the number of training samples.
    n_nonzero_coefs : int, default=10
        Atoms per image ``k``. Clipped, with a warning, to
        ``min(n_features, n_atoms)``.
    dictionary : array-like of shape (n_atoms, n_features), default=None
        A fixed dictionary to use instead of learning one.
    max_iter : int, default=30
        Dictionary-learning iterations (one Batch-OMP coding of all images
        and one sweep of atom updates each).
    dictionary_update : {"auto", "ksvd", "bcd"}, default="auto"
        How atoms are updated from the codes. ``"ksvd"``: approximate K-SVD
        (each atom and its coefficients from the residuals of the images
        using it; needs all images in memory). ``"bcd"``: Mairal et al.'s
        block coordinate descent on the sums ``sum g g^T`` and
        ``sum g x^T``, which add up over blocks of images, so it runs the
        same on a dask array, chunk by chunk or on a cluster. ``"auto"``:
        K-SVD for in-memory arrays, BCD for dask arrays. ``partial_fit``
        always uses BCD (online).
    forget_factor : float in [0, 1], default=0.5
        ``partial_fit`` only: weight the sums of earlier chunks keep at each
        call. Codes of early chunks were computed on an early dictionary;
        forgetting them lets the atoms keep improving over several passes
        (on MNIST, 6 passes over 5 chunks of 2,000 images reach K-SVD's
        held-out error within 1% with 0.5, but stay 7% above it with 1).
        1 keeps the plain sums over the whole stream.
    chain_start : {"data", "sequential"}, default="data"
        Where the Gibbs chains over supports start: ``"data"``, every
        sample is its own short chain from a training support drawn at
        random (of the class asked for, with ``y``); ``"sequential"``, a
        few long chains from sequential draws as in the paper. See the
        user guide for why the default differs from the paper.
    n_gibbs_sweeps : int, default=5
        Gibbs sweeps between two draws kept from the same chain (thinning;
        ``chain_start="sequential"`` only).
    burn_in : int or "auto", default="auto"
        Sweeps every chain runs before its first draw: ``"auto"`` is 2 for
        ``chain_start="data"`` and 30 for ``"sequential"``.
    em_max_iter : int, default=10
        Maximum EM iterations per drawn support.
    overlap_power : float >= 0, default=2.0
        Weight of each training image in the coefficient EM of a drawn
        support: ``(signed atoms it shares with the support) **
        overlap_power``. 0 is the paper's pooled EM; larger powers draw
        digits more typical of their class and nearer to training images
        (on MNIST, 2 keeps unconditional draws as far from the training
        images as they are from each other; see the user guide).
    coefficient_model : {"em", "regression"}, default="em"
        Where the magnitudes of a drawn support come from. ``"em"``: the
        paper's Gaussian, fitted per drawn support by EM (above).
        ``"regression"``: each signed atom's magnitude is Gaussian around a
        ridge regression on the other signed atoms of the support, fitted
        once on the training codes. On MNIST with labels it labels more
        draws as the class asked for, with draws nearer to training images
        (see the user guide).
    class_guidance : float >= 0, default=8.0
        For a model fitted with ``y``: a drawn support of class ``c`` is kept
        with probability ``p(c | support) ** class_guidance`` and re-drawn
        otherwise, where ``p`` is a logistic regression of the class on the
        support's signed atoms, fitted on the training codes
        (``prior_.support_classifier_``). It draws supports more typical of
        their class: on MNIST it raises the share of draws labelled as the
        class asked for from 0.89 to 0.97, as far from the training images
        (see the user guide). ``0`` samples each class's Markov network
        alone, as in the paper. No effect without labels.
    smoothing : float in (0, 1], default=0.05
        Weight of the independence model mixed into the pair marginals:
        ``P(i, j) = (1 - s) c_ij / N + s P(i) P(j)``, where ``c_ij`` counts
        the training supports holding both signed atoms. An unseen pair thus
        multiplies a support's probability by ``s`` rather than by 0.
        Inclusion marginals use add-one counts, ``P(i) = (c_i + 1) / (N + 2)``.
    residual_components : int >= 0 or "auto", default="auto"
        Principal components of the training residuals
        ``X - inverse_transform(transform(X))`` modelled by a Gaussian whose
        draw is added to every sample (before clipping): samples become
        ``codes @ D + e``, ``e`` independent of the support. ``k`` atoms per
        image lose texture that no support model gives back; on CIFAR-10,
        256 components lower the FID of 2,000 samples from 171 to 116, below
        PCA(256) + one Gaussian's 125, while on MNIST the added noise lowers
        the share of digits a classifier recognises (0.84 to 0.80). ``"auto"``
        fits none when at least a quarter of the training pixel values sit at
        the range's ends (digits, line art: 81 % on MNIST) and one component
        per 12 pixels otherwise (256 for 32 x 32 colour images); the paper
        adds none. See the user guide. An integer above 0 needs an in-memory
        ``fit``; ``partial_fit`` and dask arrays fit no residual with
        ``"auto"``.
    clip : bool, default=True
        Clip samples to ``[data_min_, data_max_]``.
    sparse_output : bool, default=False
        ``transform`` returns a ``scipy.sparse.csr_matrix`` (``k`` stored
        entries per row) instead of a dense array: ``n_atoms / k`` times less
        memory for large dictionaries.
    n_jobs : int, default=None
        Threads for the compiled kernels: None means 1 unless a
        :func:`joblib.parallel_config` context says otherwise, -1 all cores.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        Where Batch-OMP runs (the batched torch version on CUDA, the Numba
        kernel on the CPU); the fitted model keeps it (``device_``).
        Sampling always runs on the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds the dictionary initialisation and, when ``sample`` gets no
        ``random_state`` of its own, the draws.
    verbose : int, default=0
        Print the K-SVD error per iteration.

    Attributes
    ----------
    components_ : ndarray of shape (n_atoms, n_features)
        The dictionary, unit-norm atoms in rows.
    n_nonzero_coefs_ : int
        ``k`` actually used (after clipping).
    prior_ : CoefficientPrior
        The support model: ``CoefficientPrior("sparse_support")`` fitted on
        the training codes (class-conditional when ``fit`` got ``y``).
    classes_ : ndarray or None
        Classes seen in ``fit`` (None without ``y``).
    device_ : torch.device
        The device the model was fitted on, where Batch-OMP runs.
    support_marginals_ : ndarray of shape (2 * n_atoms,)
        Smoothed inclusion probability of every signed atom (``m`` for
        ``+d_m``, ``m + n_atoms`` for ``-d_m``).
    support_pairwise_ : ndarray of shape (2 * n_atoms, 2 * n_atoms)
        Smoothed probability that two signed atoms are in a support together
        (the diagonal holds ``support_marginals_``).
    n_iter_ : int
        K-SVD iterations run (0 with a fixed ``dictionary``).
    reconstruction_error_ : ndarray of shape (n_records,)
        Mean squared error per pixel of the training codes after each K-SVD
        iteration, ``n_records = max(1, n_iter_)`` (with a fixed
        ``dictionary``: its one error).
    data_min_, data_max_ : float
        Range of the training data (used by ``clip``).
    residual_pca_ : sklearn.decomposition.PCA or None
        The residual Gaussian (when ``residual_components`` fits one): its ``mean_``,
        ``components_`` and ``explained_variance_`` are the mean, principal
        directions and variances of the training residuals. None otherwise.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit`` (only when X has string names).

    See Also
    --------
    orthogonal_mp_batch : The Batch-OMP kernel, callable on its own.
    sklearn.decomposition.MiniBatchDictionaryLearning : scikit-learn's dictionary learning.

    Notes
    -----
    ``score_samples`` / ``score`` are the log-density of the images: a
    support ``S`` of ``k`` signed atoms from the Markov network (its
    stationary law), magnitudes as the sampler draws them for ``S``, and
    Gaussian noise ``noise_`` fitted on the training residuals (isotropic,
    plus the residual Gaussian's directions when ``residual_pca_`` is
    fitted). The network's normalising constant is summed exactly over the
    supports that carry its mass (the training supports and their
    neighbours) and the rest estimated by annealed importance sampling from
    the independent-support model; the sum over supports is estimated per
    image by importance sampling (``n_importance`` draws, from a proposal
    built from the image's matching-pursuit support and its evidence). The
    draws are seeded by each image and ``random_state``, so a score is
    reproducible. The estimate of ``p(x)`` is unbiased, so its log is low on
    average (by about 1 nat on held-out digits at 100 draws); images whose
    likely supports the proposal misses are scored lower still, without a
    larger standard error. The density describes the stationary sampler:
    draws from chains started at training supports (``chain_start="data"``)
    or guided by class, and samples clipped to the training range
    (``clip``), are not exactly its draws. ``reconstruction_error`` is the
    held-out reconstruction error per pixel, which keeps falling as
    ``n_atoms`` and ``n_nonzero_coefs`` grow; ``score`` does not.

    References
    ----------
    T. Vaksman and M. Elad, "Image Generation Using a Sparsity Model".
    R. Rubinstein, M. Zibulevsky and M. Elad, "Efficient Implementation of
    the K-SVD Algorithm using Batch Orthogonal Matching Pursuit", 2008.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skspectral import SparseSupportMRF
    >>> X = load_digits().data / 16
    >>> model = SparseSupportMRF(n_atoms=32, n_nonzero_coefs=4, max_iter=3,
    ...                          random_state=0).fit(X)
    >>> model.transform(X[:2]).shape
    (2, 32)
    >>> model.sample(5, random_state=0).shape
    (5, 64)
    """

    _parameter_constraints = {
        "n_atoms": [Interval(Integral, 1, None, closed="left")],
        "n_nonzero_coefs": [Interval(Integral, 1, None, closed="left")],
        "dictionary": ["array-like", None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "dictionary_update": [StrOptions({"auto", "ksvd", "bcd"})],
        "forget_factor": [Interval(Real, 0, 1, closed="both")],
        "chain_start": [StrOptions({"data", "sequential"})],
        "n_gibbs_sweeps": [Interval(Integral, 1, None, closed="left")],
        "burn_in": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "em_max_iter": [Interval(Integral, 1, None, closed="left")],
        "smoothing": [Interval(Real, 0, 1, closed="right")],
        "overlap_power": [Interval(Real, 0, None, closed="left")],
        "coefficient_model": [StrOptions({"em", "regression"})],
        "class_guidance": [Interval(Real, 0, None, closed="left")],
        "residual_components": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "clip": ["boolean"],
        "n_importance": [Interval(Integral, 1, None, closed="left")],
        "sparse_output": ["boolean"],
        "n_jobs": N_JOBS_CONSTRAINT,
        "device": DEVICE_CONSTRAINT,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    _sample_params = ("return_supports",)
    _accept_sparse_codes = True

    def __init__(self, n_atoms=256, *, n_nonzero_coefs=10, dictionary=None, max_iter=30,
                 dictionary_update="auto", forget_factor=0.5, chain_start="data", n_gibbs_sweeps=5,
                 burn_in="auto",
                 em_max_iter=10, overlap_power=2.0, coefficient_model="em", class_guidance=8.0,
                 smoothing=0.05, residual_components="auto", clip=True, n_importance=100,
                 sparse_output=False, n_jobs=None, device="auto", random_state=None,
                 verbose=0):
        self.n_atoms = n_atoms
        self.n_nonzero_coefs = n_nonzero_coefs
        self.dictionary = dictionary
        self.max_iter = max_iter
        self.dictionary_update = dictionary_update
        self.forget_factor = forget_factor
        self.chain_start = chain_start
        self.n_gibbs_sweeps = n_gibbs_sweeps
        self.burn_in = burn_in
        self.em_max_iter = em_max_iter
        self.overlap_power = overlap_power
        self.coefficient_model = coefficient_model
        self.class_guidance = class_guidance
        self.smoothing = smoothing
        self.residual_components = residual_components
        self.clip = clip
        self.n_importance = n_importance
        self.sparse_output = sparse_output
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the dictionary, code ``X`` and fit the support model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training images, flattened.
        y : array-like of shape (n_samples,), default=None
            Class labels: the support model is then class-conditional
            (``sample(y=...)``).

        Returns
        -------
        self : SparseSupportMRF
        """
        if is_dask_array(X):
            return self._fit_dask(X, y)
        X = validate_data(self, X, dtype=FLOAT_DTYPES)
        device = self._resolve_fit_device()
        rng = check_random_state(self.random_state)
        n_atoms, k, dictionary = self._effective_sizes(X.shape, X.dtype)
        if self.dictionary_update == "bcd":
            D, errors, n_iter = self._learn_bcd(
                lambda D: dictionary_statistics(X, D, k, n_jobs=self.n_jobs, device=device),
                X, n_atoms, dictionary, rng,
            )
            D = D.astype(X.dtype)
            codes, statistics = coded_statistics(X, D, k, n_jobs=self.n_jobs, device=device)
        else:
            D, codes, errors, n_iter = ksvd(
                X, n_atoms, k, self.max_iter, rng, dictionary=dictionary, n_jobs=self.n_jobs,
                device=device, verbose=self.verbose,
            )
            statistics = statistics_of_codes(X, codes, D)
        self._store_dictionary(D, k, n_iter, errors, float(X.min()), float(X.max()))
        # Kept so that partial_fit after fit continues from these images' sums.
        self._dictionary_statistics = statistics
        dense_codes = codes_to_dense(*codes, n_atoms)
        self._fit_prior(dense_codes, y, self._default_prior(), rng)
        self._prior_updated()
        self._fit_residual(X, dense_codes, rng)
        self._fit_noise(X, codes=dense_codes)
        self._check_samples(X)
        return self

    def _learn_bcd(self, statistics_of, X, n_atoms, dictionary, rng):
        """BCD iterations from ``statistics_of(D)``; ``X`` (array or dask) seeds the atoms."""
        if dictionary is not None:
            return np.array(dictionary, dtype=np.float64), np.array(
                [statistics_of(dictionary).mse]), 0
        D = init_dictionary(X, n_atoms, rng)
        D, errors = learn_dictionary(statistics_of, D, self.max_iter,
                                     name=type(self).__name__, verbose=self.verbose)
        return D, errors, self.max_iter

    def _store_dictionary(self, D, k, n_iter, errors, data_min, data_max):
        if not np.all(np.isfinite(D)):
            raise FloatingPointError(
                "Dictionary learning produced a non-finite dictionary; check the input scale."
            )
        self.components_ = D
        self.n_nonzero_coefs_ = k
        self.n_iter_ = n_iter
        self.reconstruction_error_ = errors
        self.data_min_ = data_min
        self.data_max_ = data_max

    def _default_prior(self):
        return CoefficientPrior(
            "sparse_support", chain_start=self.chain_start,
            n_gibbs_sweeps=self.n_gibbs_sweeps, burn_in=self.burn_in,
            em_max_iter=self.em_max_iter, smoothing=self.smoothing,
            overlap_power=self.overlap_power, coefficient_model=self.coefficient_model,
            class_guidance=self.class_guidance,
        )

    def _prior_updated(self):
        self.support_marginals_ = self.prior_.support_marginals_
        self.support_pairwise_ = self.prior_.support_pairwise_

    # ------------------------------------------------------------- streaming
    def _fit_dask(self, X, y):
        """Distributed BCD: each iteration maps Batch-OMP and the sums over the blocks.

        Blocks are coded where they live (on the workers of an active
        ``dask.distributed`` client, else on dask's local scheduler) against
        the dictionary, which enters each iteration's graph once; only the
        sums (``n_atoms`` by ``n_atoms + n_features``) come back. The result
        equals ``fit`` of the same array in memory with
        ``dictionary_update="bcd"``, up to the order of floating-point sums.
        Every block task first checks its block as ``fit`` checks its input
        (NaN or infinity is refused with the same error); a refused fit
        leaves the model as it was before the call.
        """
        check_no_residual_stream(self)
        if self.dictionary_update == "ksvd":
            raise ValueError(
                "dictionary_update='ksvd' needs all images in memory; use 'bcd' (or 'auto') "
                "to fit on a dask array."
            )
        with restore_on_failure(self):
            self._fit_dask_blocks(X, y)
        return self

    def _fit_dask_blocks(self, X, y):
        import dask

        X, y, blocks, classes = start_dask_fit(self, X, y)
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        X = X.astype(dtype)
        self.n_features_in_ = X.shape[1]
        device = self._resolve_fit_device()
        rng = check_random_state(self.random_state)
        n_atoms, k, dictionary = self._effective_sizes(X.shape, dtype)
        parts = X.to_delayed().ravel()
        owner = type(self).__name__
        statistics = dask.delayed(_checked_dictionary_statistics, pure=True)

        def statistics_of(D):
            D_key = dask.delayed(np.asarray(D), pure=True)
            sums = dask.compute(*[statistics(part, D_key, k, self.n_jobs, device, owner)
                                  for part in parts])
            return sum(sums[1:], sums[0])

        D, errors, n_iter = self._learn_bcd(statistics_of, X, n_atoms, dictionary, rng)
        D = D.astype(dtype)
        # One task per block reads it once for its codes, sums and range.
        code = dask.delayed(_code_block, pure=True)
        D_key = dask.delayed(D, pure=True)
        coded = dask.compute(*[code(part, D_key, k, self.n_jobs, device, owner)
                               for part in parts])
        codes = [c for c, _, _ in coded]
        statistics = sum((s for _, s, _ in coded[1:]), coded[0][1])
        data_min = min(lo for _, _, (lo, _) in coded)
        data_max = max(hi for _, _, (_, hi) in coded)
        self._store_dictionary(D, k, n_iter, errors, data_min, data_max)
        self._dictionary_statistics = statistics
        self.__dict__.pop("residual_pca_", None)
        self.prior_ = self._new_prior(self._default_prior(), rng)
        for compact, rows in zip(codes, blocks):
            self.prior_.partial_fit(codes_to_dense(*compact, n_atoms),
                                    None if y is None else y[rows], classes=classes)
        self.classes_ = self.prior_.classes_
        self._prior_updated()
        self._check_samples(np.asarray(parts[0].compute(), dtype=dtype))

    def _start_stream(self, X, classes, resume):
        rng = check_random_state(self.random_state)
        statistics = None
        if resume:
            D, fixed = self.components_.astype(np.float64), self.dictionary is not None
            statistics = getattr(self, "_dictionary_statistics", None)
        else:
            self._resolve_fit_device()
            n_atoms, k, dictionary = self._effective_sizes(X.shape, X.dtype, streaming=True)
            fixed = dictionary is not None
            D = np.array(dictionary, dtype=np.float64) if fixed else init_dictionary(
                X, n_atoms, rng)
            self.n_nonzero_coefs_ = k
            self.n_iter_ = 0
            self.reconstruction_error_ = np.empty(0)
            self.data_min_, self.data_max_ = np.inf, -np.inf
        self._stream = {"rng": rng, "dictionary": D, "fixed": fixed, "statistics": statistics}

    def _stream_step(self, X, y):
        stream = self._stream
        chunk = dictionary_statistics(X, stream["dictionary"], self.n_nonzero_coefs_,
                                      n_jobs=self.n_jobs, device=self.device_)
        past = stream["statistics"]
        stream["statistics"] = chunk if past is None else past.scaled(self.forget_factor) + chunk
        if not stream["fixed"]:
            update_dictionary(stream["dictionary"], stream["statistics"])
        self._store_dictionary(
            stream["dictionary"].astype(X.dtype), self.n_nonzero_coefs_, self.n_iter_ + 1,
            np.append(self.reconstruction_error_, chunk.mse),
            min(self.data_min_, float(X.min())), max(self.data_max_, float(X.max())),
        )

    def _prior_codes(self, X, codes=None):
        # The prior is fitted on dense codes, whatever sparse_output says.
        return codes_to_dense(*self._codes(X), self._n_codes) if codes is None else codes

    def _effective_sizes(self, shape, dtype, streaming=False):
        n_samples, n_features = shape
        if self.dictionary is not None:
            dictionary = check_dictionary(self.dictionary, dtype)
            if dictionary.shape[1] != n_features:
                raise ValueError(
                    f"The 'dictionary' parameter must have shape (n_atoms, {n_features}) to "
                    f"match X; got {dictionary.shape}."
                )
            n_atoms = dictionary.shape[0]
        else:
            dictionary = None
            n_atoms = self.n_atoms
            if n_atoms > n_samples and streaming:
                # The stream will bring more images; the atoms that find no
                # image start random, and unused ones are replaced as it goes.
                warnings.warn(
                    f"The first partial_fit chunk has {n_samples} images, fewer than "
                    f"n_atoms={n_atoms}: {n_atoms - n_samples} atoms start as random "
                    "vectors. A first chunk of at least n_atoms images starts them all "
                    "from images.",
                    UserWarning,
                    stacklevel=4,
                )
            elif n_atoms > n_samples:
                warnings.warn(
                    f"n_atoms={n_atoms} is larger than the number of samples ({n_samples}); "
                    f"using n_atoms={n_samples}.",
                    UserWarning,
                    stacklevel=3,
                )
                n_atoms = n_samples
        k = self.n_nonzero_coefs
        limit = min(n_features, n_atoms)
        if k > limit:
            warnings.warn(
                f"n_nonzero_coefs={k} is larger than min(n_features, n_atoms) = {limit}; "
                f"using n_nonzero_coefs={limit}.",
                UserWarning,
                stacklevel=3,
            )
            k = limit
        return n_atoms, k, dictionary

    @property
    def _n_codes(self):
        return self.components_.shape[0]

    def _code_width_note(self):
        return f"one per atom: n_atoms={self._n_codes}"


    def _codes(self, X):
        return batch_omp(X, self.components_.astype(X.dtype, copy=False), self.n_nonzero_coefs_,
                         n_jobs=self.n_jobs, device=self.device_)

    def _encode(self, X):
        convert = codes_to_csr if self.sparse_output else codes_to_dense
        return convert(*self._codes(X), self._n_codes)

    def _decode(self, codes):
        out = codes @ self.components_.astype(codes.dtype, copy=False)
        return np.asarray(out) if sparse.issparse(codes) else out

    def transform(self, X):
        """Signed sparse codes with ``n_nonzero_coefs_`` non-zeros per row (Batch-OMP).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        codes : ndarray or scipy.sparse.csr_matrix of shape (n_samples, n_atoms)
            Same dtype as ``X`` (float32 or float64); sparse when
            ``sparse_output`` is True.
        """
        return super().transform(X)

    # ---------------------------------------------------------------- density
    def _fit_noise(self, X, update=False, codes=None):
        """``noise_``: Gaussian noise over the residuals ``X - codes @ D`` of validated images.

        With the residual Gaussian (``residual_pca_``), its directions and
        variances, and its probabilistic-PCA variance for the rest; else
        one variance, the mean squared residual per dimension off the
        ``k`` atoms of each code. Online updates keep the isotropic form.
        """
        pca = getattr(self, "residual_pca_", None)
        if pca is not None:
            self.noise_ = isotropic_noise(pca.noise_variance_, X.shape[1], pca.components_,
                                          pca.explained_variance_)
            return
        rank = self.n_nonzero_coefs_
        noise = getattr(self, "noise_", None) if update else None
        if noise is None or noise.explained_variance_.size:
            # A stream after a fit with a residual Gaussian (which online
            # updates drop) starts an isotropic noise model.
            noise = RangeNoise()
        for rows in iter_batches(X.shape[0], DEFAULT_CHUNK):
            block = self._prior_codes(X[rows]) if codes is None else codes[rows]
            noise.partial_fit(X[rows] - self._decode(block), rank)
        self.noise_ = noise

    def _log_likelihood(self, X, density, linear_range):
        prior = _support_prior(density, type(self).__name__)
        noise = self.noise_
        pca = getattr(self, "residual_pca_", None)
        if pca is not None:
            X = X - pca.mean_
        leading = noise.explained_variance_.size > 0
        base_seed = self.random_state if isinstance(self.random_state, Integral) else 0
        return support_log_likelihood(
            X, self.components_, prior, noise.variance_,
            noise.components_ if leading else None,
            noise.explained_variance_ if leading else None,
            n_importance=self.n_importance, random_state=base_seed,
        )


    def _sample(self, n_samples, y, rng, return_supports=False):
        """Gibbs-sampled supports, EM-fitted Gaussian coefficients, then ``codes @ D``.

        ``return_supports=True`` also returns the drawn supports, shape
        ``(n_samples, n_nonzero_coefs_)``: the signed atoms of every sample
        (``m`` for ``+d_m``, ``m + n_atoms`` for ``-d_m``).
        """
        codes, supports = self._draw_codes(n_samples, y, rng, return_supports=True)
        X = self._add_residual(self._decode(codes.astype(self.components_.dtype, copy=False)), rng)
        if self.clip:
            np.clip(X, self.data_min_, self.data_max_, out=X)
        return (X, supports) if return_supports else X


def _support_prior(density, owner):
    """The ``CoefficientPrior("sparse_support")`` that ``density`` is, or a clear error."""
    steps = getattr(density, "steps", None)
    if steps is not None and len(steps) == 1:  # the rest of a pipeline: one prior
        density = steps[0]
    if getattr(density, "kind", None) != "sparse_support":
        raise ValueError(
            f"{owner}'s density in pixel space needs a CoefficientPrior('sparse_support') over "
            f"its codes (a sum over supports); got {type(density).__name__}"
            + (f"(kind={density.kind!r})" if hasattr(density, "kind") else "") + "."
        )
    return density


def _checked_dictionary_statistics(X, dictionary, k, n_jobs, device, owner):
    """Dictionary sums of one block, checked finite first (a task of the dask fit)."""
    check_finite_block(X, owner)
    return dictionary_statistics(X, dictionary, k, n_jobs=n_jobs, device=device)


def _code_block(X, dictionary, k, n_jobs, device, owner):
    """Codes, dictionary sums and value range of one block (a task of the dask fit)."""
    check_finite_block(X, owner)
    codes, statistics = coded_statistics(X, dictionary, k, n_jobs=n_jobs, device=device)
    return codes, statistics, (float(X.min()), float(X.max()))
