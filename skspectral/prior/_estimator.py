"""CoefficientPrior: the density over codes that turns a dictionary into a sampler."""

from functools import update_wrapper
from numbers import Integral, Real
from types import MethodType

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _num_samples, check_is_fitted, validate_data

from .._backend import DEVICE_CONSTRAINT, FLOAT_DTYPES
from .._backend._dask import compute_block, is_dask_array, restore_on_failure
from ..base import (
    GenerativeMixin,
    PortableStateMixin,
    StrictParamsMixin,
    check_labels,
    check_partial_labels,
    draw_labels,
    start_dask_fit,
)
from ._densities import DENSITIES, GaussianDensity, Moments, Projected
from ._flow import FLOW_ATTRIBUTES, FLOWS, check_hidden_features
from ._gaussianize import Gaussianized
from ._support import Guide, fit_support_classifier, statistics_of_codes


class _StreamingUnavailableError(AttributeError, ValueError):
    """``partial_fit`` does not exist for this configuration of the prior.

    An AttributeError, so that ``hasattr(prior, "partial_fit")`` is False (as
    for scikit-learn's :func:`~sklearn.utils.metaestimators.available_if`),
    and a ValueError, the error calling it raised before it was hidden.
    """


class _if_streamable:
    """``partial_fit``, hidden while the prior's configuration cannot be updated online.

    Like scikit-learn's :func:`~sklearn.utils.metaestimators.available_if`
    (as ``MLPClassifier.partial_fit`` under ``solver="lbfgs"``), but the
    error keeps the reason rather than a generic "has no attribute".
    """

    def __init__(self, fn):
        self.fn = fn
        update_wrapper(self, fn)

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.fn
        reason = obj._streaming_refusal()
        if reason is not None:
            raise _StreamingUnavailableError(reason)
        return MethodType(self.fn, obj)


class CoefficientPrior(
    StrictParamsMixin, PortableStateMixin, GenerativeMixin, DensityMixin, BaseEstimator
):
    """Density over dictionary codes, used to draw new codes (and so images).

    Every dictionary model in skspectral encodes an image as a vector of
    coefficients. A ``CoefficientPrior`` fitted on those codes makes the model
    generative: draw codes from it, then synthesise. It wraps scikit-learn's
    own estimators (covariance estimators, :class:`~sklearn.mixture.GaussianMixture`,
    :class:`~sklearn.neighbors.KernelDensity`, :class:`~sklearn.decomposition.PCA`)
    and holds the sparse-support sampler of
    :class:`~skspectral.SparseSupportMRF`. Fitted with class labels ``y``, it
    is class-conditional: one density per class, and ``sample(y=...)``
    draws from a chosen class.

    Parameters
    ----------
    kind : {"gaussian", "diagonal", "gmm", "kde", "sparse_support", "flow"}, \
            default="gaussian"
        ``"gaussian"``: one multivariate normal with a full covariance
        (optionally shrunk). ``"diagonal"``: independent normals per
        coefficient. ``"gmm"``: a Gaussian mixture. ``"kde"``: a Gaussian
        kernel density estimate. ``"sparse_support"``: for sparse codes, a
        pairwise Markov network over their supports (sampled by Gibbs) and
        Gaussian coefficients per support fitted by EM with missing data
        (Vaksman & Elad); see :class:`~skspectral.SparseSupportMRF`. Its
        ``score_samples`` is a density with respect to counting measure over
        signed supports times Lebesgue measure on the ``k`` non-zero
        coefficients (see :meth:`score_samples`).
        ``"flow"``: a normalizing flow (:mod:`zuko`'s masked autoregressive
        or neural spline flow) trained by maximum likelihood on the whitened
        codes, with early stopping on held-out codes; its ``score_samples``
        is the exact log-density of the codes.
    n_components : int, default=1
        Number of mixture components (``kind="gmm"`` only).
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        Covariance structure of the mixture components (``kind="gmm"`` only).
    shrinkage : {"ledoit_wolf", "oas"} or float in [0, 1] or None, default=None
        Covariance shrinkage for ``kind="gaussian"``: ``None`` is the empirical
        covariance, a float is :class:`~sklearn.covariance.ShrunkCovariance`'s
        coefficient, the strings select the Ledoit-Wolf or OAS estimators.
    bandwidth : float or {"scott", "silverman"}, default="scott"
        Kernel bandwidth for ``kind="kde"``.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance so that degenerate codes
        (constant coefficients, fewer samples than dimensions) stay valid.
    pca_dim : int or None, default=None
        Fit the density on the codes' top ``pca_dim`` principal components
        (capped at ``n_samples - 1``) and map draws back: a low-rank density
        for wide codes, such as convolutional feature maps, whose full
        covariance would not fit in memory. ``score_samples`` then scores the
        projected codes. Not for ``"sparse_support"``.
    whiten : bool, default=False
        Fit the density on the codes' principal components scaled to unit
        variance (the top ``pca_dim`` of them when set) and map draws back.
        ``reg_covar`` then acts relative to the codes' spread: it adds
        ``reg_covar`` times the codes' own covariance to every component's,
        shrinking components towards the data's shape rather than towards a
        sphere of fixed size. ``score_samples`` includes the whitening's
        Jacobian, so the scores are densities of the (projected) codes
        either way. Not for ``"sparse_support"``.
    gaussianize : int >= 0, default=0
        Number of Gaussianization layers between the whitened codes and the
        density (Chen & Gopinath's Gaussianization, in the rotation-based
        form of Laparra et al.): each layer rotates the codes to their
        independent components (:class:`~sklearn.decomposition.FastICA`)
        and maps every component to a standard normal through its empirical
        distribution (piecewise linear between its quantiles, extended
        linearly beyond them). The density is fitted on the result and its
        draws are mapped back. Natural-image codes are sparse, with
        magnitudes that depend on one another, which a Gaussian mixture
        alone cannot draw; on CIFAR-10, 3 layers under a 20-component
        mixture over PCA(256) codes draw samples of FID 102 where one
        Gaussian draws 125 (see the user guide). Any value above 0 whitens the codes first
        (as ``whiten=True``). ``score_samples`` adds the layers'
        log-Jacobians, so it stays the exact log-density of the codes. Not
        for ``"sparse_support"``.
    temperature : float > 0, default=1.0
        Spread of the draws: ``sample`` scales the noise of the density it
        draws from by ``temperature``, around each component's mean
        (``"gaussian"``, ``"diagonal"``, ``"gmm"``), around each training
        code (``"kde"``, whose kernel width it scales) or in the flow's base
        distribution (``"flow"``), in the space the density is fitted in
        (after whitening and Gaussianization layers). 1 draws from the
        fitted density, which ``score_samples`` and ``get_mixture`` always
        describe. Below 1 draws gather at the modes and come closer to
        training codes; above 1 they spread out. A Gaussianized density's
        draws pass back through the layers, whose heavy tails a larger
        spread reaches further into: on CIFAR-10 the best pipeline's
        samples score best at about 1.2 (see the user guide; choose it on
        held-out images, as sample quality is not a likelihood that
        ``score`` could select). Not for ``"sparse_support"``.
    chain_start : {"data", "sequential"}, default="data"
        Where the Gibbs chains over supports start (``"sparse_support"``
        only). ``"data"``: every draw is its own chain, started from a
        training support drawn at random (of its class, when fitted with
        ``y``) and run for ``burn_in`` sweeps, so draws keep the data's mix
        of modes while most of their atoms change. ``"sequential"``: a few
        long chains started from sequential draws, as in Vaksman & Elad,
        which sample the network's stationary distribution; on MNIST it
        over-weights the supports whose atoms co-occur most (1s, 7s, 2s).
    n_gibbs_sweeps : int, default=5
        Gibbs sweeps between two draws kept from the same chain
        (``"sparse_support"`` with ``chain_start="sequential"`` only).
    burn_in : int or "auto", default="auto"
        Sweeps every chain runs before its first draw (``"sparse_support"``
        only): ``"auto"`` is 2 for ``chain_start="data"`` and 30 for
        ``"sequential"``.
    em_max_iter : int, default=10
        Maximum EM iterations per drawn support (``"sparse_support"`` only).
    overlap_power : float >= 0, default=2.0
        How the coefficient model given a drawn support weighs the training
        codes it is fitted on (``"sparse_support"`` only): a training code
        counts ``(number of signed atoms it shares with the support) **
        overlap_power`` times in EM. ``0`` pools every code that shares an
        atom alike, as in Vaksman & Elad; larger values fit the coefficients
        mostly on the codes whose supports resemble the drawn one, which
        makes draws more typical of their class and closer to training
        images (see the sparse-model guide for measurements).
    coefficient_model : {"em", "regression"}, default="em"
        How the magnitudes of a drawn support are drawn (``"sparse_support"``
        only). ``"em"``: a Gaussian fitted per drawn support by EM on the
        training codes sharing its atoms, as in Vaksman & Elad (weighted by
        ``overlap_power``, at most ``em_max_iter`` iterations).
        ``"regression"``: every signed atom's magnitude is Gaussian around a
        ridge regression on which other signed atoms are present, fitted once
        in ``fit`` (penalty by generalized cross-validation), so a magnitude
        depends on the whole support rather than on the codes sharing some of
        it; on MNIST this draws digits more faithful to their class (see the
        sparse-model guide).
    class_guidance : float >= 0, default=8.0
        Strength of class guidance for draws of a class-conditional prior
        (``"sparse_support"`` fitted with ``y`` only): a drawn support of
        class ``c`` is kept with probability ``p(c | support) **
        class_guidance`` and re-drawn otherwise, where ``p`` is a logistic
        regression of the class on the support's signed atoms fitted on the
        training codes of all classes (``support_classifier_``). Larger
        values draw supports more typical of their class; ``0`` draws from
        the class's Markov network alone, as in Vaksman & Elad.
    smoothing : float in (0, 1], default=0.05
        Weight of the independence model mixed into the support pair
        marginals (``"sparse_support"`` only; see
        :class:`~skspectral.SparseSupportMRF`).
    flow_type : {"maf", "nsf"}, default="maf"
        The flow (``kind="flow"`` only): ``"maf"``, a masked autoregressive
        flow of affine transforms (Papamakarios et al., 2017), or ``"nsf"``,
        a neural spline flow of rational-quadratic splines (Durkan et al.,
        2019), more flexible per transform but several times slower to
        train and to sample.
    n_transforms : int, default=6
        Number of autoregressive transforms, their order reversed from one
        to the next (``kind="flow"`` only).
    hidden_features : tuple of int, default=(512,)
        Widths of the hidden layers of each transform's masked network
        (``kind="flow"`` only).
    max_iter : int, default=100
        Maximum number of training epochs (passes over the training codes)
        of each ``fit`` or ``partial_fit`` call (``kind="flow"`` only).
    batch_size : int, default=256
        Codes per Adam step (``kind="flow"`` only).
    learning_rate : float, default=4e-3
        Adam step size (``kind="flow"`` only).
    weight_decay : float, default=0.5
        Decoupled weight decay of Adam (AdamW, Loshchilov & Hutter, 2019):
        each step shrinks the weights by ``learning_rate * weight_decay``.
        It keeps the flow from fitting the training codes more closely
        than new ones (``kind="flow"`` only).
    validation_fraction : float in (0, 1), default=0.1
        Fraction of the codes held out (drawn from ``random_state``) to
        score every epoch; training stops after ``n_iter_no_change`` epochs
        without a better held-out log-likelihood and keeps the weights of
        the best epoch (``kind="flow"`` only).
    n_iter_no_change : int, default=5
        Epochs without improvement of the held-out log-likelihood before
        training stops (``kind="flow"`` only).
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        Where the flow trains; it then samples and scores there
        (``kind="flow"`` only).
    verbose : int, default=0
        Show a progress bar over the training epochs (``kind="flow"`` only).
    random_state : int, RandomState instance or None, default=None
        Seeds the mixture initialisation, the flow's weights, held-out codes
        and batch order and, when ``sample`` gets no ``random_state`` of its
        own, the draws.

    Attributes
    ----------
    estimator_ : object or list
        The fitted scikit-learn estimator behind the density (None for
        ``"diagonal"``, ``"sparse_support"`` and ``"flow"``); a list, one per
        class, when fitted with ``y``.
    mean_ : ndarray of shape (n_features,)
        Mean of the codes seen in ``fit``.
    covariance_ : ndarray of shape (n_features, n_features)
        Covariance of the density (``"gaussian"`` and ``"diagonal"`` without
        ``pca_dim`` or ``y``; otherwise see :meth:`get_mixture`).
    classes_ : ndarray or None
        Classes seen in ``fit`` (None without ``y``).
    class_weights_ : ndarray or None
        Frequency of each class in ``fit``.
    support_marginals_, support_pairwise_ : ndarray
        ``"sparse_support"`` only: smoothed inclusion probability of every
        signed atom and of every pair, over all training codes.
    support_classifier_ : sklearn.linear_model.LogisticRegression or None
        ``"sparse_support"`` fitted with ``y`` and ``class_guidance > 0``
        only (None otherwise, and while a stream has given codes of fewer
        than two classes): the classifier of a support's class behind class
        guidance, on the indicators of the ``2 * n_features`` signed atoms
        (atom ``j`` with a positive coefficient is feature ``j``, with a
        negative one ``n_features + j``); its classes are positions in
        ``classes_``.
    n_iter_ : int or list of int
        ``"flow"`` only: epochs run by the last ``fit`` or ``partial_fit``
        call; a list, one per class, when fitted with ``y`` (these
        attributes are None for a class a stream has not given codes of).
    loss_curve_ : list of float or list of lists
        ``"flow"`` only: mean negative log-likelihood of the training codes
        over each epoch.
    validation_scores_ : list of float or list of lists
        ``"flow"`` only: mean log-likelihood of the held-out codes after
        each epoch.
    best_validation_score_ : float or list of float
        ``"flow"`` only: the best of ``validation_scores_``, that of the
        weights kept.
    best_epoch_ : int or list of int
        ``"flow"`` only: index of the epoch whose weights were kept
        (``validation_scores_[best_epoch_]`` is ``best_validation_score_``).
    n_features_in_ : int
        Number of coefficients per code.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit`` (only when X has string names).

    See Also
    --------
    skspectral.pipeline.make_pipeline : Build a pipeline that can ``sample``.

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral import CoefficientPrior
    >>> rng = np.random.RandomState(0)
    >>> codes = rng.normal(size=(200, 3))
    >>> prior = CoefficientPrior("gmm", n_components=2, random_state=0).fit(codes)
    >>> prior.sample(5).shape
    (5, 3)
    >>> round(float(prior.score(codes)), 1)
    -4.2
    >>> labels = (codes[:, 0] > 0).astype(int)
    >>> conditional = CoefficientPrior().fit(codes, labels)
    >>> bool((conditional.sample(50, y=1, random_state=0)[:, 0] > 0).mean() > 0.8)
    True

    A normalizing flow, early-stopped on held-out codes:

    >>> flow = CoefficientPrior("flow", hidden_features=(16,), max_iter=5,
    ...                         random_state=0).fit(codes)
    >>> flow.sample(5, random_state=0).shape
    (5, 3)
    >>> len(flow.validation_scores_) == flow.n_iter_
    True

    Gaussianization layers let a Gaussian fit sparse (heavy-tailed) codes:

    >>> sparse = rng.laplace(size=(2000, 3)) @ rng.normal(size=(3, 3))
    >>> plain = CoefficientPrior(random_state=0).fit(sparse[:1500])
    >>> layered = CoefficientPrior(gaussianize=2, random_state=0).fit(sparse[:1500])
    >>> bool(layered.score(sparse[1500:]) > plain.score(sparse[1500:]))
    True
    """

    _parameter_constraints: dict = {
        "kind": [StrOptions(set(DENSITIES))],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
        "shrinkage": [
            None,
            StrOptions({"ledoit_wolf", "oas"}),
            Interval(Real, 0, 1, closed="both"),
        ],
        "bandwidth": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"scott", "silverman"}),
        ],
        "reg_covar": [Interval(Real, 0, None, closed="left")],
        "pca_dim": [None, Interval(Integral, 1, None, closed="left")],
        "whiten": ["boolean"],
        "gaussianize": [Interval(Integral, 0, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "chain_start": [StrOptions({"data", "sequential"})],
        "n_gibbs_sweeps": [Interval(Integral, 1, None, closed="left")],
        "burn_in": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "em_max_iter": [Interval(Integral, 1, None, closed="left")],
        "smoothing": [Interval(Real, 0, 1, closed="right")],
        "overlap_power": [Interval(Real, 0, None, closed="left")],
        "coefficient_model": [StrOptions({"em", "regression"})],
        "class_guidance": [Interval(Real, 0, None, closed="left")],
        "flow_type": [StrOptions(set(FLOWS))],
        "n_transforms": [Interval(Integral, 1, None, closed="left")],
        "hidden_features": [tuple, list],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": DEVICE_CONSTRAINT,
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        kind="gaussian",
        *,
        n_components=1,
        covariance_type="full",
        shrinkage=None,
        bandwidth="scott",
        reg_covar=1e-6,
        pca_dim=None,
        whiten=False,
        gaussianize=0,
        temperature=1.0,
        chain_start="data",
        n_gibbs_sweeps=5,
        burn_in="auto",
        em_max_iter=10,
        overlap_power=2.0,
        coefficient_model="em",
        class_guidance=8.0,
        smoothing=0.05,
        flow_type="maf",
        n_transforms=6,
        hidden_features=(512,),
        max_iter=100,
        batch_size=256,
        learning_rate=4e-3,
        weight_decay=0.5,
        validation_fraction=0.1,
        n_iter_no_change=5,
        device="auto",
        verbose=0,
        random_state=None,
    ):
        self.kind = kind
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.shrinkage = shrinkage
        self.bandwidth = bandwidth
        self.reg_covar = reg_covar
        self.pca_dim = pca_dim
        self.whiten = whiten
        self.gaussianize = gaussianize
        self.temperature = temperature
        self.chain_start = chain_start
        self.n_gibbs_sweeps = n_gibbs_sweeps
        self.burn_in = burn_in
        self.em_max_iter = em_max_iter
        self.overlap_power = overlap_power
        self.coefficient_model = coefficient_model
        self.class_guidance = class_guidance
        self.smoothing = smoothing
        self.flow_type = flow_type
        self.n_transforms = n_transforms
        self.hidden_features = hidden_features
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the density to codes ``X`` (one density per class when ``y`` is given).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Codes, one row per image.
        y : array-like of shape (n_samples,), default=None
            Class labels; each class needs at least 2 samples.

        Returns
        -------
        self : CoefficientPrior
            The fitted prior.
        """
        if is_dask_array(X):
            return self._fit_dask(X, y)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, ensure_min_samples=2)
        self._check_kind_options()
        self._dtype = X.dtype
        X64 = X.astype(np.float64, copy=False)
        self._moments = Moments(X.shape[1], diagonal=True).update(X64)
        self.mean_ = self._moments.mean
        if y is None:
            self.classes_ = self.class_weights_ = None
            self._class_counts = np.array([X.shape[0]], dtype=float)
            self._densities = [self._new_density().fit(X64)]
        else:
            y, self.classes_, counts = check_labels(y, X.shape[0])
            self._class_counts = counts.astype(float)
            self.class_weights_ = counts / counts.sum()
            self._densities = [self._new_density().fit(X64[y == c]) for c in self.classes_]
        self._support_stats = None
        self._store_attributes(X64)
        return self

    def _streaming_refusal(self):
        """Why ``partial_fit`` is unavailable for these parameters (None when it is available)."""
        if self.kind == "gaussian" and self.shrinkage == "ledoit_wolf":
            return ("shrinkage='ledoit_wolf' needs every code at once and cannot be updated "
                    "chunk by chunk, so this prior has no partial_fit; use shrinkage='oas' or "
                    "a float with partial_fit.")
        return None

    @_if_streamable
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, *, classes=None):
        """Update the density with one chunk of codes (online learning).

        The first call starts the density from this chunk; later calls
        update it. Updates are exact for ``"gaussian"`` (``shrinkage`` None,
        a float or ``"oas"``), ``"diagonal"``, ``"kde"`` and
        ``"sparse_support"``: a stream of chunks gives the density fitted on
        their union. With ``shrinkage="ledoit_wolf"``, whose shrinkage needs
        every code at once, the prior has no ``partial_fit`` (accessing it
        raises an AttributeError, also a ValueError, that says so).
        ``"gmm"`` is updated by online EM from its previous
        parameters (it is initialised by a full EM on the first chunk, which
        should therefore hold codes of every mode). ``"flow"`` continues
        training its flow on each chunk (a fresh Adam, up to ``max_iter``
        epochs early-stopped on ``validation_fraction`` of the chunk) with
        the whitening learned on the first chunk, which should also hold
        codes of every mode. With ``pca_dim`` or ``gaussianize`` the
        projection and the layers are learned on the first chunk and then
        kept.

        Parameters
        ----------
        X : array-like of shape (n_chunk, n_features)
            A chunk of codes.
        y : array-like of shape (n_chunk,), default=None
            Class labels of the chunk (a class-conditional density).
        classes : array-like, default=None
            Every class of the stream, given on the first call with ``y``
            (else the classes of its ``y`` are all the stream may hold);
            optional, and unchanged, afterwards.

        Returns
        -------
        self : CoefficientPrior
            The updated prior.

        Examples
        --------
        >>> import numpy as np
        >>> from skspectral import CoefficientPrior
        >>> codes = np.random.RandomState(0).normal(size=(300, 2))
        >>> prior = CoefficientPrior()
        >>> for chunk in np.array_split(codes, 3):
        ...     prior = prior.partial_fit(chunk)
        >>> bool(np.allclose(prior.covariance_, CoefficientPrior().fit(codes).covariance_))
        True
        """
        first = not hasattr(self, "n_features_in_")
        # Labels first: a refused first call must leave the prior unfitted.
        y, classes = check_partial_labels(
            y, classes, _num_samples(X), type(self).__name__, first=first,
            known=getattr(self, "classes_", None),
        )
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=first)
        if first:
            self._check_kind_options()
            self._start_stream(X, classes)
        X64 = X.astype(np.float64, copy=False)
        self._moments.update(X64)
        self.mean_ = self._moments.mean
        if classes is None:
            self._class_counts[0] += X.shape[0]
            self._densities[0].partial_fit(X64)
        else:
            for i, c in enumerate(classes):
                rows = X64[y == c]
                if rows.shape[0]:
                    self._class_counts[i] += rows.shape[0]
                    self._densities[i].partial_fit(rows)
            self.class_weights_ = self._class_counts / self._class_counts.sum()
        self._store_attributes(X64, streamed=True)
        return self

    def _start_stream(self, X, classes):
        self._dtype = X.dtype
        self._moments = Moments(X.shape[1], diagonal=True)
        self.classes_ = classes
        n_densities = 1 if classes is None else len(classes)
        self._class_counts = np.zeros(n_densities)
        self.class_weights_ = None if classes is None else np.zeros(n_densities)
        self._densities = [self._new_density() for _ in range(n_densities)]
        self._support_stats = None

    def _fit_dask(self, X, y):
        """One pass of :meth:`partial_fit` over the blocks of a dask array, in order.

        A refused block (NaN, infinity) leaves the prior fitted before as it was.
        """
        with restore_on_failure(self):
            X, y, blocks, classes = start_dask_fit(self, X, y)
            for i, rows in enumerate(blocks):
                self.partial_fit(compute_block(X, i), None if y is None else y[rows],
                                 classes=classes)
        return self

    def _check_kind_options(self):
        if self.kind == "sparse_support":
            # Options that re-project or rescale the codes; the support density
            # needs them sparse and draws its magnitudes by EM.
            for name, off in (("pca_dim", None), ("whiten", False), ("gaussianize", 0),
                              ("temperature", 1.0)):
                if getattr(self, name) != off:
                    raise ValueError(
                        f"The {name!r} parameter cannot be used with kind='sparse_support', "
                        f"whose density lives on the sparse codes themselves; use {name}={off}."
                    )
        if self.kind == "flow":
            check_hidden_features(self.hidden_features)

    def _new_density(self):
        density = DENSITIES[self.kind](self)
        if self.gaussianize:
            density = Gaussianized(density, self.gaussianize, self.random_state)
        whiten = self.whiten or self.gaussianize > 0  # the layers' rotations need white codes
        if self.pca_dim is not None or whiten:
            density = Projected(density, self.pca_dim, self.random_state, whiten)
        return density

    def _store_attributes(self, X, streamed=False):
        self._store_estimator()
        self._store_flow_attributes()
        single = self._densities[0]
        if self.classes_ is None and isinstance(single, GaussianDensity):
            self.covariance_ = single.covariance
        if self.kind == "sparse_support" and self.classes_ is None:
            self.support_marginals_, self.support_pairwise_ = single.marginals, single.pairwise
            self.support_classifier_ = None
        elif self.kind == "sparse_support":
            # Per-class densities hold per-class statistics; these are of all codes.
            stats = self._support_stats if streamed else None
            self._support_stats = statistics_of_codes(X, stats)
            self.support_marginals_, self.support_pairwise_ = self._support_stats.marginals(
                self.smoothing
            )
            self.support_classifier_ = self._fit_support_classifier()
        else:
            self.__dict__.pop("support_classifier_", None)

    def _fit_support_classifier(self):
        # Fitted on the supports the class densities keep, so that a stream
        # refits it on all codes seen and ends with the classifier of fit.
        fitted = self._fitted_densities()
        if self.class_guidance == 0 or fitted.size < 2:
            return None
        signed = {int(i): self._densities[i].sampler["signed"] for i in fitted}
        return fit_support_classifier(signed, 2 * self.n_features_in_)

    def _guide(self, label):
        """The :class:`Guide` of draws of class ``label`` (None when unguided)."""
        classifier = getattr(self, "support_classifier_", None)
        if classifier is None or label is None or self.class_guidance == 0:
            return None
        index = int(np.flatnonzero(self.classes_ == label)[0])
        column = int(np.flatnonzero(classifier.classes_ == index)[0])
        return Guide(classifier, column, float(self.class_guidance))

    def _store_flow_attributes(self):
        # A refit with another kind drops the training record of a flow.
        if self.kind != "flow":
            for name in FLOW_ATTRIBUTES:
                self.__dict__.pop(name + "_", None)
            return
        flows = [_innermost(d) for d in self._densities]
        for name in FLOW_ATTRIBUTES:
            values = [getattr(flow, name, None) for flow in flows]
            setattr(self, name + "_", values[0] if self.classes_ is None else values)

    def _fitted_densities(self):
        """Indices of the densities that have seen codes (a stream's class may not have yet)."""
        counts = getattr(self, "_class_counts", None)
        return np.arange(len(self._densities)) if counts is None else np.flatnonzero(counts)

    def _store_estimator(self):
        estimators = [getattr(d, "estimator", None) for d in self._densities]
        self.estimator_ = estimators[0] if self.classes_ is None else estimators

    def __getstate__(self):
        # estimator_ is the densities' own estimators: saved once, with them
        # (a kernel density saves its codes rather than its KDTree).
        state = super().__getstate__()
        state.pop("estimator_", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if hasattr(self, "_densities"):
            self._store_estimator()

    def get_mixture(self):
        """The density as a Gaussian mixture (weights, means, covariances).

        Models use this to compute exact marginal likelihoods (for example
        through the Woodbury identity) and to fold draws into their
        synthesis, for ``"gaussian"``, ``"diagonal"`` and ``"gmm"`` priors.
        A class-conditional prior is the mixture of its classes, weighted by
        their training frequencies.

        Returns
        -------
        weights : ndarray of shape (n_components,)
        means : ndarray of shape (n_components, n_features)
        covariances : ndarray of shape (n_components, n_features, n_features)

        Raises
        ------
        ValueError
            For ``kind="kde"`` and ``"sparse_support"``, which are not finite
            Gaussian mixtures.
        """
        check_is_fitted(self)
        fitted = self._fitted_densities()
        parts = [self._densities[i].mixture() for i in fitted]
        if parts[0] is None:
            raise ValueError(f"get_mixture() is not defined for kind={self.kind!r}.")
        class_weights = np.ones(1) if self.classes_ is None else self.class_weights_[fitted]
        weights = np.concatenate([w * cw for (w, _, _), cw in zip(parts, class_weights)])
        means = np.concatenate([m for _, m, _ in parts])
        covariances = np.concatenate([c for _, _, c in parts])
        return weights, means, covariances

    def score_samples(self, X):
        """Log-density of each code (the mixture over classes when fitted with ``y``).

        For ``kind="sparse_support"`` the density is over signed supports
        and their coefficients: ``log p(S) + log p(c_S | S)``, with respect
        to counting measure over the supports ``S`` (sets of ``k`` signed
        atoms, ``k`` the most non-zeros of a training code) times Lebesgue
        measure on the ``k`` non-zero coefficients. ``p(S) = exp(-E(S)) / Z``
        is the stationary law of the Gibbs sampler's Markov network (what
        ``chain_start="sequential"`` draws after long burn-in; short chains
        from training supports and class guidance draw from other laws, which
        the score does not describe). ``log Z`` is computed once per fitted
        density and cached: summed exactly for small networks, otherwise
        exactly over the training supports and the neighbourhoods of the
        most probable ones plus annealed importance sampling (from the
        independent-support model, seeded by ``random_state``) for the rest.
        ``p(c_S | S)`` is the density of the sampler's positive magnitudes:
        the support's Gaussian (fitted by EM, or the per-atom regressions of
        ``coefficient_model="regression"``) times the factor of its re-draws
        until positive. A code with other than ``k`` non-zeros has density 0
        (``-inf``): the model never draws it, bar the rare draws whose last
        re-draw is clipped to 0, which form a part with no density on ``k``
        coefficients.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Codes.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        X = X.astype(np.float64, copy=False)
        fitted = self._fitted_densities()
        scores = [self._densities[i].score_samples(X) for i in fitted]
        if self.classes_ is None:
            return scores[0]
        log_weights = np.log(self.class_weights_[fitted])[:, None]
        return logsumexp(np.stack(scores) + log_weights, axis=0)

    def score(self, X, y=None):
        """Mean log-likelihood of the codes ``X`` (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Codes.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    _sample_params = ("return_supports",)
    #: Read by ``sample``, so it may be set after ``fit`` without refitting.
    _sampling_parameters = ("temperature",)

    def _sample(self, n_samples, y, rng, return_supports=False):
        if return_supports and self.kind != "sparse_support":
            raise ValueError(
                f"sample(return_supports=True) needs kind='sparse_support'; this prior is "
                f"{self.kind!r}."
            )
        labels = draw_labels(self.classes_, self.class_weights_, n_samples, y, rng,
                             type(self).__name__)
        self._check_classes_seen(labels)
        if labels is None:
            groups = [(slice(None), n_samples, self._densities[0], None)]
        else:
            groups = [(idx, idx.size, density, c) for idx, density, c in
                      zip((np.flatnonzero(labels == c) for c in self.classes_), self._densities,
                          self.classes_)]
        codes = np.empty((n_samples, self.n_features_in_))
        supports = []
        for idx, count, density, label in groups:
            if not count:
                continue
            # Sparse-support densities take a guide; the others a temperature.
            if self.kind == "sparse_support":
                guide = self._guide(label)
                options = {} if guide is None else {"guide": guide}
            else:
                options = {"temperature": self.temperature}
            if return_supports:
                values, drawn = density.sample_supports(count, rng, **options)
                supports.append((idx, drawn))
            else:
                values = density.sample(count, rng, **options)
            codes[idx] = values
        codes = codes.astype(self._dtype, copy=False)
        return (codes, self._gather_supports(supports, n_samples)) if return_supports else codes

    def _check_sample_call(self, n_samples, y, random_state, params):
        checked = super()._check_sample_call(n_samples, y, random_state, params)
        # A temperature set after fit must still suit the kind.
        self._check_kind_options()
        return checked

    def _check_classes_seen(self, labels):
        if labels is None:
            return
        empty = set(self.classes_[self._class_counts == 0].tolist()) if hasattr(
            self, "_class_counts") else set()
        asked = empty.intersection(np.unique(labels).tolist())
        if asked:
            raise ValueError(
                f"y={sorted(asked, key=repr)[0]!r} is a class of the stream that no "
                "partial_fit call has given codes of yet; it cannot be sampled."
            )

    def _gather_supports(self, parts, n_samples):
        # Classes can differ in support size: shorter supports end with -1 (no
        # atom). The width is the largest over all classes, not over those
        # drawn, so every batch of a streamed draw has the same shape.
        width = max(self._densities[i].n_nonzero_coefs for i in self._fitted_densities())
        supports = np.full((n_samples, width), -1, dtype=np.int64)
        for idx, drawn in parts:
            supports[idx, : drawn.shape[1]] = drawn
        return supports

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags = None
        return tags


def _innermost(density):
    """The density inside any projection or Gaussianization wrapping it."""
    while hasattr(density, "density"):
        density = density.density
    return density


#: A default mixture keeps at least this many codes per component of the
#: smallest class, and at least as many as the codes have dimensions (a
#: full covariance needs them): fewer, and EM fits components to a handful
#: of codes, whose samples are then near-copies of training images.
CODES_PER_COMPONENT = 5

#: Components of a default mixture (per class with labels). On MNIST, 30
#: components drew more recognisable samples than 20 over both the codes of
#: 64 spectral atoms and a convolutional coder's codes through PCA(32), and
#: held-out log-likelihood picks 30 over 20 and 40 for the spectral codes
#: (see the guide on choosing a prior).
MIXTURE_COMPONENTS = 30


#: ``reg_covar`` of a default mixture on whitened codes, a fraction of the
#: codes' own covariance. On the codes of 64 spectral atoms of MNIST digits
#: (30 components, three draws of 1,000), 1e-3 drew the most recognisable
#: samples: 0.851 confident against 0.845 with 1e-2 and 0.825 for the same
#: mixture on raw codes with an absolute 1e-6.
WHITENED_REG_COVAR = 1e-3


def mixture_prior(y, codes_shape, *, n_components=MIXTURE_COMPONENTS, pca_dim=None,
                  whiten=False):
    """The Gaussian-mixture prior a model uses by default, sized to its training codes.

    Parameters
    ----------
    y : array-like of shape (n_codes,) or None
        Class labels the prior is fitted with (each class gets its mixture).
    codes_shape : tuple of (int, int) or None
        Shape of the training codes; None (a stream of unknown size) keeps
        ``n_components``.
    n_components : int, default=MIXTURE_COMPONENTS
        Components per mixture when the data allow it.
    pca_dim : int or None, default=None
        Passed to :class:`CoefficientPrior`.
    whiten : bool, default=False
        Fit on whitened codes with ``reg_covar=WHITENED_REG_COVAR``
        (relative to the codes' covariance) instead of the absolute 1e-6.

    Returns
    -------
    prior : CoefficientPrior
        ``kind="gmm"`` with at most one component per
        ``max(CODES_PER_COMPONENT, dimension)`` codes of the smallest class,
        ``dimension`` that of the codes the mixture models.
    """
    if codes_shape is not None:
        n_codes, width = codes_shape
        smallest = n_codes if y is None else int(np.unique(y, return_counts=True)[1].min())
        dimension = width if pca_dim is None else min(width, pca_dim)
        per_component = max(CODES_PER_COMPONENT, dimension)
        n_components = max(1, min(n_components, smallest // per_component))
    relative = {"whiten": True, "reg_covar": WHITENED_REG_COVAR} if whiten else {}
    return CoefficientPrior("gmm", n_components=n_components, pca_dim=pca_dim, **relative)
