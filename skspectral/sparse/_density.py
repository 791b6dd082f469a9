"""Pixel-space log-likelihood of the sparse-support model, by importance sampling.

The model draws an image as ``x = D_S^± c + e``: a support ``S`` of ``k``
signed atoms from the Markov network (``p(S)``, see
:mod:`skspectral.prior._partition`), magnitudes ``c`` as the sampler draws
them (``clip(v, 0)``, ``v`` from the support's Gaussian ``N(mu_S, Sigma_S)``
re-drawn until positive at most ``N_POSITIVE_TRIES`` times, see
:mod:`skspectral.prior._gibbs`), and Gaussian noise ``e ~ N(0, N0)``,
``N0 = s2 I + U^T diag(v - s2) U`` (a residual PCA in probabilistic-PCA
form; isotropic without ``U``). So

    p(x) = sum_S p(S) p(x | S),
    p(x | S) = N(x; D_S mu_S, D_S Sigma_S D_S^T + N0) E_post[h_S(v) rho(v)],

where the expectation is over the Gaussian posterior of ``v`` given ``x``
(the coefficients before positivity), ``h_S(v) = F(P_S)`` where ``v > 0``
and ``(1 - P_S)^(N_POSITIVE_TRIES - 1)`` elsewhere (``P_S`` the orthant
probability, ``F`` :func:`~skspectral.prior._support.log_accept_factor`;
per slot for the regression model) and ``rho(v) = N(x; D_S clip(v)) /
N(x; D_S v)`` (1 where ``v > 0``): the law of the clipped draws divided by
the Gaussian one. Both Gaussians go through the Woodbury identity with the
``K x K`` matrix ``G = D N0^{-1} D^T`` (once per call) and ``b = D N0^{-1} x``
(once per image); a support then costs ``k x k`` work.

The sum over supports is estimated by importance sampling: for every image,
``n_importance`` draws of ``(S, v)`` from ``q(S | x) post(v | x, S)``, with
``q`` a mixture of product-weight (conditional Poisson) models over signed
atoms (:data:`PROPOSAL_COMPONENTS`), centred on the image's matching-pursuit
support and on that support improved by swaps under the network's
potentials (:func:`_search`), whose weights come from the image's evidence
for each atom (:func:`_center_terms`), tempered, and, with share
:data:`DEFENSIVE_SHARE`, the independent-support model (unary potentials
only), which keeps the weights ``p(S) / q(S | x)`` bounded. Every component
is sampled and evaluated exactly by the log-space
elementary-symmetric-polynomial recursion of
:mod:`~skspectral.prior._partition`; the weight of a draw is
``p(S) N(x | S) h_S(v) rho(v) / q(S | x)`` with one posterior draw of ``v``.

Like any importance sampler it can miss supports its proposal gives almost
no mass: where the image's posterior over supports sits far from both
centres (the network's landscape is rugged, and the centres are chosen by
least squares, not by the magnitudes' Gaussians), the estimate falls short
while its standard error looks small; more draws (``n_importance``) then
raise both. On held-out digits the estimates of 100 draws are a nat or two
below those of thousands on some images (see the tests and the commit that
added this module for measurements).
"""

import math
import zlib
from numbers import Integral, Real

import numpy as np
from scipy.special import logsumexp
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from .._backend import jit, run_in_chunks, validate_params
from ..prior._gibbs import (
    _argsort_int,
    _cholesky_inplace,
    _log_accept_factor,
    _log_fail_factor,
    _orthant_probability,
    _support_gaussian,
)
from ..prior._partition import _draw_cp, _log_cp, log_esp_table, log_mean_exp, product_table
from ..prior._support import N_POSITIVE_TRIES, em_arguments, ghk_points

#: Default number of importance draws per image.
N_IMPORTANCE = 100
#: Share of the draws from the independent-support model.
DEFENSIVE_SHARE = 0.05
#: The proposal's components: ``(centre, temperature, share)``. Centre 0 is
#: the image's matching-pursuit support, 1 that support after the swaps of
#: :func:`_search`, 2 the support of largest ``p(S) N(x | S)`` among the first
#: half of the draws; the temperature scales the image's evidence around it
#: (:func:`_center_terms`; below 1 widens the component); the share is that
#: of the draws among the components of the same stage (centres 0 and 1 with
#: :data:`DEFENSIVE_SHARE` make the first half of the draws; the second mixes
#: them with the centre-2 components, which get :data:`RECENTRED_SHARE`).
PROPOSAL_COMPONENTS = ((1, 1.0, 0.45), (1, 0.3, 0.25), (0, 1.0, 0.25),
                       (2, 1.0, 0.7), (2, 0.3, 0.3))
#: Share of the second half of the draws around the best support of the first.
RECENTRED_SHARE = 0.5
#: Most swaps of :func:`_search` per image.
MAX_SWAPS = 50
#: Training supports tried as a start of the search (those sharing most
#: signed atoms with the image's matching-pursuit support).
MAX_CANDIDATES = 256
#: Images per block (bounds the ``(block, n_atoms)`` correlations and the
#: ``(block, n_importance)`` log-weights held at once).
BLOCK = 256

_LOG_2PI = math.log(2.0 * math.pi)


@jit(internal=True)
def _solve_lower(L, k, rhs, out):
    for t in range(k):
        s = rhs[t]
        for r in range(t):
            s -= L[t, r] * out[r]
        out[t] = s / L[t, t]


@jit(internal=True)
def _solve_upper_t(L, k, rhs, out):
    """Solve ``L^T out = rhs`` (``L`` lower triangular)."""
    for t in range(k - 1, -1, -1):
        s = rhs[t]
        for r in range(t + 1, k):
            s -= L[r, t] * out[r]
        out[t] = s / L[t, t]


@jit(internal=True)
def _pursuit(b, G, k, chosen, coef, chol, rhs, tmp):
    """Orthogonal matching pursuit in the noise's metric, from ``b`` and ``G`` alone.

    Chooses ``k`` atoms into ``chosen`` (by largest residual correlation
    over the atom's norm, both in the metric of ``N0^-1``) and leaves their
    least-squares coefficients in ``coef`` and the Cholesky factor of
    ``G_SS`` in ``chol``. Returns the number of atoms chosen (fewer than
    ``k`` only when the residual's correlations vanish or ``G_SS`` stops
    being positive definite).
    """
    n = b.shape[0]
    n_chosen = 0
    for _ in range(k):
        best, best_score = -1, 0.0
        for m in range(n):
            if G[m, m] <= 0.0:
                continue
            taken = False
            for r in range(n_chosen):
                if chosen[r] == m:
                    taken = True
            if taken:
                continue
            resid = b[m]
            for r in range(n_chosen):
                resid -= G[m, chosen[r]] * coef[r]
            score = resid * resid / G[m, m]
            if score > best_score:
                best, best_score = m, score
        if best < 0:
            break
        chosen[n_chosen] = best
        if not _least_squares(b, G, chosen, n_chosen + 1, coef, chol, rhs, tmp):
            break
        n_chosen += 1
    # Leave the factor and coefficients of the atoms kept.
    if n_chosen:
        _least_squares(b, G, chosen, n_chosen, coef, chol, rhs, tmp)
    return n_chosen


@jit(internal=True)
def _least_squares(b, G, chosen, n, coef, chol, rhs, tmp):
    for r in range(n):
        for s in range(n):
            chol[r, s] = G[chosen[r], chosen[s]]
        rhs[r] = b[chosen[r]]
    if not _cholesky_inplace(chol, n):
        return False
    _solve_lower(chol, n, rhs, tmp)
    _solve_upper_t(chol, n, tmp, coef)
    return True


@jit(internal=True)
def _signed_potential(chosen, coef, n, n_atoms, log_unary, log_pair):
    """``-E`` of the signed support of atoms ``chosen`` with the signs of ``coef``."""
    total = 0.0
    for t in range(n):
        a = chosen[t] if coef[t] >= 0 else chosen[t] + n_atoms
        total += log_unary[a]
        for r in range(t):
            c = chosen[r] if coef[r] >= 0 else chosen[r] + n_atoms
            total += log_pair[a, c]
    return total


@jit(internal=True)
def _search(b, G, xnx, n, n_atoms, log_unary, log_pair, chosen, coef, max_swaps):
    """Best-improvement swaps of one atom for another from ``chosen``, in place.

    The objective is ``-E(S) - R(S) / 2``: the network's log-potential of
    the signed support (signs from the least-squares coefficients) plus the
    log-likelihood of the least-squares fit (``R`` the squared residual in
    the noise's metric). Matching pursuit ignores the network, whose pair
    potentials favour supports like the training ones: on held-out digits
    a few swaps raise ``log p(S) + log p(x | S)`` by tens of nats.
    ``coef`` ends with the least-squares coefficients of ``chosen``.
    """
    if n == 0:
        return
    rest = np.empty(n, dtype=np.int64)
    trial = np.empty(n, dtype=np.int64)
    coef_rest = np.empty(n)
    trial_coef = np.empty(n)
    chol = np.empty((n, n))
    rhs = np.empty(n)
    tmp = np.empty(n)
    proj = np.empty(n)
    direction = np.empty(n)
    in_support = np.zeros(n_atoms, dtype=np.bool_)
    _least_squares(b, G, chosen, n, coef, chol, rhs, tmp)
    residual = xnx
    for t in range(n):
        residual -= b[chosen[t]] * coef[t]
        in_support[chosen[t]] = True
    current = _signed_potential(chosen, coef, n, n_atoms, log_unary, log_pair) - 0.5 * residual
    for _ in range(max_swaps):
        best, best_slot, best_atom = current, -1, -1
        for t in range(n):
            r = 0
            for q in range(n):
                if q != t:
                    rest[r] = chosen[q]
                    r += 1
            if n > 1 and not _least_squares(b, G, rest, n - 1, coef_rest, chol, rhs, tmp):
                continue
            residual_rest = xnx
            for q in range(n - 1):
                residual_rest -= b[rest[q]] * coef_rest[q]
            for m in range(n_atoms):
                if in_support[m] or G[m, m] <= 0.0:
                    continue
                # Add m to S \ chosen[t]: its coefficient, the others' change.
                for q in range(n - 1):
                    rhs[q] = G[rest[q], m]
                _solve_lower(chol, n - 1, rhs, proj)
                norm = G[m, m]
                for q in range(n - 1):
                    norm -= proj[q] * proj[q]
                if norm <= 1e-12 * G[m, m]:
                    continue
                corr = b[m]
                for q in range(n - 1):
                    corr -= G[m, rest[q]] * coef_rest[q]
                step = corr / norm
                _solve_upper_t(chol, n - 1, proj, direction)
                for q in range(n - 1):
                    trial[q] = rest[q]
                    trial_coef[q] = coef_rest[q] - step * direction[q]
                trial[n - 1] = m
                trial_coef[n - 1] = step
                value = (_signed_potential(trial, trial_coef, n, n_atoms, log_unary, log_pair)
                         - 0.5 * (residual_rest - corr * step))
                if value > best + 1e-9:
                    best, best_slot, best_atom = value, t, m
        if best_slot < 0:
            break
        in_support[chosen[best_slot]] = False
        in_support[best_atom] = True
        chosen[best_slot] = best_atom
        current = best
    _least_squares(b, G, chosen, n, coef, chol, rhs, tmp)


@jit(internal=True)
def _center_terms(b, G, n, n_atoms, log_unary, log_pair, chosen, signs, context, evidence):
    """The two parts of the signed log-weights of a proposal centred on ``chosen``.

    ``S*``: the ``n`` atoms ``chosen`` with ``signs`` (``+-1``; ``0`` takes the
    sign of the atom's least-squares coefficient). ``evidence``: half the change of the whitened squared
    residual a signed atom makes, about its change of log-likelihood: for
    an atom of ``S*``, the rise without it (``c_m^2 / (G_SS^-1)_mm``); for
    another, the fall that adding it brings (its residual correlation
    squared over the norm of its part outside ``S*``); the other sign gets
    the negative. ``context``: the unary potential plus the pair potentials
    with the signed atoms of ``S*``. A swap of one atom of ``S*`` for
    another then weighs about its change of posterior probability.
    """
    k = max(n, 1)
    coef = np.empty(k)
    chol = np.empty((k, k))
    rhs = np.empty(k)
    tmp = np.empty(k)
    if n and not _least_squares(b, G, chosen, n, coef, chol, rhs, tmp):
        n = 0
    slot = np.empty(n_atoms, dtype=np.int64)
    for m in range(n_atoms):
        slot[m] = -1
    for r in range(n):
        slot[chosen[r]] = r
    # Diagonal of G_SS^-1 from the rows of chol^-1.
    inv_diag = np.empty(k)
    for r in range(n):
        for s in range(n):
            rhs[s] = 1.0 if s == r else 0.0
        _solve_lower(chol, n, rhs, tmp)
        total = 0.0
        for s in range(n):
            total += tmp[s] * tmp[s]
        inv_diag[r] = total
    proj = np.empty(k)
    for m in range(n_atoms):
        r = slot[m]
        if r >= 0:
            value = coef[r] * coef[r] / inv_diag[r]
            sign = signs[r] if signs[r] != 0 else (1.0 if coef[r] >= 0 else -1.0)
        else:
            resid = b[m]
            for s in range(n):
                resid -= G[m, chosen[s]] * coef[s]
            # The atom's squared norm outside S*: G_mm - G_mS G_SS^-1 G_Sm.
            for s in range(n):
                rhs[s] = G[chosen[s], m]
            _solve_lower(chol, n, rhs, proj)
            norm = G[m, m]
            for s in range(n):
                norm -= proj[s] * proj[s]
            norm = max(norm, 1e-12 * G[m, m], 1e-300)
            value = resid * resid / norm
            sign = 1.0 if resid >= 0 else -1.0
        evidence[m] = 0.5 * value * sign
        evidence[m + n_atoms] = -0.5 * value * sign
    for a in range(2 * n_atoms):
        context[a] = log_unary[a]
    for r in range(n):
        positive = signs[r] > 0 if signs[r] != 0 else coef[r] >= 0
        row = log_pair[chosen[r] if positive else chosen[r] + n_atoms]
        for a in range(2 * n_atoms):
            context[a] += row[a]


@jit(internal=True)
def _objective(b, G, xnx, chosen, n, n_atoms, log_unary, log_pair, coef, chol, rhs, tmp):
    """:func:`_search`'s objective of the atoms ``chosen`` (``-inf`` if ``G_SS`` is singular)."""
    if not _least_squares(b, G, chosen, n, coef, chol, rhs, tmp):
        return -np.inf
    residual = xnx
    for t in range(n):
        residual -= b[chosen[t]] * coef[t]
    return _signed_potential(chosen, coef, n, n_atoms, log_unary, log_pair) - 0.5 * residual


@jit(internal=True)
def _training_start(b, G, xnx, n, n_atoms, log_unary, log_pair, signed_start, train_atoms,
                    inv_ptr, inv_img, max_candidates, chosen):
    """The training support sharing most signed atoms with ``signed_start`` (at most
    ``max_candidates`` of them, most shared first) of best :func:`_search` objective.

    Writes its atoms into ``chosen`` and returns the objective (``-inf`` when no
    training support of ``n`` atoms shares one).
    """
    n_train, k_train = train_atoms.shape
    counts = np.zeros(n_train, dtype=np.int64)
    listed = np.empty(n_train, dtype=np.int64)
    n_listed = 0
    for t in range(n):
        a = signed_start[t]
        for p in range(inv_ptr[a], inv_ptr[a + 1]):
            r = inv_img[p]
            if counts[r] == 0:
                listed[n_listed] = r
                n_listed += 1
            counts[r] += 1
    best = -np.inf
    if n_listed == 0 or k_train < n:
        return best
    keys = np.empty(n_listed, dtype=np.int64)
    for q in range(n_listed):
        keys[q] = -counts[listed[q]]
    order = _argsort_int(keys)
    atoms = np.empty(n, dtype=np.int64)
    coef = np.empty(n)
    chol = np.empty((n, n))
    rhs = np.empty(n)
    tmp = np.empty(n)
    for q in range(min(n_listed, max_candidates)):
        r = listed[order[q]]
        ok = True
        for t in range(n):
            a = train_atoms[r, t]
            if a < 0:
                ok = False
                break
            atoms[t] = a % n_atoms
            for s in range(t):
                if atoms[s] == atoms[t]:
                    ok = False
        if not ok:
            continue
        value = _objective(b, G, xnx, atoms, n, n_atoms, log_unary, log_pair, coef, chol, rhs,
                           tmp)
        if value > best:
            best = value
            for t in range(n):
                chosen[t] = atoms[t]
    return best


@jit(internal=True)
def _proposal_terms(b, G, xnx, k, n_atoms, log_unary, log_pair, max_swaps, train_atoms,
                    inv_ptr, inv_img, max_candidates, context, evidence):
    """``context`` and ``evidence`` of the proposal's first two centres.

    Centre 0: the image's matching-pursuit support. Centre 1: the better,
    under :func:`_search`'s objective, of that support after the search's
    swaps and of the best training support sharing atoms with it
    (:func:`_training_start`) after the search's swaps: the network favours
    supports like the training ones, which matching pursuit ignores.
    """
    chosen = np.empty(k, dtype=np.int64)
    other = np.empty(k, dtype=np.int64)
    signed = np.empty(k, dtype=np.int64)
    coef = np.empty(k)
    chol = np.empty((k, k))
    rhs = np.empty(k)
    tmp = np.empty(k)
    signs = np.zeros(k)
    n = _pursuit(b, G, k, chosen, coef, chol, rhs, tmp)
    _center_terms(b, G, n, n_atoms, log_unary, log_pair, chosen, signs, context[0],
                  evidence[0])
    for t in range(n):
        signed[t] = chosen[t] if coef[t] >= 0 else chosen[t] + n_atoms
    start = _training_start(b, G, xnx, n, n_atoms, log_unary, log_pair, signed, train_atoms,
                            inv_ptr, inv_img, max_candidates, other)
    _search(b, G, xnx, n, n_atoms, log_unary, log_pair, chosen, coef, max_swaps)
    value = _objective(b, G, xnx, chosen, n, n_atoms, log_unary, log_pair, coef, chol, rhs, tmp)
    if start > -np.inf:
        _search(b, G, xnx, n, n_atoms, log_unary, log_pair, other, coef, max_swaps)
        if _objective(b, G, xnx, other, n, n_atoms, log_unary, log_pair, coef, chol, rhs,
                      tmp) > value:
            for t in range(n):
                chosen[t] = other[t]
    _center_terms(b, G, n, n_atoms, log_unary, log_pair, chosen, signs, context[1],
                  evidence[1])


@jit(internal=True)
def _support_hash(support, k):
    h = np.uint64(1469598103934665603)
    for t in range(k):
        h = (h ^ np.uint64(support[t] + 1)) * np.uint64(1099511628211)
    return h


@jit(internal=True)
def _log_proposal(support, k, n_atoms, shares, log_shares, tables, log_signed, table0,
                  log_unary):
    """``log q(S | x)`` of the mixture with ``shares`` (the last: independent supports)."""
    n_comp = tables.shape[0]
    log_q = log_shares[n_comp] + _log_cp(table0, log_unary, n_atoms, k, support)
    for q in range(n_comp):
        if shares[q] <= 0.0:
            continue
        term = log_shares[q] + _log_cp(tables[q], log_signed[q], n_atoms, k, support)
        top = max(log_q, term)
        if top > -np.inf:
            log_q = top + math.log(math.exp(log_q - top) + math.exp(term - top))
    return log_q


@jit(internal=True)
def _component_tables(context, evidence, centres, temperatures, shares, n_atoms, k, log_signed,
                      log_weights, tables):
    """Signed log-weights, per-atom log-weights and recursion tables of the components
    with a positive share."""
    for q in range(centres.shape[0]):
        if shares[q] <= 0.0:
            continue
        for a in range(2 * n_atoms):
            log_signed[q, a] = (context[centres[q], a]
                                + temperatures[q] * evidence[centres[q], a])
        for m in range(n_atoms):
            a, d = log_signed[q, m], log_signed[q, m + n_atoms]
            top = max(a, d)
            log_weights[q, m] = top + math.log(math.exp(a - top) + math.exp(d - top))
        log_esp_table(log_weights[q], k, tables[q])


@jit(nogil=True)
def image_log_weights(B, xnx, G, log_const, n_atoms, k, log_unary, log_pair, log_z,
                      table0, log_weights0, model_kind, train_atoms, train_values, inv_ptr,
                      inv_img, atom_mean, atom_var, em_max_iter, tol, reg, overlap_power,
                      reg_weights, reg_intercepts, reg_scales, points, n_tries, centres,
                      temperatures, first_shares, second_shares, max_swaps, max_candidates,
                      seeds, out):
    """Log importance weights ``out (n, n_importance)`` of the images' rows of ``B``.

    ``B`` ``(n, n_atoms)`` holds ``D N0^-1 x`` and ``xnx`` ``x^T N0^-1 x``;
    ``log_const = -(n_pixels log 2 pi + log det N0) / 2``. ``model_kind`` 0
    reads the EM arrays, 1 the regression arrays.

    The proposal mixes product-weight models around ``centres`` at
    ``temperatures`` and (last share) the independent-support model of
    ``table0``. Centre 0 is the image's matching-pursuit support, 1 that
    support after the swaps of :func:`_search`, 2 the support of largest
    ``p(S) N(x | S)`` among the first half of the draws: the first half of
    the draws comes from the mixture with ``first_shares``, the second from
    that with ``second_shares`` (each draw weighed by the proposal it came
    from, so both halves are unbiased). Each image seeds Numba's generator
    of its thread with its own seed, so the draws do not depend on how
    images are split over threads.
    """
    n, n_imp = out.shape
    n_signed = 2 * n_atoms
    per_slot = model_kind == 1
    n_factor = k if per_slot else 1
    n_comp = temperatures.shape[0]
    context = np.empty((3, n_signed))
    evidence = np.empty((3, n_signed))
    log_signed = np.zeros((n_comp, n_signed))
    log_weights = np.zeros((n_comp, n_atoms))
    tables = np.zeros((n_comp, n_atoms + 1, k + 1))
    log_first = np.empty(n_comp + 1)
    log_second = np.empty(n_comp + 1)
    for q in range(n_comp + 1):
        log_first[q] = math.log(first_shares[q]) if first_shares[q] > 0.0 else -np.inf
        log_second[q] = math.log(second_shares[q]) if second_shares[q] > 0.0 else -np.inf
    u_atoms = np.empty(k)
    u_signs = np.empty(k)
    drawn = np.empty(k, dtype=np.int64)
    support = np.empty(k, dtype=np.int64)
    best_atoms = np.empty(k, dtype=np.int64)
    best_signs = np.empty(k)
    # Per distinct support of an image: the quantities its draws share.
    keys = np.empty(n_imp, dtype=np.uint64)
    supports = np.empty((n_imp, k), dtype=np.int64)
    log_target = np.empty(n_imp)  # log p(S) + log N(x | S)
    post_mean = np.empty((n_imp, k))  # posterior mean of v
    post_chol = np.empty((n_imp, k, k))  # L (prior factor) for v = mu + L w
    post_fac = np.empty((n_imp, k, k))  # chol of M = I + L^T G_S L
    accept = np.empty((n_imp, n_factor))
    fail = np.empty((n_imp, n_factor))
    mean = np.empty(k)
    L = np.empty((k, k))
    GS = np.empty((n_imp, k, k))
    bS = np.empty((n_imp, k))
    y = np.empty(k)
    w = np.empty(k)
    z = np.empty(k)
    tmp = np.empty(k)
    v = np.empty(k)
    c = np.empty(k)
    M = np.empty((k, k))
    LtG = np.empty((k, k))
    half = n_imp // 2 if n_imp >= 2 else n_imp
    for i in range(n):
        np.random.seed(seeds[i])
        b = B[i]
        _proposal_terms(b, G, xnx[i], k, n_atoms, log_unary, log_pair, max_swaps, train_atoms,
                        inv_ptr, inv_img, max_candidates, context, evidence)
        _component_tables(context, evidence, centres, temperatures, first_shares, n_atoms, k,
                          log_signed, log_weights, tables)
        shares, log_shares = first_shares, log_first
        n_unique = 0
        for draw in range(n_imp):
            if draw == half and draw > 0:
                # Re-centre on the best support drawn so far.
                top = 0
                for q in range(1, n_unique):
                    if log_target[q] > log_target[top]:
                        top = q
                for t in range(k):
                    best_atoms[t] = supports[top, t] % n_atoms
                    best_signs[t] = 1.0 if supports[top, t] < n_atoms else -1.0
                _center_terms(b, G, k, n_atoms, log_unary, log_pair, best_atoms, best_signs,
                              context[2], evidence[2])
                _component_tables(context, evidence, centres, temperatures, second_shares,
                                  n_atoms, k, log_signed, log_weights, tables)
                shares, log_shares = second_shares, log_second
            u = np.random.random()
            for t in range(k):
                u_atoms[t] = np.random.random()
                u_signs[t] = np.random.random()
            component = n_comp
            cumulative = 0.0
            for q in range(n_comp):
                cumulative += shares[q]
                if u < cumulative:
                    component = q
                    break
            if component == n_comp:
                _draw_cp(table0, log_weights0, log_unary, n_atoms, k, u_atoms, u_signs, drawn)
            else:
                _draw_cp(tables[component], log_weights[component], log_signed[component],
                         n_atoms, k, u_atoms, u_signs, drawn)
            # Canonical order: increasing signed atom.
            for t in range(k):
                support[t] = drawn[t]
            for t in range(1, k):
                current = support[t]
                s = t
                while s > 0 and support[s - 1] > current:
                    support[s] = support[s - 1]
                    s -= 1
                support[s] = current
            for t in range(k):
                z[t] = np.random.standard_normal()
            log_q = _log_proposal(support, k, n_atoms, shares, log_shares, tables, log_signed,
                                  table0, log_unary)
            key = _support_hash(support, k)
            j = -1
            for q in range(n_unique):
                if keys[q] == key:
                    same = True
                    for t in range(k):
                        if supports[q, t] != support[t]:
                            same = False
                            break
                    if same:
                        j = q
                        break
            if j < 0:
                j = n_unique
                n_unique += 1
                keys[j] = key
                for t in range(k):
                    supports[j, t] = support[t]
                log_target[j] = _support_terms(
                    support, k, n_atoms, b, G, xnx[i], log_const, log_unary, log_pair, log_z,
                    per_slot, train_atoms, train_values, inv_ptr, inv_img, atom_mean, atom_var,
                    em_max_iter, tol, reg, overlap_power, reg_weights, reg_intercepts,
                    reg_scales, points, n_tries, mean, L, accept[j], fail[j], bS[j], GS[j],
                    LtG, M, y, w, tmp, post_mean[j], post_chol[j], post_fac[j])
            if log_target[j] == -np.inf:
                out[i, draw] = -np.inf
                continue
            # v = posterior mean + L R^-T z, with M = R R^T.
            _solve_upper_t(post_fac[j], k, z, w)
            positive = True
            for t in range(k):
                acc = post_mean[j, t]
                for s in range(t + 1):
                    acc += post_chol[j, t, s] * w[s]
                v[t] = acc
                if v[t] < 0.0:
                    positive = False
            if per_slot:
                # The regression model retries each slot alone: v_t <= 0 fails.
                log_h = 0.0
                positive = True
                for t in range(k):
                    if v[t] > 0.0:
                        log_h += accept[j, t]
                    else:
                        log_h += fail[j, t]
                        positive = False
            else:
                log_h = accept[j, 0] if positive else fail[j, 0]
            if not positive:
                # rho(v) = N(x; D clip v) / N(x; D v) in the noise's metric.
                for t in range(k):
                    c[t] = v[t] if v[t] > 0.0 else 0.0
                change = 0.0
                for t in range(k):
                    change += -2.0 * (c[t] - v[t]) * bS[j, t]
                    for s in range(k):
                        change += GS[j, t, s] * (c[t] * c[s] - v[t] * v[s])
                log_h -= 0.5 * change
            out[i, draw] = log_target[j] + log_h - log_q


@jit(internal=True)
def _support_terms(support, k, n_atoms, b, G, xnx, log_const, log_unary, log_pair, log_z,
                   per_slot, train_atoms, train_values, inv_ptr, inv_img, atom_mean, atom_var,
                   em_max_iter, tol, reg, overlap_power, reg_weights, reg_intercepts,
                   reg_scales, points, n_tries, mean, L, accept, fail, bS, GS, LtG, M, y, w,
                   tmp, post_mean, post_chol, post_fac):
    """``log p(S) + log N(x | D_S mu, D_S Sigma D_S^T + N0)`` of one support; fills the
    positivity factors, the signed ``b_S`` and ``G_S`` and the posterior of ``v``.

    Woodbury: with ``Sigma = L L^T``, ``M = I + L^T G_S L`` and
    ``y = L^T (b_S - G_S mu)``, ``log det C = log det N0 + log det M`` and
    ``r^T C^-1 r = r^T N0^-1 r - y^T M^-1 y``; the posterior of ``v`` is
    ``mu + L w``, ``w ~ N(M^-1 y, M^-1)``.
    """
    log_p = -log_z
    for t in range(k):
        log_p += log_unary[support[t]]
        for s in range(t + 1, k):
            log_p += log_pair[support[t], support[s]]
    # The magnitudes' Gaussian and its positivity factors.
    if per_slot:
        for t in range(k):
            a_t = support[t]
            mu = reg_intercepts[a_t]
            for s in range(k):
                if s != t:
                    mu += reg_weights[a_t, support[s]]
            mean[t] = mu
            for s in range(k):
                L[t, s] = 0.0
            L[t, t] = reg_scales[a_t]
            p = 0.5 * math.erfc(-(mu / reg_scales[a_t]) / math.sqrt(2.0))
            accept[t] = _log_accept_factor(p, n_tries)
            fail[t] = _log_fail_factor(p, n_tries)
    else:
        _support_gaussian(support, train_atoms, train_values, inv_ptr, inv_img, atom_mean,
                          atom_var, em_max_iter, tol, reg, overlap_power, mean, L)
        p = _orthant_probability(mean, L, points, tmp)
        accept[0] = _log_accept_factor(p, n_tries)
        fail[0] = _log_fail_factor(p, n_tries)
    for t in range(k):
        mt = support[t] % n_atoms
        st = 1.0 if support[t] < n_atoms else -1.0
        bS[t] = st * b[mt]
        for s in range(k):
            ms = support[s] % n_atoms
            ss = 1.0 if support[s] < n_atoms else -1.0
            GS[t, s] = st * ss * G[mt, ms]
    for t in range(k):
        for s in range(k):
            acc = 0.0
            for r in range(t, k):
                acc += L[r, t] * GS[r, s]
            LtG[t, s] = acc
    for t in range(k):
        for s in range(k):
            acc = 1.0 if t == s else 0.0
            for r in range(s, k):
                acc += LtG[t, r] * L[r, s]
            M[t, s] = acc
    quad = xnx
    for t in range(k):
        resid = bS[t]
        for s in range(k):
            resid -= GS[t, s] * mean[s]
        tmp[t] = resid
        quad -= 2.0 * mean[t] * bS[t]
        for s in range(k):
            quad += mean[t] * GS[t, s] * mean[s]
    for t in range(k):
        acc = 0.0
        for r in range(t, k):
            acc += L[r, t] * tmp[r]
        y[t] = acc
    if not _cholesky_inplace(M, k):
        return -np.inf
    log_det = 0.0
    for t in range(k):
        log_det += 2.0 * math.log(M[t, t])
    _solve_lower(M, k, y, tmp)
    for t in range(k):
        quad -= tmp[t] * tmp[t]
    _solve_upper_t(M, k, tmp, w)  # posterior mean of w: M^-1 y
    for t in range(k):
        acc = mean[t]
        for s in range(t + 1):
            acc += L[t, s] * w[s]
        post_mean[t] = acc
        for s in range(k):
            post_chol[t, s] = L[t, s]
            post_fac[t, s] = M[t, s]
    return log_p + log_const - 0.5 * log_det - 0.5 * quad


def _check_noise(n_features, noise_variance, noise_components, noise_variances):
    """``(s2, U, v)``: the noise covariance ``s2 I + U^T diag(v - s2) U``, checked."""
    noise_variance = float(noise_variance)
    if not noise_variance > 0:
        raise ValueError(f"noise_variance must be positive; got {noise_variance}.")
    if noise_components is None:
        if noise_variances is not None:
            raise ValueError("noise_variances needs noise_components.")
        return noise_variance, np.zeros((0, n_features)), np.zeros(0)
    U = np.asarray(noise_components, dtype=np.float64)
    if U.ndim != 2 or U.shape[1] != n_features:
        raise ValueError(
            f"noise_components must have shape (n_components, {n_features}); got {U.shape}.")
    if noise_variances is None:
        raise ValueError("noise_components needs noise_variances (one per component).")
    v = np.asarray(noise_variances, dtype=np.float64).ravel()
    if v.shape[0] != U.shape[0]:
        raise ValueError(
            f"noise_variances must have {U.shape[0]} entries (one per noise component); "
            f"got {v.shape[0]}.")
    if not np.all(v > 0):
        raise ValueError("noise_variances must be positive.")
    if not np.allclose(U @ U.T, np.eye(U.shape[0]), atol=1e-6):
        raise ValueError("noise_components must have orthonormal rows (as PCA components_).")
    return noise_variance, U, v


def _image_terms(X, D, U, DU, scale, s2):
    """``b = D N0^-1 x`` and ``x^T N0^-1 x`` of each image, one image at a time.

    Matrix-vector products per image rather than one product per block:
    BLAS blocks a matrix product by its size, so an image's last bits (and
    the near-ties of its proposal's searches) would depend on the images
    beside it; per image, its estimate does not.
    """
    B = np.empty((X.shape[0], D.shape[0]))
    xnx = np.empty(X.shape[0])
    DUs = DU * scale
    for i, x in enumerate(X):
        xu = U @ x
        B[i] = D @ x / s2 + DUs @ xu
        xnx[i] = x @ x / s2 + (xu * xu) @ scale
    return B, xnx


def _row_seeds(X, base, n_parts):
    """``(n_parts, n)`` seeds, each a function of its image and ``base`` only.

    An image's estimate is then the same wherever it stands in ``X`` and
    whatever else ``X`` holds (scikit-learn's invariance checks).
    """
    seeds = np.empty((n_parts, X.shape[0]), dtype=np.int64)
    for i, row in enumerate(X):
        digest = zlib.crc32(np.ascontiguousarray(row).tobytes())
        for c in range(n_parts):
            seeds[c, i] = (digest ^ (base + 7919 * c)) & 0x7FFFFFFF
    return seeds


def _class_densities(density):
    """``[(log_weight, density)]``: one density, or a prior's classes with their weights."""
    if hasattr(density, "_densities"):  # a fitted CoefficientPrior
        if density.kind != "sparse_support":
            raise ValueError(
                f"support_log_likelihood needs a kind='sparse_support' prior; got {density.kind!r}.")
        fitted = density._fitted_densities()
        if density.classes_ is None:
            return [(0.0, density._densities[0])]
        weights = np.log(density.class_weights_[fitted])
        return [(float(w), density._densities[i]) for w, i in zip(weights, fitted)]
    if not hasattr(density, "sampler"):
        raise ValueError(
            "density must be a fitted CoefficientPrior(kind='sparse_support') or one of its "
            f"sparse-support densities; got {type(density).__name__}.")
    return [(0.0, density)]


@validate_params(
    {
        "X": ["array-like"],
        "dictionary": ["array-like"],
        "density": [object],
        "noise_variance": [Interval(Real, 0, None, closed="neither")],
        "noise_components": ["array-like", None],
        "noise_variances": ["array-like", None],
        "n_importance": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def support_log_likelihood(X, dictionary, density, noise_variance, noise_components=None,
                           noise_variances=None, *, n_importance=N_IMPORTANCE,
                           random_state=None):
    """Log-density of images under the sparse-support model, by importance sampling.

    ``x = D_S^± c + e``: ``S ~ p(S)`` the support network's stationary law,
    ``c`` the sampler's positive magnitudes for ``S`` and ``e ~ N(0, N0)`` with
    ``N0 = noise_variance I + U^T diag(noise_variances - noise_variance) U``.
    The sum over supports is estimated per image from ``n_importance`` draws
    (see the module docstring); ``log Z`` of the network is the density's
    (:meth:`SparseSupportDensity.log_partition`).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Images.
    dictionary : array-like of shape (n_atoms, n_features)
        The atoms ``D`` (rows) the codes of ``density`` refer to.
    density : CoefficientPrior or SparseSupportDensity
        A fitted ``CoefficientPrior("sparse_support")`` (a class-conditional
        one is the mixture of its classes, weighted by their frequencies) or
        one of its densities.
    noise_variance : float > 0
        Noise variance per pixel (outside ``noise_components``).
    noise_components : array-like of shape (n_components, n_features), default=None
        Orthonormal rows ``U`` (a residual PCA's ``components_``); None is
        isotropic noise.
    noise_variances : array-like of shape (n_components,), default=None
        Noise variance along each row of ``noise_components``.
    n_importance : int, default=N_IMPORTANCE
        Importance draws per image (and per class).
    random_state : int, RandomState instance or None, default=None
        Seeds the draws.

    Returns
    -------
    log_p : ndarray of shape (n_samples,)
        Estimated ``log p(x)`` (the log of an unbiased estimate of ``p(x)``,
        given ``log Z``).
    standard_error : ndarray of shape (n_samples,)
        Delta-method standard error of ``log_p`` (the spread of the
        importance weights; it does not include the error of ``log Z``,
        which shifts every image alike).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D; got shape {X.shape}.")
    D = np.asarray(dictionary, dtype=np.float64)
    n, n_features = X.shape
    if D.ndim != 2 or D.shape[1] != n_features:
        raise ValueError(
            f"dictionary must have shape (n_atoms, {n_features}); got {D.shape}.")
    parts = _class_densities(density)
    n_atoms = D.shape[0]
    for _, part in parts:
        if part.n_atoms != n_atoms:
            raise ValueError(
                f"The density models codes of {part.n_atoms} atoms; the dictionary has "
                f"{n_atoms}.")
    s2, U, v = _check_noise(n_features, noise_variance, noise_components, noise_variances)
    # N0^-1 = I / s2 + U^T diag(1 / v - 1 / s2) U.
    scale = 1.0 / v - 1.0 / s2
    DU = D @ U.T
    G = np.ascontiguousarray((D @ D.T) / s2 + (DU * scale) @ DU.T)
    log_det_n0 = (n_features - U.shape[0]) * math.log(s2) + float(np.log(v).sum())
    log_const = -0.5 * (n_features * _LOG_2PI + log_det_n0)
    rng = check_random_state(random_state)
    seeds = _row_seeds(X, rng.randint(np.iinfo(np.int32).max), len(parts))
    log_p = np.empty((len(parts), n))
    se = np.empty((len(parts), n))
    for c, (_, part) in enumerate(parts):
        arguments = _density_arguments(part)
        k = part.n_nonzero_coefs
        for start in range(0, n, BLOCK):
            rows = slice(start, min(start + BLOCK, n))
            B, xnx = _image_terms(X[rows], D, U, DU, scale, s2)
            out = _block_log_weights(B, xnx, G, log_const, n_atoms, k, arguments,
                                     seeds[c, rows], n_importance)
            log_p[c, rows], se[c, rows] = log_mean_exp(out, axis=1)
    if len(parts) == 1:
        return log_p[0], se[0]
    # A mixture of the classes: p = sum_c w_c p_c, var(p) = sum_c (w_c p_c se_c)^2.
    log_class = np.array([w for w, _ in parts])[:, None] + log_p
    total = logsumexp(log_class, axis=0)
    with np.errstate(invalid="ignore"):
        share = np.exp(log_class - total)
        se_total = np.sqrt(np.sum((share * se) ** 2, axis=0))
    return total, se_total


def _block_log_weights(B, xnx, G, log_const, n_atoms, k, arguments, seeds, n_importance):
    """``(n, n_importance)`` log importance weights of one block of images, on threads."""
    out = np.empty((B.shape[0], n_importance))
    run_in_chunks(
        lambda r: image_log_weights(B[r], xnx[r], G, log_const, n_atoms, k, *arguments,
                                    seeds[r], out[r]),
        B.shape[0],
    )
    return out


def _density_arguments(part):
    """The kernel's arguments that describe one sparse-support density."""
    sampler = part.sampler
    k = part.n_nonzero_coefs
    n_atoms = part.n_atoms
    log_unary = np.ascontiguousarray(sampler["log_unary"], dtype=np.float64)
    log_pair = np.ascontiguousarray(sampler["log_pair"], dtype=np.float64)
    log_z = part.log_partition()[0]
    log_weights0, table0 = product_table(log_unary, n_atoms, k)
    em = em_arguments(sampler, part.em_max_iter, getattr(part, "overlap_power", 0.0))
    if getattr(part, "coefficient_model", "em") == "regression":
        regression = sampler["regression"]
        reg_arrays = (np.ascontiguousarray(regression["weights"], dtype=np.float64),
                      np.ascontiguousarray(regression["intercepts"], dtype=np.float64),
                      np.ascontiguousarray(regression["scales"], dtype=np.float64))
        kind = 1
    else:
        reg_arrays = (np.zeros((1, 1)), np.zeros(1), np.ones(1))
        kind = 0
    centres, temperatures, shares = (np.array(c) for c in zip(*PROPOSAL_COMPONENTS))
    first = np.append(shares, DEFENSIVE_SHARE).astype(np.float64)
    first[:-1][centres == 2] = 0.0
    first /= first.sum()
    recentred = np.append(np.where(centres == 2, shares, 0.0), 0.0)
    second = (1 - RECENTRED_SHARE) * first + RECENTRED_SHARE * recentred / recentred.sum()
    return (log_unary, log_pair, log_z, table0, log_weights0, kind, *em, *reg_arrays,
            ghk_points(k), N_POSITIVE_TRIES, centres.astype(np.int64),
            temperatures.astype(np.float64), first, second, MAX_SWAPS, MAX_CANDIDATES)
