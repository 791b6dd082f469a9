"""Support statistics and the Gibbs + EM sampler of Vaksman & Elad.

Signed atoms
    A code with atoms ``m`` and coefficients ``c`` is turned into a support of
    *signed* atoms ``m`` (``c > 0``) or ``m + M`` (``c < 0``) with positive
    magnitudes ``|c|``: +d and -d are different atoms of a doubled dictionary.

Markov network
    ``P(a) ∝ prod_i P(a_i) prod_{i<j} P(a_i, a_j) / (P(a_i) P(a_j))`` with
    marginals estimated from the training supports. Smoothing: inclusion
    probabilities use add-one counts, ``P(i) = (c_i + 1) / (N + 2)``; pairs
    are mixed with the independence model,
    ``P(i, j) = (1 - s) c_ij / N + s P(i) P(j)``, so the pair factor
    ``P(i, j) / (P(i) P(j))`` is at least ``s`` (``smoothing``) and a pair never
    seen in training makes a support ``1/s`` times less likely instead of
    impossible.
"""

from functools import cache
from typing import NamedTuple

import numpy as np
from scipy import sparse
from scipy.special import log_ndtr
from scipy.stats import qmc
from sklearn.linear_model import LogisticRegression, RidgeCV

from .._backend import run_in_chunks
from ._gibbs import (
    gibbs_supports,
    orthant_probabilities,
    support_coefficients,
    support_gaussians,
)

#: Independent Gibbs chains used by ``sample`` (fixed, so that draws do not
#: depend on the number of threads).
MAX_CHAINS = 128
#: Re-draws of a coefficient vector until it is positive.
N_POSITIVE_TRIES = 20
#: Ridge penalties searched, by generalized cross-validation, for every
#: signed atom's regression of its magnitude on the other atoms present.
REGRESSION_ALPHAS = np.logspace(-1, 3, 9)
#: Atoms used fewer times than this keep their mean magnitude (no regression).
MIN_REGRESSION_USES = 5
#: Rows of supports whose coefficients are drawn at once (bounds the
#: ``(rows, k, k)`` table of pair effects).
REGRESSION_BLOCK = 8192
#: Inverse L2 penalty of the support classifier behind class guidance
#: (scikit-learn's default). On MNIST, penalties from 0.1 to 1 guide about
#: equally well at equal acceptance rates; 10 makes the classifier
#: over-confident on the training supports and guides less.
GUIDANCE_C = 1.0
#: Rounds of re-drawing the supports that class guidance rejects; a support
#: rejected in every round keeps its last draw, which bounds the cost of a
#: draw whatever the classifier says.
MAX_GUIDANCE_ROUNDS = 20


def signed_supports(atoms, values, counts, n_atoms):
    """``(N, k)`` signed atoms (``-1`` where empty) and their magnitudes."""
    k = atoms.shape[1]
    used = (np.arange(k)[None, :] < counts[:, None]) & (values != 0)
    signed = np.where(values < 0, atoms + n_atoms, atoms)
    signed = np.where(used, signed, -1).astype(np.int64)
    magnitudes = np.where(used, np.abs(values), 0.0).astype(np.float64)
    return signed, magnitudes


def _indicator(signed, n_signed):
    rows, slots = np.nonzero(signed >= 0)
    data = np.ones(rows.size)
    return sparse.csr_matrix((data, (rows, signed[rows, slots])),
                             shape=(signed.shape[0], n_signed))


def support_counts(signed, n_signed):
    """Inclusion counts ``(n_signed,)`` and pair counts ``(n_signed, n_signed)``."""
    B = _indicator(signed, n_signed)
    counts = np.asarray(B.sum(axis=0)).ravel()
    return counts, (B.T @ B).toarray()


def smoothed_marginals(n, counts, pair_counts, smoothing):
    """Smoothed inclusion marginals and pair marginals from counts over ``n`` supports."""
    marginals = (counts + 1.0) / (n + 2.0)
    independent = np.outer(marginals, marginals)
    pairwise = (1.0 - smoothing) * pair_counts / max(n, 1) + smoothing * independent
    np.fill_diagonal(pairwise, marginals)
    return marginals, pairwise


def support_statistics(signed, n_signed, smoothing):
    """Smoothed inclusion marginals ``(n_signed,)`` and pair marginals."""
    counts, pair_counts = support_counts(signed, n_signed)
    return smoothed_marginals(signed.shape[0], counts, pair_counts, smoothing)


class SupportStatistics:
    """What the support model is fitted from, accumulated over chunks of codes.

    Counts of supports, of every signed atom and of every pair add up over
    chunks, and the compact training supports and magnitudes (``k`` numbers
    per image, which EM reads) are concatenated, so :meth:`sampler` after
    updates with the chunks of a data set is exactly the one fitted on
    their union.
    """

    def __init__(self, n_atoms):
        self.n_atoms = n_atoms
        self.n = 0
        self.counts = np.zeros(2 * n_atoms)
        self.pair_counts = np.zeros((2 * n_atoms, 2 * n_atoms))
        self.signed = []
        self.magnitudes = []

    def update(self, atoms, values, counts):
        signed, magnitudes = signed_supports(atoms, values, counts, self.n_atoms)
        chunk_counts, chunk_pairs = support_counts(signed, 2 * self.n_atoms)
        self.n += signed.shape[0]
        self.counts += chunk_counts
        self.pair_counts += chunk_pairs
        self.signed.append(signed)
        self.magnitudes.append(magnitudes)
        return self

    def training_codes(self):
        """All supports and magnitudes seen, padded to the widest chunk's ``k``."""
        width = max(s.shape[1] for s in self.signed)
        signed = np.concatenate([_pad(s, width, -1) for s in self.signed])
        magnitudes = np.concatenate([_pad(m, width, 0.0) for m in self.magnitudes])
        # Kept as one array from now on, so later updates concatenate once more only.
        self.signed, self.magnitudes = [signed], [magnitudes]
        return signed, magnitudes

    def marginals(self, smoothing):
        return smoothed_marginals(self.n, self.counts, self.pair_counts, smoothing)

    def sampler(self, smoothing, coefficient_model="em"):
        """``(marginals, pairwise, sampler)`` as :func:`build_sampler` returns them."""
        n_signed = 2 * self.n_atoms
        signed, magnitudes = self.training_codes()
        marginals, pairwise = self.marginals(smoothing)
        log_unary, log_pair = log_potentials(marginals, pairwise)
        inv_ptr, inv_img = inverted_index(signed, n_signed)
        atom_mean, atom_var = coefficient_statistics(signed, magnitudes, n_signed)
        sampler = {
            "log_unary": log_unary, "log_pair": log_pair, "signed": signed,
            "magnitudes": magnitudes, "inv_ptr": inv_ptr, "inv_img": inv_img,
            "atom_mean": atom_mean, "atom_var": atom_var,
        }
        if coefficient_model == "regression":
            sampler["regression"] = fit_coefficient_regression(
                signed, magnitudes, n_signed, atom_mean, atom_var)
        return marginals, pairwise, sampler


def _pad(a, width, fill):
    if a.shape[1] == width:
        return a
    out = np.full((a.shape[0], width), fill, dtype=a.dtype)
    out[:, : a.shape[1]] = a
    return out


def log_potentials(marginals, pairwise):
    """Unary log P(i) and pair log P(i,j)/(P(i)P(j)) (diagonal 0)."""
    with np.errstate(divide="ignore"):
        log_pair = np.log(pairwise) - np.log(np.outer(marginals, marginals))
    np.fill_diagonal(log_pair, 0.0)
    return np.log(marginals), np.ascontiguousarray(log_pair)


def inverted_index(signed, n_signed):
    """CSR ``(ptr, images)``: the training images that use each signed atom."""
    rows, slots = np.nonzero(signed >= 0)
    atom = signed[rows, slots]
    order = np.argsort(atom, kind="stable")
    ptr = np.zeros(n_signed + 1, dtype=np.int64)
    np.add.at(ptr, atom + 1, 1)
    return np.cumsum(ptr), rows[order].astype(np.int64)


def coefficient_statistics(signed, magnitudes, n_signed):
    """Per signed atom mean and variance of its magnitude (EM's starting point).

    Atoms used fewer than twice fall back to the statistics of all magnitudes.
    """
    used = signed >= 0
    atom, mag = signed[used], magnitudes[used]
    if mag.size == 0:
        return np.ones(n_signed), np.ones(n_signed)
    n = np.bincount(atom, minlength=n_signed).astype(np.float64)
    s1 = np.bincount(atom, weights=mag, minlength=n_signed)
    s2 = np.bincount(atom, weights=mag * mag, minlength=n_signed)
    global_mean, global_var = mag.mean(), max(mag.var(), 1e-12)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s1 / n, global_mean)
        var = np.where(n > 1, s2 / n - mean**2, global_var)
    var = np.maximum(var, 1e-6 * global_var)
    return mean, var


def draw_supports(log_unary, log_pair, n_atoms, k, n_samples, burn_in, thin, rng, starts=None):
    """``(n_samples, k)`` signed supports from independent Gibbs chains.

    Without ``starts``, :data:`MAX_CHAINS` chains start from a sequential
    draw (slot ``t`` given slots ``< t``), run ``burn_in`` sweeps and then
    give a draw every ``thin`` sweeps. With ``starts`` (``(n_samples, k)``
    signed supports, ``-1`` for empty slots), every sample is its own chain,
    started from its row and drawn after ``burn_in`` sweeps (at least one).

    Why short chains from training supports: the fitted network's
    stationary distribution over-weights the supports whose atoms co-occur
    most (on MNIST, after 30 sweeps from any start, 1s, 7s and 2s make most
    draws; label entropy 1.71 nats). Two sweeps from a training support
    change most of its atoms, yet keep the class mix of the data
    (entropy 2.21).
    """
    if starts is None:
        n_chains = min(n_samples, MAX_CHAINS)
        init = np.full((n_chains, k), -1, dtype=np.int64)
    else:
        n_chains, init = n_samples, np.ascontiguousarray(starts, dtype=np.int64)
        # The kernel's draw follows its burn-in by one sweep.
        burn_in, thin = max(burn_in - 1, 0), 1
    n_draws = -(-n_samples // n_chains)
    n_sweeps = 1 + burn_in + n_draws * thin
    uniforms = rng.random_sample((n_chains, n_sweeps, k))
    out = np.empty((n_chains, n_draws, k), dtype=np.int64)
    run_in_chunks(
        lambda c: gibbs_supports(log_unary, log_pair, n_atoms, k, burn_in, thin, uniforms[c],
                                 init[c], out[c]),
        n_chains,
    )
    # Draw-major order: consecutive samples come from different chains.
    return out.transpose(1, 0, 2).reshape(-1, k)[:n_samples].copy()


#: Sweeps before the first draw for ``burn_in="auto"``, by where chains start.
AUTO_BURN_IN = {"data": 2, "sequential": 30}


def burn_in_sweeps(burn_in, chain_start):
    """The number of sweeps ``burn_in`` stands for (resolving ``"auto"``)."""
    return AUTO_BURN_IN[chain_start] if burn_in == "auto" else burn_in


def training_starts(signed, k, n_samples, rng):
    """``n_samples`` training supports drawn uniformly, cut or padded to ``k`` slots."""
    rows = signed[rng.randint(signed.shape[0], size=n_samples)]
    return _pad(rows[:, :k], k, -1)


class Guide(NamedTuple):
    """Class guidance of a class-conditional draw (see :func:`guided_supports`)."""

    classifier: LogisticRegression
    column: int
    strength: float


def fit_support_classifier(signed_by_class, n_signed):
    """Multinomial logistic regression of the class on a support's signed atoms.

    ``signed_by_class`` maps each class index to its ``(n_c, k_c)`` training
    supports (``-1`` for empty slots); the features are the indicators of
    the ``n_signed`` signed atoms. Class indices rather than the user's
    labels are the targets, so that any label type (floats included) is a
    class here as it is to the prior.
    """
    indices = list(signed_by_class)
    features = sparse.vstack([_indicator(signed_by_class[i], n_signed) for i in indices]).tocsr()
    target = np.repeat(np.asarray(indices, dtype=np.intp),
                       [signed_by_class[i].shape[0] for i in indices])
    return LogisticRegression(C=GUIDANCE_C, max_iter=1000).fit(features, target)


def guided_supports(draw, guide, n_samples, n_signed, rng):
    """``n_samples`` supports of ``draw(n, rng)``, each kept with probability
    ``p(class | support) ** guide.strength``.

    Rejection sampling from ``p(support | class) p(class | support) **
    strength``: the class-conditional network proposes, the support
    classifier of all classes tilts the draws toward supports typical of
    their class and away from those another class would explain as well
    (classifier guidance, as Dhariwal & Nichol, 2021, do for diffusion
    models). Rejected rows are re-drawn, at most
    :data:`MAX_GUIDANCE_ROUNDS` times.
    """
    supports = draw(n_samples, rng)
    pending = np.arange(n_samples)
    for _ in range(MAX_GUIDANCE_ROUNDS):
        proba = guide.classifier.predict_proba(_indicator(supports[pending], n_signed))
        keep = rng.random_sample(pending.size) < proba[:, guide.column] ** guide.strength
        pending = pending[~keep]
        if not pending.size:
            break
        supports[pending] = draw(pending.size, rng)
    return supports


def draw_coefficients(supports, model, em_max_iter, rng, overlap_power=0.0):
    """EM per support on the training images sharing its atoms, then a positive draw.

    Each image weighs ``(atoms shared with the support) ** overlap_power``.
    """
    n, k = supports.shape
    normals = rng.standard_normal((n, N_POSITIVE_TRIES, k))
    coef = np.empty((n, k))
    tol, reg = em_tolerances(model)
    run_in_chunks(
        lambda rows: support_coefficients(
            supports[rows], model["signed"], model["magnitudes"], model["inv_ptr"],
            model["inv_img"], model["atom_mean"], model["atom_var"], em_max_iter,
            tol, reg, normals[rows], coef[rows], float(overlap_power),
        ),
        n,
    )
    return coef


def em_tolerances(model):
    """EM's stopping tolerance and covariance ridge, relative to the magnitudes' spread."""
    scale = float(np.mean(model["atom_var"]))
    return 1e-4 * np.sqrt(scale), 1e-6 * scale


def em_arguments(model, em_max_iter, overlap_power):
    """The arguments after the supports of the EM kernels (``support_gaussians``)."""
    tol, reg = em_tolerances(model)
    return (model["signed"], model["magnitudes"], model["inv_ptr"], model["inv_img"],
            model["atom_mean"], model["atom_var"], int(em_max_iter), tol, reg,
            float(overlap_power))


def em_gaussians(supports, model, em_max_iter, overlap_power=0.0):
    """Mean ``(n, k)`` and Cholesky factor ``(n, k, k)`` of the magnitudes' Gaussian
    of every support, the very Gaussian :func:`draw_coefficients` draws from."""
    supports = np.ascontiguousarray(supports, dtype=np.int64)
    n, k = supports.shape
    means, chols = np.empty((n, k)), np.empty((n, k, k))
    arguments = em_arguments(model, em_max_iter, overlap_power)
    run_in_chunks(
        lambda rows: support_gaussians(supports[rows], *arguments, means[rows], chols[rows]), n)
    return means, chols


#: Quasi-random points of the GHK estimate of a support's orthant probability.
N_GHK_POINTS = 256


@cache
def ghk_points(k):
    """Fixed scrambled Sobol points ``(N_GHK_POINTS, k)`` in ``(0, 1)``."""
    points = qmc.Sobol(k, scramble=True, seed=0).random(N_GHK_POINTS)
    return np.clip(points, 1e-12, 1.0 - 1e-12)


def orthant_probability(means, chols):
    """``P(N(mean, chol chol^T) > 0)`` of every row by GHK (deterministic points)."""
    means = np.ascontiguousarray(means, dtype=np.float64)
    out = np.empty(means.shape[0])
    points = ghk_points(means.shape[1])
    run_in_chunks(lambda rows: orthant_probabilities(means[rows], chols[rows], points, out[rows]),
                  means.shape[0])
    return out


def log_accept_factor(p, n_tries=N_POSITIVE_TRIES):
    """``log F(p)``, ``F(p) = sum_{t < n_tries} (1 - p)^t = (1 - (1 - p)^n_tries) / p``.

    A draw re-drawn until it lands where it has probability ``p`` (at most
    ``n_tries`` times) has density ``F(p)`` times that of one draw there.
    """
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.log(-np.expm1(n_tries * np.log1p(-np.minimum(p, 1.0)))) - np.log(p)
    return np.where(p <= 0, np.log(n_tries), np.where(p >= 1, 0.0, value))


def regression_gaussians(supports, regression):
    """Per slot mean and standard deviation ``(n, k)`` of the regression model's magnitudes,
    as :func:`draw_regression_coefficients` draws them (supports without empty slots)."""
    supports = np.asarray(supports, dtype=np.int64)
    effects = regression["weights"][supports[:, :, None], supports[:, None, :]]
    mean = regression["intercepts"][supports] + effects.sum(axis=2)
    return mean, regression["scales"][supports]


def coefficient_log_density(supports, magnitudes, model, em_max_iter, overlap_power=0.0,
                            coefficient_model="em"):
    """Log-density of positive magnitudes ``(n, k)`` given their supports, as drawn.

    ``coefficient_model="em"``: ``log N(m | mean_S, cov_S) + log F(P_S)`` with
    the support's EM Gaussian (:func:`em_gaussians`) and its orthant
    probability ``P_S`` (:func:`orthant_probability`): the sampler re-draws
    until every magnitude is positive, at most :data:`N_POSITIVE_TRIES`
    times (:func:`log_accept_factor`). ``"regression"``: every slot is
    re-drawn on its own, so the density is the product over slots of
    ``N(m_t | mean_t, scale_t) F(P_t)``, ``P_t = Phi(mean_t / scale_t)``.
    Where the last try is clipped the magnitudes hold a 0: that mass (at most
    ``(1 - P)^N_POSITIVE_TRIES`` per support) is on codes with fewer
    non-zeros and has no density here.
    """
    supports = np.asarray(supports, dtype=np.int64)
    magnitudes = np.asarray(magnitudes, dtype=np.float64)
    if supports.shape[0] == 0:
        return np.empty(0)
    if coefficient_model == "regression":
        mean, scale = regression_gaussians(supports, model["regression"])
        z = (magnitudes - mean) / scale
        log_normal = -0.5 * (np.log(2 * np.pi) + z * z) - np.log(scale)
        log_p = log_ndtr(mean / scale)
        return (log_normal + log_accept_factor(np.exp(log_p))).sum(axis=1)
    unique, inverse = np.unique(supports, axis=0, return_inverse=True)
    means, chols = em_gaussians(unique, model, em_max_iter, overlap_power)
    log_f = log_accept_factor(orthant_probability(means, chols))
    inverse = inverse.ravel()
    k = supports.shape[1]
    diff = magnitudes - means[inverse]
    white = np.linalg.solve(chols[inverse], diff[:, :, None])[:, :, 0]
    log_det = np.log(np.diagonal(chols, axis1=1, axis2=2)).sum(axis=1)
    log_normal = -0.5 * (k * np.log(2 * np.pi) + np.einsum("ij,ij->i", white, white))
    return log_normal - log_det[inverse] + log_f[inverse]


def fit_coefficient_regression(signed, magnitudes, n_signed, atom_mean, atom_var):
    """Per signed atom, a ridge regression of its magnitude on the atoms beside it.

    Row ``j`` of ``weights`` says how much the presence of each other signed
    atom moves the magnitude of atom ``j`` (the diagonal is 0); the penalty
    of each regression is chosen by generalized cross-validation among
    :data:`REGRESSION_ALPHAS`. ``scales`` are the residuals' standard
    deviations. Atoms used fewer than :data:`MIN_REGRESSION_USES` times keep
    their mean magnitude and spread (``atom_mean``, ``atom_var``).
    """
    presence = _indicator(signed, n_signed)
    rows, slots = np.nonzero(signed >= 0)
    atom, magnitude = signed[rows, slots], magnitudes[rows, slots]
    order = np.argsort(atom, kind="stable")
    bounds = np.searchsorted(atom[order], np.arange(n_signed + 1))
    weights = np.zeros((n_signed, n_signed))
    intercepts, scales = atom_mean.copy(), np.sqrt(atom_var)
    floor = 1e-6 * float(np.sqrt(np.mean(atom_var)))
    for j in range(n_signed):
        uses = order[bounds[j]:bounds[j + 1]]
        if uses.size < MIN_REGRESSION_USES:
            continue
        # Atom j's own column is 1 in every row: the intercept absorbs it.
        context, target = presence[rows[uses]], magnitude[uses]
        ridge = RidgeCV(alphas=REGRESSION_ALPHAS).fit(context, target)
        weights[j], intercepts[j] = ridge.coef_, ridge.intercept_
        weights[j, j] = 0.0
        scales[j] = max(float(np.std(target - ridge.predict(context))), floor)
    return {"weights": weights, "intercepts": intercepts, "scales": scales}


def draw_regression_coefficients(supports, regression, rng):
    """Magnitudes ``(n, k)`` of drawn supports from :func:`fit_coefficient_regression`.

    Each slot's magnitude is Gaussian around its atom's intercept plus the
    weights of the other atoms present; it is re-drawn (up to
    :data:`N_POSITIVE_TRIES` times) until positive and set to 0 if the last
    draw is not. Empty slots (``-1``) get 0.
    """
    n, k = supports.shape
    normals = rng.standard_normal((n, N_POSITIVE_TRIES, k))
    coef = np.zeros((n, k))
    for start in range(0, n, REGRESSION_BLOCK):
        block = slice(start, start + REGRESSION_BLOCK)
        present = supports[block] >= 0
        atoms = np.where(present, supports[block], 0)
        effects = regression["weights"][atoms[:, :, None], atoms[:, None, :]]
        mean = regression["intercepts"][atoms] + (effects * present[:, None, :]).sum(axis=2)
        scale = regression["scales"][atoms]
        draw = np.full(mean.shape, -1.0)
        for t in range(N_POSITIVE_TRIES):
            retry = draw <= 0
            draw[retry] = (mean + scale * normals[block, t])[retry]
        coef[block] = np.where(present, np.maximum(draw, 0.0), 0.0)
    return coef


def build_sampler(atoms, values, counts, n_atoms, smoothing, coefficient_model="em"):
    """Fit the support model on compact codes.

    Returns ``(marginals, pairwise, sampler)`` where ``sampler`` holds, in the
    compact form the kernels read, the log-potentials, the training supports
    and magnitudes, the inverted index and per-atom coefficient statistics
    (and, for ``coefficient_model="regression"``, the fitted regressions).
    """
    statistics = SupportStatistics(n_atoms).update(atoms, values, counts)
    return statistics.sampler(smoothing, coefficient_model)


def sample_codes(sampler, n_atoms, k, n_samples, burn_in, thin, em_max_iter, rng,
                 dtype=np.float64, chain_start="data", overlap_power=0.0,
                 coefficient_model="em", guide=None):
    """Dense signed codes ``(n_samples, n_atoms)`` and the drawn supports.

    ``chain_start="data"`` starts one chain per sample from a training
    support; ``"sequential"`` runs shared chains from sequential draws.
    ``coefficient_model="em"`` fits a Gaussian per drawn support by EM, with
    ``overlap_power`` weighing the training images (see
    :func:`draw_coefficients`); ``"regression"`` draws them from the
    per-atom regressions of the sampler (see
    :func:`draw_regression_coefficients`). A :class:`Guide` keeps or
    re-draws each support by :func:`guided_supports` before its
    coefficients are drawn.
    """

    def draw(n, rng):
        starts = None
        if chain_start == "data":
            starts = training_starts(sampler["signed"], k, n, rng)
        return draw_supports(sampler["log_unary"], sampler["log_pair"], n_atoms, k, n,
                             burn_in, thin, rng, starts)

    if guide is None:
        supports = draw(n_samples, rng)
    else:
        supports = guided_supports(draw, guide, n_samples, 2 * n_atoms, rng)
    if coefficient_model == "regression":
        coef = draw_regression_coefficients(supports, sampler["regression"], rng)
    else:
        coef = draw_coefficients(supports, sampler, em_max_iter, rng, overlap_power)
    codes = np.zeros((n_samples, n_atoms), dtype=dtype)
    rows = np.repeat(np.arange(n_samples), supports.shape[1])
    atom = (supports % n_atoms).ravel()
    sign = np.where(supports >= n_atoms, -1.0, 1.0).ravel()
    codes[rows, atom] = sign * coef.ravel()
    return codes, supports


def dense_to_compact(codes, k):
    """Compact ``(atoms, values, counts)`` of dense codes, at most ``k`` per row
    (the largest magnitudes)."""
    order = np.argsort(-np.abs(codes), axis=1, kind="stable")[:, :k]
    values = np.take_along_axis(codes, order, axis=1)
    counts = np.count_nonzero(values, axis=1).astype(np.int64)
    # Keep non-zeros first so that ``counts`` delimits them.
    nz_first = np.argsort(values == 0, axis=1, kind="stable")
    atoms = np.take_along_axis(order, nz_first, axis=1).astype(np.int64)
    values = np.take_along_axis(values, nz_first, axis=1)
    return atoms, values, counts


def support_statistics_of_codes(codes, smoothing):
    """Smoothed support marginals and pair marginals of dense signed codes."""
    return statistics_of_codes(codes).marginals(smoothing)


def statistics_of_codes(codes, stats=None):
    """Add dense signed codes to ``stats`` (a new :class:`SupportStatistics` by default)."""
    n_atoms = codes.shape[1]
    k = int(max(1, np.count_nonzero(codes, axis=1).max()))
    stats = SupportStatistics(n_atoms) if stats is None else stats
    return stats.update(*dense_to_compact(codes, k))
