"""The normalising constant of the sparse-support Markov network.

The network over supports ``S`` (sets of ``k`` signed atoms, never both signs
of one atom) is ``p(S) = exp(-E(S)) / Z`` with

    -E(S) = sum_{a in S} u_a + sum_{a < b in S} P_ab

(``u``: ``log_unary``, ``P``: ``log_pair``, symmetric with a zero diagonal),
the law whose conditionals the Gibbs sampler draws from
(:func:`~skspectral.prior._gibbs.gibbs_supports`: slot ``t`` given the other
slots has probability ``∝ exp(u_c + sum_{j != t} P_{s_j c})`` over the signed
atoms ``c`` whose atom no other slot holds; every set is ``k!`` equally likely
ordered slot tuples, so its stationary law over sets is ``p``).

Independent-support model
    Without pairs, ``Z_0 = sum_S prod_{a in S} w_a`` (``w = exp(u)``) is the
    elementary symmetric polynomial ``e_k`` of the per-atom weights
    ``W_m = w_{+m} + w_{-m}`` (an atom enters with either sign, not both).
    :func:`log_esp_table` computes ``log e_j`` of every prefix of atoms in log
    space, and :func:`draw_independent` draws exactly from this model
    (conditional Poisson sampling of the atoms, then the signs).

Annealed importance sampling (Neal, 2001)
    :func:`ais_log_partition` anneals from ``p_0`` (the independent-support
    model) to ``p_1 = p`` through ``p_beta ∝ exp(sum u + beta sum P)``; each
    step reweighs by ``exp((beta_j - beta_{j-1}) sum P)`` and moves the chains
    by one Gibbs sweep that leaves ``p_{beta_j}`` invariant (the sampler's own
    conditional, pairs scaled by ``beta``). ``Z = Z_0 * mean(weights)`` in
    expectation; ``log Z`` is the log of that mean, with a delta-method
    standard error.

Small networks (at most :data:`EXACT_LIMIT` supports) are summed exactly
(:func:`exact_log_partition`).
"""

import math
from itertools import combinations

import numpy as np
from scipy.special import comb, logsumexp

from .._backend import jit, run_in_chunks
from ._gibbs import _draw_slot

#: Annealing temperatures (including ``beta = 0`` and ``1``) and chains of
#: :func:`log_partition`'s AIS.
N_TEMPERATURES = 200
N_CHAINS = 64
#: Smallest non-zero ``beta`` of the geometric schedule.
BETA_MIN = 1e-3
#: Most probable training supports whose one-slot neighbourhoods are summed
#: exactly beside AIS (:func:`mode_supports`).
N_MODES = 16
#: Networks with at most this many supports have their ``log Z`` summed exactly.
EXACT_LIMIT = 100_000


def log_atom_weights(log_signed, n_atoms):
    """``log W_m = logaddexp(log w_{+m}, log w_{-m})``: an atom's weight over both signs."""
    return np.logaddexp(log_signed[:n_atoms], log_signed[n_atoms:])


@jit(nogil=True)
def log_esp_table(log_weights, k, table):
    """``table[m, j] = log e_j(W_0, ..., W_{m-1})`` for ``m <= n``, ``j <= k``.

    ``e_j`` is the elementary symmetric polynomial of degree ``j``; the
    recursion ``e_j(W_{<m+1}) = e_j(W_{<m}) + W_m e_{j-1}(W_{<m})`` runs in log
    space, so weights spanning hundreds of orders of magnitude are exact to
    rounding. ``table`` has shape ``(n + 1, k + 1)``.
    """
    n = log_weights.shape[0]
    table[0, 0] = 0.0
    for j in range(1, k + 1):
        table[0, j] = -np.inf
    for m in range(n):
        table[m + 1, 0] = 0.0
        for j in range(1, k + 1):
            a = table[m, j]
            b = log_weights[m] + table[m, j - 1]
            if a == -np.inf and b == -np.inf:
                table[m + 1, j] = -np.inf
            elif a > b:
                table[m + 1, j] = a + math.log1p(math.exp(b - a))
            else:
                table[m + 1, j] = b + math.log1p(math.exp(a - b))


@jit(internal=True)
def _draw_cp(table, log_weights, log_signed, n_atoms, k, u_atoms, u_signs, out):
    """One draw of ``k`` signed atoms from the product-weight model of ``table``.

    Atoms by inverse CDF, one uniform per atom chosen: the largest chosen
    atom among the first ``top`` has probability
    ``W_m e_{j-1}(W_{<m}) / e_j(W_{<top})``. Each atom's sign is ``+`` with
    probability ``w_{+m} / W_m``. Atoms come out in decreasing order.
    """
    top = n_atoms
    for slot in range(k):
        j = k - slot
        total = table[top, j]
        target = u_atoms[slot]
        cumulative = 0.0
        chosen = j - 1  # rounding fallback: the last atom that leaves room for the rest
        for m in range(top - 1, j - 2, -1):
            cumulative += math.exp(log_weights[m] + table[m, j - 1] - total)
            if target < cumulative:
                chosen = m
                break
        top = chosen
        plus = math.exp(log_signed[chosen] - log_weights[chosen])
        out[slot] = chosen if u_signs[slot] < plus else chosen + n_atoms


@jit(internal=True)
def _log_cp(table, log_signed, n_atoms, k, support):
    """Log-probability of a support (``k`` signed atoms) under the product-weight model."""
    total = -table[n_atoms, k]
    for t in range(k):
        total += log_signed[support[t]]
    return total


@jit(nogil=True)
def draw_product_supports(table, log_weights, log_signed, n_atoms, k, uniforms, out):
    """Rows of :func:`_draw_cp`; ``uniforms`` has shape ``(n, 2 k)``."""
    for i in range(out.shape[0]):
        _draw_cp(table, log_weights, log_signed, n_atoms, k, uniforms[i, :k], uniforms[i, k:],
                 out[i])


def product_table(log_signed, n_atoms, k):
    """``(log_weights, table)`` of the product-weight model with signed log-weights."""
    log_weights = log_atom_weights(np.asarray(log_signed, dtype=np.float64), n_atoms)
    table = np.empty((n_atoms + 1, k + 1))
    log_esp_table(log_weights, k, table)
    return log_weights, table


def draw_independent(log_unary, n_atoms, k, n, rng):
    """``(n, k)`` exact draws from the independent-support model (unary potentials only).

    Returns the draws and ``log Z_0``.
    """
    log_weights, table = product_table(log_unary, n_atoms, k)
    uniforms = rng.random_sample((n, 2 * k))
    out = np.empty((n, k), dtype=np.int64)
    draw_product_supports(table, log_weights, np.asarray(log_unary, dtype=np.float64), n_atoms,
                          k, uniforms, out)
    return out, float(table[n_atoms, k])


def log_potential(supports, log_unary, log_pair):
    """``-E(S) = sum u + sum_{a<b} P`` of every row of ``supports`` ``(n, k)``."""
    supports = np.asarray(supports, dtype=np.int64)
    out = np.empty(supports.shape[0])
    for start in range(0, supports.shape[0], 8192):
        s = supports[start:start + 8192]
        pairs = log_pair[s[:, :, None], s[:, None, :]].sum(axis=(1, 2))
        out[start:start + 8192] = log_unary[s].sum(axis=1) + 0.5 * pairs
    return out


def pair_potential(supports, log_pair):
    supports = np.asarray(supports, dtype=np.int64)
    return 0.5 * log_pair[supports[:, :, None], supports[:, None, :]].sum(axis=(1, 2))


def n_supports(n_atoms, k):
    """Number of supports: ``C(n_atoms, k) 2^k``."""
    return comb(n_atoms, k, exact=True) * 2**k


def all_supports(n_atoms, k):
    """Every support, ``(C(n_atoms, k) 2^k, k)`` signed atoms (small networks only)."""
    atoms = np.array(list(combinations(range(n_atoms), k)), dtype=np.int64).reshape(-1, k)
    signs = (np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1
    return (atoms[:, None, :] + n_atoms * signs[None, :, :]).reshape(-1, k)


def exact_log_partition(log_unary, log_pair, n_atoms, k):
    """``log Z`` summed over every support."""
    return float(logsumexp(log_potential(all_supports(n_atoms, k), log_unary, log_pair)))


@jit(nogil=True)
def ais_chains(log_unary, log_pair, n_atoms, betas, init, uniforms, out):
    """Log AIS weights of chains started at ``init`` (draws from ``p_0``).

    Step ``j`` adds ``(beta_j - beta_{j-1}) sum_{a<b} P`` of the current
    state, then (but for the last step) runs one Gibbs sweep of
    ``p_{beta_j}``. ``uniforms`` has shape ``(n_chains, n_betas - 2, k)``.
    ``init`` ends holding the chains' final states (the states the last
    weights were computed at).
    """
    n_chains, k = init.shape
    n_betas = betas.shape[0]
    n_signed = log_unary.shape[0]
    state = np.empty(k, dtype=np.int64)
    scores = np.empty(n_signed)
    for c in range(n_chains):
        for t in range(k):
            state[t] = init[c, t]
        log_w = 0.0
        for j in range(1, n_betas):
            pair = 0.0
            for t in range(k):
                row = log_pair[state[t]]
                for s in range(t + 1, k):
                    pair += row[state[s]]
            log_w += (betas[j] - betas[j - 1]) * pair
            if j < n_betas - 1:
                for t in range(k):
                    state[t] = _draw_slot(state, t, log_unary, log_pair, betas[j], n_atoms,
                                          uniforms[c, j - 1, t], scores)
        out[c] = log_w
        for t in range(k):
            init[c, t] = state[t]


def geometric_schedule(n_temperatures, beta_min=BETA_MIN):
    """``0`` then ``n_temperatures - 1`` geometrically spaced values from ``beta_min`` to 1."""
    if n_temperatures < 2:
        raise ValueError(f"n_temperatures must be at least 2; got {n_temperatures}.")
    return np.concatenate([[0.0], np.geomspace(beta_min, 1.0, n_temperatures - 1)])


def log_mean_exp(log_w, axis=-1):
    """``log mean exp(log_w)`` and its delta-method standard error along ``axis``.

    The standard error of ``log mean w`` is ``sd(w) / (sqrt(n) mean(w))``
    (sample standard deviation), computed on ``w / max w``.
    """
    log_w = np.asarray(log_w, dtype=np.float64)
    n = log_w.shape[axis]
    top = np.max(log_w, axis=axis, keepdims=True)
    finite_top = np.where(np.isfinite(top), top, 0.0)
    w = np.exp(log_w - finite_top)
    mean = w.mean(axis=axis)
    log_mean = np.log(mean) + np.squeeze(finite_top, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = w.std(axis=axis, ddof=1) if n > 1 else np.zeros_like(mean)
        se = sd / (np.sqrt(n) * mean)
    return log_mean, np.where(mean > 0, se, np.inf)


def _keys(supports):
    """Hashable keys of supports as sets (rows sorted)."""
    rows = np.ascontiguousarray(np.sort(np.asarray(supports, dtype=np.int64), axis=1))
    return [row.tobytes() for row in rows]


def ais_log_partition(log_unary, log_pair, n_atoms, k, *, n_temperatures=N_TEMPERATURES,
                      n_chains=N_CHAINS, random_state=0, betas=None, exclude=None,
                      return_weights=False):
    """``(log Z, standard error)`` of the network by annealed importance sampling.

    Parameters
    ----------
    log_unary : ndarray of shape (2 * n_atoms,)
    log_pair : ndarray of shape (2 * n_atoms, 2 * n_atoms)
        Symmetric, zero diagonal.
    n_atoms, k : int
        Atoms (each with two signs) and support size.
    n_temperatures : int, default=N_TEMPERATURES
        Inverse temperatures from 0 to 1 (see :func:`geometric_schedule`).
    n_chains : int, default=N_CHAINS
    random_state : int or RandomState, default=0
    betas : ndarray, optional
        A schedule of your own (increasing from 0 to 1).
    exclude : set of bytes, optional
        Keys (:func:`_keys`) of supports left out of the sum: the last
        target is ``exp(-E(S)) 1[S not in exclude]``, so the estimate is of
        the partition function over the other supports (``-inf`` when every
        chain ends in ``exclude``).
    return_weights : bool, default=False
        Also return the chains' log weights (``log Z = log Z_0 + log mean exp``).
    """
    rng = np.random.RandomState(random_state) if not isinstance(
        random_state, np.random.RandomState) else random_state
    log_unary = np.ascontiguousarray(log_unary, dtype=np.float64)
    log_pair = np.ascontiguousarray(log_pair, dtype=np.float64)
    betas = geometric_schedule(n_temperatures) if betas is None else np.asarray(
        betas, dtype=np.float64)
    states, log_z0 = draw_independent(log_unary, n_atoms, k, n_chains, rng)
    uniforms = rng.random_sample((n_chains, max(betas.shape[0] - 2, 0), k))
    log_w = np.empty(n_chains)
    run_in_chunks(lambda c: ais_chains(log_unary, log_pair, n_atoms, betas, states[c],
                                       uniforms[c], log_w[c]), n_chains)
    if exclude:
        log_w[[key in exclude for key in _keys(states)]] = -np.inf
    log_mean, se = log_mean_exp(log_w)
    result = (float(log_z0 + log_mean), float(se))
    return result + (log_w,) if return_weights else result


def swap_neighbours(support, n_atoms):
    """Every support one slot away from ``support``: ``(k (2 n_atoms - 2 k + 1), k)``."""
    support = np.asarray(support, dtype=np.int64)
    k = support.shape[0]
    out = []
    for t in range(k):
        others = np.delete(support, t)
        free = np.ones(2 * n_atoms, dtype=bool)
        free[others % n_atoms] = free[others % n_atoms + n_atoms] = False
        free[support[t]] = False
        candidates = np.flatnonzero(free)
        rows = np.repeat(support[None, :], candidates.size, axis=0)
        rows[:, t] = candidates
        out.append(rows)
    return np.concatenate(out)


def mode_supports(train_supports, log_unary, log_pair, n_atoms, k, n_modes=N_MODES):
    """Supports summed exactly beside AIS: the training supports and the
    neighbourhoods of the ``n_modes`` most probable ones.

    The fitted network's mass sits on a few sharp modes (every training
    support is a local maximum of ``-E`` under one-slot changes; on digits
    one support alone outweighs everything AIS reaches from the
    independent-support model): summing them exactly removes the part of
    ``Z`` that single-site Gibbs chains rarely find. Returns the distinct
    supports ``(n, k)`` (rows with fewer than ``k`` atoms dropped) and their
    ``-E``.
    """
    train = np.asarray(train_supports, dtype=np.int64)
    if train.shape[1] < k:
        return np.empty((0, k), dtype=np.int64), np.empty(0)
    train = train[:, :k]
    full = (train >= 0).all(axis=1)
    # Supports using both signs of an atom cannot be drawn (nor come from codes).
    atoms = np.sort(train % n_atoms, axis=1)
    full &= (np.diff(atoms, axis=1) != 0).all(axis=1)
    train = np.unique(np.sort(train[full], axis=1), axis=0)
    if train.shape[0] == 0:
        return train, np.empty(0)
    potential = log_potential(train, log_unary, log_pair)
    top = train[np.argsort(-potential, kind="stable")[:n_modes]]
    parts = [train] + [swap_neighbours(s, n_atoms) for s in top]
    supports = np.unique(np.sort(np.concatenate(parts), axis=1), axis=0)
    return supports, log_potential(supports, log_unary, log_pair)


def log_partition(log_unary, log_pair, n_atoms, k, train_supports=None, random_state=0, *,
                  n_temperatures=N_TEMPERATURES, n_chains=N_CHAINS, n_modes=N_MODES):
    """``(log Z, standard error, method)`` of the network.

    Networks with at most :data:`EXACT_LIMIT` supports are summed exactly
    (``method="exact"``, standard error 0). Otherwise ``Z = Z_E + Z_rest``:
    ``Z_E`` summed exactly over :func:`mode_supports` of ``train_supports``
    and ``Z_rest``, the rest, by AIS (``method="ais"``; with no
    ``train_supports`` AIS estimates all of ``Z``). The standard error is
    the delta-method one of the AIS part, relative to ``Z``.
    """
    if n_supports(n_atoms, k) <= EXACT_LIMIT:
        return exact_log_partition(log_unary, log_pair, n_atoms, k), 0.0, "exact"
    log_z_modes, exclude = -np.inf, None
    if train_supports is not None and n_modes is not None:
        modes, potential = mode_supports(train_supports, log_unary, log_pair, n_atoms, k,
                                         n_modes)
        if modes.shape[0]:
            log_z_modes = float(logsumexp(potential))
            exclude = set(_keys(modes))
    log_rest, se_rest = ais_log_partition(
        log_unary, log_pair, n_atoms, k, n_temperatures=n_temperatures, n_chains=n_chains,
        random_state=random_state, exclude=exclude)
    log_z = float(np.logaddexp(log_z_modes, log_rest))
    se = se_rest * math.exp(log_rest - log_z) if np.isfinite(log_rest) else 0.0
    return log_z, float(se), "ais"
