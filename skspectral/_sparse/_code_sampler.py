"""The support sampler of SparseSupportMRF as a pipeline step over codes.

``SparseSupportMRF`` is self-contained (``fit`` on images, ``sample``
images). For pipelines that need the encoder and the sampler as separate
steps (``skspectral demo`` slices ``model[:-1]`` to get an encoder), this step
fits the same Markov network and EM sampler on the codes that
``SparseSupportMRF.transform`` produces and samples codes; the pipeline maps
them back with ``SparseSupportMRF.inverse_transform``.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _support


class SupportCodeSampler(BaseEstimator):
    """Gibbs + EM sampler of sparse codes (the generative half of SparseSupportMRF).

    Parameters
    ----------
    n_gibbs_sweeps, burn_in, em_max_iter, smoothing, random_state
        As in :class:`SparseSupportMRF`.

    Attributes
    ----------
    n_nonzero_coefs_ : int
        Largest number of non-zeros in a training code (the support size).
    support_marginals_, support_pairwise_ : ndarray
        As in :class:`SparseSupportMRF`.
    """

    _parameter_constraints = {
        "n_gibbs_sweeps": [Interval(Integral, 1, None, closed="left")],
        "burn_in": [Interval(Integral, 0, None, closed="left")],
        "em_max_iter": [Interval(Integral, 1, None, closed="left")],
        "smoothing": [Interval(Real, 0, 1, closed="right")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_gibbs_sweeps=5, burn_in=30, em_max_iter=10, smoothing=0.05,
                 random_state=None):
        self.n_gibbs_sweeps = n_gibbs_sweeps
        self.burn_in = burn_in
        self.em_max_iter = em_max_iter
        self.smoothing = smoothing
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the support model on sparse codes ``X`` (n_samples, n_atoms)."""
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        k = int(max(1, np.count_nonzero(X, axis=1).max()))
        atoms, values, counts = _support.dense_to_compact(X, k)
        n_atoms = X.shape[1]
        self.n_nonzero_coefs_ = min(k, n_atoms)
        self.support_marginals_, self.support_pairwise_, self._sampler = _support.build_sampler(
            atoms, values, counts, n_atoms, self.smoothing
        )
        return self

    def sample(self, n_samples=1, random_state=None):
        """Draw ``n_samples`` codes of shape (n_samples, n_atoms)."""
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"The 'n_samples' parameter must be an int >= 1; got {n_samples!r}.")
        rng = check_random_state(self.random_state if random_state is None else random_state)
        codes, _ = _support.sample_codes(
            self._sampler, self.n_features_in_, self.n_nonzero_coefs_, int(n_samples),
            self.burn_in, self.n_gibbs_sweeps, self.em_max_iter, rng,
        )
        return codes
