"""SpectralDictionary: learned modulated-sinusoid atoms with an STFT loss.

Implements "Spectral Dictionary Learning for Generative Image Modeling"
(Kiruluta): an image flattened to a signal ``x(t)`` is a mix of K atoms
``s_i(t) = softplus(A_i + dA_i(t)) sin(2 pi softplus(f_i + df_i(t)) t / T +
phi_i + dphi_i(t))`` whose slow drifts come from a small network shared by
all atoms. Beyond the paper: codes are the exact ridge solution through the
current atoms at every step (variable projection), the data are centred, and
``score`` is the exact marginal likelihood of the linear-Gaussian reading.
"""

import copy
import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import (
    DEVICE_CONSTRAINT,
    FLOAT_DTYPES,
    N_JOBS_CONSTRAINT,
    init_parameters,
    safe_cholesky,
    seed_from,
    threads,
    torch_generator,
)
from .._backend._dask import is_dask_array
from ..base import (
    BaseDictionaryModel,
    LinearRange,
    check_labels,
    check_loss_growth,
    epoch_means,
    train_epochs,
)
from ..prior._estimator import mixture_prior
from ..utils import check_image_shape
from ._atoms import (
    Modulation,
    atom_waveforms,
    signal_order,
    signal_positions,
    softplus_inv,
    stft_magnitude,
)
from ._ridge import gram_cholesky, ridge_codes_torch, ridge_projection, ridge_transform, synthesize

#: Fewer images than batch_size * this: smaller batches, so training still moves.
MIN_STEPS_PER_EPOCH = 10

#: fit's cosine schedule ends at this fraction of ``learning_rate``; partial_fit
#: after fit goes on at that step size.
FINAL_RATE_FRACTION = 0.05

#: Below this many multiply-adds per training step torch runs single-threaded:
#: thread start-up and spinning cost more than the arithmetic they share.
SMALL_STEP_FLOPS = 5e6


class SpectralDictionary(BaseDictionaryModel):
    """Dictionary of learned, modulated sinusoidal atoms (a generative image model).

    Each flattened image ``x`` (a 1-D signal of length ``T = n_features``)
    is approximated by ``mean_ + w @ components_``, where row ``i`` of
    ``components_`` is the atom

    ``s_i(t) = softplus(A_i + dA_i(t)) * sin(2 pi softplus(f_i + df_i(t)) t / T
    + phi_i + dphi_i(t))``

    with learned base amplitude, frequency and phase and drifts ``dA, df,
    dphi`` produced by a small network of ``t`` shared by all atoms. Training
    alternates, per mini-batch, the exact ridge codes through the current
    atoms with an Adam step on the atoms and the network, minimising the mean
    squared error plus ``stft_weight`` times the L1 distance between STFT
    magnitudes. A prior fitted on the training codes makes the model
    generative: ``sample`` draws ``w* ~ prior_`` and returns ``mean_ + w*
    @ components_``.

    Parameters
    ----------
    n_atoms : int, default=256
        Number of atoms K. Clipped (with a warning) to ``n_features``, beyond
        which extra atoms cannot add anything.
    modulation_width : int, default=128
        Hidden width of the modulation network.
    stft_weight : float, default=0.05
        Weight of the STFT-magnitude term of the loss (0 disables it).
    n_fft : int, default=64
        STFT window length (clipped to ``n_features``).
    hop_length : int, default=16
        STFT hop (clipped to the window length).
    alpha : float, default=1e-3
        Ridge penalty on the codes in training and ``transform``.
    prior : estimator or None, default=None
        Density over codes, cloned and fitted on the training codes as
        ``prior_``; with ``y`` it is fitted class-conditionally. None uses
        ``CoefficientPrior("gmm", n_components=30, whiten=True,
        reg_covar=1e-3)``, a 30-component Gaussian mixture on whitened
        codes (fewer components when the smallest class has fewer than 30
        codes per dimension of the codes). On MNIST (64 atoms) it draws
        digits a classifier recognises with probability >= 0.9 in 84 % of
        samples, against 55 % for one Gaussian, and with labels 95 % of
        samples are recognised as the class asked for, against 92 %.
        ``score`` needs a prior with ``get_mixture`` (``"gaussian"``,
        ``"diagonal"``, ``"gmm"``).
    max_iter : int, default=10
        Maximum number of epochs (passes over the data).
    batch_size : int, default=256
        Images per Adam step; reduced on small data sets so that every epoch
        makes at least 10 steps.
    learning_rate : float, default=1e-2
        Adam step size.
    tol : float, default=1e-4
        Training stops when an epoch lowers the loss by less than
        ``tol`` times its previous value.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of the flattened images. The modulation
        network then also reads each pixel's row, column and channel, and
        with ``C > 1`` the atoms are waveforms over the image read one
        channel's raster after another (``components_`` stay in the layout
        of ``X``): on CIFAR-10 (256 atoms) the held-out reconstruction error
        falls from 0.0045 to 0.0023, PCA's. None: any ``n_features``, read
        as given.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        Where training runs; the fitted model keeps it (``device_``) for
        ``transform``, ``inverse_transform`` and ``sample``.
    n_jobs : int or None, default=None
        Threads of CPU training: None means 1 unless a
        :func:`joblib.parallel_config` context says otherwise, -1 all cores.
        Tiny problems always use 1.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial phases, the network and the batch order.
    verbose : int, default=0
        Show a progress bar with the loss.

    Attributes
    ----------
    components_ : ndarray of shape (n_atoms, n_features)
        The evaluated atoms, sorted by increasing base frequency.
    amplitudes_ : ndarray of shape (n_atoms,)
        Base amplitudes ``softplus(A_i)``.
    frequencies_ : ndarray of shape (n_atoms,)
        Base frequencies ``softplus(f_i) / T`` in cycles per sample (Nyquist
        is 0.5), increasing.
    phases_ : ndarray of shape (n_atoms,)
        Base phases ``phi_i`` in radians, wrapped to ``[0, 2 pi)``.
    modulation_ : torch.nn.Module
        The trained modulation network (on the CPU): given the place
        ``t / T`` in the signal of every feature, it returns their
        ``(T, 3, n_atoms_)`` drifts. With ``image_shape`` it also reads each
        pixel's row, column and channel.
    base_frequencies_ : ndarray of shape (n_atoms,)
        The pre-softplus base frequencies ``f_i``: the instantaneous
        frequency of atom ``i`` is ``softplus(f_i + df_i(t)) / T``.
    mean_ : ndarray of shape (n_features,)
        Per-feature training mean (the data are centred); after
        ``partial_fit``, the exact running mean of every row seen.
    n_samples_seen_ : int
        Rows ``mean_`` averages: ``n_samples`` after ``fit``, plus the rows
        of every ``partial_fit`` chunk (a row seen twice counts twice).
    noise_ : RangeNoise
        The Gaussian noise of ``score``'s density, off the span of the atoms:
        one variance, the mean squared training residual per dimension of
        the complement; after ``partial_fit``, over the rows seen, each
        chunk's residual taken just after its update.
    prior_ : estimator
        The fitted prior over codes.
    n_atoms_ : int
        Number of atoms actually used.
    n_iter_ : int
        Epochs run; ``partial_fit`` adds one per chunk (one pass over it).
    classes_ : ndarray or None
        Classes seen in ``fit`` (None without ``y``); with them ``prior_`` is
        class-conditional and ``sample(y=...)`` draws a chosen class.
    device_ : torch.device
        The device the model was fitted on and runs on (see :meth:`to`).
    loss_curve_ : list of float
        Mean training loss per epoch; ``partial_fit`` appends the mean loss
        of its pass over the chunk.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit`` (only when X has string names).

    See Also
    --------
    sklearn.decomposition.PCA : The optimal linear dictionary of K atoms.
    skspectral.CoefficientPrior : Densities over codes.

    Notes
    -----
    Streaming: :meth:`partial_fit` makes one pass of Adam steps over each
    chunk (batches of ``batch_size``, fewer rows per batch for chunks under
    ``10 * batch_size`` rows) and keeps the optimiser's state between calls.
    The step size is constant: the cosine decay of :meth:`fit` needs the
    total number of steps, which a stream does not know. A stream started by
    ``partial_fit`` steps by ``learning_rate``; one that continues a
    :meth:`fit` starts from the fitted atoms with a fresh optimiser and
    steps by ``learning_rate / 20``, where the decay of ``fit`` ended, so
    that it refines the atoms rather than shaking them out of their optimum.
    A copied or saved model keeps no optimiser: loaded, it continues from
    its fitted atoms with a fresh one, at the step size it had. Each chunk
    is centred by the exact running mean of every row seen so far
    (``mean_``, updated before the chunk's step), so the atoms are learned
    on data centred by that running mean. ``fit`` on a
    :class:`dask.array.Array` runs ``max_iter`` such epochs over its blocks
    (one block in memory at a time) and then fits the prior on the codes of
    every block.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skspectral import SpectralDictionary
    >>> X = load_digits().data[:200] / 16
    >>> model = SpectralDictionary(n_atoms=16, max_iter=5, random_state=0).fit(X)
    >>> model.components_.shape
    (16, 64)
    >>> model.transform(X[:3]).shape
    (3, 16)
    >>> model.sample(4, random_state=0).shape
    (4, 64)
    """

    # The stream holds torch optimisers and a generator (see the base).
    _stream_is_saved = False

    _parameter_constraints: dict = {
        "n_atoms": [Interval(Integral, 1, None, closed="left")],
        "modulation_width": [Interval(Integral, 1, None, closed="left")],
        "stft_weight": [Interval(Real, 0, None, closed="left")],
        "n_fft": [Interval(Integral, 2, None, closed="left")],
        "hop_length": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "prior": [None, HasMethods(["fit", "sample"])],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "image_shape": [None, tuple, list],
        "device": DEVICE_CONSTRAINT,
        "n_jobs": N_JOBS_CONSTRAINT,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    _sample_params = ("frequency_gain",)

    def __init__(
        self,
        n_atoms=256,
        *,
        modulation_width=128,
        stft_weight=0.05,
        n_fft=64,
        hop_length=16,
        alpha=1e-3,
        prior=None,
        max_iter=10,
        batch_size=256,
        learning_rate=1e-2,
        tol=1e-4,
        image_shape=None,
        device="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_atoms = n_atoms
        self.modulation_width = modulation_width
        self.stft_weight = stft_weight
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.alpha = alpha
        self.prior = prior
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.tol = tol
        self.image_shape = image_shape
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the atoms, then fit the prior on the training codes.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            Flattened images (any signals of length ``n_features``); a dask array is
            streamed block by block (see Notes).
        y : array-like of shape (n_samples,), default=None
            Class labels: the prior is then class-conditional
            (``sample(y=...)``).

        Returns
        -------
        self : SpectralDictionary
            The fitted model.
        """
        if is_dask_array(X):
            return self._fit_dask(X, y)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, ensure_min_samples=2)
        if y is not None:
            y = check_labels(y, X.shape[0])[0]
        if self.image_shape is not None:
            check_image_shape(self.image_shape, X.shape[1])
        device = self._resolve_fit_device()
        n_samples, n_features = X.shape
        self.n_atoms_ = self._effective_n_atoms(n_features)
        rng = check_random_state(self.random_state)
        generator = torch_generator(rng)
        self.mean_ = X.mean(axis=0)
        self.n_samples_seen_ = n_samples
        batch_size = self._effective_batch_size(n_samples)
        with threads(self._training_n_jobs(batch_size, n_features)):
            params, modulation = self._init_params(n_features, rng, generator, device)
            trainer = self._new_trainer(params, modulation, device, self.learning_rate)
            # Cosine decay to 5% of the step size: large steps move frequencies
            # early, small ones settle the subspace at the end.
            n_steps = self.max_iter * math.ceil(n_samples / batch_size)
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
                trainer["optimizer"], T_max=max(n_steps, 1),
                eta_min=FINAL_RATE_FRACTION * self.learning_rate,
            )
            self.loss_curve_ = self._train(
                trainer, X, max_iter=self.max_iter, batch_size=batch_size,
                generator=generator, tol=self.tol, schedule=schedule,
            )
        self.n_iter_ = len(self.loss_curve_)
        self._rate_fraction = FINAL_RATE_FRACTION
        self._store_atoms(params, modulation, X.dtype)
        self._check_frequencies()
        codes = self._encode(X)
        self._fit_prior(codes, y, self._default_prior(y, codes.shape), rng)
        self._store_prior_mixture()
        self._fit_noise(X)
        self._check_samples(X)
        return self

    def _default_prior(self, y=None, codes_shape=None):
        return mixture_prior(y, codes_shape, whiten=True)

    def _effective_batch_size(self, n_samples):
        # Small data sets (or chunks): smaller batches, so training still moves.
        return max(2, min(self.batch_size, math.ceil(n_samples / MIN_STEPS_PER_EPOCH)))

    # ------------------------------------------------------------- streaming
    def _start_stream(self, X, classes, resume):
        rng = check_random_state(self.random_state)
        generator = torch_generator(rng)
        n_features = self.n_features_in_
        if resume:
            # Continue from the fitted atoms (sorted by frequency, as stored),
            # at the step size of what fitted them (_rate_fraction).
            device = self.device_
            params, modulation = self._fitted_params(device)
            dtype = self.components_.dtype
            seen = getattr(self, "n_samples_seen_", X.shape[0])
            mean_sum = self.mean_.astype(np.float64) * seen
        else:
            if self.image_shape is not None:
                check_image_shape(self.image_shape, n_features)
            device = self._resolve_fit_device()
            self.n_atoms_ = self._effective_n_atoms(n_features)
            self.loss_curve_ = []
            # The stream's classes, fixed now: later chunks are checked against
            # them before any prior holds them (fit on a dask array fits the
            # prior after its epochs).
            self.classes_ = classes
            with threads(self._training_n_jobs(self._effective_batch_size(X.shape[0]),
                                               n_features)):
                params, modulation = self._init_params(n_features, rng, generator, device)
            dtype = X.dtype
            seen, mean_sum = 0, np.zeros(n_features)
            self._rate_fraction = 1.0
        self._stream = {
            "rng": rng,
            "generator": generator,
            "trainer": self._new_trainer(params, modulation, device, self._stream_rate()),
            "dtype": dtype,
            # Exact running mean of the rows seen.
            "mean_sum": mean_sum,
            "seen": seen,
            # Loss and rows of every pass of this stream.
            "losses": [],
            "rows": [],
        }

    def _stream_rate(self):
        """The constant step size of partial_fit.

        ``learning_rate`` for a stream started by ``partial_fit``; after
        ``fit``, the step size its cosine decay ended at: a fresh Adam at
        ``learning_rate`` would first shake the converged atoms out of their
        optimum.
        """
        return self.learning_rate * getattr(self, "_rate_fraction", FINAL_RATE_FRACTION)

    def _fitted_params(self, device):
        """Trainable copies of the fitted base parameters and modulation network."""
        # softplus_inv(0) is -inf: amplitudes that underflowed start just above.
        amplitudes = np.maximum(self.amplitudes_.astype(np.float64), 1e-30)
        values = {
            "amplitudes": softplus_inv(amplitudes),
            "frequencies": self.base_frequencies_,
            "phases": self.phases_.astype(np.float64),
        }
        params = {
            name: torch.nn.Parameter(torch.tensor(v, dtype=torch.float32, device=device))
            for name, v in values.items()
        }
        modulation = copy.deepcopy(self.modulation_).to(device=device, dtype=torch.float32)
        modulation.train()
        for p in modulation.parameters():
            p.requires_grad_(True)
        return params, modulation

    def _stream_step(self, X, y):
        stream = self._stream
        n_samples, n_features = X.shape
        # The running mean first: the chunk is centred by the mean of every
        # row seen so far, itself included.
        stream["mean_sum"] = stream["mean_sum"] + X.sum(axis=0, dtype=np.float64)
        stream["seen"] += n_samples
        self.n_samples_seen_ = stream["seen"]
        self.mean_ = (stream["mean_sum"] / stream["seen"]).astype(stream["dtype"])
        batch_size = self._effective_batch_size(n_samples)
        trainer = stream["trainer"]
        for group in trainer["optimizer"].param_groups:
            group["lr"] = self._stream_rate()  # set_params between calls holds
        with threads(self._training_n_jobs(batch_size, n_features)):
            loss = self._train(trainer, X, max_iter=1, batch_size=batch_size,
                               generator=stream["generator"], tol=None)[0]
        stream["losses"].append(loss)
        stream["rows"].append(n_samples)
        self.loss_curve_ = [*self.loss_curve_, loss]
        self.n_iter_ = len(self.loss_curve_)
        # _store_atoms sorts the atoms of the module it gets: a copy, so the
        # optimiser keeps training the modules it holds.
        self._store_atoms(trainer["params"], copy.deepcopy(trainer["modulation"]),
                          stream["dtype"])
        self._check_frequencies()

    def _end_stream_epochs(self):
        # fit on a dask array: one loss per epoch (row-weighted over its
        # blocks), as fit reports, rather than one per block. Epochs, unlike
        # chunks of different images, compare: a loss grown by orders of
        # magnitude means the fit diverged.
        stream = self._stream
        self.loss_curve_ = epoch_means(stream["losses"], stream["rows"], self.max_iter)
        self.n_iter_ = len(self.loss_curve_)
        check_loss_growth(self.loss_curve_, type(self).__name__, self.learning_rate)

    def _prior_updated(self):
        self._store_prior_mixture()

    def _check_frequencies(self):
        # Atoms start below Nyquist and a sane fit keeps them there; above it
        # they alias onto low frequencies and frequencies_ means nothing.
        above = int(np.sum(self.frequencies_ > 0.5))
        if above:
            warnings.warn(
                f"SpectralDictionary diverged: {above} atom(s) moved above the Nyquist "
                "frequency (0.5 cycles per sample). Lower learning_rate (now "
                f"{self.learning_rate:g}).",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _training_n_jobs(self, batch_size, n_features):
        if batch_size * n_features * self.n_atoms_ < SMALL_STEP_FLOPS:
            return 1
        return self.n_jobs

    def _store_prior_mixture(self):
        # Read and factored once here: sample() and score() then cost GEMMs
        # only. None for priors that are not Gaussian mixtures (kde, custom).
        try:
            self._mixture = self.prior_.get_mixture()
        except (AttributeError, ValueError):
            self._mixture = None
        self._prior_chols = (
            None if self._mixture is None else [safe_cholesky(c) for c in self._mixture[2]]
        )
        self._cached_factors = None

    def _effective_n_atoms(self, n_features):
        if self.n_atoms > n_features:
            warnings.warn(
                f"n_atoms={self.n_atoms} is more than n_features={n_features}; using "
                f"n_atoms={n_features} atoms.",
                UserWarning,
                stacklevel=3,
            )
            return n_features
        return self.n_atoms

    def _init_params(self, n_features, rng, generator, device):
        k = self.n_atoms_
        # Base frequencies spread over the whole band (cycles per signal) so
        # atoms start distinct and cannot collapse onto one frequency.
        cycles = (np.arange(k) + 0.5) * (n_features / 2.0) / k
        params = {
            "amplitudes": np.full(k, softplus_inv(1.0)),
            "frequencies": softplus_inv(cycles),
            "phases": rng.uniform(0.0, 2.0 * np.pi, size=k),
        }
        params = {
            name: torch.nn.Parameter(torch.tensor(v, dtype=torch.float32, device=device))
            for name, v in params.items()
        }
        modulation = Modulation(k, self.modulation_width, n_features,
                                image_shape=self.image_shape)
        init_parameters(modulation, generator).start_as_pure_sinusoids()
        return params, modulation.to(device)

    def _new_trainer(self, params, modulation, device, learning_rate):
        """What training keeps between passes: parameters, Adam and fixed tensors."""
        n_features = self.n_features_in_
        n_fft = min(self.n_fft, n_features)
        use_stft = self.stft_weight > 0 and n_features >= 4
        return {
            "params": params,
            "modulation": modulation,
            "device": device,
            "optimizer": torch.optim.Adam(
                list(params.values()) + list(modulation.parameters()), lr=learning_rate
            ),
            "positions": self._signal_positions().to(device),
            "order": self._signal_order(),
            "n_fft": n_fft,
            "hop": min(self.hop_length, n_fft),
            "window": torch.hann_window(n_fft, device=device) if use_stft else None,
        }

    def _train(self, trainer, X, *, max_iter, batch_size, generator, tol, schedule=None):
        """Epochs of Adam steps on ``X`` centred by ``mean_``; the loss of each epoch."""
        # Trained in float32 on purpose (the fitted atoms take the input's
        # dtype): float64 would double the cost for no visible gain.
        params, modulation = trainer["params"], trainer["modulation"]
        optimizer, device, positions = (
            trainer["optimizer"], trainer["device"], trainer["positions"]
        )
        n_fft, hop, window = trainer["n_fft"], trainer["hop"], trainer["window"]
        Xc_t = torch.tensor(np.asarray(X - self.mean_, dtype=np.float32), device=device)
        mean_t = torch.tensor(self.mean_, dtype=torch.float32, device=device)
        order = trainer["order"]
        if order is not None:
            order = torch.as_tensor(order, device=device)

        def in_signal_order(rows):
            return rows if order is None else rows[:, order]

        def step(idx):
            xc = Xc_t[idx.to(device)]
            atoms = atom_waveforms(
                params["amplitudes"], params["frequencies"], params["phases"],
                modulation(positions), positions,
            )
            codes = ridge_codes_torch(xc, atoms, self.alpha)
            recon = codes @ atoms
            loss = torch.mean((xc - recon) ** 2)
            if window is not None:
                spec_x = stft_magnitude(in_signal_order(xc + mean_t), n_fft, hop, window)
                spec_r = stft_magnitude(in_signal_order(recon + mean_t), n_fft, hop, window)
                loss = loss + self.stft_weight * torch.mean(torch.abs(spec_x - spec_r))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
            return float(loss.detach())

        # A hundredth of the loss of reconstructing every image by the mean:
        # a fit that still ends below that loss has not diverged.
        loss_floor = 0.01 * float(torch.mean(Xc_t**2))
        return train_epochs(
            step, X.shape[0], max_iter=max_iter, batch_size=batch_size,
            generator=generator, name=type(self).__name__, verbose=self.verbose, tol=tol,
            learning_rate=self.learning_rate, loss_floor=loss_floor,
        )

    def _signal_order(self):
        return signal_order(self.image_shape, self.n_features_in_)

    def _signal_positions(self):
        """Place ``t / T`` in the signal of every feature (the modulation's input)."""
        return signal_positions(self._signal_order(), self.n_features_in_)

    def _new_module(self, name):
        # Loading a saved model: modulation_'s architecture follows from the
        # parameters and the fitted sizes; its weights come from the file.
        return Modulation(self.n_atoms_, self.modulation_width, self.n_features_in_,
                          image_shape=self.image_shape)

    def _store_atoms(self, params, modulation, dtype):
        n_features = self.n_features_in_
        freqs = torch.nn.functional.softplus(params["frequencies"]).detach().cpu().numpy()
        order = np.argsort(freqs, kind="stable")
        modulation = modulation.cpu()
        modulation.permute_atoms(order)
        modulation.eval()
        for p in modulation.parameters():
            p.requires_grad_(False)
        base = {name: p.detach().cpu()[order] for name, p in params.items()}
        with torch.no_grad():
            positions = self._signal_positions()
            atoms = atom_waveforms(
                base["amplitudes"], base["frequencies"], base["phases"],
                modulation(positions), positions,
            )
        base = {name: v.numpy().astype(np.float64) for name, v in base.items()}
        self.modulation_ = modulation
        self.components_ = atoms.numpy().astype(dtype)
        self.amplitudes_ = np.logaddexp(0.0, base["amplitudes"]).astype(dtype)
        self.base_frequencies_ = base["frequencies"]
        self.frequencies_ = (freqs[order] / n_features).astype(dtype)
        self.phases_ = np.mod(base["phases"], 2 * np.pi).astype(dtype)
        cho = gram_cholesky(self.components_, self.alpha)
        self._projection = ridge_projection(self.components_, cho, np.float64)
        self._offset = self.mean_.astype(np.float64) @ self._projection
        # Draws fold the atoms into cached factors: stale once the atoms change.
        self._cached_factors = None

    # ------------------------------------------------------------ transforms
    @property
    def _n_codes(self):
        return self.n_atoms_

    def _code_width_note(self):
        return f"one per atom: {self.n_atoms_} atoms"


    def _synthesis_device(self):
        # BLAS on the CPU; torch GEMMs on a CUDA device.
        return self.device_ if self.device_.type == "cuda" else None

    def _encode(self, X):
        return ridge_transform(
            X, self._projection.astype(X.dtype, copy=False), self._offset.astype(X.dtype),
            device=self._synthesis_device(),
        )

    def _decode(self, W):
        # In the dtype of the codes: float32 codes give float32 images.
        return synthesize(W, self.components_.astype(W.dtype, copy=False),
                          self.mean_.astype(W.dtype, copy=False),
                          device=self._synthesis_device())

    def transform(self, X):
        """Mixing weights of ``X``: ridge least squares through the atoms.

        Exact (Cholesky of the K x K Gram), batched over rows.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            Flattened images.

        Returns
        -------
        W : ndarray or dask array of shape (n_samples, n_atoms)
            Codes, in the dtype of ``X`` (float32 or float64); a lazy dask
            array, block for block, when ``X`` is one.
        """
        return super().transform(X)

    def inverse_transform(self, X, frequency_gain=None):
        """Synthesise images from codes: ``mean_ + X @ components_``.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_atoms)
            Codes.
        frequency_gain : callable, array-like of shape (n_atoms,) or None
            Re-weights the atoms before synthesis: an array of per-atom gains,
            or a function of ``frequencies_`` (cycles per sample) returning
            them, e.g. ``lambda f: f < 0.1`` keeps only low-frequency atoms.
            See :meth:`band_gain`.

        Returns
        -------
        X_new : ndarray or dask array of shape (n_samples, n_features)
            A lazy dask array, block for block, when ``X`` is one.
        """
        check_is_fitted(self)
        if is_dask_array(X):
            # The gains are checked now, and enter the graph as an array.
            kwargs = {} if frequency_gain is None else {
                "frequency_gain": self._gains(frequency_gain)}
            return self._map_dask("inverse_transform", X, self._n_codes, self.n_features_in_,
                                  **kwargs)
        W = self._check_codes(X)
        if frequency_gain is not None:
            W = (W * self._gains(frequency_gain)).astype(W.dtype, copy=False)
        return self._map_rows(self._decode, W, self.n_features_in_, "inverse_transform")

    def _gains(self, frequency_gain):
        gains = frequency_gain(self.frequencies_) if callable(frequency_gain) else frequency_gain
        gains = np.asarray(gains, dtype=np.float64)
        if gains.shape != (self.n_atoms_,) or not np.all(np.isfinite(gains)):
            raise ValueError(
                "frequency_gain must give one finite gain per atom (shape "
                f"({self.n_atoms_},)); got shape {gains.shape}."
            )
        return gains

    @staticmethod
    def band_gain(low=0.0, high=0.5, gain=1.0, outside=0.0):
        """A ``frequency_gain`` function for one frequency band.

        Parameters
        ----------
        low, high : float, default=0.0, 0.5
            Band edges in cycles per sample (``frequencies_`` units).
        gain : float, default=1.0
            Gain of the atoms whose base frequency lies in ``[low, high)``.
        outside : float, default=0.0
            Gain of the other atoms.

        Returns
        -------
        frequency_gain : callable
            For ``inverse_transform`` and ``sample``.

        Examples
        --------
        >>> import numpy as np
        >>> from skspectral import SpectralDictionary
        >>> SpectralDictionary.band_gain(0.0, 0.1)(np.array([0.05, 0.2]))
        array([1., 0.])
        """

        def frequency_gain(frequencies):
            f = np.asarray(frequencies)
            return np.where((f >= low) & (f < high), gain, outside).astype(np.float64)

        return frequency_gain

    # -------------------------------------------------------------- sampling
    def _sample(self, n_samples, y, rng, frequency_gain=None):
        """Codes ``w* ~ prior_``, then ``mean_ + w* @ components_``.

        For Gaussian-mixture priors (``"gaussian"``, ``"diagonal"``, ``"gmm"``)
        the draw ``w* = mu_k + z L_k^T`` is folded into the synthesis,
        ``mean_ + mu_k S + z (L_k^T S)``, so a large draw costs one GEMM of the
        output's size; other priors, class-conditional draws and priors drawn
        at a temperature other than 1 go through ``prior_.sample``.
        ``frequency_gain`` re-weights the atoms as in :meth:`inverse_transform`.
        """
        gains = None if frequency_gain is None else self._gains(frequency_gain)
        tempered = getattr(self.prior_, "temperature", 1.0) != 1.0
        if self._mixture is None or y is not None or tempered:
            codes = self._check_codes(self._draw_codes(n_samples, y, rng))
            return self._decode(codes if gains is None else (codes * gains).astype(codes.dtype))
        return self._sample_mixture(n_samples, rng, gains)

    def _sampling_factors(self, gains):
        """Per component: ``L_k^T S`` and ``mean_ + mu_k S`` (atoms scaled by gains)."""
        if gains is None and getattr(self, "_cached_factors", None) is not None:
            return self._cached_factors
        _, means, _ = self._mixture
        dtype = self.components_.dtype
        S = self.components_.astype(np.float64)
        if gains is not None:
            S = S * gains[:, None]
        factors = [
            ((chol.T @ S).astype(dtype), (self.mean_ + mu @ S).astype(dtype))
            for chol, mu in zip(self._prior_chols, means)
        ]
        if gains is None:
            self._cached_factors = factors
        return factors

    def _sample_mixture(self, n_samples, random_state, gains):
        weights = self._mixture[0]
        factors = self._sampling_factors(gains)
        seed = seed_from(random_state)
        rng = np.random.default_rng(seed)
        # torch's normal generator is about twice as fast as NumPy's here.
        gen = torch.Generator().manual_seed(seed)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        dtype = self.components_.dtype
        out = np.empty((n_samples, self.n_features_in_), dtype=dtype)
        device = self._synthesis_device()
        start = 0
        # One batch of sample() at most (GenerativeMixin batches the rows).
        for k in np.flatnonzero(counts):
            factor, offset = factors[k]
            z = torch.randn(counts[k], self.n_atoms_, generator=gen)
            synthesize(z.numpy().astype(dtype, copy=False), factor, offset, device=device,
                       out=out[start : start + counts[k]])
            start += counts[k]
        if len(weights) > 1:
            # Blocks are grouped by component; shuffle so any slice of the
            # draw is representative of the whole mixture.
            out = out[rng.permutation(n_samples)]
        return out

    # ---------------------------------------------------------------- density
    def _code_range(self):
        # Images are mean_ + w S + e: the atoms span the range, the codes are
        # its coordinates (least squares; the ridge codes of transform differ
        # by the shrinkage alpha puts on them).
        try:
            return LinearRange(self.components_, self.mean_, owner=type(self).__name__)
        except ValueError as exc:
            raise ValueError(self._no_density_reason()) from exc

    def _no_density_reason(self):
        return (f"{type(self).__name__} has no pixel-space density for score and score_samples: "
                f"its {self.n_atoms_} atoms are linearly dependent (n_atoms above the number of "
                "pixels, or a diverged fit: lower learning_rate), so codes do not determine "
                "images' coordinates; use a smaller n_atoms.")

