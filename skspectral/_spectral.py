"""SpectralDictionary: learned modulated-sinusoid atoms with an STFT loss.

Implements "Spectral Dictionary Learning for Generative Image Modeling"
(Kiruluta): an image flattened to a signal ``x(t)`` is a mix of K atoms
``s_i(t) = softplus(A_i + dA_i(t)) sin(2 pi softplus(f_i + df_i(t)) t / T +
phi_i + dphi_i(t))`` whose slow drifts come from a small network shared by
all atoms. Beyond the paper: codes are the exact ridge solution through the
current atoms at every step (variable projection), the data are centred, and
``score`` is the exact marginal likelihood of the linear-Gaussian reading.
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from joblib import effective_n_jobs
from scipy.special import logsumexp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._backend import DEVICE_CONSTRAINT, check_device, iter_batches, seed_from, torch_rng
from ._backend._spectral_kernels import (
    DEFAULT_CHUNK,
    atom_waveforms,
    gram_cholesky,
    ridge_codes_torch,
    ridge_projection,
    ridge_transform,
    synthesize,
    training_threads,
)
from ._prior import CoefficientPrior
from .utils import check_finite_loss, epoch_progress

_LOG_2PI = math.log(2.0 * math.pi)

#: Fewer images than batch_size * this: smaller batches, so training still moves.
MIN_STEPS_PER_EPOCH = 10


class _Modulation(torch.nn.Module):
    """MLP over the normalised position, giving (dA, df, dphi) for every atom.

    The position enters through fixed Fourier features (geometric
    frequencies from one cycle per signal to Nyquist) so that a small network
    can express drifts at every scale, not only the slow ones a plain MLP of
    ``t`` is biased towards.
    """

    def __init__(self, n_atoms, width, length, n_encoding=16):
        super().__init__()
        top = max(1.0, length / 2.0)
        freqs = np.geomspace(1.0, top, n_encoding) if top > 1 else np.ones(n_encoding)
        self.register_buffer("enc_freqs", torch.tensor(freqs, dtype=torch.float32))
        self.n_atoms = n_atoms
        self.net = torch.nn.Sequential(
            torch.nn.Linear(2 * n_encoding + 1, width),
            torch.nn.SiLU(),
            torch.nn.Linear(width, width),
            torch.nn.SiLU(),
            torch.nn.Linear(width, 3 * n_atoms),
        )
        # Atoms start as pure sinusoids; the drifts grow from zero.
        torch.nn.init.zeros_(self.net[-1].weight)
        torch.nn.init.zeros_(self.net[-1].bias)

    def forward(self, positions):
        angle = 2.0 * math.pi * positions[:, None] * self.enc_freqs
        feats = torch.cat([positions[:, None], torch.sin(angle), torch.cos(angle)], dim=1)
        return self.net(feats).view(-1, 3, self.n_atoms)

    def permute_atoms(self, order):
        """Reorder the atoms' output rows in place (used to sort by frequency)."""
        last = self.net[-1]
        idx = torch.as_tensor(order, dtype=torch.long, device=last.weight.device)
        with torch.no_grad():
            w = last.weight.view(3, self.n_atoms, -1)[:, idx].reshape(3 * self.n_atoms, -1)
            b = last.bias.view(3, self.n_atoms)[:, idx].reshape(-1)
            last.weight.copy_(w)
            last.bias.copy_(b)


def _safe_cholesky(cov):
    cov = np.asarray(cov, dtype=np.float64)
    jitter = 1e-12 * max(float(np.trace(cov)), 1e-300)
    for _ in range(10):
        try:
            return np.linalg.cholesky(cov + jitter * np.eye(len(cov)))
        except np.linalg.LinAlgError:
            jitter *= 100.0
    raise np.linalg.LinAlgError("The prior covariance is not positive definite.")


def _softplus_inv(y):
    y = np.asarray(y, dtype=np.float64)
    return y + np.log(-np.expm1(-y))


def _stft_magnitude(x, n_fft, hop, window):
    return torch.stft(
        x, n_fft=n_fft, hop_length=hop, window=window, center=False,
        normalized=True, return_complex=True,
    ).abs()


class SpectralDictionary(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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
        ``prior_``; None means ``CoefficientPrior("gaussian")``. ``score``
        needs a prior with ``get_mixture`` (``"gaussian"``, ``"diagonal"``,
        ``"gmm"``).
    max_epochs : int, default=10
        Passes over the data.
    batch_size : int, default=256
        Images per Adam step; reduced on small data sets so that every epoch
        makes at least 10 steps.
    learning_rate : float, default=1e-2
        Adam step size.
    tol : float, default=1e-4
        Training stops when an epoch lowers the loss by less than
        ``tol`` times its previous value.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of the flattened images; only used by
        plotting helpers. The model itself works on any ``n_features``.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        Where training (and large synthesis) runs.
    n_jobs : int or None, default=None
        torch threads used by CPU training; None means 1 (scikit-learn's
        convention; one thread is also the fastest choice when the cores are
        shared with other work) and -1 all cores. Tiny problems always use 1.
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
        The trained modulation network (on the CPU); ``modulation_(t / T)``
        returns ``(T, 3, n_atoms_)`` drifts.
    mean_ : ndarray of shape (n_features,)
        Per-feature training mean (the data are centred).
    noise_variance_ : float
        Mean squared training residual per feature (the isotropic noise of
        the probabilistic model used by ``score``).
    prior_ : estimator
        The fitted prior over codes.
    n_atoms_ : int
        Number of atoms actually used.
    n_iter_ : int
        Epochs run.
    loss_curve_ : list of float
        Mean training loss per epoch.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit`` (only when X has string names).

    See Also
    --------
    sklearn.decomposition.PCA : The optimal linear dictionary of K atoms.
    skspectral.CoefficientPrior : Densities over codes.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skspectral import SpectralDictionary
    >>> X = load_digits().data[:200] / 16
    >>> model = SpectralDictionary(n_atoms=16, max_epochs=5, random_state=0).fit(X)
    >>> model.components_.shape
    (16, 64)
    >>> model.transform(X[:3]).shape
    (3, 16)
    >>> model.sample(4, random_state=0).shape
    (4, 64)
    """

    _parameter_constraints: dict = {
        "n_atoms": [Interval(Integral, 1, None, closed="left")],
        "modulation_width": [Interval(Integral, 1, None, closed="left")],
        "stft_weight": [Interval(Real, 0, None, closed="left")],
        "n_fft": [Interval(Integral, 2, None, closed="left")],
        "hop_length": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "prior": [None, HasMethods(["fit", "sample"])],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "image_shape": [None, tuple, list],
        "device": DEVICE_CONSTRAINT,
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

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
        max_epochs=10,
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
        self.max_epochs = max_epochs
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
        X : array-like of shape (n_samples, n_features)
            Flattened images (any signals of length ``n_features``).
        y : None
            Ignored.

        Returns
        -------
        self : SpectralDictionary
            The fitted model.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        if self.image_shape is not None:
            from .utils import check_image_shape

            check_image_shape(self.image_shape, X.shape[1])
        device = check_device(self)
        n_samples, n_features = X.shape
        self.n_atoms_ = self._effective_n_atoms(n_features)
        rng = check_random_state(self.random_state)
        self.mean_ = X.mean(axis=0)

        threads = training_threads(
            effective_n_jobs(self.n_jobs),
            min(self.batch_size, math.ceil(n_samples / MIN_STEPS_PER_EPOCH)),
            n_features, self.n_atoms_, device,
        )
        with torch_rng(rng, device), threads:
            params, modulation = self._init_params(n_features, rng, device)
            self._train(X, params, modulation, device, rng)

        self._store_atoms(params, modulation, X.dtype)
        codes = self._transform(X)
        residual = X - synthesize(codes, self.components_, self.mean_)
        floor = max(1e-6 * float(np.mean(np.var(X, axis=0))), 1e-12)
        self.noise_variance_ = max(float(np.mean(residual.astype(np.float64) ** 2)), floor)
        prior = CoefficientPrior("gaussian") if self.prior is None else self.prior
        self.prior_ = clone(prior).fit(codes)
        self._prior_chols = self._mixture_cholesky()
        self._cached_factors = None
        return self

    def _mixture_cholesky(self):
        # Factored once here: sample() and score() then cost GEMMs only.
        if not hasattr(self.prior_, "get_mixture") or getattr(self.prior_, "kind", None) == "kde":
            return None
        _, _, covariances = self.prior_.get_mixture()
        return [_safe_cholesky(cov) for cov in covariances]

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

    def _init_params(self, n_features, rng, device):
        k = self.n_atoms_
        # Base frequencies spread over the whole band (cycles per signal) so
        # atoms start distinct and cannot collapse onto one frequency.
        cycles = (np.arange(k) + 0.5) * (n_features / 2.0) / k
        params = {
            "amplitudes": np.full(k, _softplus_inv(1.0)),
            "frequencies": _softplus_inv(cycles),
            "phases": rng.uniform(0.0, 2.0 * np.pi, size=k),
        }
        params = {
            name: torch.nn.Parameter(torch.tensor(v, dtype=torch.float32, device=device))
            for name, v in params.items()
        }
        modulation = _Modulation(k, self.modulation_width, n_features).to(device)
        return params, modulation

    def _train(self, X, params, modulation, device, rng):
        n_samples, n_features = X.shape
        X_t = torch.tensor(np.asarray(X, dtype=np.float32), device=device)
        mean_t = torch.tensor(self.mean_, dtype=torch.float32, device=device)
        Xc_t = X_t - mean_t
        positions = torch.arange(n_features, dtype=torch.float32, device=device) / n_features
        n_fft = min(self.n_fft, n_features)
        hop = min(self.hop_length, n_fft)
        use_stft = self.stft_weight > 0 and n_features >= 4
        window = torch.hann_window(n_fft, device=device) if use_stft else None
        optimizer = torch.optim.Adam(
            list(params.values()) + list(modulation.parameters()), lr=self.learning_rate
        )
        # Small data sets still get MIN_STEPS_PER_EPOCH Adam steps per epoch.
        batch_size = max(2, min(self.batch_size, math.ceil(n_samples / MIN_STEPS_PER_EPOCH)))
        # Cosine decay to 5% of the step size: large steps move frequencies
        # early, small ones settle the subspace at the end.
        n_steps = self.max_epochs * math.ceil(n_samples / batch_size)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(n_steps, 1), eta_min=0.05 * self.learning_rate
        )
        self.loss_curve_ = []
        self.n_iter_ = 0
        gen = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        bar = epoch_progress(self.max_epochs, self.verbose, type(self).__name__)
        for epoch in bar:
            order = torch.randperm(n_samples, generator=gen).to(device)
            total, count = 0.0, 0
            for start in range(0, n_samples, batch_size):
                idx = order[start : start + batch_size]
                if idx.numel() < 2 and n_samples >= 2:
                    continue
                xc = Xc_t[idx]
                atoms = atom_waveforms(
                    params["amplitudes"], params["frequencies"], params["phases"],
                    modulation(positions), positions,
                )
                codes = ridge_codes_torch(xc, atoms, self.alpha)
                recon = codes @ atoms
                loss = torch.mean((xc - recon) ** 2)
                if use_stft:
                    spec_x = _stft_magnitude(xc + mean_t, n_fft, hop, window)
                    spec_r = _stft_magnitude(recon + mean_t, n_fft, hop, window)
                    loss = loss + self.stft_weight * torch.mean(torch.abs(spec_x - spec_r))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                value = float(loss.detach())
                check_finite_loss(value, epoch, type(self).__name__)
                total += value * idx.numel()
                count += idx.numel()
            epoch_loss = total / max(count, 1)
            self.loss_curve_.append(epoch_loss)
            self.n_iter_ = epoch + 1
            if self.verbose:
                bar.set_postfix(loss=f"{epoch_loss:.5g}")
            if epoch > 0 and self.loss_curve_[-2] - epoch_loss < self.tol * abs(
                self.loss_curve_[-2]
            ):
                break

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
            positions = torch.arange(n_features, dtype=torch.float32) / n_features
            atoms = atom_waveforms(
                base["amplitudes"], base["frequencies"], base["phases"],
                modulation(positions), positions,
            )
        self.modulation_ = modulation
        self._base_params = {name: v.numpy().astype(np.float64) for name, v in base.items()}
        self.components_ = atoms.numpy().astype(dtype)
        self.amplitudes_ = np.logaddexp(0.0, self._base_params["amplitudes"]).astype(dtype)
        self.frequencies_ = (freqs[order] / n_features).astype(dtype)
        self.phases_ = np.mod(self._base_params["phases"], 2 * np.pi).astype(dtype)
        cho = gram_cholesky(self.components_, self.alpha)
        self._projection = ridge_projection(self.components_, cho, np.float64)
        self._offset = self.mean_.astype(np.float64) @ self._projection

    # ------------------------------------------------------------ transforms
    def _device_for_synthesis(self):
        # CUDA when the model asks for it and it is here (a model fitted on a
        # GPU and unpickled on a CPU-only machine falls back to BLAS).
        if not torch.cuda.is_available():
            return None
        device = self.device
        if isinstance(device, str) and device == "auto":
            return torch.device("cuda")
        device = torch.device(device)
        return device if device.type == "cuda" else None

    def _transform(self, X):
        return ridge_transform(
            X, self._projection.astype(X.dtype, copy=False), self._offset.astype(X.dtype),
            device=self._device_for_synthesis(),
        )

    def transform(self, X):
        """Mixing weights of ``X``: ridge least squares through the atoms.

        Exact (Cholesky of the K x K Gram), batched over rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Flattened images.

        Returns
        -------
        W : ndarray of shape (n_samples, n_atoms)
            Codes, in the dtype of ``X`` (float32 or float64).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self._transform(X)

    def inverse_transform(self, X, frequency_gain=None):
        """Synthesise images from codes: ``mean_ + X @ components_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_atoms)
            Codes.
        frequency_gain : callable, array-like of shape (n_atoms,) or None
            Re-weights the atoms before synthesis: an array of per-atom gains,
            or a function of ``frequencies_`` (cycles per sample) returning
            them, e.g. ``lambda f: f < 0.1`` keeps only low-frequency atoms.
            See :meth:`band_gain`.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        W = check_array(X, dtype=[np.float64, np.float32])
        if W.shape[1] != self.n_atoms_:
            raise ValueError(
                f"X has {W.shape[1]} codes per row, but {type(self).__name__} has "
                f"{self.n_atoms_} atoms."
            )
        if frequency_gain is not None:
            W = W * self._gains(frequency_gain)
        return synthesize(
            W, self.components_, self.mean_, device=self._device_for_synthesis()
        )

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

    def sample(self, n_samples=1, random_state=None, frequency_gain=None):
        """Draw new images: codes ``w* ~ prior_``, then ``mean_ + w* @ components_``.

        For Gaussian-mixture priors (``"gaussian"``, ``"diagonal"``, ``"gmm"``)
        the draw ``w* = mu_k + z L_k^T`` is folded into the synthesis,
        ``mean_ + mu_k S + z (L_k^T S)``, so a large draw costs one GEMM of the
        output's size; other priors go through ``prior_.sample``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of images.
        random_state : int, RandomState instance or None, default=None
            Seed of this draw; None uses the estimator's ``random_state``.
        frequency_gain : callable, array-like or None, default=None
            Per-atom gains applied to the drawn codes (see
            :meth:`inverse_transform`).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
        gains = None if frequency_gain is None else self._gains(frequency_gain)
        random_state = self.random_state if random_state is None else random_state
        if self._prior_chols is None:
            codes = self.prior_.sample(n_samples, random_state=random_state)
            return self.inverse_transform(codes, frequency_gain=gains)
        return self._sample_mixture(n_samples, random_state, gains)

    def _sampling_factors(self, gains):
        """Per component: ``L_k^T S`` and ``mean_ + mu_k S`` (atoms scaled by gains)."""
        if gains is None and getattr(self, "_cached_factors", None) is not None:
            return self._cached_factors
        _, means, _ = self.prior_.get_mixture()
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
        weights = self.prior_.get_mixture()[0]
        factors = self._sampling_factors(gains)
        seed = seed_from(random_state)
        rng = np.random.default_rng(seed)
        # torch's normal generator is about twice as fast as NumPy's here.
        gen = torch.Generator().manual_seed(seed)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        dtype = self.components_.dtype
        out = np.empty((n_samples, self.n_features_in_), dtype=dtype)
        device = self._device_for_synthesis()
        start = 0
        for k in np.flatnonzero(counts):
            factor, offset = factors[k]
            block = out[start : start + counts[k]]
            for sl in iter_batches(counts[k], DEFAULT_CHUNK):
                z = torch.randn(sl.stop - sl.start, self.n_atoms_, generator=gen)
                synthesize(z.numpy().astype(dtype, copy=False), factor, offset,
                           device=device, out=block[sl])
            start += counts[k]
        if len(weights) > 1:
            # Blocks are grouped by component; shuffle so any slice of the
            # draw is representative of the whole mixture.
            out = out[rng.permutation(n_samples)]
        return out

    # ---------------------------------------------------------------- score
    def score_samples(self, X):
        """Exact log-likelihood of each image under the linear-Gaussian model.

        ``w ~ prior_`` (a Gaussian mixture), ``x | w ~ N(mean_ + w @
        components_, noise_variance_ I)``. For each component ``(pi, mu,
        Sigma)`` the marginal is ``N(mean_ + mu S, S^T Sigma S + sigma^2 I)``,
        evaluated through the Woodbury identity with K x K factorisations
        only; the components are combined with logsumexp.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Flattened images.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if self._prior_chols is None:
            raise ValueError(
                "score needs a Gaussian-mixture prior (one with get_mixture); "
                f"prior_ is {type(self.prior_).__name__}."
            )
        weights, means, _ = self.prior_.get_mixture()
        S = self.components_.astype(np.float64)
        t = S.shape[1]
        sigma2 = self.noise_variance_
        gram = S @ S.T
        Xc = X.astype(np.float64) - self.mean_
        proj = Xc @ S.T  # (n, K): the only (n x T) GEMM
        sq = np.einsum("ij,ij->i", Xc, Xc)
        log_terms = []
        for pi, mu, chol_s in zip(weights, means, self._prior_chols):
            m = np.eye(len(mu)) + chol_s.T @ gram @ chol_s / sigma2
            chol_m = np.linalg.cholesky(m)
            log_det = t * math.log(sigma2) + 2.0 * np.log(np.diag(chol_m)).sum()
            # r = x - mean - mu S; |r|^2 and S r from the projections.
            r_proj = proj - gram @ mu
            r_sq = sq - 2.0 * proj @ mu + mu @ gram @ mu
            z = np.linalg.solve(chol_m, chol_s.T @ r_proj.T)
            maha = r_sq / sigma2 - np.einsum("ij,ij->j", z, z) / sigma2**2
            log_terms.append(math.log(pi) - 0.5 * (t * _LOG_2PI + log_det + maha))
        return logsumexp(np.stack(log_terms), axis=0)

    def score(self, X, y=None):
        """Mean log-likelihood of ``X`` per image (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Flattened images.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self):
        return self.n_atoms_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags
