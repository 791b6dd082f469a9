"""The normalizing-flow density of ``CoefficientPrior(kind="flow")``, built on zuko.

A masked autoregressive flow (MAF, Papamakarios et al., 2017) or a neural
spline flow (NSF, Durkan et al., 2019) from :mod:`zuko`, fitted by maximum
likelihood with Adam (with decoupled weight decay) on whitened codes.
Whitening is an affine map with a constant Jacobian, added to every
log-density, so ``score_samples`` is the exact log-density of the codes
themselves. Training holds out a fraction of
the codes, stops early when their log-likelihood stops improving, and keeps
the weights of the best epoch.
"""

import copy
import math

import numpy as np
import torch
import zuko

from .._backend import (
    DEFAULT_CHUNK,
    init_parameters,
    is_positive_int,
    iter_batches,
    loaded_device,
    randn,
    resolve_device,
    seed_from,
    threads,
    torch_generator,
)
from ..base import (
    _load_module_state,
    _lower_rate_hint,
    _module_to_state,
    check_finite_loss,
    epoch_progress,
)

#: Largest gradient norm of one Adam step: a batch of outlying codes cannot
#: throw the flow out of the region it has learned.
MAX_GRAD_NORM = 10.0

#: Named in progress bars and errors.
NAME = "CoefficientPrior(kind='flow')"

# "maf" is CoefficientPrior's default flow_type. On 64 PCA coefficients of
# 10,000 MNIST digits (CPU, one thread) an epoch of "nsf" cost 5 to 7 times
# one of "maf" (its networks output 23 spline parameters per coefficient
# instead of 2), so a fit of under a minute stops "nsf" far from converged:
# a held-out log-likelihood of -34 after 10 epochs, where "maf" reaches -17
# (a 20-component Gaussian mixture: -23). The other defaults come from the
# same measurement: one wide hidden layer generalised better than two
# narrower ones, six transforms beat four, and weight decay narrowed the gap
# between training and held-out likelihood by about 5 nats.
FLOWS = {"maf": zuko.flows.MAF, "nsf": zuko.flows.NSF}

#: What a fitted flow records of its training, exposed by CoefficientPrior
#: with a trailing underscore.
FLOW_ATTRIBUTES = ("n_iter", "loss_curve", "validation_scores", "best_validation_score",
                   "best_epoch")


def check_hidden_features(hidden_features):
    """Raise unless ``hidden_features`` is a non-empty sequence of ints >= 1."""
    if not (isinstance(hidden_features, (tuple, list)) and hidden_features
            and all(is_positive_int(h) for h in hidden_features)):
        raise ValueError(
            "The 'hidden_features' parameter must be a non-empty tuple of positive "
            f"integers; got {hidden_features!r}."
        )


def whitening(X, reg_covar):
    """The affine map ``z = (x - mean) @ components`` that decorrelates the codes.

    ``components`` holds the covariance's eigenvectors scaled by the inverse
    square roots of their eigenvalues (PCA whitening with every component
    kept, so the map is invertible). The flow then starts, untrained, as the
    Gaussian fitted to the codes, and spline flows see codes inside the
    interval ``[-5, 5]`` on which their splines act. Scaling each coefficient
    alone leaves correlations for the flow to learn: on MNIST PCA codes
    mixed by a random linear map, the default flow reached a held-out
    log-likelihood 14 nats lower that way (2 nats lower on the PCA codes
    themselves). A direction of zero variance (after ``reg_covar``) is kept
    unscaled, so constant codes stay finite.

    Returns
    -------
    mean : ndarray of shape (n_features,)
    components, inverse : ndarray of shape (n_features, n_features)
        The map and its inverse (``z @ inverse + mean`` is ``x``).
    log_det : float
        ``log |det dz/dx|``, added to the flow's log-density of ``z``.
    """
    mean = X.mean(axis=0)
    centered = X - mean
    variances, vectors = np.linalg.eigh(centered.T @ centered / X.shape[0])
    scale = np.sqrt(np.maximum(variances, 0.0) + reg_covar)
    scale[~(scale > 0)] = 1.0
    return mean, vectors / scale, vectors.T * scale[:, None], float(-np.log(scale).sum())


class FlowDensity:
    """A normalizing flow from :mod:`zuko` over (whitened) codes.

    ``fit`` trains a new flow; ``partial_fit`` continues training the
    current one on a new chunk (a fresh Adam, up to ``max_iter`` epochs
    early-stopped on a held-out part of the chunk), keeping the whitening
    learned on the first chunk so that all chunks train one flow in one
    space: the first chunk should hold codes of every mode.
    """

    def __init__(self, prior):
        self.flow_type = prior.flow_type
        self.n_transforms = prior.n_transforms
        self.hidden_features = tuple(int(h) for h in prior.hidden_features)
        self.max_iter = prior.max_iter
        self.batch_size = prior.batch_size
        self.learning_rate = prior.learning_rate
        self.weight_decay = prior.weight_decay
        self.validation_fraction = prior.validation_fraction
        self.n_iter_no_change = prior.n_iter_no_change
        self.reg_covar = prior.reg_covar
        self.device = str(prior.device)  # a name: files hold no torch object
        self.verbose = prior.verbose
        self.random_state = prior.random_state
        self.estimator = None  # no scikit-learn estimator behind it

    # ----------------------------------------------------------- training
    def fit(self, X):
        self.n_features = X.shape[1]
        self.mean, self.components, self.inverse, self.log_det = whitening(X, self.reg_covar)
        self.device_ = resolve_device(self.device)
        rng = np.random.RandomState(seed_from(self.random_state))
        generator = torch_generator(rng)
        self.flow = self._build_flow(generator).to(self.device_)
        with threads(None):
            self._train(X, rng, generator)
        return self

    def partial_fit(self, X):
        if not hasattr(self, "flow"):
            return self.fit(X)
        rng = np.random.RandomState(seed_from(self.random_state))
        with threads(None):
            self._train(X, rng, torch_generator(rng))
        return self

    def _build_flow(self, generator):
        # zuko's layers draw their initial weights from torch's global RNG
        # as they are built; forking it leaves the caller's stream as it was,
        # and the weights are then redrawn from the fit's own generator.
        with torch.random.fork_rng(devices=[]):
            flow = FLOWS[self.flow_type](
                self.n_features, transforms=self.n_transforms,
                hidden_features=self.hidden_features,
            )
        return init_parameters(flow, generator)

    def _train(self, X, rng, generator):
        Z = torch.as_tensor(self._whiten(X), dtype=torch.float32)
        train_rows, val_rows = _split(Z.shape[0], self.validation_fraction, rng)
        train, val = Z[train_rows].to(self.device_), Z[val_rows].to(self.device_)
        optimizer = torch.optim.AdamW(self.flow.parameters(), lr=self.learning_rate,
                                      weight_decay=self.weight_decay)
        losses, scores, best, best_state = [], [], 0, None
        progress = epoch_progress(self.max_iter, self.verbose, NAME)
        for epoch in progress:
            losses.append(self._epoch(train, optimizer, generator, epoch))
            scores.append(self._validation_score(val, epoch))
            if self.verbose:
                progress.set_postfix(loss=f"{losses[-1]:.5g}", validation=f"{scores[-1]:.5g}")
            if epoch == 0 or scores[-1] > scores[best]:
                best = epoch
                best_state = copy.deepcopy(self.flow.state_dict())
            elif epoch - best >= self.n_iter_no_change:
                break
        self.flow.load_state_dict(best_state)
        self.loss_curve = losses
        self.validation_scores = scores
        self.best_epoch = best
        self.best_validation_score = scores[best]
        self.n_iter = len(scores)

    def _epoch(self, train, optimizer, generator, epoch):
        """One pass of Adam steps over the training codes; their mean negative log-likelihood."""
        n = train.shape[0]
        order = torch.randperm(n, generator=generator).to(self.device_)
        total = 0.0
        for rows in iter_batches(n, self.batch_size):
            batch = train[order[rows]]
            loss = -self.flow().log_prob(batch).mean()
            value = float(loss.detach()) - self.log_det
            check_finite_loss(value, epoch, NAME, self.learning_rate)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.flow.parameters(), MAX_GRAD_NORM)
            optimizer.step()
            total += value * batch.shape[0]
        return total / n

    @torch.no_grad()
    def _validation_score(self, val, epoch):
        """Mean log-likelihood of the held-out codes (in the space of the codes)."""
        dist = self.flow()
        total = sum(float(dist.log_prob(val[rows]).sum())
                    for rows in iter_batches(val.shape[0], DEFAULT_CHUNK))
        score = total / val.shape[0] + self.log_det
        if not math.isfinite(score):
            raise FloatingPointError(
                f"{NAME} diverged: the held-out log-likelihood became {score} at epoch "
                f"{epoch}. {_lower_rate_hint(self.learning_rate)}"
            )
        return score

    # ----------------------------------------------------------- the density
    def mixture(self):
        return None  # not a Gaussian mixture

    @torch.no_grad()
    def sample(self, n, rng, temperature=1.0):
        # zuko's own sample() draws from torch's global RNG: base noise is
        # drawn here from a generator seeded by rng and mapped through the
        # inverse of the flow's transform, so a seed gives the same codes.
        generator = torch_generator(rng)
        dist = self.flow()
        out = np.empty((n, self.n_features))
        with threads(None):
            for rows in iter_batches(n, DEFAULT_CHUNK):
                noise = randn((rows.stop - rows.start, self.n_features), generator,
                              device=self.device_)
                z = dist.transform.inv(dist.base.mean + dist.base.stddev * temperature * noise)
                out[rows] = z.cpu().numpy().astype(np.float64) @ self.inverse + self.mean
        return out

    @torch.no_grad()
    def score_samples(self, X):
        # Scored in float64: codes far outside the training range (whose
        # float32 activations would overflow) still get a finite log-density.
        flow = self._float64_flow()
        dist = flow()
        out = np.empty(X.shape[0])
        with threads(None):
            for rows in iter_batches(X.shape[0], DEFAULT_CHUNK):
                Z = torch.as_tensor(self._whiten(X[rows]), dtype=torch.float64,
                                    device=self.device_)
                out[rows] = dist.log_prob(Z).cpu().numpy()
        return out + self.log_det

    def _whiten(self, X):
        return (X - self.mean) @ self.components

    def _float64_flow(self):
        return copy.deepcopy(self.flow).double()

    # ----------------------------------------------------------- persistence
    def __getstate__(self):
        # The flow is saved as NumPy arrays (its state dict) and rebuilt on
        # load, so files hold no torch object (see PortableStateMixin); the
        # device as its name.
        state = dict(self.__dict__)
        flow = state.pop("flow", None)
        if flow is not None:
            state["flow_state"] = _module_to_state(flow)
        if "device_" in state:
            state["device_"] = str(state["device_"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        saved = state.pop("flow_state", None)
        self.__dict__.update(state)
        if "device_" in state:
            self.device_ = loaded_device(state["device_"], "flow prior")
        if saved is not None:
            # Any generator: the weights drawn are replaced by the saved ones.
            flow = self._build_flow(torch.Generator().manual_seed(0))
            self.flow = _load_module_state(flow, saved).to(self.device_)


def _split(n, fraction, rng):
    """Training and held-out rows: ``fraction`` of ``n`` held out, at least one of each.

    A single code cannot be split: it is both trained and scored on.
    """
    order = rng.permutation(n)
    if n < 2:
        return order, order
    n_val = min(max(int(round(fraction * n)), 1), n - 1)
    return order[n_val:], order[:n_val]
