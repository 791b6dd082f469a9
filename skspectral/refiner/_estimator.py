"""SpectrumRefiner: remove the spectral gap between generated and real images."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import (
    DEVICE_CONSTRAINT,
    FLOAT_DTYPES,
    as_numpy,
    as_tensor,
    iter_batches,
    mean_log_magnitude,
    torch_dtype,
    torch_generator,
)
from ..base import DeviceMixin, StrictParamsMixin
from ..utils import check_image_shape
from . import _stig
from ._profile import refine_profile


class SpectrumRefiner(
    StrictParamsMixin, DeviceMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator
):
    """Move the magnitude spectrum of generated images toward that of real ones.

    Generated images differ from real ones in the frequency domain: linear
    and sparse models are over-smooth (missing high frequencies), upsampling
    layers leave grid-like peaks. The refiner learns the real images'
    spectrum in ``fit`` and corrects the magnitude spectrum of generated
    images while keeping each image's phase (its structure).

    Pipeline contract: ``transform`` is the identity (real data flowing
    forward through a :class:`~skspectral.pipeline.GenerativePipeline` is
    not changed) and ``inverse_transform`` refines (samples flowing back
    are corrected). ``refine`` is the same as ``inverse_transform``. So
    ``make_pipeline(SpectrumRefiner(), model, CoefficientPrior()).fit(X)``
    learns the spectrum of ``X`` and ``.sample(n)`` returns refined samples.
    Its output features are its input features
    (``get_feature_names_out``), so ``set_output(transform="pandas")`` works
    on it and on a pipeline holding it.

    Parameters
    ----------
    method : {"profile", "stig"}, default="profile"
        ``"profile"`` (closed form, no training): ``fit`` stores the real
        images' mean log-magnitude spectrum ``M_real`` (per channel and per
        2-D frequency, not radially binned, so anisotropic grid artefacts
        are caught). Refining a set of images multiplies every frequency by
        the real, positive gain ``exp(strength * (M_real - M_gen))``, where
        ``M_gen`` is the mean log-magnitude of the set being refined: at
        ``strength=1`` the set's mean log-magnitude becomes ``M_real``
        exactly. Pass the whole set of samples at once (``M_gen`` of a
        single image is that image's own spectrum).
        ``"stig"`` (learned, Lee, Jung and Seo, AAAI 2024): ``fit(X, y)``
        (an image is real where ``y == 1`` or ``True``, generated for every
        other label, such as 0) works on the centred ``log(1 + |FFT2|)``
        spectra, standardised by the real mean.
        It first learns a spectral filter profile (the mean shift from the
        generated to the real spectra, per channel and frequency), then
        trains a small convolutional translator (with the frequency
        coordinates as extra channels) on the shifted spectra, with an
        adversarial loss, PatchNCE and spectral losses (power spectral
        density, low-frequency consistency, identity). Refining applies
        both image by image, so any number of images can be refined.
    image_shape : tuple of int, default=None
        ``(H, W)`` or ``(H, W, C)`` of the flattened images. ``None`` treats
        each row as a 1-D signal (a 1-D FFT along the features), which is
        what tabular data gets.
    strength : float in [0, 1], default=1.0
        0 leaves images unchanged, 1 applies the full correction; in
        between, the log-magnitude is interpolated.
    clip : bool, default=True
        Clip refined images to the range of the real data seen in ``fit``.
    max_iter : int, default=10
        Training epochs over the generated images (``"stig"`` only).
    batch_size : int, default=32
        Mini-batch size for training; refining uses batches of
        ``16 * batch_size`` images so memory stays bounded.
    learning_rate : float, default=2e-4
        Adam learning rate (``"stig"`` only).
    n_filters : int, default=16
        Width of the translator and discriminator (``"stig"`` only).
    nce_weight, psd_weight, low_freq_weight, identity_weight : float, default=1.0
        Weights of the PatchNCE, power-spectral-density, low-frequency
        consistency and identity losses (``"stig"`` only); the adversarial
        loss has weight 1.
    verbose : int, default=0
        Show a progress bar over epochs (``"stig"`` only).
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        Where the FFTs and the networks run; the fitted refiner keeps it
        (``device_``).
    random_state : int, RandomState instance or None, default=None
        Seeds the network initialisation and mini-batches (``"stig"``).

    Attributes
    ----------
    image_shape_ : tuple of int
        ``(H, W, C)`` used for the FFTs (``(1, n_features, 1)`` when
        ``image_shape`` is None).
    real_log_spectrum_ : ndarray of shape (C, H, W)
        Mean ``log(|FFT2| + 1e-8)`` of the real images (unshifted layout).
    data_min_, data_max_ : float
        Range of the real images (used by ``clip``).
    translator_ : torch.nn.Module
        The trained spectrum translator (``"stig"`` only).
    loss_curve_ : list of float
        Mean generator loss per epoch (``"stig"`` only).
    n_iter_ : int
        Epochs run (``"stig"``); 1 for ``"profile"``, whose closed form is one
        pass over the data.
    device_ : torch.device
        The device the refiner was fitted on and runs on (see :meth:`to`).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit`` (only when X has string names).

    See Also
    --------
    skspectral.metrics.log_frequency_distance : The spectral gap it removes.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.ndimage import gaussian_filter
    >>> from skspectral import SpectrumRefiner
    >>> from skspectral.metrics import log_frequency_distance
    >>> rng = np.random.RandomState(0)
    >>> X = rng.rand(100, 16, 16)
    >>> blurred = gaussian_filter(X, sigma=(0, 0.7, 0.7))
    >>> refiner = SpectrumRefiner(image_shape=(16, 16)).fit(X.reshape(100, -1))
    >>> refined = refiner.inverse_transform(blurred.reshape(100, -1))
    >>> before = log_frequency_distance(blurred, X)
    >>> after = log_frequency_distance(refined, X, (16, 16))
    >>> bool(after < before / 2)
    True
    """

    _parameter_constraints: dict = {
        "method": [StrOptions({"profile", "stig"})],
        "image_shape": [tuple, list, None],
        "strength": [Interval(Real, 0, 1, closed="both")],
        "clip": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "n_filters": [Interval(Integral, 1, None, closed="left")],
        "nce_weight": [Interval(Real, 0, None, closed="left")],
        "psd_weight": [Interval(Real, 0, None, closed="left")],
        "low_freq_weight": [Interval(Real, 0, None, closed="left")],
        "identity_weight": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "device": DEVICE_CONSTRAINT,
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        method="profile",
        *,
        image_shape=None,
        strength=1.0,
        clip=True,
        max_iter=10,
        batch_size=32,
        learning_rate=2e-4,
        n_filters=16,
        nce_weight=1.0,
        psd_weight=1.0,
        low_freq_weight=1.0,
        identity_weight=1.0,
        verbose=0,
        device="auto",
        random_state=None,
    ):
        self.method = method
        self.image_shape = image_shape
        self.strength = strength
        self.clip = clip
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_filters = n_filters
        self.nce_weight = nce_weight
        self.psd_weight = psd_weight
        self.low_freq_weight = low_freq_weight
        self.identity_weight = identity_weight
        self.verbose = verbose
        self.device = device
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the real images' spectrum (and, for ``"stig"``, the translator).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Flattened images. For ``"profile"`` all rows are real images.
        y : array-like of shape (n_samples,), default=None
            ``"stig"`` only (ignored by ``"profile"``): an image is real where
            ``y == 1`` (or ``True``) and generated for every other label
            (0, 2, -1, ...). At least one real and one generated image must
            be present.

        Returns
        -------
        self : SpectrumRefiner
            The fitted refiner.
        """
        X = validate_data(self, X, dtype=FLOAT_DTYPES)
        device = self._resolve_fit_device()
        self.image_shape_ = self._resolve_image_shape(X.shape[1])
        if self.method == "stig":
            real_mask = self._check_stig_target(y, X.shape[0])
        else:
            real_mask = np.ones(X.shape[0], dtype=bool)
        X_real = X[real_mask]
        self.data_min_ = float(X_real.min())
        self.data_max_ = float(X_real.max())
        real = self._to_images(X_real, device, torch.float64)
        self.real_log_spectrum_ = as_numpy(mean_log_magnitude(real, self._chunk))
        self.n_iter_ = 1
        if self.method == "stig":
            self._fit_stig(real, self._to_images(X[~real_mask], device, torch.float64), device)
            self.n_iter_ = len(self.loss_curve_)
        return self

    def transform(self, X):
        """Identity: real images flowing forward through a pipeline stay as they are.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The validated input, unchanged.
        """
        check_is_fitted(self)
        return validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)

    def inverse_transform(self, X):
        """Refine generated images (samples flowing back through a pipeline).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Generated images, flattened. For ``"profile"`` pass the whole set
            at once: its mean spectrum sets the correction.

        Returns
        -------
        X_refined : ndarray of shape (n_samples, n_features)
            Refined images, same dtype as ``X`` (float32 or float64).
        """
        check_is_fitted(self)
        # Samples flowing back through a pipeline carry no feature names, even
        # when it was fitted on a DataFrame: like scikit-learn's
        # inverse_transform, check the width only.
        X = check_array(X, dtype=FLOAT_DTYPES, input_name="X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        device = self.device_
        images = self._to_images(X, device, torch_dtype(X.dtype))
        if self.method == "profile":
            real = torch.as_tensor(self.real_log_spectrum_, device=device)
            refined = refine_profile(images, real, float(self.strength), self._chunk)
        else:
            refined = self._refine_stig(images)
        out = self._from_images(refined, X.dtype)
        if self.clip:
            np.clip(out, self.data_min_, self.data_max_, out=out)
        return out

    def refine(self, X):
        """Refine generated images; the same as :meth:`inverse_transform`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Generated images, flattened.

        Returns
        -------
        X_refined : ndarray of shape (n_samples, n_features)
            Refined images.
        """
        return self.inverse_transform(X)

    # -- STIG -----------------------------------------------------------------

    def _check_stig_target(self, y, n_samples):
        if y is None:
            raise ValueError(
                f"{type(self).__name__}(method='stig') requires y to be passed, but the "
                "target y is None: y marks real (1) and generated (0) images; got y=None. "
                "Use method='profile' to learn from real images alone."
            )
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != n_samples:
            raise ValueError(
                f"y must be 1-D with one entry per image ({n_samples}); got shape {y.shape}."
            )
        # The rule: real where y == 1 (or True), generated for every other label.
        real_mask = np.asarray(y == 1, dtype=bool)
        n_real = int(real_mask.sum())
        if n_real == 0 or n_real == n_samples:
            kind, missing = ("real", "generated") if n_real else ("generated", "real")
            labels = sorted(set(y.tolist()), key=repr)
            labels = labels if len(labels) <= 5 else [*labels[:5], "..."]
            raise ValueError(
                f"{type(self).__name__}(method='stig') reads y == 1 (or True) as a real "
                "image and every other label as a generated one, and needs at least one "
                f"of each; y has 1 class only, {kind} images, and no {missing} one (the "
                f"labels in y are {labels})."
            )
        return real_mask

    def _fit_stig(self, real, generated, device):
        _, log_real = _stig.centred_log_spectrum(real)
        _, log_gen = _stig.centred_log_spectrum(generated)
        mean = log_real.mean(dim=0)
        scale = _stig.spectrum_scale(log_real, mean)
        params = {
            name: getattr(self, name)
            for name in ("max_iter", "batch_size", "learning_rate", "n_filters", "nce_weight",
                         "psd_weight", "low_freq_weight", "identity_weight")
        }
        # Train in float32: the networks gain nothing from float64.
        z_real = _stig.standardise(log_real, mean, scale).float()
        z_gen = _stig.standardise(log_gen, mean, scale).float()
        # The spectral filter profile: the mean shift from generated to real
        # spectra, applied before the translator, which learns the per-image rest.
        profile = -z_gen.mean(dim=0)
        generator = torch_generator(check_random_state(self.random_state))
        translator, losses = _stig.fit_stig(
            z_real, z_gen + profile, params, device, generator, type(self).__name__, self.verbose
        )
        self.translator_ = translator
        self.loss_curve_ = losses
        self._spectrum_mean = mean.float()
        self._spectrum_scale = scale
        self._profile = profile

    def _new_module(self, name):
        # Loading a saved model: translator_'s architecture follows from the
        # parameters and image_shape_; its weights come from the file.
        height, width, channels = self.image_shape_
        return _stig.Translator(channels, self.n_filters, (height, width))

    @torch.no_grad()
    def _refine_stig(self, images):
        translator = self.translator_
        mean = self._spectrum_mean.to(images.device)
        out = torch.empty_like(images)
        for batch in iter_batches(images.shape[0], self._chunk):
            spectrum, log_spec = _stig.centred_log_spectrum(images[batch])
            z = _stig.standardise(log_spec.float(), mean, self._spectrum_scale)
            z = z + self._profile.to(z.device)
            translated = _stig.unstandardise(translator(z), mean, self._spectrum_scale)
            mixed = log_spec + self.strength * (translated.to(log_spec.dtype) - log_spec)
            out[batch] = _stig.images_from_log_spectrum(spectrum, mixed)
        return out

    # -- shapes ---------------------------------------------------------------

    @property
    def _chunk(self):
        return 16 * self.batch_size

    def _resolve_image_shape(self, n_features):
        if self.image_shape is None:
            return (1, n_features, 1)
        return check_image_shape(tuple(self.image_shape), n_features)

    def _to_images(self, X, device, dtype):
        H, W, C = self.image_shape_
        images = np.ascontiguousarray(X.reshape(-1, H, W, C).transpose(0, 3, 1, 2))
        return as_tensor(images, device, dtype=np.float64 if dtype == torch.float64 else np.float32)

    def _from_images(self, images, dtype):
        out = as_numpy(images.permute(0, 2, 3, 1), dtype)
        return np.ascontiguousarray(out.reshape(out.shape[0], -1))

    _device_attributes = ("translator_", "_spectrum_mean", "_profile")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        # "stig" learns from real and generated images, told apart by y.
        tags.target_tags.required = self.method == "stig"
        return tags
