"""ConvSparseCoder, its layers and the conv_sparse_code solver."""

import copy
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import Lasso
from sklearn.model_selection import GridSearchCV

from skspectral import CoefficientPrior, ConvSparseCoder, conv_sparse_code, make_pipeline
from skspectral._backend import n_threads
from skspectral.conv import _csc, _estimator
from skspectral.conv._csc import (
    admm_cbpdn,
    circular_objective,
    fft_filters,
    fft_lipschitz,
    fista_cbpdn,
    power_iteration,
)
from skspectral.conv._estimator import _ctrl_gradients, _fit_term
from skspectral.conv._layers import CSCLayer
from skspectral.conv._objectives import ctrl_game, label_groups
from skspectral.prior._estimator import MIXTURE_COMPONENTS

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _dense_circular_operator(filters, shape):
    """Columns = circular convolution of the filters with every unit impulse."""
    M = filters.shape[0]
    H, W = shape
    impulses = torch.eye(M * H * W, dtype=torch.float64).view(-1, M, H, W)
    D_hat = fft_filters(torch.as_tensor(filters, dtype=torch.float64), shape)
    X_hat = torch.fft.rfft2(impulses)
    Ax = torch.fft.irfft2(torch.einsum("mcuv,nmuv->ncuv", D_hat, X_hat), s=shape)
    return Ax.reshape(M * H * W, -1).numpy().T


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return (d.data / 16).astype(np.float32), d.target


# --------------------------------------------------------------- the solver
@pytest.mark.parametrize("algorithm", ["admm", "fista"])
@pytest.mark.parametrize("n_channels", [1, 2])
def test_solver_matches_dense_lasso(n_channels, algorithm):
    rng = np.random.RandomState(0)
    H = W = 6
    filters = rng.randn(3, n_channels, 3, 3)
    image = rng.randn(n_channels, H, W)
    A = _dense_circular_operator(filters, (H, W))
    alpha = 0.3
    n = A.shape[0]
    lasso = Lasso(alpha=alpha / n, fit_intercept=False, tol=1e-12, max_iter=200_000)
    lasso.fit(A, image.reshape(-1))
    expected = 0.5 * np.sum((A @ lasso.coef_ - image.reshape(-1)) ** 2) + alpha * np.abs(
        lasso.coef_
    ).sum()

    X = image.transpose(1, 2, 0)[None]
    F = filters.transpose(0, 2, 3, 1)
    codes, objective = conv_sparse_code(X, F, alpha, max_iter=20_000, tol=1e-12,
                                        algorithm=algorithm, device="cpu")
    assert codes.shape == (1, 3, H, W)
    assert objective == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(codes.reshape(-1), lasso.coef_, atol=1e-4)


def test_fista_objective_decreases_with_iterations():
    rng = np.random.RandomState(1)
    S = torch.as_tensor(rng.randn(2, 1, 16, 16))
    D = torch.as_tensor(rng.randn(4, 1, 4, 4))
    values = [fista_cbpdn(S, D, 0.1, max_iter=k, tol=0)[1] for k in (1, 5, 20, 80)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    X, obj, _ = fista_cbpdn(S, D, 0.1, max_iter=80, tol=0)
    assert obj == pytest.approx(circular_objective(S, X, D, 0.1), rel=1e-8)
    zero = circular_objective(S, torch.zeros_like(X), D, 0.1)
    assert values[-1] < 0.5 * zero


def test_fista_positive_and_float32():
    rng = np.random.RandomState(2)
    X = rng.rand(3, 12, 12).astype(np.float32)
    codes, obj = conv_sparse_code(X, rng.randn(5, 3, 3), 0.05, positive=True, device="cpu")
    assert codes.dtype == np.float32 and codes.min() >= 0 and np.isfinite(obj)
    codes64, _, n_iter = conv_sparse_code(X.astype(np.float64), rng.randn(5, 3, 3), 0.05,
                                          device="cpu", return_n_iter=True)
    assert codes64.dtype == np.float64 and n_iter >= 1


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_admm_fused_cpu_kernels_match_torch_path(monkeypatch, dtype, positive):
    rng = np.random.RandomState(4)
    S = torch.as_tensor(rng.randn(3, 1, 12, 10), dtype=dtype)
    D = torch.as_tensor(rng.randn(5, 1, 3, 3), dtype=dtype)
    fused = admm_cbpdn(S, D, 0.2, max_iter=25, tol=0, positive=positive)
    monkeypatch.setattr(_csc, "_fused", lambda tensor: False)
    plain = admm_cbpdn(S, D, 0.2, max_iter=25, tol=0, positive=positive)
    atol = 1e-4 if dtype == torch.float32 else 1e-10
    np.testing.assert_allclose(fused[0].numpy(), plain[0].numpy(), atol=atol)
    assert fused[1] == pytest.approx(plain[1], rel=10 * atol)
    if positive:
        assert float(fused[0].min()) >= 0


def test_admm_reaches_fista_optimum_and_stops_on_tolerance():
    rng = np.random.RandomState(5)
    S = torch.as_tensor(rng.randn(2, 1, 16, 16))
    D = torch.as_tensor(rng.randn(6, 1, 4, 4))
    trace = []
    X, obj, n_iter = admm_cbpdn(S, D, 0.1, max_iter=2000, tol=1e-6,
                                callback=lambda k, value: trace.append(value))
    _, fista_obj, _ = fista_cbpdn(S, D, 0.1, max_iter=5000, tol=1e-10)
    assert n_iter < 2000 and len(trace) == n_iter
    assert obj == pytest.approx(fista_obj, rel=1e-5)
    assert obj == pytest.approx(circular_objective(S, X, D, 0.1), rel=1e-8)
    assert trace[-1] == pytest.approx(obj)
    # a non-contiguous warm start runs as its contiguous copy
    X0 = X.transpose(2, 3).contiguous().transpose(2, 3)
    assert not X0.is_contiguous()
    warm = admm_cbpdn(S, D, 0.1, max_iter=5, tol=0, X0=X0)
    assert warm[1] == admm_cbpdn(S, D, 0.1, max_iter=5, tol=0, X0=X.clone())[1]


def test_solver_overflow_raises():
    images = np.full((1, 8, 8), 3e38, dtype=np.float32)
    with pytest.raises(FloatingPointError, match="diverged"):
        conv_sparse_code(images, np.ones((2, 3, 3), dtype=np.float32), 0.1, device="cpu")


def test_fft_lipschitz_is_the_operator_norm():
    rng = np.random.RandomState(3)
    for C in (1, 3):
        filters = rng.randn(4, C, 3, 3)
        A = _dense_circular_operator(filters, (5, 5))
        exact = np.linalg.norm(A, 2) ** 2
        L = fft_lipschitz(fft_filters(torch.as_tensor(filters), (5, 5)))
        assert L == pytest.approx(exact, rel=1e-8)


@pytest.mark.parametrize(
    "X, filters, match",
    [
        (np.ones((2, 8)), np.ones((3, 2, 2)), "dimensions"),
        (np.full((1, 8, 8), np.nan), np.ones((3, 2, 2)), "NaN"),
        (np.ones((1, 8, 8, 3)), np.ones((3, 2, 2)), "channel"),
        (np.ones((1, 4, 4)), np.ones((3, 5, 5)), "do not fit"),
    ],
)
def test_solver_bad_input(X, filters, match):
    with pytest.raises(ValueError, match=match):
        conv_sparse_code(X, filters, 0.1, device="cpu")
    with pytest.raises(ValueError, match="alpha"):
        conv_sparse_code(np.ones((1, 8, 8)), np.ones((2, 3, 3)), -1.0)
    with pytest.raises(ValueError, match="algorithm"):
        conv_sparse_code(np.ones((1, 8, 8)), np.ones((2, 3, 3)), 0.1, algorithm="ista")


# --------------------------------------------------------------- the layers
@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("in_size, stride", [((9,), 1), ((10,), 2), ((8, 8), 1), ((9, 7), 2)])
def test_decoder_is_adjoint_of_encoder_correlation(in_size, stride, in_channels):
    torch.manual_seed(0)
    layer = CSCLayer(in_channels, 5, 3, stride, in_size, n_unrolled=1, alpha=0.1,
                     positive=False).double()
    A = layer.dictionary().detach()
    z = torch.randn((2, 5) + layer.out_size, dtype=torch.float64)
    x = torch.randn((2, in_channels) + in_size, dtype=torch.float64)
    lhs = torch.sum(layer.synthesis(z, A) * x)
    rhs = torch.sum(z * layer.analysis(x, A))
    assert float(lhs) == pytest.approx(float(rhs), rel=1e-12)
    assert layer.synthesis(z, A).shape == x.shape


@pytest.mark.parametrize("in_size, stride", [((8, 8), 1), ((9, 7), 2)])
def test_single_channel_kernels_match_torch_convolutions(in_size, stride):
    # Images of one channel take torch's native CPU kernels instead of oneDNN.
    torch.manual_seed(0)
    layer = CSCLayer(1, 4, 3, stride, in_size, n_unrolled=1, alpha=0.1, positive=False).double()
    A = layer.dictionary().detach().requires_grad_()
    x = torch.randn((2, 1) + in_size, dtype=torch.float64, requires_grad=True)
    z = torch.randn((2, 4) + layer.out_size, dtype=torch.float64, requires_grad=True)
    pad = layer.padding
    pairs = [
        (x, layer.analysis(x, A), F.conv2d(x, A, stride=stride, padding=pad)),
        (z, layer.synthesis(z, A), F.conv_transpose2d(z, A, stride=stride, padding=pad,
                                                      output_padding=layer.output_padding)),
    ]
    for signal, out, expected in pairs:
        torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
        weights = torch.randn_like(out)
        grads = torch.autograd.grad(out, (signal, A), weights)
        grads_expected = torch.autograd.grad(expected, (signal, A), weights)
        for grad, grad_expected in zip(grads, grads_expected):
            torch.testing.assert_close(grad, grad_expected, rtol=1e-12, atol=1e-12)


def _reference_unrolled_fista(layer, x):
    # FISTA for the layer's lasso written out: z_k = S(y - step A^T (A y - x)).
    A = layer.dictionary()
    step = 1.0 / float(layer.lipschitz)
    thresh = layer.effective_alpha() * step
    if layer.positive:
        def shrink(v):
            return torch.relu(v - thresh)
    else:
        def shrink(v):
            return torch.sign(v) * torch.relu(v.abs() - thresh)
    z = shrink(step * layer.analysis(x, A))
    z_prev, t = z, 1.0
    for _ in range(layer.n_unrolled):
        t_next = 0.5 * (1.0 + (1.0 + 4.0 * t * t) ** 0.5)
        y = z + (t - 1.0) / t_next * (z - z_prev)
        z_prev, z = z, shrink(y - step * layer.analysis(layer.synthesis(y, A) - x, A))
        t = t_next
    return z


@pytest.mark.parametrize("in_channels, stride", [(1, 1), (1, 2), (3, 2)])
@pytest.mark.parametrize("positive", [False, True])
def test_unrolled_encoder_is_fista(in_channels, stride, positive):
    torch.manual_seed(0)
    layer = CSCLayer(in_channels, 5, 3, stride, (9, 9), n_unrolled=3, alpha=0.2,
                     positive=positive).double().eval()
    layer.update_lipschitz(50)
    x = torch.randn(3, in_channels, 9, 9, dtype=torch.float64, requires_grad=True)
    z = layer.encode(x)
    expected = _reference_unrolled_fista(layer, x)
    torch.testing.assert_close(z, expected, rtol=1e-10, atol=1e-12)
    # (3 channels at stride 2: the codes are smaller than the signal, and the
    # encoder subtracts A^T x rather than x.)
    weights = torch.randn_like(z)
    grads = torch.autograd.grad(z, (layer.weight, x), weights)
    grads_expected = torch.autograd.grad(expected, (layer.weight, x), weights)
    for grad, grad_expected in zip(grads, grads_expected):
        torch.testing.assert_close(grad, grad_expected, rtol=1e-9, atol=1e-10)


def test_power_iteration_matches_dense_norm():
    torch.manual_seed(0)
    layer = CSCLayer(2, 4, 3, 2, (8, 8), n_unrolled=1, alpha=0.1, positive=False).double()
    A = layer.dictionary().detach()
    n_in = 2 * 64
    cols = [layer.synthesis(e.view((1, 4) + layer.out_size), A).reshape(-1)
            for e in torch.eye(4 * 16, dtype=torch.float64)]
    dense = torch.stack(cols, dim=1).numpy()
    assert dense.shape == (n_in, 64)
    L, _ = power_iteration(lambda v: layer.analysis(layer.synthesis(v, A), A),
                           (1, 4) + layer.out_size, n_iter=300, dtype=torch.float64)
    exact = np.linalg.norm(dense, 2) ** 2
    # A Rayleigh quotient: a lower bound that converges to the norm.
    assert exact * (1 - 1e-3) <= L <= exact * (1 + 1e-9)


def test_unrolled_encoder_decreases_lasso_objective():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 12, 12, dtype=torch.float64)
    values = []
    for n_iter in (0, 2, 10, 50):
        layer = CSCLayer(1, 6, 3, 1, (12, 12), n_unrolled=n_iter, alpha=0.2, positive=False).double()
        with torch.random.fork_rng():
            torch.manual_seed(1)
            layer.weight.data = torch.randn_like(layer.weight)
        layer.update_lipschitz(100)
        with torch.no_grad():
            z = layer.encode(x)
            x_hat = layer.decode(z)
        values.append(float(0.5 * ((x_hat - x) ** 2).sum() + 0.2 * z.abs().sum()))
    assert values[0] > values[1] > values[2] >= values[3] - 1e-9


# ------------------------------------------------------------ the estimator
def test_fit_transform_inverse_shapes_and_dtype(digits):
    X, y = digits
    model = ConvSparseCoder(n_filters=(4, 8), image_shape=(8, 8), max_iter=2,
                            device="cpu", random_state=0).fit(X[:200])
    codes = model.transform(X[:10])
    assert codes.shape == (10, 8 * 4 * 4) and codes.dtype == np.float32
    assert model.code_shape_ == (8, 4, 4)
    rec = model.inverse_transform(codes)
    assert rec.shape == (10, 64) and rec.dtype == np.float32
    assert [d.shape for d in model.dictionaries_] == [(4, 1, 3, 3), (8, 4, 3, 3)]
    norms = np.linalg.norm(model.dictionaries_[0].reshape(4, -1), axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    assert len(model.loss_curve_) == 2 and model.loss_curve_[1] < model.loss_curve_[0]


def test_default_prior_is_a_whitened_mixture_over_one_coordinate_per_12_pixels(digits):
    # prior_dim="auto": round(64 / 12) = 5 decoded coordinates of 8 x 8
    # images, fitted on the images' projections.
    X, y = digits
    model = ConvSparseCoder(n_filters=(4, 8), image_shape=(8, 8), max_iter=1,
                            device="cpu", random_state=0).fit(X[:1000])
    assert model.code_subspace_.n_components_ == 5
    prior = model.prior_
    assert (prior.kind, prior.whiten, prior.n_components) == ("gmm", True, MIXTURE_COMPONENTS)
    assert prior.n_features_in_ == 5
    reference = clone(prior).fit(model.code_subspace_.project(X[:1000]))
    probe = model.code_subspace_.project(X[1000:1100])
    np.testing.assert_allclose(prior.score_samples(probe), reference.score_samples(probe),
                               rtol=1e-5)
    # The closed-loop game draws normalised codes: its "auto" keeps the raw codes.
    ctrl = ConvSparseCoder(n_filters=(4, 8), image_shape=(8, 8), max_iter=1,
                           objective="ctrl", device="cpu", random_state=0).fit(X[:300])
    assert ctrl.code_subspace_ is None and ctrl.prior_.pca_dim == 32


def test_raw_code_prior_is_a_mixture_over_32_components_sized_to_the_codes(digits):
    # prior_dim=None: up to MIXTURE_COMPONENTS (30) over the codes' top 32
    # principal components, each with at least 32 codes (of the smallest
    # class, with labels).
    X, y = digits
    model = ConvSparseCoder(n_filters=(4, 8), image_shape=(8, 8), max_iter=1,
                            prior_dim=None, device="cpu", random_state=0)
    prior = model.fit(X[:1000]).prior_
    assert (prior.kind, prior.pca_dim, prior.n_components) == ("gmm", 32, MIXTURE_COMPONENTS)
    assert model.fit(X[:300]).prior_.n_components == 300 // 32
    assert model.fit(X, y).prior_.n_components == np.bincount(y).min() // 32
    assert model.fit(X[:20]).prior_.n_components == 1


def test_training_improves_reconstruction(digits):
    X, _ = digits
    kwargs = dict(n_filters=(8,), strides=(1,), image_shape=(8, 8), alpha=0.05,
                  device="cpu", random_state=0)
    model = ConvSparseCoder(max_iter=3, **kwargs).fit(X[:400])
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    untrained = ConvSparseCoder(max_iter=1, learning_rate=1e-12, **kwargs).fit(X[:400])
    assert model.reconstruction_error(X[600:800]) < untrained.reconstruction_error(X[600:800])
    assert model.reconstruction_error(X[600:800]) < 0.01  # MSE on unseen digits in [0, 1]


def test_reproducible(digits):
    X, _ = digits
    kw = dict(n_filters=(4,), strides=(1,), image_shape=(8, 8), max_iter=1, device="cpu")
    a = ConvSparseCoder(random_state=3, **kw).fit(X[:60]).transform(X[:5])
    b = ConvSparseCoder(random_state=3, **kw).fit(X[:60]).transform(X[:5])
    np.testing.assert_array_equal(a, b)


def test_color_images_and_1d_signals():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 6 * 6 * 3).astype(np.float32)
    model = ConvSparseCoder(n_filters=(4, 6), image_shape=(6, 6, 3), max_iter=1,
                            device="cpu", random_state=0).fit(X)
    assert model.transform(X).shape == (40, 6 * 3 * 3)
    assert model.dictionaries_[0].shape == (4, 3, 3, 3)
    signals = ConvSparseCoder(max_iter=1, device="cpu", random_state=0).fit(rng.rand(30, 11))
    assert signals.dictionaries_[0].shape == (32, 1, 3)
    assert signals.transform(rng.rand(2, 11)).shape == (2, 64 * 6)


def test_class_conditional_sampling(digits):
    X, y = digits
    model = ConvSparseCoder(n_filters=(8, 16), image_shape=(8, 8), max_iter=2,
                            alpha=0.05, device="cpu", random_state=0).fit(X[:500], y[:500])
    np.testing.assert_array_equal(model.classes_, np.arange(10))
    samples = model.sample(30, y=3, random_state=0)
    assert samples.shape == (30, 64)
    # Samples of class 3 are closer to the real 3s than to any other class mean.
    means = np.stack([X[:500][y[:500] == c].mean(0) for c in range(10)])
    dist = ((samples.mean(0)[None] - means) ** 2).sum(1)
    assert np.argmin(dist) == 3
    mixed = model.sample(6, y=[0, 1, 2, 0, 1, 2], random_state=0)
    assert mixed.shape == (6, 64)
    np.testing.assert_array_equal(model.sample(5, random_state=1), model.sample(5, random_state=1))
    with pytest.raises(ValueError, match="not a class seen in fit"):
        model.sample(2, y=42)
    with pytest.raises(ValueError, match="labels"):
        model.sample(3, y=[0, 1])


def test_sample_with_y_without_classes_raises(digits):
    X, _ = digits
    model = ConvSparseCoder(n_filters=(4,), strides=(1,), image_shape=(8, 8), max_iter=1,
                            device="cpu", random_state=0).fit(X[:100])
    assert model.sample(3, random_state=0).shape == (3, 64)
    with pytest.raises(ValueError, match="fitted without y"):
        model.sample(2, y=1)


def test_ctrl_objective_trains_and_normalises(digits):
    X, y = digits
    model = ConvSparseCoder(n_filters=(4, 8), image_shape=(8, 8), objective="ctrl",
                            max_iter=1, batch_size=100, device="cpu",
                            random_state=0).fit(X[:100], y[:100])
    codes = model.transform(X[:20])
    np.testing.assert_allclose(np.linalg.norm(codes, axis=1), 1.0, rtol=1e-4)
    assert np.isfinite(model.loss_curve_).all()
    assert model.sample(4, y=1, random_state=0).shape == (4, 64)
    unsupervised = ConvSparseCoder(n_filters=(4,), strides=(1,), image_shape=(8, 8),
                                   objective="ctrl", max_iter=1, batch_size=25,
                                   device="cpu", random_state=0).fit(X[:50])
    assert np.isfinite(unsupervised.loss_curve_).all()


@pytest.mark.parametrize("labelled", [True, False])
def test_ctrl_step_gradients_are_each_players_own(digits, labelled):
    # One forward pass serves both players: the encoder's gradient is that of
    # fit - value, the decoder's that of value + fit, both at the same
    # parameters, as separate backward passes through the whole loop give.
    X, y = digits
    model = ConvSparseCoder(n_filters=(4, 8), image_shape=(8, 8), objective="ctrl",
                            max_iter=1, device="cpu", random_state=0).fit(X[:64], y[:64])
    net = model._net.double()
    with torch.no_grad():
        for gain in net.gains:
            gain.normal_(0.0, 0.3)
        net.log_scale.add_(0.2)
    xb = model._to_signals(X[64:96], torch.device("cpu"))
    groups = label_groups(y[64:96] if labelled else np.arange(32) % 8)
    encoder, decoder = net.encoder_parameters(), net.decoder_parameters()
    value, x_hat = ctrl_game(net, xb, groups, 0.5)
    fit = _fit_term(xb, x_hat)
    expected_enc = torch.autograd.grad(fit - value, encoder, retain_graph=True)
    expected_dec = torch.autograd.grad(value + fit, decoder, retain_graph=True)
    # The decoder does not share the encoder's goal: one backward pass of
    # fit - value would give it a different gradient.
    encoders_goal = torch.autograd.grad(fit - value, decoder)
    assert all(float((a - b).abs().max()) > 1e-6 for a, b in zip(expected_dec, encoders_goal))
    net.zero_grad(set_to_none=True)
    got_value, got_fit, z = _ctrl_gradients(net, xb, groups, 0.5)
    torch.testing.assert_close(got_value, value.detach())
    torch.testing.assert_close(got_fit, fit.detach())
    torch.testing.assert_close(z, net.encode(xb).detach())
    for p, grad in zip(encoder + decoder, expected_enc + expected_dec):
        assert grad.abs().max() > 0
        torch.testing.assert_close(p.grad, grad, rtol=1e-9, atol=1e-12)


def test_ctrl_fit_refits_the_decoder_scale_to_the_final_codes(digits):
    # Training tracks the scale on codes of moving encoders; after fit it is
    # the least-squares scale of the stored encoder's codes of X.
    X, y = digits
    model = ConvSparseCoder(n_filters=(4, 8), image_shape=(8, 8), objective="ctrl",
                            max_iter=2, device="cpu", random_state=0).fit(X[:300], y[:300])
    X_hat = model.inverse_transform(model.transform(X[:300])).astype(np.float64)
    best = np.sum(X[:300] * X_hat) / np.sum(X_hat * X_hat)
    assert best == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("objective", ["reconstruction", "ctrl"])
def test_auto_max_iter_runs_each_objectives_epochs(digits, objective):
    X, y = digits
    kwargs = dict(n_filters=(4,), strides=(1,), image_shape=(8, 8), objective=objective,
                  batch_size=50, device="cpu", random_state=0)
    epochs = {"reconstruction": 5, "ctrl": 3}[objective]
    model = ConvSparseCoder(**kwargs).fit(X[:100], y[:100])
    assert model.max_iter == "auto"
    assert model.n_iter_ == len(model.loss_curve_) == epochs
    explicit = ConvSparseCoder(max_iter=epochs, **kwargs).fit(X[:100], y[:100])
    np.testing.assert_array_equal(explicit.loss_curve_, model.loss_curve_)
    da = pytest.importorskip("dask.array")
    streamed = ConvSparseCoder(**kwargs).fit(da.from_array(X[:100], chunks=(50, -1)), y[:100])
    assert streamed.n_iter_ == len(streamed.loss_curve_) == epochs
    assert streamed.max_iter == "auto"


@pytest.mark.parametrize("n_jobs", [None, 1, 2])
def test_n_jobs_sets_the_training_threads(digits, monkeypatch, n_jobs):
    X, _ = digits
    seen = []
    train_epochs = _estimator.train_epochs

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return train_epochs(*args, **kwargs)

    monkeypatch.setattr(_estimator, "train_epochs", recording)
    before = torch.get_num_threads()
    ConvSparseCoder(n_filters=(4,), strides=(1,), image_shape=(8, 8), max_iter=1,
                    n_jobs=n_jobs, device="cpu", random_state=0).fit(X[:50])
    assert seen == [n_threads(n_jobs)]
    assert torch.get_num_threads() == before


def test_pipeline_and_grid_search(digits):
    X, _ = digits
    pipe = make_pipeline(
        ConvSparseCoder(n_filters=(4, 8), image_shape=(8, 8), max_iter=1, device="cpu",
                        random_state=0),
        CoefficientPrior("gaussian", shrinkage="ledoit_wolf", random_state=0),
    ).fit(X[:200])
    assert pipe.sample(5, random_state=0).shape == (5, 64)
    grid = GridSearchCV(
        ConvSparseCoder(image_shape=(8, 8), max_iter=1, device="cpu", random_state=0),
        {"alpha": [0.01, 1.0], "n_filters": [(4,), (4, 8)], "strides": [(1,)]},
        cv=2,
        error_score="raise",
    )
    # n_filters=(4, 8) with strides=(1,) is rejected with a clear message.
    with pytest.raises(ValueError, match="strides"):
        grid.fit(X[:100])
    grid.set_params(param_grid={"alpha": [0.01, 1.0], "n_filters": [(4,), (8,)],
                                "strides": [(1,)]}).fit(X[:100])
    assert grid.best_params_["alpha"] == 0.01


@pytest.mark.parametrize(
    "params, X, match",
    [
        ({"image_shape": (8, 7)}, np.ones((5, 64)), "image_shape"),
        ({"image_shape": (8, 8)}, np.full((5, 64), np.nan), "NaN"),
        ({"strides": (1,)}, np.ones((5, 8)), "strides"),
        ({"n_filters": (0, 2)}, np.ones((5, 8)), "n_filters"),
        ({"objective": "gan"}, np.ones((5, 8)), "objective"),
        ({"device": "tpu"}, np.ones((5, 8)), "device"),
    ],
)
def test_bad_input(params, X, match):
    with pytest.raises(ValueError, match=match):
        ConvSparseCoder(max_iter=1, **params).fit(X)


def test_inverse_transform_checks_code_size(digits):
    X, _ = digits
    model = ConvSparseCoder(n_filters=(4,), strides=(1,), image_shape=(8, 8), max_iter=1,
                            device="cpu", random_state=0).fit(X[:50])
    with pytest.raises(ValueError, match="codes with 256 features"):
        model.inverse_transform(np.ones((2, 10)))


def test_divergence_raises(digits):
    X, _ = digits
    with pytest.raises(FloatingPointError, match="diverged"):
        ConvSparseCoder(n_filters=(4,), strides=(1,), image_shape=(8, 8), max_iter=1,
                        device="cpu", random_state=0).fit(X[:64] * 1e30)


# -------------------------------------------------------------- streaming
#: A small two-layer coder whose held-out reconstruction improves with each
#: pass over the digits (a one-layer stride-1 coder trades it for sparsity).
STREAM_KWARGS = dict(n_filters=(4, 8), image_shape=(8, 8), alpha=0.05, device="cpu",
                     random_state=0)


def _chunks(n_rows, n_chunks):
    return np.array_split(np.arange(n_rows), n_chunks)


def _mse(model, X):
    return float(np.mean((model.inverse_transform(model.transform(X)) - X) ** 2))


def test_partial_fit_streams_chunks(digits):
    X, _ = digits
    X_train, X_test = X[:1200], X[1200:]
    model = ConvSparseCoder(**STREAM_KWARGS)
    errors = []
    for _ in range(3):
        for rows in _chunks(1200, 4):
            assert model.partial_fit(X_train[rows]) is model
        errors.append(_mse(model, X_test))
    assert errors[2] < errors[1] < errors[0]
    assert model.n_features_in_ == 64 and model.code_shape_ == (8, 4, 4)
    assert model.n_iter_ == len(model.loss_curve_) == 12
    assert [d.shape for d in model.dictionaries_] == [(4, 1, 3, 3), (8, 4, 3, 3)]
    assert model.classes_ is None and not model._net.training
    codes = model.transform(X_test[:5])
    assert codes.shape == (5, 128) and codes.dtype == np.float32
    images = model.inverse_transform(codes)
    assert images.shape == (5, 64) and images.dtype == np.float32
    samples = model.sample(4, random_state=0)
    assert samples.shape == (4, 64) and samples.dtype == np.float32
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(np.ones((10, 32), dtype=np.float32))


def test_one_chunk_stream_trains_as_fit(digits):
    X, _ = digits
    fitted = ConvSparseCoder(max_iter=2, **STREAM_KWARGS).fit(X[:300])
    streamed = ConvSparseCoder(**STREAM_KWARGS)
    for _ in range(2):
        streamed.partial_fit(X[:300])
    np.testing.assert_allclose(streamed.loss_curve_, fitted.loss_curve_, rtol=1e-5)
    for a, b in zip(streamed.dictionaries_, fitted.dictionaries_):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("objective", ["reconstruction", "ctrl"])
def test_partial_fit_with_labels(digits, objective):
    X, y = digits
    X = X.astype(np.float64)
    kwargs = dict(STREAM_KWARGS, objective=objective, batch_size=50)
    # Without classes=, the first chunk's labels are all the stream may hold.
    inferred = ConvSparseCoder(**kwargs).partial_fit(X[:100], y[:100] % 2)
    np.testing.assert_array_equal(inferred.classes_, [0, 1])
    with pytest.raises(ValueError, match="y=5 is not in classes"):
        inferred.partial_fit(X[:10], np.full(10, 5))
    model = ConvSparseCoder(**kwargs)
    for rows in _chunks(600, 3):
        model.partial_fit(X[rows], y[rows], classes=np.arange(10))
    np.testing.assert_array_equal(model.classes_, np.arange(10))
    assert np.isfinite(model.loss_curve_).all() and len(model.loss_curve_) == 3
    with pytest.raises(ValueError, match="not in classes"):
        model.partial_fit(X[:10], np.full(10, 42))
    samples = model.sample(5, y=3, random_state=0)
    assert samples.shape == (5, 64) and samples.dtype == np.float64


def test_partial_fit_continues_a_fit(digits):
    X, _ = digits
    X_train, X_test = X[:1200], X[1200:]
    model = ConvSparseCoder(max_iter=3, **STREAM_KWARGS).fit(X_train)
    fitted_error, n_iter = _mse(model, X_test), model.n_iter_
    # With (nearly) no step, the stream holds the fitted dictionaries.
    still = copy.deepcopy(model).set_params(learning_rate=1e-9).partial_fit(X_train[:300])
    for a, b in zip(still.dictionaries_, model.dictionaries_):
        np.testing.assert_allclose(a, b, atol=1e-5)
    for rows in _chunks(1200, 4):
        model.partial_fit(X_train[rows])
        assert _mse(model, X_test) < 1.05 * fitted_error
    assert model.n_iter_ == n_iter + 4


def test_fit_on_dask_array(digits):
    da = pytest.importorskip("dask.array")
    X, y = digits
    X_train, X_test = X[:1200], X[1200:]
    kwargs = dict(STREAM_KWARGS, max_iter=3)
    in_memory = ConvSparseCoder(**kwargs).fit(X_train)
    streamed = ConvSparseCoder(**kwargs).fit(da.from_array(X_train, chunks=(300, -1)))
    assert abs(_mse(streamed, X_test) - _mse(in_memory, X_test)) < 0.2 * _mse(in_memory, X_test)
    assert streamed.n_iter_ == len(streamed.loss_curve_) == 3
    lazy = streamed.transform(da.from_array(X_test, chunks=(200, -1)))
    np.testing.assert_allclose(lazy.compute(), streamed.transform(X_test), rtol=1e-5,
                               atol=1e-6)
    labelled = ConvSparseCoder(max_iter=1, **STREAM_KWARGS).fit(
        da.from_array(X[:400], chunks=(100, -1)), y[:400]
    )
    np.testing.assert_array_equal(labelled.classes_, np.arange(10))
    assert labelled.sample(3, y=5, random_state=0).shape == (3, 64)


def test_diverging_partial_fit_raises(digits):
    X, _ = digits
    with pytest.raises(FloatingPointError, match="diverged"):
        ConvSparseCoder(**STREAM_KWARGS).partial_fit(X[:64] * 1e30)


def test_pickle_and_deepcopy_after_partial_fit(digits):
    X, _ = digits
    model = ConvSparseCoder(**STREAM_KWARGS)
    for rows in _chunks(600, 3):
        model.partial_fit(X[rows])
    for other in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert not hasattr(other, "_stream")
        np.testing.assert_allclose(other.transform(X[1200:]), model.transform(X[1200:]))
        np.testing.assert_allclose(other.sample(3, random_state=0),
                                   model.sample(3, random_state=0))
        # It resumes from its fitted network, with fresh optimisers.
        other.partial_fit(X[600:900])
        assert other.n_iter_ == model.n_iter_ + 1
    model.partial_fit(X[600:900])
    assert model.n_iter_ == 4


# ------------------------------------------------------- real data (slow)
def _needs_shared_data():
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not available")


def _psnr(a, b):
    return float(np.mean(10 * np.log10(1.0 / np.mean((a - b) ** 2, axis=1))))


@pytest.mark.slow
def test_cifar_regeneration_generalises_to_mnist():
    _needs_shared_data()
    from skspectral.datasets import fetch_mnist, load_images

    X = load_images(SHARED_DATA / "cifar10" / "train_images_20k.npy", n_samples=1000).data
    X_test = load_images(SHARED_DATA / "cifar10" / "test_images.npy", n_samples=200).data
    digits = fetch_mnist(data_home=SHARED_DATA, subset="test", n_samples=200).data
    digits = digits.reshape(200, 28, 28)
    digits = np.repeat(np.pad(digits, ((0, 0), (2, 2), (2, 2)))[..., None], 3, axis=-1)
    digits = digits.reshape(200, -1).astype(np.float32)
    model = ConvSparseCoder(image_shape=(32, 32, 3), max_iter=1, device="cpu",
                            random_state=0).fit(X)
    cifar = _psnr(X_test, model.inverse_transform(model.transform(X_test)))
    mnist = _psnr(digits, model.inverse_transform(model.transform(digits)))
    # One short epoch: 18.8 dB with 3,000 images (docs/guide/conv.rst).
    assert cifar > 14.0
    # The autoencoder generalises to a dataset it never saw: no large gap.
    assert mnist > cifar - 3.0


@pytest.mark.slow
def test_ctrl_codes_of_classes_are_more_orthogonal():
    _needs_shared_data()
    from skspectral.datasets import fetch_mnist

    train = fetch_mnist(data_home=SHARED_DATA, n_samples=600)
    test = fetch_mnist(data_home=SHARED_DATA, subset="test", n_samples=300)
    model = ConvSparseCoder(n_filters=(8, 16), image_shape=(28, 28), objective="ctrl",
                            alpha=0.05, learning_rate=0.02, max_iter=1, batch_size=100,
                            device="cpu", random_state=0).fit(train.data, train.target)
    Z = model.transform(test.data)
    cos = np.abs(Z @ Z.T)
    same = test.target[:, None] == test.target[None]
    off = ~np.eye(len(Z), dtype=bool)
    assert cos[same & off].mean() > 1.2 * cos[~same].mean()
    labels = np.repeat(np.arange(10), 5)
    assert model.sample(50, y=labels, random_state=0).shape == (50, 784)


@pytest.mark.slow
def test_mnist_partial_fit_matches_in_memory_fit(shared_data):
    from skspectral.datasets import fetch_mnist

    train = fetch_mnist(data_home=shared_data, n_samples=2_000,
                        download_if_missing=False).data
    test = fetch_mnist(data_home=shared_data, subset="test", n_samples=1_000,
                       download_if_missing=False).data
    kwargs = dict(n_filters=(8, 16), image_shape=(28, 28), alpha=0.05, device="cpu",
                  random_state=0)
    in_memory = ConvSparseCoder(max_iter=8, **kwargs).fit(train)
    streamed = ConvSparseCoder(**kwargs)
    for _ in range(8):  # as many passes as fit's epochs, over 4 chunks of 500
        for rows in _chunks(len(train), 4):
            streamed.partial_fit(train[rows])
    expected = _mse(in_memory, test)
    # Measured: 0.001467 in memory, 0.001464 streamed (-0.2%; seed 1: -0.4%).
    assert abs(_mse(streamed, test) - expected) < 0.05 * expected


def test_filters_of_zeros_are_refused():
    filters = np.random.RandomState(0).rand(4, 3, 3)
    filters[2] = 0.0
    with pytest.raises(ValueError, match="filters has 1 filter"):
        conv_sparse_code(np.random.RandomState(1).rand(2, 8, 8), filters, 0.1)


def test_filters_larger_than_the_images_are_refused():
    with pytest.raises(ValueError, match="do not fit in images"):
        conv_sparse_code(np.zeros((2, 8, 8)), np.ones((4, 12, 12)), 0.1)
    with pytest.raises(ValueError, match="kernel_size"):
        ConvSparseCoder(image_shape=(8, 8), kernel_size=11, max_iter=1).fit(
            np.random.RandomState(0).rand(10, 64))
