"""SparseSupportMRF: Vaksman & Elad's sparsity-based image generator."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import DEVICE_CONSTRAINT, check_device
from .._backend._omp import batch_omp, codes_to_csr, codes_to_dense
from . import _support
from ._ksvd import ksvd


class SparseSupportMRF(TransformerMixin, BaseEstimator):
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
        K-SVD iterations (one Batch-OMP coding and one sweep of atom updates
        each).
    n_gibbs_sweeps : int, default=5
        Gibbs sweeps between two draws kept from the same chain (thinning).
    burn_in : int, default=30
        Sweeps discarded at the start of every chain.
    em_max_iter : int, default=10
        Maximum EM iterations per drawn support.
    smoothing : float in (0, 1], default=0.05
        Weight of the independence model mixed into the pair marginals:
        ``P(i, j) = (1 - s) c_ij / N + s P(i) P(j)``, where ``c_ij`` counts
        the training supports holding both signed atoms. An unseen pair thus
        multiplies a support's probability by ``s`` rather than by 0.
        Inclusion marginals use add-one counts, ``P(i) = (c_i + 1) / (N + 2)``.
    clip : bool, default=True
        Clip samples to ``[data_min_, data_max_]``.
    sparse_output : bool, default=False
        ``transform`` returns a ``scipy.sparse.csr_matrix`` (``k`` stored
        entries per row) instead of a dense array: ``n_atoms / k`` times less
        memory for large dictionaries.
    n_jobs : int, default=None
        Threads for the compiled kernels (``None``: all).
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        Where Batch-OMP runs (the batched torch version on CUDA, the Numba
        kernel on the CPU). Sampling always runs on the CPU.
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
    ``score`` is the negative held-out reconstruction error per pixel. It is
    what the sampler relies on (an image can only be as good as its code) and
    is comparable across ``n_atoms`` and ``n_nonzero_coefs``; a support
    likelihood is not, because the Markov network's normalising constant is
    intractable and changes with both. The error keeps falling as either
    grows, so a grid search over them should use a grid bounded by the
    sampling budget (larger ``k`` also means larger Gibbs and EM problems).

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
        "n_gibbs_sweeps": [Interval(Integral, 1, None, closed="left")],
        "burn_in": [Interval(Integral, 0, None, closed="left")],
        "em_max_iter": [Interval(Integral, 1, None, closed="left")],
        "smoothing": [Interval(Real, 0, 1, closed="right")],
        "clip": ["boolean"],
        "sparse_output": ["boolean"],
        "n_jobs": [Integral, None],
        "device": DEVICE_CONSTRAINT,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, n_atoms=256, n_nonzero_coefs=10, *, dictionary=None, max_iter=30,
                 n_gibbs_sweeps=5, burn_in=30, em_max_iter=10, smoothing=0.05, clip=True,
                 sparse_output=False, n_jobs=None, device="auto", random_state=None,
                 verbose=0):
        self.n_atoms = n_atoms
        self.n_nonzero_coefs = n_nonzero_coefs
        self.dictionary = dictionary
        self.max_iter = max_iter
        self.n_gibbs_sweeps = n_gibbs_sweeps
        self.burn_in = burn_in
        self.em_max_iter = em_max_iter
        self.smoothing = smoothing
        self.clip = clip
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
        y : None
            Ignored.

        Returns
        -------
        self : SparseSupportMRF
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        device = check_device(self)
        rng = check_random_state(self.random_state)
        n_atoms, k, dictionary = self._effective_sizes(X)
        D, codes, errors, n_iter = ksvd(
            X, n_atoms, k, self.max_iter, rng, dictionary=dictionary, n_jobs=self.n_jobs,
            device=device, verbose=self.verbose,
        )
        if not np.all(np.isfinite(D)):
            raise FloatingPointError("K-SVD produced a non-finite dictionary; check the input scale.")
        self.components_ = D
        self.n_nonzero_coefs_ = k
        self.n_iter_ = n_iter
        self.reconstruction_error_ = errors
        self.data_min_ = float(X.min())
        self.data_max_ = float(X.max())
        self._fit_support_model(*codes)
        return self

    def _effective_sizes(self, X):
        n_samples, n_features = X.shape
        if self.dictionary is not None:
            dictionary = check_array(self.dictionary, dtype=X.dtype, input_name="dictionary")
            if dictionary.shape[1] != n_features:
                raise ValueError(
                    f"The 'dictionary' parameter must have shape (n_atoms, {n_features}) to "
                    f"match X; got {dictionary.shape}."
                )
            n_atoms = dictionary.shape[0]
        else:
            dictionary = None
            n_atoms = self.n_atoms
            if n_atoms > n_samples:
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

    def _fit_support_model(self, atoms, values, counts):
        marginals, pairwise, sampler = _support.build_sampler(
            atoms, values, counts, self.components_.shape[0], self.smoothing
        )
        self.support_marginals_ = marginals
        self.support_pairwise_ = pairwise
        self._sampler = sampler

    def _codes(self, X):
        device = check_device(self)
        return batch_omp(X, self.components_.astype(X.dtype, copy=False), self.n_nonzero_coefs_,
                         n_jobs=self.n_jobs, device=device)

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
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        convert = codes_to_csr if self.sparse_output else codes_to_dense
        return convert(*self._codes(X), self.components_.shape[0])

    def inverse_transform(self, X):
        """Images from codes: ``codes @ components_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_atoms)
            Codes, e.g. from ``transform``.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        codes = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32],
                            input_name="X")
        if codes.shape[1] != self.components_.shape[0]:
            raise ValueError(
                f"Codes must have {self.components_.shape[0]} columns (n_atoms); "
                f"got {codes.shape[1]}."
            )
        D = self.components_.astype(codes.dtype, copy=False)
        out = codes @ D
        return np.asarray(out) if sparse.issparse(codes) else out

    def score(self, X, y=None):
        """Negative mean squared reconstruction error per pixel (higher is better).

        See the class Notes for why this, and not a support likelihood, is
        the score for model selection.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        recon = codes_to_dense(*self._codes(X), self.components_.shape[0]) @ self.components_
        return -float(np.mean((np.asarray(X, dtype=np.float64) - recon) ** 2))

    def sample(self, n_samples=1, random_state=None, return_supports=False):
        """Draw images: Gibbs-sampled supports, EM-fitted Gaussian coefficients.

        Parameters
        ----------
        n_samples : int, default=1
            Number of images.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws; ``None`` uses the estimator's ``random_state``.
        return_supports : bool, default=False
            Also return the drawn supports.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Samples, dtype of the training data.
        supports : ndarray of shape (n_samples, `n_nonzero_coefs_`)
            Signed atoms of every sample (``m`` for ``+d_m``, ``m + n_atoms``
            for ``-d_m``); only when ``return_supports=True``.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"The 'n_samples' parameter must be an int >= 1; got {n_samples!r}.")
        rng = check_random_state(self.random_state if random_state is None else random_state)
        codes, supports = _support.sample_codes(
            self._sampler, self.components_.shape[0], self.n_nonzero_coefs_, int(n_samples),
            self.burn_in, self.n_gibbs_sweeps, self.em_max_iter, rng,
            dtype=self.components_.dtype,
        )
        X = codes @ self.components_
        if self.clip:
            np.clip(X, self.data_min_, self.data_max_, out=X)
        if return_supports:
            return X, supports
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
