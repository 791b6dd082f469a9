"""ConvSparseCoder: a convolutional sparse coding autoencoder and sampler."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import (
    DEVICE_CONSTRAINT,
    as_numpy,
    as_tensor,
    check_device,
    iter_batches,
    torch_dtype,
    torch_rng,
)
from .._prior import CoefficientPrior
from ..pipeline import GenerativePipeline
from ..utils import check_finite_loss, check_image_shape, epoch_progress
from ._layers import CSCNet
from ._objectives import augment, ctrl_game, label_groups, reconstruction_loss


class ConvSparseCoder(TransformerMixin, BaseEstimator):
    """Convolutional sparse coding autoencoder, trained by dictionary learning or CTRL.

    Each layer holds a convolutional dictionary ``A`` (``n_filters[l]``
    filters of size ``kernel_size``). The encoder ``f`` approximates the
    convolutional lasso ``argmin_z lmbda ||z||_1 + 1/2 ||x - A * z||^2`` by
    ``n_iter`` unrolled FISTA steps (step ``1/L``, ``L`` from a power
    iteration on ``A``); the decoder ``g`` synthesises ``A * z`` with the
    same dictionaries, last layer first. Layers with stride 2 halve the
    resolution. After training, a density (``prior``) is fitted to the codes,
    one per class when ``y`` is given, so the model can ``sample`` images,
    class-conditionally.

    Parameters
    ----------
    n_filters : tuple of int, default=(32, 64)
        Filters per layer.
    kernel_size : int, default=3
        Filter size (``k x k`` for images, ``k`` for 1-D signals).
    strides : tuple of int, default=(1, 2)
        Stride of each layer; same length as ``n_filters``.
    n_iter : int, default=2
        Unrolled FISTA steps per layer after the initial thresholding.
    lmbda : float, default=0.1
        Weight of the l1 penalty on the codes (filters have unit norm),
        relative to the scale of each layer's input: layer ``l`` uses
        ``lmbda`` times the running root-mean-square of its input, tracked
        during training like batch norm's running statistics and frozen
        afterwards.
    objective : {"reconstruction", "ctrl"}, default="reconstruction"
        ``"reconstruction"``: minimise ``1/2 ||x - g(f(x))||^2 + lmbda sum ||z||_1``
        (convolutional dictionary learning). ``"ctrl"``: closed-loop
        transcription (Dai et al.). Codes are normalised to the unit sphere;
        the encoder (the dictionaries) maximises
        ``dR(Z) + dR(Zh) + sum_j dR(Z_j, Zh_j)`` with ``Zh = f(g(Z))`` minus the
        reconstruction term above, and the decoder (its own code gains and
        scale) minimises the rate-reduction value plus the reconstruction
        term, in alternating steps. The reconstruction terms are an addition
        to the pure CTRL game: with dictionaries shared between ``f`` and
        ``g`` they keep ``g(f(x))`` close to ``x`` in short trainings.
        The partition is the classes when ``y`` is given, otherwise each
        sample with an augmented view (shift, flip).
    epsilon : float, default=0.5
        Distortion ``eps`` of the coding rate (``objective="ctrl"``).
    positive : bool, default=False
        Constrain codes to be non-negative.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of the flattened images in ``X``. When
        None, each row of ``X`` is a 1-D signal and convolutions are 1-D.
    prior : estimator or None, default=None
        Density fitted to the (flattened) codes, with ``fit`` and
        ``sample(n_samples, random_state=...)``; cloned once per class. None
        uses PCA to at most 32 dimensions followed by a Gaussian
        :class:`~skspectral.CoefficientPrior`.
    max_epochs : int, default=5
        Passes over the training data.
    batch_size : int, default=64
        Mini-batch size for training, ``transform`` and ``inverse_transform``.
    learning_rate : float, default=1e-2
        Adam step size.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        Where to train and encode.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial filters, the batch order, the augmentations and
        the prior.
    verbose : int, default=0
        Show a progress bar over epochs when > 0.

    Attributes
    ----------
    dictionaries_ : list of ndarray
        Unit-norm filters of each layer, shape
        ``(n_filters[l], in_channels, k, k)`` (``(n_filters[l], in_channels, k)``
        for 1-D signals).
    code_shape_ : tuple of int
        Shape of one code before flattening (channels, then spatial axes).
    loss_curve_ : list of float
        Mean training loss per epoch (for ``"ctrl"``: the negated encoder loss,
        i.e. rate reduction minus reconstruction error).
    classes_ : ndarray or None
        Classes seen in ``fit`` (None without ``y``).
    prior_ : estimator or dict
        The fitted density over codes; a dict class -> density when ``y``
        was given.
    class_weights_ : ndarray or None
        Frequency of each class in ``fit``.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
        Features of ``X``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit`` (only when X has string names).

    See Also
    --------
    conv_sparse_code : Solve the convolutional lasso to convergence for given filters.
    skspectral.CoefficientPrior : Densities over codes.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skspectral import ConvSparseCoder
    >>> digits = load_digits()
    >>> X, y = digits.data[:100] / 16, digits.target[:100]
    >>> model = ConvSparseCoder(n_filters=(4, 8), image_shape=(8, 8), max_epochs=1,
    ...                         device="cpu", random_state=0).fit(X, y)
    >>> model.transform(X[:3]).shape
    (3, 128)
    >>> model.sample(4, y=3, random_state=0).shape
    (4, 64)
    """

    _parameter_constraints: dict = {
        "n_filters": [tuple, list],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "strides": [tuple, list],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "lmbda": [Interval(Real, 0, None, closed="left")],
        "objective": [StrOptions({"reconstruction", "ctrl"})],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "positive": ["boolean"],
        "image_shape": [None, tuple, list],
        "prior": [None, HasMethods(["fit", "sample"])],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "device": DEVICE_CONSTRAINT,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_filters=(32, 64),
        kernel_size=3,
        strides=(1, 2),
        n_iter=2,
        lmbda=0.1,
        objective="reconstruction",
        epsilon=0.5,
        positive=False,
        image_shape=None,
        prior=None,
        max_epochs=5,
        batch_size=64,
        learning_rate=1e-2,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.n_filters = n_filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.n_iter = n_iter
        self.lmbda = lmbda
        self.objective = objective
        self.epsilon = epsilon
        self.positive = positive
        self.image_shape = image_shape
        self.prior = prior
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the dictionaries, then fit the prior over codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Flattened images (``image_shape``) or 1-D signals.
        y : array-like of shape (n_samples,), default=None
            Class labels: they partition batches for ``objective="ctrl"`` and
            give one prior per class (class-conditional ``sample``).

        Returns
        -------
        self : ConvSparseCoder
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        if y is not None:
            y = np.asarray(y)
            if y.shape != (X.shape[0],):
                raise ValueError(
                    f"y must have shape ({X.shape[0]},), one label per sample; got {y.shape}."
                )
        device = check_device(self)
        self._layout = self._check_layout(X.shape[1])
        rng = check_random_state(self.random_state)
        dtype = torch_dtype(X.dtype)
        with torch_rng(rng, device):
            self._net = self._build_net().to(device=device, dtype=dtype)
            self._train(X, y, rng, device)
        self._net.eval()
        self._net.update_lipschitz(n_iter=50)
        self._device = device
        self.dictionaries_ = [as_numpy(layer.dictionary()) for layer in self._net.layers]
        self.code_shape_ = tuple(self._net.code_shape)
        self._fit_prior(self.transform(X), y, rng)
        return self

    def _check_layout(self, n_features):
        n_filters, strides = tuple(self.n_filters), tuple(self.strides)
        if not n_filters or not all(isinstance(n, Integral) and n > 0 for n in n_filters):
            raise ValueError(
                f"The 'n_filters' parameter must be a non-empty tuple of positive "
                f"integers; got {self.n_filters!r}."
            )
        if len(strides) != len(n_filters) or not all(
            isinstance(s, Integral) and s > 0 for s in strides
        ):
            raise ValueError(
                f"The 'strides' parameter must be a tuple of {len(n_filters)} positive "
                f"integers (one per layer of n_filters); got {self.strides!r}."
            )
        if self.image_shape is None:
            return (1, (n_features,), None)
        H, W, C = check_image_shape(self.image_shape, n_features)
        return (C, (H, W), (H, W, C))

    def _build_net(self):
        channels, size, _ = self._layout
        return CSCNet(
            channels, size, tuple(self.n_filters), self.kernel_size, tuple(self.strides),
            n_iter=self.n_iter, lmbda=float(self.lmbda), positive=self.positive,
            normalize=self.objective == "ctrl",
        )

    def _to_signals(self, X, device):
        """Flattened rows -> (N, C, H, W) images or (N, 1, L) signals."""
        channels, size, hwc = self._layout
        T = as_tensor(X, device, dtype=self._net_dtype_np())
        if hwc is None:
            return T.view(T.shape[0], 1, size[0])
        return T.view((T.shape[0],) + hwc).permute(0, 3, 1, 2).contiguous()

    def _from_signals(self, T):
        _, size, hwc = self._layout
        if hwc is not None:
            T = T.permute(0, 2, 3, 1)
        return T.reshape(T.shape[0], -1)

    def _net_dtype_np(self):
        return np.float64 if self._net.layers[0].weight.dtype == torch.float64 else np.float32

    def _train(self, X, y, rng, device):
        net = self._net
        X_t = self._to_signals(X, device)
        generator = torch.Generator().manual_seed(int(rng.randint(2**31 - 1)))
        if self.objective == "ctrl":
            first = X_t[: self.batch_size]
            net.update_lipschitz(n_iter=30)
            with torch.no_grad():
                net.normalize = False
                scale = torch.linalg.vector_norm(net.encode(first).flatten(1), dim=1).mean()
                net.normalize = True
                net.log_scale.fill_(float(torch.log(scale.clamp_min(1e-8))))
            enc_opt = torch.optim.Adam(net.encoder_parameters(), lr=self.learning_rate)
            dec_opt = torch.optim.Adam(net.decoder_parameters(), lr=self.learning_rate)
        else:
            enc_opt = torch.optim.Adam(net.encoder_parameters(), lr=self.learning_rate)
        self.loss_curve_ = []
        n = X_t.shape[0]
        for epoch in epoch_progress(self.max_epochs, self.verbose, type(self).__name__):
            order = rng.permutation(n)
            total, count = 0.0, 0
            for batch in iter_batches(n, self.batch_size):
                idx = order[batch]
                if len(idx) < 2:
                    continue
                xb = X_t[torch.as_tensor(idx, device=device)]
                net.update_lipschitz(n_iter=2)
                if self.objective == "ctrl":
                    loss = self._ctrl_step(net, xb, None if y is None else y[idx],
                                           generator, enc_opt, dec_opt)
                else:
                    enc_opt.zero_grad()
                    loss_t = reconstruction_loss(net, xb)
                    loss_t.backward()
                    enc_opt.step()
                    loss = float(loss_t.detach())
                check_finite_loss(loss, epoch, type(self).__name__)
                total += loss * len(idx)
                count += len(idx)
            self.loss_curve_.append(total / max(count, 1))
        self.n_iter_ = self.max_epochs

    def _ctrl_step(self, net, xb, yb, generator, enc_opt, dec_opt):
        if yb is None:
            xb = torch.cat([xb, augment(xb, generator)])
            groups = label_groups(np.tile(np.arange(len(xb) // 2), 2), xb.device)
        else:
            groups = label_groups(yb, xb.device)
        # Encoder: maximise the rate-reduction game, keep the layers' lasso fit.
        enc_opt.zero_grad()
        value, x_hat = ctrl_game(net, xb, groups, self.epsilon)
        fit = 0.5 * ((xb - x_hat) ** 2).sum() / xb.shape[0]
        (fit - value).backward()
        enc_opt.step()
        # Decoder: minimise it (close the loop); it also fits the data, since
        # its scale is the only link between unit-norm codes and pixels.
        dec_opt.zero_grad()
        value_d, x_hat_d = ctrl_game(net, xb, groups, self.epsilon)
        fit_d = 0.5 * ((xb - x_hat_d) ** 2).sum() / xb.shape[0]
        (value_d + fit_d).backward()
        dec_opt.step()
        self._fit_decoder_scale(net, xb)
        return float(value.detach() - fit.detach())

    @staticmethod
    @torch.no_grad()
    def _fit_decoder_scale(net, xb):
        # Unit-norm codes carry no brightness: the decoder's global scale has
        # a closed-form least-squares optimum, tracked with a moving average
        # (Adam alone lags far behind while the dictionaries change).
        x_hat = net.decode(net.encode(xb))
        best = torch.sum(xb * x_hat) / torch.sum(x_hat * x_hat).clamp_min(1e-12)
        if bool(best > 0):
            net.log_scale.add_(0.5 * torch.log(best))

    def _fit_prior(self, codes, y, rng):
        if y is None:
            self.classes_ = None
            self.class_weights_ = None
            self.prior_ = self._make_prior(codes.shape, rng).fit(codes)
            return
        self.classes_, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            raise ValueError(
                "Each class in y needs at least 2 samples to fit its prior; class "
                f"{self.classes_[np.argmin(counts)]!r} has {counts.min()}."
            )
        self.class_weights_ = counts / counts.sum()
        self.prior_ = {
            c: self._make_prior(codes[y == c].shape, rng).fit(codes[y == c])
            for c in self.classes_
        }

    def _make_prior(self, shape, rng):
        seed = int(rng.randint(2**31 - 1))
        if self.prior is not None:
            prior = clone(self.prior)
            if "random_state" in prior.get_params():
                prior.set_params(random_state=seed)
            return prior
        n_samples, n_features = shape
        n_components = max(1, min(32, n_samples - 1, n_features))
        return GenerativePipeline([
            ("pca", PCA(n_components=n_components, random_state=seed)),
            ("gaussian", CoefficientPrior("gaussian", reg_covar=1e-6, random_state=seed)),
        ])

    # ------------------------------------------------------- transform/sample
    def transform(self, X):
        """Encode images: flattened codes ``f(x)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Flattened images or signals.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_codes)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        out = np.empty((X.shape[0], int(np.prod(self.code_shape_))), dtype=X.dtype)
        with torch.no_grad():
            for batch in iter_batches(X.shape[0], self.batch_size):
                z = self._net.encode(self._to_signals(X[batch], self._device))
                out[batch] = as_numpy(z.flatten(1), dtype=X.dtype)
        return out

    def inverse_transform(self, X):
        """Decode codes into flattened images ``g(z)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_codes)
            Codes (as returned by ``transform`` or drawn from a prior).

        Returns
        -------
        X_rec : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        Z = self._check_codes(X)
        out = np.empty((Z.shape[0], self.n_features_in_), dtype=Z.dtype)
        with torch.no_grad():
            for batch in iter_batches(Z.shape[0], self.batch_size):
                z = as_tensor(Z[batch], self._device, dtype=self._net_dtype_np())
                x = self._net.decode(z.view((-1,) + self.code_shape_))
                out[batch] = as_numpy(self._from_signals(x), dtype=Z.dtype)
        return out

    def _check_codes(self, Z):
        from sklearn.utils import check_array

        Z = check_array(Z, dtype=[np.float64, np.float32], input_name="X")
        n_code = int(np.prod(self.code_shape_))
        if Z.shape[1] != n_code:
            raise ValueError(
                f"inverse_transform expects codes with {n_code} features "
                f"(code_shape_={self.code_shape_}); got {Z.shape[1]}."
            )
        return Z

    def score(self, X, y=None):
        """Negative mean squared reconstruction error ``-||x - g(f(x))||^2 / d``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Higher is better (used by :class:`~sklearn.model_selection.GridSearchCV`).
        """
        X_rec = self.inverse_transform(self.transform(X))
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return -float(np.mean((X - X_rec) ** 2))

    def sample(self, n_samples=1, y=None, random_state=None):
        """Draw images: codes from the prior, decoded by ``g``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of images.
        y : label or array-like of shape (n_samples,), default=None
            Class of the samples (a single label, or one per sample); it must
            be a class seen in ``fit``. None draws classes in their training
            proportions (or from the single prior when ``fit`` had no ``y``).
        random_state : int, RandomState instance or None, default=None
            Seed for this draw; None uses the estimator's ``random_state``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Flattened images.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
        rng = check_random_state(self.random_state if random_state is None else random_state)
        labels = self._sample_labels(n_samples, y, rng)
        if labels is None:
            codes = self.prior_.sample(n_samples, random_state=rng)
        else:
            codes = np.empty((n_samples, int(np.prod(self.code_shape_))))
            for c in np.unique(labels):
                idx = np.flatnonzero(labels == c)
                codes[idx] = self.prior_[c].sample(len(idx), random_state=rng)
        codes = np.asarray(codes, dtype=self._net_dtype_np())
        if self.objective == "ctrl":
            # The decoder was trained on unit-norm codes.
            codes /= np.maximum(np.linalg.norm(codes, axis=1, keepdims=True), 1e-12)
        return self.inverse_transform(codes)

    def _sample_labels(self, n_samples, y, rng):
        if self.classes_ is None:
            if y is not None:
                raise ValueError(
                    "sample(y=...) needs a model fitted with class labels; this "
                    "ConvSparseCoder was fitted without y."
                )
            return None
        if y is None:
            return self.classes_[rng.choice(len(self.classes_), n_samples, p=self.class_weights_)]
        labels = np.asarray(y)
        if labels.ndim == 0:
            labels = np.full(n_samples, labels.item(), dtype=self.classes_.dtype)
        elif labels.shape != (n_samples,):
            raise ValueError(
                f"y must be one class label or {n_samples} labels; got shape {labels.shape}."
            )
        unknown = np.setdiff1d(labels, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y={unknown[0]!r} is not a class seen in fit; known classes: "
                f"{self.classes_.tolist()}."
            )
        return labels

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags
