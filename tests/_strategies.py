"""Hypothesis strategies shared by the property-based tests (tests/test_properties.py).

Arrays are drawn cheaply: hypothesis draws the shape, the dtype, the kind of
values and a seed, and NumPy fills the array (drawing every element through
hypothesis would make each case far slower than the < 20 ms the suite aims at).
"""

import numpy as np
from hypothesis import strategies as st

#: Values at the edges of floating point.
SPECIAL_VALUES = (np.nan, np.inf, -np.inf, 0.0, 1e30, -1e30, 1e-30)

DTYPES = (
    np.float64, np.float32, np.float16, np.int32, np.int64, np.uint8, np.bool_, object,
    np.complex128,
)

#: Values any parameter may be given: at and beyond the bounds, wrong types.
GENERIC_BAD = (
    0, -1, 1, 2, True, False, 2.5, -0.5, 1e-30, "a", None, np.nan, np.inf, -np.inf,
    np.int64(3), np.float64(2.0),
)

#: Huge values: only for parameters whose cost does not grow with them (see callers).
HUGE = (10**12, 1e30, 2**63)


def _weighted(draw, options, weights):
    """Pick from ``options`` with integer ``weights`` (derandomize-friendly)."""
    total = sum(weights)
    i = draw(st.integers(0, total - 1))
    for option, w in zip(options, weights):
        if i < w:
            return option
        i -= w
    return options[-1]


@st.composite
def values_kind(draw):
    return _weighted(
        draw, ["normal", "sprinkle", "constant", "zeros", "special_const"], [6, 3, 2, 1, 2]
    )


def fill(shape, kind, seed, special):
    """A float64 array of ``shape`` with values of the given ``kind``."""
    rng = np.random.RandomState(seed)
    if kind == "normal":
        return rng.uniform(0.0, 1.0, size=shape)
    if kind == "zeros":
        return np.zeros(shape)
    if kind == "constant":
        return np.full(shape, 0.5)
    if kind == "special_const":
        return np.full(shape, special)
    out = rng.uniform(0.0, 1.0, size=shape)  # sprinkle
    if out.size:
        flat = out.reshape(-1)
        idx = rng.randint(0, flat.size, size=max(1, flat.size // 8))
        flat[idx] = special
    return out


def cast(values, dtype, rng_seed=0):
    """Cast float64 values to ``dtype`` the way a user's array could look."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        with np.errstate(all="ignore"):
            return values.astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        v = np.where(np.isfinite(values), values, 0.0)
        scale = 255.0 if dtype == np.uint8 else 10.0
        with np.errstate(all="ignore"):
            v = np.where(np.abs(v) <= 1.0, v * scale, v)
        return np.clip(np.round(v), info.min, info.max).astype(dtype)
    if dtype.kind == "b":
        return values > 0.5
    if dtype.kind == "c":
        return values.astype(np.complex128) + 1j * (rng_seed % 2) * values
    out = values.astype(object)
    if out.size and rng_seed % 3 == 0:
        out.reshape(-1)[0] = "a" if rng_seed % 2 else None
    return out


@st.composite
def arrays(draw, n_rows=None, n_cols=None, ndim=None, dtype=None, min_rows=0, max_rows=12):
    """An array with a drawn shape, dtype and values.

    ``n_rows`` / ``n_cols``: the "right" sizes. Each aspect (ndim, rows,
    columns, dtype, values) keeps its ordinary value (2-D, right size,
    float64/float32, uniform in [0, 1]) with probability 3/4 and is drawn
    from its edge cases otherwise, so about a third of the arrays reach the
    numerics intact and the rest probe one or two edges at a time.
    """

    # The edge case is the largest draw, so that hypothesis' simplest
    # example (all zeros) is the ordinary one.
    def edge(label):
        return draw(st.integers(0, 3), label=f"edge_{label}") == 3

    if ndim is None:
        ndim = draw(st.sampled_from([1, 3, 2])) if edge("ndim") else 2
    if n_rows is None:
        rows = draw(st.integers(min_rows, max_rows))
    elif edge("rows"):
        rows = draw(st.sampled_from([0, 1, 2, max(n_rows - 1, 0)]))
    else:
        rows = n_rows
    if n_cols is None:
        cols = draw(st.sampled_from([1, 2, 4, 16]))
    elif edge("cols"):
        cols = draw(st.sampled_from([1, 0, n_cols + 1, 2 * n_cols]))
    else:
        cols = n_cols
    if ndim == 1:
        shape = (rows,)
    elif ndim == 2:
        shape = (rows, cols)
    else:
        shape = (rows, cols, 2)
    if dtype is None:
        dtype = draw(st.sampled_from(DTYPES)) if edge("dtype") else draw(
            st.sampled_from([np.float64, np.float32]))
    kind = draw(values_kind()) if edge("values") else "normal"
    special = draw(st.sampled_from(SPECIAL_VALUES))
    seed = draw(st.integers(0, 2**16))
    return cast(fill(shape, kind, seed, special), dtype, seed)


def pick(data, good, bad, label, one_in=4):
    """Draw from ``bad`` once in ``one_in`` cases, from ``good`` otherwise."""
    if data.draw(st.integers(0, one_in - 1), label=f"bad_{label}") == one_in - 1:
        return data.draw(bad, label=label)
    return data.draw(good, label=label)


def describe(a):
    """A short repr of an array for failure reports."""
    if isinstance(a, np.ndarray):
        body = np.array2string(a, threshold=8, edgeitems=2, max_line_width=200)
        return f"array(shape={a.shape}, dtype={a.dtype}, values={body})"
    return repr(a)


def param_values(*extra, huge=False):
    """Generic bad values, plus ``extra`` ones, plus HUGE when cheap."""
    options = list(GENERIC_BAD) + list(extra) + (list(HUGE) if huge else [])
    return st.sampled_from(options)
