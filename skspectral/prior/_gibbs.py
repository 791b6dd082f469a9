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
def _draw_slot(state, slot, log_unary, log_pair, n_atoms, u, scores):
    """Draw ``state[slot]`` given the other slots (entries ``< 0`` are empty)."""
    n_signed = log_unary.shape[0]
    k = state.shape[0]
    for c in range(n_signed):
        scores[c] = log_unary[c]
    for j in range(k):
        if j == slot or state[j] < 0:
            continue
        row = log_pair[state[j]]
        for c in range(n_signed):
            scores[c] += row[c]
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
                state[t] = _draw_slot(state, t, log_unary, log_pair, n_atoms,
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
    n_train, k_train = train_atoms.shape
    n_tries = normals.shape[1]
    for i in range(n):
        sup = supports[i]
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
        mean = np.empty(k)
        cov = np.empty((k, k))
        _clear2(cov)
        for t in range(k):
            mean[t] = atom_mean[sup[t]]
            cov[t, t] = atom_var[sup[t]] + reg
        em_groups(g_observed, g_counts, g_sums, g_outer, mean, cov, max_iter, tol, reg)
        chol = np.empty((k, k))
        for t in range(k):
            for s in range(k):
                chol[t, s] = cov[t, s]
        if not _cholesky_inplace(chol, k):
            # Rare: fall back to the diagonal when EM's estimate is not PD.
            _clear2(chol)
            for t in range(k):
                chol[t, t] = math.sqrt(max(cov[t, t], reg))
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
