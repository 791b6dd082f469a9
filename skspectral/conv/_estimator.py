"""ConvSparseCoder: a convolutional sparse coding autoencoder and sampler."""

from functools import wraps
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import validate_data

from .._backend import (
    DEVICE_CONSTRAINT,
    FLOAT_DTYPES,
    N_JOBS_CONSTRAINT,
    as_numpy,
    as_tensor,
    is_positive_int,
    iter_batches,
    numpy_dtype,
    seed_from,
    threads,
    torch_dtype,
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
from ..base._residual import auto_components
from ..prior._estimator import mixture_prior
from ..utils import check_image_shape
from ._layers import CSCNet
from ._objectives import augment, ctrl_game, label_groups, reconstruction_loss
from ._subspace import DecodedSubspace

#: Principal components of the raw codes that the default prior keeps
#: (``prior_dim=None``).
RAW_PRIOR_DIM = 32
#: Epochs of ``max_iter="auto"`` for each objective. The closed-loop game,
#: whose steps update both players at once, draws samples as good in fewer
#: epochs than dictionary learning needs.
AUTO_EPOCHS = {"reconstruction": 5, "ctrl": 3}
#: Unrolled FISTA steps and l1 weight of ``n_unrolled="auto"`` and
#: ``alpha="auto"`` for each objective. Reconstructions, and so the samples
#: decoded from the prior, improve with a deeper encoder and a lighter
#: penalty (relative squared error on held-out CIFAR-10 images after
#: training on 2,000: 0.136 with 2 steps and 0.1, 0.061 with 4 steps, 0.026
#: with 4 steps and 0.03). The closed-loop game keeps 2 steps and 0.1: it
#: encodes every batch twice per step (x and its regeneration), so each
#: step costs it double, and its speed and samples were measured with them.
AUTO_UNROLLED = {"reconstruction": 4, "ctrl": 2}
AUTO_ALPHA = {"reconstruction": 0.03, "ctrl": 0.1}


def _on_threads(method):
    """Run the method on the torch (and BLAS) threads that ``n_jobs`` asks for."""

    @wraps(method)
    def on_threads(self, *args, **kwargs):
        with threads(self.n_jobs):
            return method(self, *args, **kwargs)

    return on_threads


def _fit_term(x, x_hat):
    """``1/2 ||x - x_hat||^2``, averaged over the batch."""
    return 0.5 * ((x - x_hat) ** 2).sum() / x.shape[0]


def _ctrl_gradients(net, x, groups, eps):
    """Gradients of one simultaneous step of the closed-loop game, into ``.grad``.

    The encoder (the dictionaries) descends ``fit - value`` and the decoder
    (its gains and scale) descends ``value + fit``, with ``value`` the
    closed-loop rate reduction (:func:`ctrl_game`) and ``fit`` the
    reconstruction term; both gradients are taken at the same parameters.
    One forward pass serves both players: the decoder's gradient is
    ``2 d(fit) - d(fit - value)``, and ``fit`` depends on the decoder
    through ``g`` alone, so its own backward pass skips both encodings.
    Alternating steps, in which the decoder answers the updated encoder,
    cost a second forward and backward pass through both encodings, and on
    MNIST drew no better samples.

    Returns the detached ``value``, ``fit`` and codes ``f(x)``.
    """
    decoder = net.decoder_parameters()
    z = net.encode(x)
    value, x_hat = ctrl_game(net, x, groups, eps, z=z)
    fit = _fit_term(x, x_hat)
    fit_grads = torch.autograd.grad(fit, decoder, retain_graph=True)
    (fit - value).backward()
    for p, g in zip(decoder, fit_grads):
        p.grad = 2 * g - p.grad
    return value.detach(), fit.detach(), z.detach()


class ConvSparseCoder(BaseDictionaryModel):
    """Convolutional sparse coding autoencoder, trained by dictionary learning or CTRL.

    Each layer holds a convolutional dictionary ``A`` (``n_filters[l]``
    filters of size ``kernel_size``). The encoder ``f`` approximates the
    convolutional lasso ``argmin_z alpha ||z||_1 + 1/2 ||x - A * z||^2`` by
    ``n_unrolled`` unrolled FISTA steps (step ``1/L``, ``L`` from a power
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
    n_unrolled : int or "auto", default="auto"
        Unrolled FISTA steps per layer after the initial thresholding (the
        depth of the encoder, not a number of passes over the data).
        ``"auto"`` is 4 for ``objective="reconstruction"``, whose
        reconstructions (and samples) gain from a deeper encoder (on
        CIFAR-10, with ``alpha="auto"``, a held-out relative error of 0.011
        against 0.091 with the former 2 steps and ``alpha=0.1``), and 2 for
        ``"ctrl"``, which encodes every batch twice per step.
    alpha : float or "auto", default="auto"
        Weight of the l1 penalty on the codes (filters have unit norm),
        relative to the scale of each layer's input: layer ``l`` uses
        ``alpha`` times the running root-mean-square of its input, tracked
        during training like batch norm's running statistics and frozen
        afterwards. ``"auto"`` is 0.03 for ``objective="reconstruction"``
        and 0.1 for ``"ctrl"``.
    objective : {"reconstruction", "ctrl"}, default="reconstruction"
        ``"reconstruction"``: minimise ``1/2 ||x - g(f(x))||^2 + alpha sum ||z||_1``
        (convolutional dictionary learning). ``"ctrl"``: closed-loop
        transcription (Dai et al.). Codes are normalised to the unit sphere;
        the encoder (the dictionaries) maximises
        ``dR(Z) + dR(Zh) + sum_j dR(Z_j, Zh_j)`` with ``Zh = f(g(Z))`` minus the
        reconstruction term above, and the decoder (its own code gains and
        scale) minimises the rate-reduction value plus the reconstruction
        term, in simultaneous steps (both gradients from one forward pass).
        The reconstruction terms are an addition to the pure CTRL game: with
        dictionaries shared between ``f`` and ``g`` they keep ``g(f(x))``
        close to ``x`` in short trainings. The partition is the classes
        when ``y`` is given, otherwise each sample with an augmented view
        (shift, flip). After training, ``fit`` on an in-memory array refits
        the decoder's global scale by least squares to the codes of the
        final encoder.
    epsilon : float, default=0.5
        Distortion ``eps`` of the coding rate (``objective="ctrl"``).
    positive : bool, default=False
        Constrain codes to be non-negative.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of the flattened images in ``X``. When
        None, each row of ``X`` is a 1-D signal and convolutions are 1-D.
    prior : estimator or None, default=None
        Density with ``fit`` and ``sample(n_samples, random_state=...)``,
        cloned and fitted to the training images' coordinates in
        ``code_subspace_`` (with a prior dimension, see ``prior_dim``) or to
        the flattened codes (``prior_dim=None``); with ``y`` it is fitted
        class-conditionally. None uses a Gaussian mixture of at most 30
        components (at most one per ``max(5, d)`` codes of the smallest
        class, ``d`` the dimension it models): on the subspace's
        coordinates, whitened (``whiten=True``, ``reg_covar=1e-3``); on raw
        codes, ``CoefficientPrior("gmm", n_components=30, pca_dim=32)`` over
        their top 32 principal components.
    prior_dim : int, "auto" or None, default="auto"
        Fit the prior in the training images' principal subspace, reached
        through the decoder: the ``prior_dim`` top principal directions of
        the training images and their mean, each mapped to the
        minimum-norm code that decodes to it (``code_subspace_``). The
        codes are far wider than the images (every filter at every
        position), and their own principal directions need not carry image
        variance; these do. The prior is fitted on the training images'
        principal coordinates, not on their codes': the encoder's soft
        threshold shrinks the codes, and a prior of shrunk codes draws
        images with less contrast than the training images.
        ``"auto"`` is one dimension per 12 pixels (65 for 28 x 28 images,
        256 for 32 x 32 colour images) for ``objective="reconstruction"``,
        and None for ``"ctrl"``, whose drawn codes are normalised before
        decoding. The user guide measures both on MNIST and CIFAR-10.
        Clipped to the number of training codes less one and to the number
        of pixels. None fits the prior on the raw codes.
    max_iter : int or "auto", default="auto"
        Epochs (passes over the training data). ``"auto"`` is 5 for
        ``objective="reconstruction"`` and 3 for ``"ctrl"``.
    batch_size : int, default=64
        Mini-batch size for training, ``transform`` and ``inverse_transform``.
    learning_rate : float, default=1e-2
        Adam step size.
    n_jobs : int, default=None
        Threads (torch and BLAS) for training, encoding and decoding on the
        CPU, and for fitting the prior in ``fit``: None means 1 unless a
        :func:`joblib.parallel_config` context says otherwise, -1 all cores.
        More threads pay off on idle cores only: each parallel operation
        waits for its slowest thread, so on cores busy with other work one
        thread is the fastest.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        Where to train; the fitted model keeps it (``device_``) for encoding,
        decoding and sampling.
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
        i.e. rate reduction minus reconstruction error); ``partial_fit``
        appends the mean loss of its pass over the chunk.
    classes_ : ndarray or None
        Classes seen in ``fit`` (None without ``y``).
    prior_ : estimator
        The fitted density over codes (over their coordinates in
        ``code_subspace_`` when it is not None), class-conditional when
        ``y`` was given.
    code_subspace_ : DecodedSubspace or None
        With a prior dimension: the map between codes and the coordinates
        the prior is fitted on (``project``: images to coordinates,
        ``transform``: codes to coordinates, ``inverse_transform``:
        coordinates to codes), learned in ``fit`` on all training images, or
        by a stream on its first chunk and kept. None when the prior is
        over the raw codes.
    device_ : torch.device
        The device the model was fitted on and runs on (see :meth:`to`).
    n_iter_ : int
        Epochs run; ``partial_fit`` adds one per chunk (one pass over it).
    n_features_in_ : int
        Features of ``X``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit`` (only when X has string names).

    See Also
    --------
    conv_sparse_code : Solve the convolutional lasso to convergence for given filters.
    skspectral.CoefficientPrior : Densities over codes.

    Notes
    -----
    Streaming: :meth:`partial_fit` makes one pass of mini-batch Adam steps
    over each chunk and keeps the optimisers' state between calls; with
    ``objective="ctrl"`` the chunk's labels, when given, partition its
    batches. After :meth:`fit` it continues from the fitted network with
    fresh optimisers, as does a copied or loaded model (which keeps no
    optimiser state). The step size is the constant ``learning_rate``.
    ``fit`` on a :class:`dask.array.Array` runs ``max_iter`` such epochs over
    its blocks (one block in memory at a time) and then fits the prior on
    the codes of every block.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skspectral import ConvSparseCoder
    >>> digits = load_digits()
    >>> X, y = digits.data[:100] / 16, digits.target[:100]
    >>> model = ConvSparseCoder(n_filters=(4, 8), image_shape=(8, 8), max_iter=1,
    ...                         device="cpu", random_state=0).fit(X, y)
    >>> model.transform(X[:3]).shape
    (3, 128)
    >>> model.sample(4, y=3, random_state=0).shape
    (4, 64)
    """

    # The stream holds torch optimisers and a generator (see the base).
    _stream_is_saved = False

    _parameter_constraints: dict = {
        "n_filters": [tuple, list],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "strides": [tuple, list],
        "n_unrolled": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "objective": [StrOptions({"reconstruction", "ctrl"})],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "positive": ["boolean"],
        "image_shape": [None, tuple, list],
        "prior": [None, HasMethods(["fit", "sample"])],
        "prior_dim": [None, Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "n_jobs": N_JOBS_CONSTRAINT,
        "device": DEVICE_CONSTRAINT,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    _device_attributes = ("_net",)

    def __init__(
        self,
        n_filters=(32, 64),
        *,
        kernel_size=3,
        strides=(1, 2),
        n_unrolled="auto",
        alpha="auto",
        objective="reconstruction",
        epsilon=0.5,
        positive=False,
        image_shape=None,
        prior=None,
        prior_dim="auto",
        max_iter="auto",
        batch_size=64,
        learning_rate=1e-2,
        n_jobs=None,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.n_filters = n_filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.n_unrolled = n_unrolled
        self.alpha = alpha
        self.objective = objective
        self.epsilon = epsilon
        self.positive = positive
        self.image_shape = image_shape
        self.prior = prior
        self.prior_dim = prior_dim
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the dictionaries, then fit the prior over codes.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            Flattened images (``image_shape``) or 1-D signals; a dask array is
            streamed block by block (see Notes).
        y : array-like of shape (n_samples,), default=None
            Class labels: they partition batches for ``objective="ctrl"`` and
            make the prior class-conditional (``sample(y=...)``).

        Returns
        -------
        self : ConvSparseCoder
        """
        if is_dask_array(X):
            return self._fit_dask(X, y)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, ensure_min_samples=2)
        if y is not None:
            y = check_labels(y, X.shape[0])[0]
        device = self._resolve_fit_device()
        self._layout = self._check_layout(X.shape[1])
        rng = check_random_state(self.random_state)
        generator = torch_generator(rng)
        self._net = self._build_net().reset_parameters(generator)
        self._net.to(device=device, dtype=torch_dtype(X.dtype))
        optimizers = self._new_optimizers(X, init_scale=True)
        self.loss_curve_ = self._train(X, y, generator, device, optimizers, self._n_epochs())
        self.n_iter_ = len(self.loss_curve_)
        self._store_net()
        codes = None
        if self.objective == "ctrl":
            codes = self._encode(X)
            self._refit_decoder_scale(X, codes)
        with threads(self.n_jobs):
            self._fit_code_prior(X, y, rng, codes)
        self._fit_noise(X)
        self._check_samples(X)
        return self

    def _fit_code_prior(self, X, y, rng, codes=None):
        """Learn ``code_subspace_`` (with a prior dimension) and fit the prior on images ``X``.

        ``codes``, the images' codes if already computed, serve the prior
        over the raw codes; a prior in the subspace needs only the images.
        """
        self.code_subspace_ = self._new_code_subspace(X, rng)
        coordinates = self._prior_codes(X, codes)
        self._fit_prior(coordinates, y, self._default_prior(y, coordinates.shape), rng)

    def _prior_dim(self):
        """``prior_dim`` with ``"auto"`` resolved (None: the prior is over the raw codes)."""
        if self.prior_dim != "auto":
            return self.prior_dim
        if self.objective == "ctrl":
            # Drawn codes are normalised before decoding, so a direction of
            # the subspace does not decode to its image direction.
            return None
        return auto_components(self.n_features_in_)

    def _default_prior(self, y=None, codes_shape=None):
        # A stream, whose size is unknown, starts with all components.
        if self._prior_dim() is None:
            return mixture_prior(y, codes_shape, pca_dim=RAW_PRIOR_DIM)
        return mixture_prior(y, codes_shape, whiten=True)

    def _new_code_subspace(self, X, rng):
        """The :class:`DecodedSubspace` of images ``X`` the prior lives in, or None."""
        prior_dim = self._prior_dim()
        if prior_dim is None:
            return None
        return DecodedSubspace(prior_dim, random_state=seed_from(rng)).fit(
            X, self._decode, self._decode_adjoint, self._n_codes)

    def _prior_codes(self, X, codes=None):
        # fit learns the subspace on all training images; a new stream on its
        # first chunk, kept afterwards so that the prior's statistics of
        # later chunks live in the same coordinates. The prior is fitted on
        # the images' coordinates, not their codes': the encoder's soft
        # threshold shrinks the codes, and a prior of shrunk codes draws
        # images with less contrast than the training images.
        if not hasattr(self, "code_subspace_"):
            self.code_subspace_ = self._new_code_subspace(X, self._stream["rng"])
        if self.code_subspace_ is None:
            return super()._prior_codes(X, codes)
        return self.code_subspace_.project(X)

    def _codes_from_prior(self, draws):
        subspace = getattr(self, "code_subspace_", None)
        codes = draws if subspace is None else subspace.inverse_transform(draws)
        codes = np.asarray(codes, dtype=self._net_dtype_np())
        if self.objective == "ctrl":
            # The decoder was trained on unit-norm codes.
            codes = codes / np.maximum(np.linalg.norm(codes, axis=1, keepdims=True), 1e-12)
        return codes

    @_on_threads
    def _store_net(self):
        """Freeze the trained network for encoding, and store what it learned."""
        self._net.eval()
        self._net.update_lipschitz(n_iter=50)
        self.dictionaries_ = [as_numpy(layer.dictionary()) for layer in self._net.layers]
        self.code_shape_ = tuple(self._net.code_shape)

    # ------------------------------------------------------------- streaming
    def _start_stream(self, X, classes, resume):
        rng = check_random_state(self.random_state)
        generator = torch_generator(rng)
        if resume:
            # Continue training the fitted network. A model saved before the
            # code subspace existed keeps its prior over the raw codes.
            device = self.device_
            if not hasattr(self, "code_subspace_"):
                self.code_subspace_ = None
        else:
            device = self._resolve_fit_device()
            self._layout = self._check_layout(X.shape[1])
            # The stream's classes, fixed now: later chunks are checked against
            # them before any prior holds them (fit on a dask array fits the
            # prior after its epochs).
            self.classes_ = classes
            self._net = self._build_net().reset_parameters(generator)
            self._net.to(device=device, dtype=torch_dtype(X.dtype))
            self.loss_curve_ = []
            self.__dict__.pop("code_subspace_", None)
        self._stream = {
            "rng": rng,
            "generator": generator,
            "device": device,
            # A fitted decoder already has its scale: only a new one starts it.
            "optimizers": self._new_optimizers(X, init_scale=not resume),
            # Loss and rows of every pass of this stream.
            "losses": [],
            "rows": [],
        }

    def _stream_step(self, X, y):
        stream = self._stream
        self._net.train()
        if "lipschitz" in stream:
            # Training goes on from its own warm-started estimate of L, not
            # from the refined one _store_net left for encoding: a stream of
            # one chunk then trains exactly as fit does.
            self._net.load_lipschitz_state(stream["lipschitz"])
        for optimizer in filter(None, stream["optimizers"]):
            for group in optimizer.param_groups:
                group["lr"] = self.learning_rate  # set_params between calls holds
        loss = self._train(X, y, stream["generator"], stream["device"], stream["optimizers"],
                           max_iter=1)[0]
        stream["lipschitz"] = self._net.lipschitz_state()
        stream["losses"].append(loss)
        stream["rows"].append(X.shape[0])
        self.loss_curve_ = [*self.loss_curve_, loss]
        self.n_iter_ = len(self.loss_curve_)
        self._store_net()

    def _n_epochs(self):
        return AUTO_EPOCHS[self.objective] if self.max_iter == "auto" else self.max_iter

    def _n_unrolled(self):
        return AUTO_UNROLLED[self.objective] if self.n_unrolled == "auto" else self.n_unrolled

    def _alpha(self):
        return AUTO_ALPHA[self.objective] if self.alpha == "auto" else float(self.alpha)

    def _end_stream_epochs(self):
        # fit on a dask array: one loss per epoch (row-weighted over its
        # blocks), as fit reports, rather than one per block. Epochs, unlike
        # chunks of different images, compare: a loss grown by orders of
        # magnitude means the fit diverged.
        stream = self._stream
        self.loss_curve_ = epoch_means(stream["losses"], stream["rows"], self._n_epochs())
        self.n_iter_ = len(self.loss_curve_)
        if self.objective == "reconstruction":
            check_loss_growth(self.loss_curve_, type(self).__name__, self.learning_rate)

    def _check_layout(self, n_features):
        n_filters, strides = tuple(self.n_filters), tuple(self.strides)
        if not n_filters or not all(is_positive_int(n) for n in n_filters):
            raise ValueError(
                f"The 'n_filters' parameter must be a non-empty tuple of positive "
                f"integers; got {self.n_filters!r}."
            )
        if len(strides) != len(n_filters) or not all(
            is_positive_int(s) for s in strides
        ):
            raise ValueError(
                f"The 'strides' parameter must be a tuple of {len(n_filters)} positive "
                f"integers (one per layer of n_filters); got {self.strides!r}."
            )
        if self.image_shape is None:
            return (1, (n_features,), None)
        H, W, C = check_image_shape(self.image_shape, n_features)
        if self.kernel_size > min(H, W):
            raise ValueError(
                f"The 'kernel_size' parameter ({self.kernel_size}) is larger than the images "
                f"({H}x{W}); filters must fit in the image."
            )
        return (C, (H, W), (H, W, C))

    def _build_net(self):
        channels, size, _ = self._layout
        return CSCNet(
            channels, size, tuple(self.n_filters), self.kernel_size, tuple(self.strides),
            n_unrolled=self._n_unrolled(), alpha=self._alpha(), positive=self.positive,
            normalize=self.objective == "ctrl",
        )

    def _new_module(self, name):
        # Loading a saved model: _net's architecture follows from the
        # parameters and _layout; its weights come from the file.
        return self._build_net()

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

    def _sample_dtype(self):
        return self._net_dtype_np()

    def _net_dtype_np(self):
        return numpy_dtype(self._net.layers[0].weight.dtype)

    @_on_threads
    def _new_optimizers(self, X, init_scale):
        """Adam for the encoder, and for the decoder of ``objective="ctrl"``."""
        net = self._net
        enc_opt = torch.optim.Adam(net.encoder_parameters(), lr=self.learning_rate)
        dec_opt = None
        if self.objective == "ctrl":
            if init_scale:
                self._init_decoder_scale(net, self._to_signals(X[: self.batch_size],
                                                               self.device_))
            dec_opt = torch.optim.Adam(net.decoder_parameters(), lr=self.learning_rate)
        return enc_opt, dec_opt

    @_on_threads
    def _train(self, X, y, generator, device, optimizers, max_iter):
        """``max_iter`` epochs of mini-batch steps on ``X``; the loss of each epoch."""
        net = self._net
        enc_opt, dec_opt = optimizers
        X_t = self._to_signals(X, device)

        def step(idx):
            xb = X_t[idx.to(device)]
            net.update_lipschitz(n_iter=2)
            if self.objective == "ctrl":
                yb = None if y is None else y[idx.numpy()]
                return self._ctrl_step(net, xb, yb, generator, enc_opt, dec_opt)
            enc_opt.zero_grad()
            loss = reconstruction_loss(net, xb)
            loss.backward()
            enc_opt.step()
            return float(loss.detach())

        return train_epochs(
            step, X_t.shape[0], max_iter=max_iter, batch_size=self.batch_size,
            generator=generator, name=type(self).__name__, verbose=self.verbose,
            learning_rate=self.learning_rate,
            # The closed-loop objective is a game value, not a minimised loss.
            check_growth=self.objective == "reconstruction",
        )

    @staticmethod
    @torch.no_grad()
    def _init_decoder_scale(net, first):
        net.update_lipschitz(n_iter=30)
        net.normalize = False
        scale = torch.linalg.vector_norm(net.encode(first).flatten(1), dim=1).mean()
        net.normalize = True
        net.log_scale.fill_(float(torch.log(scale.clamp_min(1e-8))))

    def _ctrl_step(self, net, xb, yb, generator, enc_opt, dec_opt):
        if yb is None:
            xb = torch.cat([xb, augment(xb, generator)])
            groups = label_groups(np.tile(np.arange(len(xb) // 2), 2))
        else:
            groups = label_groups(yb)
        enc_opt.zero_grad()
        dec_opt.zero_grad()
        value, fit, z = _ctrl_gradients(net, xb, groups, self.epsilon)
        enc_opt.step()
        dec_opt.step()
        self._fit_decoder_scale(net, xb, z)
        return float(value - fit)

    @staticmethod
    @torch.no_grad()
    def _fit_decoder_scale(net, xb, z):
        # Unit-norm codes carry no brightness: the decoder's global scale has
        # a closed-form least-squares optimum, tracked with a moving average
        # (Adam alone lags far behind while the dictionaries change).
        x_hat = net.decode(z)
        best = torch.sum(xb * x_hat) / torch.sum(x_hat * x_hat).clamp_min(1e-12)
        if bool(best > 0):
            net.log_scale.add_(0.5 * torch.log(best))

    @torch.no_grad()
    def _refit_decoder_scale(self, X, codes):
        # Training tracks the scale on the codes of encoders that kept moving
        # (and with the step sizes of training, not the refined ones of the
        # stored encoder); the codes of the final encoder call for their own
        # least-squares scale, a factor of up to 1.3 on MNIST. Decoding is
        # linear in it.
        x_hat = self._decode(codes)
        cross = np.einsum("ij,ij->", X, x_hat, dtype=np.float64)
        best = cross / max(np.einsum("ij,ij->", x_hat, x_hat, dtype=np.float64), 1e-12)
        if best > 0:
            self._net.log_scale.add_(float(np.log(best)))

    # ------------------------------------------------------- transform/sample
    @property
    def _n_codes(self):
        return int(np.prod(self.code_shape_))

    def _code_width_note(self):
        return f"code_shape_={self.code_shape_}"


    @_on_threads
    @torch.no_grad()
    def _encode(self, X):
        out = np.empty((X.shape[0], self._n_codes), dtype=X.dtype)
        for batch in iter_batches(X.shape[0], self.batch_size):
            z = self._net.encode(self._to_signals(X[batch], self.device_))
            out[batch] = as_numpy(z.flatten(1), dtype=X.dtype)
        return out

    @_on_threads
    @torch.no_grad()
    def _decode(self, Z):
        out = np.empty((Z.shape[0], self.n_features_in_), dtype=Z.dtype)
        for batch in iter_batches(Z.shape[0], self.batch_size):
            z = as_tensor(Z[batch], self.device_, dtype=self._net_dtype_np())
            x = self._net.decode(z.view((-1,) + self.code_shape_))
            out[batch] = as_numpy(self._from_signals(x), dtype=Z.dtype)
        return out

    @_on_threads
    def _decode_adjoint(self, images):
        """``G^T v`` for flattened images ``v`` (rows): the decoder is linear in the codes."""
        out = np.empty((images.shape[0], self._n_codes), dtype=images.dtype)
        for batch in iter_batches(images.shape[0], self.batch_size):
            v = as_tensor(images[batch], self.device_, dtype=self._net_dtype_np())
            with torch.enable_grad():
                z = torch.zeros((v.shape[0],) + self.code_shape_, device=v.device,
                                dtype=v.dtype, requires_grad=True)
                x = self._from_signals(self._net.decode(z))
                (adjoint,) = torch.autograd.grad(x, z, grad_outputs=v)
            out[batch] = as_numpy(adjoint.flatten(1), dtype=images.dtype)
        return out

    # ---------------------------------------------------------------- density
    def _prior_range(self):
        # The prior models the images' principal coordinates c; its draws
        # decode to decoded_mean_ + c V (up to decode_error_).
        subspace = getattr(self, "code_subspace_", None)
        if subspace is None:
            return None
        return LinearRange(subspace.directions_, subspace.decoded_mean_,
                           owner=type(self).__name__)

    def _no_density_reason(self):
        return (
            f"{type(self).__name__}.score and score_samples need a pixel-space density, which "
            "this model has only with its prior in the "
            "images' principal subspace (prior_dim, the default for objective='reconstruction'); "
            "a prior over the raw codes, which outnumber the pixels, has none. Set prior_dim "
            "to an int, or measure reconstructions with reconstruction_error."
        )

