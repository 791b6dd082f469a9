"""Rotation-based iterative Gaussianization of codes.

Chen & Gopinath's Gaussianization (NIPS 2000), in the rotation-based form of
Laparra, Camps-Valls & Malo (IEEE TNN 2011): each layer rotates the codes
to their independent components (scikit-learn's
:class:`~sklearn.decomposition.FastICA`) and maps every component to a
standard normal through its own empirical distribution. Natural-image codes
are sparse and their magnitudes depend on one another; a Gaussian or a
mixture fitted after a few layers sees codes much closer to what it can
model, and draws mapped back through the layers get the codes' heavy-tailed,
dependent structure. Every layer is a bijection of the real line per
coordinate with an exact Jacobian, so ``score_samples`` stays a density.
"""

import warnings

import numpy as np
from scipy.special import ndtri
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning

from .._backend._random import seed_from
from ._densities import WrappedDensity

#: Quantiles per coordinate that a marginal map is built on (at most). A map
#: takes about the square root of the number of codes: finer maps follow the
#: sample's noise (on 8,000 whitened PCA(256) codes of CIFAR-10, one layer
#: under a 20-component mixture scored -101.9, -102.8, -108.5 and -108.3
#: nats of held-out log-likelihood with 30, 100, 300 and 1,000 quantiles;
#: the mixture alone -116.3), coarser ones lose the tails (3 layers, FID of
#: 1,000 samples: 114.3 with 30 quantiles, 111.2 with 100, 110.7 with 1,000).
MAX_QUANTILES = 1000
#: Steepest a marginal map may be, in normal scores per standard deviation
#: of its column (a standard normal column's map has slope 1 everywhere).
MAX_SLOPE = 100.0
#: FastICA iterations per layer: the layer only needs a rotation that makes
#: the coordinates more independent, not a converged one.
ICA_MAX_ITER = 200


class MarginalGaussianizer:
    """Every column mapped to a standard normal through its empirical distribution.

    The map is piecewise linear between the sample quantiles at probabilities
    ``(j + 1/2) / n_quantiles`` and their normal scores, and continues the end
    segments linearly beyond them: a strictly increasing bijection of the real
    line, whose inverse and log-derivative are exact and cheap, and which does
    not clip codes outside the training range (as a quantile transform does).
    """

    def fit(self, X):
        n_quantiles = int(np.clip(round(np.sqrt(X.shape[0])), 2, MAX_QUANTILES))
        probabilities = (np.arange(n_quantiles) + 0.5) / n_quantiles
        scores = ndtri(probabilities)
        self.knots = _spread_knots(np.quantile(X, probabilities, axis=0), scores, X)
        self.scores = scores
        return self

    def transform(self, X):
        """The Gaussianized columns and the log-derivative of the map, per entry."""
        out = np.empty_like(X)
        log_slope = np.empty_like(X)
        for j in range(X.shape[1]):
            out[:, j], log_slope[:, j] = _piecewise_linear(X[:, j], self.knots[:, j], self.scores)
        return out, log_slope

    def inverse_transform(self, G):
        out = np.empty_like(G)
        for j in range(G.shape[1]):
            out[:, j] = _piecewise_linear(G[:, j], self.scores, self.knots[:, j])[0]
        return out


def _spread_knots(knots, scores, X):
    """Quantile knots at least ``1 / MAX_SLOPE`` of a normal-score step apart, in column units.

    Tied quantiles (a constant or discrete column), or nearly tied ones (a
    direction along which all but a few codes coincide, as an independent
    component of a handful of codes can be), would give segments of almost
    zero width, whose slope sends any code beyond them to astronomical
    normal scores. Codes from a continuous spread keep their quantiles: on
    CIFAR-10's whitened PCA(256) codes the steepest segment is about 3 per
    unit, far below the cap.
    """
    # The column's standard deviation, or a scale that float64 can still
    # resolve at the column's magnitude where the column is constant.
    scale = np.maximum(X.std(axis=0), 1e-6 * (np.abs(X).max(axis=0) + 1.0))
    min_gap = np.diff(scores)[:, None] * scale / MAX_SLOPE
    knots = knots.copy()
    for j in range(1, knots.shape[0]):
        knots[j] = np.maximum(knots[j], knots[j - 1] + min_gap[j - 1])
    return knots


def _piecewise_linear(x, knots, values):
    """Linear interpolation through ``(knots, values)``, extended by the end segments."""
    segment = np.clip(np.searchsorted(knots, x), 1, knots.size - 1)
    left = knots[segment - 1]
    slope = (values[segment] - values[segment - 1]) / (knots[segment] - left)
    return values[segment - 1] + slope * (x - left), np.log(slope)


def _independent_rotation(X, random_state):
    """FastICA's unmixing rotation of white codes (the identity where it has none)."""
    n_samples, n_features = X.shape
    if n_samples <= n_features:
        # Too few codes to tell independent directions apart; the marginal
        # maps alone still Gaussianize each coordinate.
        return np.eye(n_features)
    with warnings.catch_warnings():
        # Any rotation keeps the layer a bijection; an unconverged one only
        # makes the layer do less, which the next layer continues.
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            rotation = FastICA(whiten=False, max_iter=ICA_MAX_ITER,
                               random_state=random_state).fit(X).components_
        except np.linalg.LinAlgError:
            return np.eye(n_features)
    if not np.all(np.isfinite(rotation)):
        return np.eye(n_features)
    # FastICA's symmetric decorrelation returns an orthogonal matrix; one far
    # from it (degenerate codes) would make the layer nearly singular.
    sign, log_det = np.linalg.slogdet(rotation)
    return rotation if sign != 0 and abs(log_det) < 1.0 else np.eye(n_features)


class GaussianizationLayer:
    """A rotation to independent components, then marginal Gaussianization."""

    def fit(self, X, random_state):
        self.rotation = _independent_rotation(X, random_state)
        self.inverse_rotation = np.linalg.inv(self.rotation)
        self.log_det = float(np.linalg.slogdet(self.rotation)[1])
        self.marginals = MarginalGaussianizer().fit(X @ self.rotation.T)
        return self

    def transform(self, X):
        """Gaussianized codes and the log-Jacobian of the layer, per code."""
        G, log_slope = self.marginals.transform(X @ self.rotation.T)
        return G, log_slope.sum(axis=1) + self.log_det

    def inverse_transform(self, G):
        return self.marginals.inverse_transform(G) @ self.inverse_rotation.T


class Gaussianized(WrappedDensity):
    """A density fitted after ``n_layers`` Gaussianization layers of the (whitened) codes.

    The layers are learned by ``fit`` (or on the first chunk of a stream, and
    then kept, so that the density's statistics over later chunks all live in
    one space). Draws of the inner density are mapped back through the
    layers; scores add the layers' log-Jacobians to the inner density's.
    """

    def __init__(self, density, n_layers, random_state):
        self.density = density
        self.n_layers = n_layers
        self.random_state = random_state

    def fit(self, X):
        rng = np.random.RandomState(seed_from(self.random_state))
        self.layers = []
        for _ in range(self.n_layers):
            layer = GaussianizationLayer().fit(X, seed_from(rng))
            X = layer.transform(X)[0]
            self.layers.append(layer)
        self.density.fit(X)
        self._share_estimator()
        return self

    def partial_fit(self, X):
        if not hasattr(self, "layers"):
            return self.fit(X)
        self.density.partial_fit(self.transform(X)[0])
        self._share_estimator()
        return self

    def transform(self, X):
        log_jacobian = np.zeros(X.shape[0])
        for layer in self.layers:
            X, log_det = layer.transform(X)
            log_jacobian += log_det
        return X, log_jacobian

    def inverse_transform(self, G):
        for layer in reversed(self.layers):
            G = layer.inverse_transform(G)
        return G

    def mixture(self):
        return None  # a mixture of the Gaussianized codes is not one of the codes

    def sample(self, n, rng, temperature=1.0):
        return self.inverse_transform(self.density.sample(n, rng, temperature))

    def score_samples(self, X):
        G, log_jacobian = self.transform(X)
        return self.density.score_samples(G) + log_jacobian
