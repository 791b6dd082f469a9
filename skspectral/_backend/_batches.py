"""Row batches: every large ``transform``/``sample`` walks its rows in chunks."""

#: Rows per batch of the batched transforms, syntheses and sparse coding:
#: memory stays bounded by one batch (``DEFAULT_CHUNK x n_features`` values).
DEFAULT_CHUNK = 4096


def iter_batches(n, batch_size=DEFAULT_CHUNK):
    """Yield ``slice`` objects covering ``range(n)`` in chunks of ``batch_size``.

    Examples
    --------
    >>> from skspectral._backend import iter_batches
    >>> list(iter_batches(5, 2))
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    batch_size = max(1, int(batch_size))
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))
