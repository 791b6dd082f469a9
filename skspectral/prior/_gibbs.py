"""Numba kernels for sampling from a sparse-support model.

* ``gibbs_supports``: Gibbs sampling of k-atom supports from a fully connected
  pairwise Markov network over signed atoms, independent chains.
* ``em_groups``: EM for a Gaussian with missing data, where the data come
  summarised by *observation pattern* (which coordinates are seen): the E-step
  is linear in the observed values, so counts, sums and sums of outer
  products per pattern are sufficient statistics and one EM iteration costs
  O(n_patterns * k^3) however many training images share the support.
* ``support_coefficients``: per drawn support, gather the training images that
  share atoms with it through an inverted index, summarise them by pattern,
  run EM, and draw positive coefficients.

Random numbers are drawn beforehand by NumPy from the caller's
``random_state`` and passed in, so results do not depend on the thread count.

The kernels are serial and release the GIL; callers run them on threads over
chunks of rows (:func:`~skspectral._backend.run_in_chunks`). Compared with
``parallel=True`` and inlined helpers this cuts their first-call compilation
from about 19 s to a few seconds, at the same speed once compiled.
"""

import math

import numpy as np

from .._backend import jit

#: Largest support size whose observed pattern is an int64 bit mask (sign bit excluded).
MAX_MASK_BITS = 62


# Compilation time: every NumPy function a kernel uses costs Numba typing
# and lowering on first call (np.zeros, np.full, slice assignment, .copy()
# and np.argsort together cost several seconds), while plain loops are
# nearly free. So the kernels allocate with np.empty only and fill in loops.
@jit(internal=True)
def _clear1(a):
    for i in range(a.shape[0]):
        a[i] = 0


@jit(internal=True)
def _clear2(a):
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] = 0


@jit(internal=True)
def _clear3(a):
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            for m in range(a.shape[2]):
                a[i, j, m] = 0


@jit(internal=True)
def _weight_by_overlap(observed, counts, sums, outer, power):
    """Scale each pattern group's statistics by ``(atoms it observes) ** power``.

    A group's images share exactly its observed atoms with the support, so
    the weight is constant within a group and weighted EM needs only its
    scaled sums. Overlaps are divided by the largest one first: EM does not
    change under a common factor, and weights in (0, 1] cannot overflow
    however large ``power`` is.
    """
    n_groups, k = observed.shape
    overlaps = np.empty(n_groups)
    largest = 1.0
    for g in range(n_groups):
        overlap = 0.0
        for t in range(k):
            if observed[g, t]:
                overlap += 1.0
        overlaps[g] = overlap
        largest = max(largest, overlap)
    for g in range(n_groups):
        weight = (overlaps[g] / largest) ** power
        counts[g] *= weight
        for t in range(k):
            sums[g, t] *= weight
            for s in range(k):
                outer[g, t, s] *= weight


@jit(internal=True)
def _argsort_int(keys):
    """Indices that sort ``keys`` (Shell sort with Ciura's gaps).

    Written out because Numba's ``np.argsort`` costs about a second of
    compilation; the key lists here hold at most a few thousand entries.
    """
    n = keys.shape[0]
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        order[i] = i
    for gap in (701, 301, 132, 57, 23, 10, 4, 1):
        for i in range(gap, n):
            current = order[i]
            j = i
            while j >= gap and keys[order[j - gap]] > keys[current]:
                order[j] = order[j - gap]
                j -= gap
            order[j] = current
    return order

@jit(internal=True)
def _draw_slot(state, slot, log_unary, log_pair, beta, n_atoms, u, scores):
    """Draw ``state[slot]`` given the other slots (entries ``< 0`` are empty).

    The conditional of ``p_beta(S) ∝ exp(sum_i u_i + beta * sum_{i<j} P_ij)``
    over the signed atoms whose atom is in no other slot: ``beta = 1`` is the
    Markov network itself (its draws are bit for bit those without the
    factor, as ``1.0 * x == x``), lower values are the tempered networks of
    annealed importance sampling (``_partition``).
    """
    n_signed = log_unary.shape[0]
    k = state.shape[0]
    for c in range(n_signed):
        scores[c] = log_unary[c]
    for j in range(k):
        if j == slot or state[j] < 0:
            continue
        row = log_pair[state[j]]
        for c in range(n_signed):
            scores[c] += beta * row[c]
    # +d and -d of one atom are never in a support together.
    for j in range(k):
        if j == slot or state[j] < 0:
            continue
        a = state[j] % n_atoms
        scores[a] = -np.inf
        scores[a + n_atoms] = -np.inf
    top = -np.inf
    for c in range(n_signed):
        if scores[c] > top:
            top = scores[c]
    total = 0.0
    for c in range(n_signed):
        total += math.exp(scores[c] - top)
        scores[c] = total
    target = u * total
    for c in range(n_signed):
        if scores[c] > target:
            return c
    return n_signed - 1


@jit(nogil=True)
def gibbs_supports(log_unary, log_pair, n_atoms, k, burn_in, thin, uniforms, init, out):
    """Run ``out.shape[0]`` Gibbs chains over k-subsets of signed atoms.

    Chain ``c`` starts from ``init[c]`` or, where ``init[c, 0] < 0``, from one
    sequential pass (slot ``t`` drawn given slots ``< t``: the sweep of an
    empty state); it runs ``burn_in`` full sweeps, then stores its state
    every ``thin`` sweeps into ``out[c, d]``. ``uniforms`` has shape
    ``(n_chains, 1 + burn_in + n_draws * thin, k)``.
    """
    n_chains, n_draws = out.shape[0], out.shape[1]
    n_signed = log_unary.shape[0]
    n_sweeps = 1 + burn_in + n_draws * thin
    for c in range(n_chains):
        state = np.empty(k, dtype=np.int64)
        scores = np.empty(n_signed, dtype=np.float64)
        for t in range(k):
            state[t] = init[c, t]
        d = 0
        for sweep in range(1 if init[c, 0] >= 0 else 0, n_sweeps):
            for t in range(k):
                state[t] = _draw_slot(state, t, log_unary, log_pair, 1.0, n_atoms,
                                      uniforms[c, sweep, t], scores)
            if sweep > burn_in and (sweep - burn_in) % thin == 0:
                for t in range(k):
                    out[c, d, t] = state[t]
                d += 1


@jit(internal=True)
def _cholesky_inplace(a, n):
    """Lower Cholesky factor of ``a[:n, :n]`` in place; False if not PD."""
    for j in range(n):
        s = a[j, j]
        for p in range(j):
            s -= a[j, p] * a[j, p]
        if s <= 0.0:
            return False
        a[j, j] = math.sqrt(s)
        for i in range(j + 1, n):
            s = a[i, j]
            for p in range(j):
                s -= a[i, p] * a[j, p]
            a[i, j] = s / a[j, j]
        for i in range(j):
            a[i, j] = 0.0
    return True


@jit(internal=True)
def em_groups(observed, counts, sums, outer, mean, cov, max_iter, tol, reg):
    """EM for N(mean, cov) from pattern-summarised data with missing entries.

    Parameters
    ----------
    observed : bool (n_groups, k)
        True where coordinate ``t`` is observed in the group.
    counts : float64 (n_groups,)
    sums : float64 (n_groups, k)
        Sum of the observed values (0 where missing).
    outer : float64 (n_groups, k, k)
        Sum of outer products of the observed values (0 where missing).
    mean, cov : float64 (k,), (k, k)
        Initial values, updated in place.
    max_iter, tol, reg
        Iteration cap, stop when the largest mean/covariance change is below
        ``tol``, and a ridge added to the covariance diagonal.

    Returns
    -------
    n_iter : int
    """
    k = mean.shape[0]
    n_groups = observed.shape[0]
    total = 0.0
    for g in range(n_groups):
        total += counts[g]
    if total <= 0.0:
        return 0
    obs = np.empty(k, dtype=np.int64)
    mis = np.empty(k, dtype=np.int64)
    soo = np.empty((k, k))
    reg_mat = np.empty((k, k))  # B = cov_mo cov_oo^{-1}, rows over missing
    proj = np.empty((k, k))     # xhat = proj @ x + shift
    shift = np.empty(k)
    s1 = np.empty(k)
    s2 = np.empty((k, k))
    px = np.empty(k)
    tmp = np.empty((k, k))
    cond = np.empty((k, k))
    n_iter = 0
    for it in range(max_iter):
        n_iter = it + 1
        _clear1(s1)
        _clear2(s2)
        for g in range(n_groups):
            no = 0
            nm = 0
            for t in range(k):
                if observed[g, t]:
                    obs[no] = t
                    no += 1
                else:
                    mis[nm] = t
                    nm += 1
            n_g = counts[g]
            _clear2(proj)
            _clear1(shift)
            for a in range(no):
                proj[obs[a], obs[a]] = 1.0
            _clear2(cond)
            if nm > 0:
                if no > 0:
                    for a in range(no):
                        for b in range(no):
                            soo[a, b] = cov[obs[a], obs[b]]
                    _cholesky_inplace(soo, no)
                    # B[i, :] = cov[m_i, o] soo^{-1}: two triangular solves.
                    for i in range(nm):
                        for a in range(no):
                            s = cov[mis[i], obs[a]]
                            for b in range(a):
                                s -= soo[a, b] * reg_mat[i, b]
                            reg_mat[i, a] = s / soo[a, a]
                        for a in range(no - 1, -1, -1):
                            s = reg_mat[i, a]
                            for b in range(a + 1, no):
                                s -= soo[b, a] * reg_mat[i, b]
                            reg_mat[i, a] = s / soo[a, a]
                for i in range(nm):
                    s = mean[mis[i]]
                    for a in range(no):
                        proj[mis[i], obs[a]] = reg_mat[i, a]
                        s -= reg_mat[i, a] * mean[obs[a]]
                    shift[mis[i]] = s
                    for j in range(nm):
                        c = cov[mis[i], mis[j]]
                        for a in range(no):
                            c -= reg_mat[i, a] * cov[obs[a], mis[j]]
                        cond[mis[i], mis[j]] = c
            # sum xhat = P S + n c ; sum xhat xhat^T = P Q P^T + P S c^T + c S^T P^T + n c c^T
            # (S, Q: sums and outer products of the observed values). P only
            # has observed columns, so every product runs over those.
            for i in range(k):
                s = 0.0
                for a in range(no):
                    s += proj[i, obs[a]] * sums[g, obs[a]]
                px[i] = s
                s1[i] += s + n_g * shift[i]
            for i in range(k):
                for b in range(no):
                    s = 0.0
                    for a in range(no):
                        s += proj[i, obs[a]] * outer[g, obs[a], obs[b]]
                    tmp[i, b] = s
            for i in range(k):
                for j in range(i + 1):
                    s = 0.0
                    for b in range(no):
                        s += tmp[i, b] * proj[j, obs[b]]
                    s += (px[i] * shift[j] + shift[i] * px[j] + n_g * shift[i] * shift[j]
                          + n_g * cond[i, j])
                    s2[i, j] += s
        for i in range(k):
            for j in range(i + 1, k):
                s2[i, j] = s2[j, i]
        change = 0.0
        for i in range(k):
            m_new = s1[i] / total
            change = max(change, abs(m_new - mean[i]))
            mean[i] = m_new
        for i in range(k):
            for j in range(k):
                c_new = s2[i, j] / total - mean[i] * mean[j]
                if i == j:
                    c_new += reg
                change = max(change, abs(c_new - cov[i, j]))
                cov[i, j] = c_new
        if change < tol:
            break
    return n_iter


@jit(internal=True)
def _support_gaussian(sup, train_atoms, train_values, inv_ptr, inv_img, atom_mean, atom_var,
                      max_iter, tol, reg, overlap_power, mean, chol):
    """The Gaussian ``N(mean, chol chol^T)`` of the magnitudes of support ``sup``.

    Gathers the training images sharing a signed atom with ``sup`` through
    the inverted index, summarises them by observation pattern, runs EM
    (every image weighing ``(atoms it shares) ** overlap_power``) and writes
    the mean and the lower Cholesky factor of the covariance into ``mean``
    and ``chol``; a covariance EM leaves not positive definite falls back to
    its diagonal (floored at ``reg``). Both the sampler
    (:func:`support_coefficients`) and the scores (:func:`support_gaussians`,
    :func:`em_coefficient_log_density`) read the Gaussian from here.
    """
    k = sup.shape[0]
    n_train, k_train = train_atoms.shape
    seen = np.empty(n_train, dtype=np.bool_)
    for r in range(n_train):
        seen[r] = False
    n_img = 0
    for t in range(k):
        a = sup[t]
        n_img += inv_ptr[a + 1] - inv_ptr[a]
    imgs = np.empty(n_img, dtype=np.int64)
    n_img = 0
    for t in range(k):
        a = sup[t]
        for p in range(inv_ptr[a], inv_ptr[a + 1]):
            r = inv_img[p]
            if not seen[r]:
                seen[r] = True
                imgs[n_img] = r
                n_img += 1
    seen_by = np.empty((n_img, k), dtype=np.bool_)
    vals = np.empty((n_img, k))
    for q in range(n_img):
        for t in range(k):
            seen_by[q, t] = False
    _clear2(vals)
    for q in range(n_img):
        r = imgs[q]
        for t in range(k):
            for s in range(k_train):
                if train_atoms[r, s] == sup[t]:
                    seen_by[q, t] = True
                    vals[q, t] = train_values[r, s]
    # Images observing the same atoms of the support form one EM group.
    # The pattern is the group key while it fits in a 63-bit integer;
    # beyond, every image is its own group (exact, only slower).
    keys = np.empty(n_img, dtype=np.int64)
    for q in range(n_img):
        keys[q] = q
    if k <= MAX_MASK_BITS:
        for q in range(n_img):
            key = 0
            for t in range(k):
                if seen_by[q, t]:
                    key |= 1 << t
            keys[q] = key
    order = _argsort_int(keys)
    n_groups = 0
    for q in range(n_img):
        if q == 0 or keys[order[q]] != keys[order[q - 1]]:
            n_groups += 1
    g_observed = np.empty((n_groups, k), dtype=np.bool_)
    g_counts = np.empty(n_groups)
    g_sums = np.empty((n_groups, k))
    g_outer = np.empty((n_groups, k, k))
    _clear1(g_counts)
    _clear2(g_sums)
    _clear3(g_outer)
    g = -1
    for q in range(n_img):
        r = order[q]
        if q == 0 or keys[r] != keys[order[q - 1]]:
            g += 1
            for t in range(k):
                g_observed[g, t] = seen_by[r, t]
        g_counts[g] += 1.0
        for t in range(k):
            v = vals[r, t]
            if v != 0.0:
                g_sums[g, t] += v
                for s in range(k):
                    g_outer[g, t, s] += v * vals[r, s]
    if overlap_power != 0.0:
        _weight_by_overlap(g_observed, g_counts, g_sums, g_outer, overlap_power)
    cov = np.empty((k, k))
    _clear2(cov)
    for t in range(k):
        mean[t] = atom_mean[sup[t]]
        cov[t, t] = atom_var[sup[t]] + reg
    em_groups(g_observed, g_counts, g_sums, g_outer, mean, cov, max_iter, tol, reg)
    for t in range(k):
        for s in range(k):
            chol[t, s] = cov[t, s]
    if not _cholesky_inplace(chol, k):
        # Rare: fall back to the diagonal when EM's estimate is not PD.
        _clear2(chol)
        for t in range(k):
            chol[t, t] = math.sqrt(max(cov[t, t], reg))


@jit(nogil=True)
def support_coefficients(supports, train_atoms, train_values, inv_ptr, inv_img, atom_mean,
                         atom_var, max_iter, tol, reg, normals, out_coef, overlap_power=0.0):
    """EM per drawn support, then a positive draw of its coefficients.

    ``supports`` (n, k) signed atoms; ``train_atoms``/``train_values`` (N, k)
    the training supports (-1 when empty) and coefficient magnitudes;
    ``inv_ptr``/``inv_img`` the CSR inverted index signed atom -> images;
    ``normals`` (n, n_tries, k) standard normal draws. Every training image
    weighs ``(atoms it shares with the support) ** overlap_power`` in EM
    (0: all images sharing an atom count alike). Coefficients are drawn
    from N(mean, cov) and re-drawn (up to ``n_tries`` times) until all are
    positive; remaining negatives of the last try are clipped to 0.
    """
    n, k = supports.shape
    n_tries = normals.shape[1]
    mean = np.empty(k)
    chol = np.empty((k, k))
    for i in range(n):
        _support_gaussian(supports[i], train_atoms, train_values, inv_ptr, inv_img, atom_mean,
                          atom_var, max_iter, tol, reg, overlap_power, mean, chol)
        for trial in range(n_tries):
            ok = True
            for t in range(k):
                v = mean[t]
                for s in range(t + 1):
                    v += chol[t, s] * normals[i, trial, s]
                out_coef[i, t] = v
                if v < 0.0:
                    ok = False
            if ok:
                break
        for t in range(k):
            if out_coef[i, t] < 0.0:
                out_coef[i, t] = 0.0


@jit(nogil=True)
def support_gaussians(supports, train_atoms, train_values, inv_ptr, inv_img, atom_mean,
                      atom_var, max_iter, tol, reg, overlap_power, out_mean, out_chol):
    """The magnitudes' Gaussian of every support (mean and Cholesky factor), as drawn."""
    for i in range(supports.shape[0]):
        _support_gaussian(supports[i], train_atoms, train_values, inv_ptr, inv_img, atom_mean,
                          atom_var, max_iter, tol, reg, overlap_power, out_mean[i], out_chol[i])


# ----------------------------------------------------------------- scoring
# The sampler's magnitudes are ``clip(v, 0)`` where ``v`` is the accepted
# try of a rejection loop: tries ``v ~ N(mean, cov)`` until all entries are
# positive, at most ``n_tries`` of them, the last one kept whatever its
# signs. With ``P = P(v > 0)`` (an orthant probability), the law of ``v``
# has density ``N(v) F(P)`` where all entries are positive,
# ``F(P) = sum_{t < n_tries} (1 - P)^t = (1 - (1 - P)^n_tries) / P``, and
# ``N(v) (1 - P)^(n_tries - 1)`` elsewhere (the last try, then clipped).
# The regression model retries every entry on its own, so the same holds
# per entry with its own ``P_t``.

_SQRT2 = math.sqrt(2.0)


@jit(internal=True)
def _norm_cdf(x):
    return 0.5 * math.erfc(-x / _SQRT2)


@jit(internal=True)
def _norm_ppf(p):
    """Inverse standard normal CDF: Acklam's rational approximation (relative error
    below 1.2e-9 over the whole range, far below what the GHK simulator needs)."""
    if p <= 0.0:
        return -np.inf
    if p >= 1.0:
        return np.inf
    if p < 0.02425:
        q = math.sqrt(-2.0 * math.log(p))
        x = ((((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q
                 - 2.400758277161838e+00) * q - 2.549732539343734e+00) * q
               + 4.374664141464968e+00) * q + 2.938163982698783e+00)
             / ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q
                  + 2.445134137142996e+00) * q + 3.754408661907416e+00) * q + 1.0))
    elif p <= 1.0 - 0.02425:
        q = p - 0.5
        r = q * q
        x = ((((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r
                 - 2.759285104469687e+02) * r + 1.383577518672690e+02) * r
               - 3.066479806614716e+01) * r + 2.506628277459239e+00) * q
             / (((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r
                   - 1.556989798598866e+02) * r + 6.680131188771972e+01) * r
                 - 1.328068155288572e+01) * r + 1.0))
    else:
        q = math.sqrt(-2.0 * math.log1p(-p))
        x = -((((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q
                  - 2.400758277161838e+00) * q - 2.549732539343734e+00) * q
                + 4.374664141464968e+00) * q + 2.938163982698783e+00)
              / ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q
                   + 2.445134137142996e+00) * q + 3.754408661907416e+00) * q + 1.0))
    return x


@jit(internal=True)
def _orthant_probability(mean, chol, points, z):
    """``P(mean + chol @ w > 0)`` for ``w ~ N(0, I)``: the GHK simulator on ``points``.

    Geweke-Hajivassiliou-Keane: entry ``t`` is positive when ``w_t`` exceeds
    a bound set by ``w_{<t}``; ``w_t`` is drawn from its normal truncated
    there by inverting the CDF at the point's coordinate ``t``, and the
    probabilities of the bounds multiply. The entries are taken most
    restrictive first (smallest ``mean / sd``), which halves the error.
    Quasi-random ``points`` in ``(0, 1)^k`` make the estimate deterministic;
    with 256 Sobol points, its relative error on the supports of a digits
    model is below 0.5 % (median 0.03 %).
    """
    k = mean.shape[0]
    n_points = points.shape[0]
    order = np.empty(k, dtype=np.int64)
    ratio = np.empty(k)
    for t in range(k):
        var = 0.0
        for r in range(t + 1):
            var += chol[t, r] * chol[t, r]
        ratio[t] = mean[t] / math.sqrt(var)
        # Insertion sort of the entries by ratio.
        s = t
        while s > 0 and ratio[order[s - 1]] > ratio[t]:
            order[s] = order[s - 1]
            s -= 1
        order[s] = t
    factor = np.empty((k, k))
    shifted = np.empty(k)
    for a in range(k):
        shifted[a] = mean[order[a]]
        for b in range(k):
            total = 0.0
            for r in range(min(order[a], order[b]) + 1):
                total += chol[order[a], r] * chol[order[b], r]
            factor[a, b] = total
    if not _cholesky_inplace(factor, k):
        for a in range(k):
            shifted[a] = mean[a]
            for b in range(k):
                factor[a, b] = chol[a, b] if b <= a else 0.0
    total = 0.0
    for p in range(n_points):
        weight = 1.0
        for t in range(k):
            s = shifted[t]
            for r in range(t):
                s += factor[t, r] * z[r]
            tail = _norm_cdf(s / factor[t, t])  # P(w_t > -s / factor[t, t])
            weight *= tail
            if weight <= 0.0:
                break
            y = max(points[p, t] * tail, 1e-300)
            z[t] = -_norm_ppf(y)
        total += weight
    return total / n_points


@jit(internal=True)
def _log_accept_factor(p, n_tries):
    """``log F(p)``: the factor of the density where the first ``n_tries`` tries may succeed."""
    if p <= 0.0:
        return math.log(n_tries)
    if p >= 1.0:
        return 0.0
    return math.log(-math.expm1(n_tries * math.log1p(-p))) - math.log(p)


@jit(internal=True)
def _log_fail_factor(p, n_tries):
    """``log (1 - p) ** (n_tries - 1)``: the factor of the last, clipped, try."""
    if p >= 1.0:
        return -np.inf if n_tries > 1 else 0.0
    return (n_tries - 1) * math.log1p(-p)


@jit(nogil=True)
def orthant_probabilities(means, chols, points, out):
    """:func:`_orthant_probability` of every row (``means`` (n, k), ``chols`` (n, k, k))."""
    z = np.empty(means.shape[1])
    for i in range(means.shape[0]):
        out[i] = _orthant_probability(means[i], chols[i], points, z)
