"""Dask arrays in and out: the one place that knows about dask.

Dask is optional. Nothing here imports it unless the caller already passed
a dask array (or asked for one with ``chunks=``), so plain NumPy users never
pay for it. Models use four things:

- :func:`is_dask_array` to route an input;
- :func:`row_blocks` to split a dask array (and its labels) into blocks of
  whole rows, and :func:`compute_block` to bring one block into memory;
- :func:`map_row_blocks` to apply a fitted model to every block lazily: the
  model enters the task graph once (:func:`embed_model`) and every block
  task depends on that key, so it travels to each worker once, not once
  per block;
- :func:`draw_blocks` to build a lazy sample of ``n`` rows in blocks with
  independent seeds;
- :func:`check_finite_block` for the tasks of a fit, and
  :func:`restore_on_failure` so a refused fit leaves the estimator as it was.

The graphs hold only plain data (the model as a pickled snapshot): no future
of a ``dask.distributed`` client, so a lazy array computes any number of
times, on a cluster or on any other scheduler (threads, synchronous,
processes), whichever it was built under.
"""

import pickle
import sys
from contextlib import contextmanager

import numpy as np


def is_dask_array(X):
    """Whether ``X`` is a :class:`dask.array.Array` (False when dask was never imported)."""
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(X, module.Array)


def _dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Dask arrays need dask: pip install 'skspectral[dask]'."
        ) from exc
    return dask, da


def check_dask_input(X, n_features=None, name="X"):
    """A 2-D dask array of numbers, its columns in one chunk."""
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D dask array for {name}; got {X.ndim} dimensions.")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or np.issubdtype(
        X.dtype, np.complexfloating
    ):
        raise TypeError(f"{name} must hold real numbers; got a dask array of dtype {X.dtype}.")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features, but the estimator is expecting "
            f"{n_features} features as input."
        )
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes() first."
        )
    if 0 in X.chunks[0] and X.shape[0]:
        # Empty blocks (from slicing or concatenation) would be tasks of no
        # rows; without them, block i is the i-th block that holds rows.
        X = X.rechunk({0: tuple(c for c in X.chunks[0] if c)})
    return X.rechunk({1: -1}) if len(X.chunks[1]) > 1 else X


def row_bounds(sizes):
    """Row offsets ``[0, s0, s0 + s1, ...]`` of blocks of ``sizes`` rows."""
    return np.concatenate([[0], np.cumsum(sizes)]).astype(int)


def row_blocks(X, y=None):
    """Blocks of whole rows of ``X`` and the labels that go with them.

    Returns ``(X, y, slices)``: ``X`` with its columns in one chunk, ``y`` as
    an in-memory array (labels are one number per image, small beside the
    images) or None, and the row ``slice`` of every block.
    """
    X = check_dask_input(X)
    if y is not None:
        y = np.asarray(y.compute() if is_dask_array(y) else y)
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"y has {y.shape[0]} labels but X has {X.shape[0]} rows; they must match."
            )
    bounds = row_bounds(X.chunks[0])
    return X, y, [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def compute_block(X, i):
    """Block ``i`` of rows of ``X`` as a NumPy array (computed on the active scheduler)."""
    return np.asarray(X.blocks[i].compute())


def gather_rows(X, rows):
    """Rows ``rows`` (in that order) of a dask array, as float64, reading one block at a time.

    Dask's own fancy indexing may read every block at once; this keeps one
    block in memory.
    """
    X = check_dask_input(X)
    bounds = row_bounds(X.chunks[0])
    block_of = np.searchsorted(bounds, rows, side="right") - 1
    out = np.empty((len(rows), X.shape[1]))
    for i in np.unique(block_of):
        wanted = np.flatnonzero(block_of == i)
        out[wanted] = compute_block(X, i)[rows[wanted] - bounds[i]]
    return out


def _apply(block, model, method, kwargs):
    return getattr(model, method)(block, **kwargs)


def _load_model(snapshot):
    return pickle.loads(snapshot)


def embed_model(model):
    """The model as one key of a task graph, which every block task depends on.

    The key holds a snapshot of the model as it is now (pickled bytes, which
    the key is named by, so the same model gives the same key and a refit
    model a new one); one task unpickles it, once per graph on a local
    scheduler, once per worker that needs it on a cluster. Nothing ties the
    graph to a client: unlike a future of ``client.scatter``, the key
    cannot be released between two computes, and any scheduler can run it.
    A lazy array keeps computing what the model gave when it was built,
    even if the model is refitted since, as a NumPy result would.
    """
    dask, _ = _dask()
    try:
        import cloudpickle

        snapshot = cloudpickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    except ImportError:  # pragma: no cover - dask depends on cloudpickle
        snapshot = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    name = f"{type(model).__name__}-{dask.base.tokenize(snapshot)}"
    return dask.delayed(_load_model, pure=True)(snapshot, dask_key_name=name)


def map_row_blocks(model, method, X, n_columns, dtype, **kwargs):
    """``model.method`` over every row block of ``X``, as a lazy dask array.

    The model enters the graph once (:func:`embed_model`) and every block
    task depends on it.
    """
    dask, da = _dask()
    X = check_dask_input(X)
    model_key = embed_model(model)
    return da.map_blocks(
        _apply, X, model_key, method, kwargs,
        dtype=dtype, chunks=(X.chunks[0], (n_columns,)),
        meta=np.empty((0, n_columns), dtype=dtype),
    )


def _row_count(value):
    """``value`` as a row count: a whole number >= 1 (an int, or a float such as 5.0), else None."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value) if value >= 1 else None
    if isinstance(value, np.complexfloating) or not np.isfinite(value):
        return None
    return int(value) if value >= 1 and value == int(value) else None


def normalize_row_chunks(n_samples, chunks):
    """Row counts of the blocks of a lazy draw: an int (rows per block) or a tuple.

    Every count must be a whole number >= 1: NaN (a dask array's unknown
    chunk size), infinity, 2.5, 0, a bool or a string is refused with a
    ValueError naming ``chunks``.

    Examples
    --------
    >>> from skspectral._backend._dask import normalize_row_chunks
    >>> normalize_row_chunks(10, 4)
    (4, 4, 2)
    >>> normalize_row_chunks(10, (3, 7))
    (3, 7)
    """
    expected = ("The 'chunks' parameter must be an int >= 1 (rows per block) or a tuple of "
                f"whole row counts >= 1 summing to n_samples={n_samples}; got {chunks!r}")
    if not isinstance(chunks, (tuple, list, np.ndarray)):
        size = _row_count(chunks)
        if size is None:
            raise ValueError(f"{expected}.")
        sizes = [size] * (n_samples // size)
        if n_samples % size:
            sizes.append(n_samples % size)
        return tuple(sizes)
    sizes = tuple(_row_count(s) for s in np.asarray(chunks, dtype=object).reshape(-1))
    if not sizes or np.ndim(chunks) != 1:
        raise ValueError(f"{expected}.")
    bad = [c for c, s in zip(np.asarray(chunks, dtype=object).tolist(), sizes) if s is None]
    if bad:
        raise ValueError(f"{expected}: {bad[0]!r} is not a whole number >= 1.")
    if sum(sizes) != n_samples:
        raise ValueError(f"{expected}: they sum to {sum(sizes)}.")
    return sizes


def _draw(model, size, seed, y, params):
    return model.sample(size, y=y, random_state=seed, **params)


def draw_blocks(model, n_samples, chunks, seeds, labels, n_columns, dtype, params):
    """A lazy sample of ``n_samples`` rows: one ``model.sample`` task per block.

    ``seeds`` holds one seed per block and ``labels`` one label (or one
    array of labels, or None) per block.
    """
    dask, da = _dask()
    model_key = embed_model(model)
    parts = [
        da.from_delayed(
            dask.delayed(_draw, pure=True)(model_key, size, int(seed), y, params),
            shape=(size, n_columns), dtype=dtype,
            meta=np.empty((0, n_columns), dtype=dtype),
        )
        for size, seed, y in zip(chunks, seeds, labels)
    ]
    return da.concatenate(parts, axis=0)


def check_finite_block(X, estimator_name):
    """``X`` (one block of a dask fit) if it holds only finite numbers.

    Else the ValueError an in-memory fit raises (scikit-learn's "Input X
    contains NaN" or "... infinity ..."), naming the estimator.
    """
    from sklearn.utils import check_array

    return check_array(X, dtype=None, input_name="X", estimator=estimator_name)


@contextmanager
def restore_on_failure(estimator):
    """Run a fit; if it raises, put the estimator's attributes back as they were.

    A dask fit drops the fitted attributes first and learns block by block,
    so an error (a block with NaN, a lost worker, an interrupt) would leave
    a half-fitted model; with this the model fitted before is untouched. The
    snapshot is shallow: fits rebind attributes, they never modify the
    arrays or objects of an earlier fit in place.
    """
    state = dict(estimator.__dict__)
    try:
        yield estimator
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(state)
        raise


def active_client():
    """The current ``dask.distributed`` client, or None (also when distributed is absent)."""
    if "distributed" not in sys.modules:
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None
