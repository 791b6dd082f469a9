"""The public Batch-OMP function."""

from numbers import Integral

import numpy as np
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval

from .._backend import (
    DEFAULT_CHUNK,
    DEVICE_CONSTRAINT,
    N_JOBS_CONSTRAINT,
    resolve_device,
    validate_params,
)
from ._omp import batch_omp, codes_to_csr, codes_to_dense


@validate_params(
    {
        "X": ["array-like"],
        "dictionary": ["array-like"],
        "n_nonzero_coefs": [Interval(Integral, 1, None, closed="left")],
        "gram": ["array-like", None],
        "sparse_output": ["boolean"],
        "n_jobs": N_JOBS_CONSTRAINT,
        "device": DEVICE_CONSTRAINT,
        "chunk_size": [Interval(Integral, 1, None, closed="left")],
        "return_n_nonzero": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def orthogonal_mp_batch(X, dictionary, n_nonzero_coefs, *, gram=None, sparse_output=False,
                        n_jobs=None, device="cpu", chunk_size=DEFAULT_CHUNK,
                        return_n_nonzero=False):
    """Sparse-code many signals at once with Batch-OMP.

    Solves, for every row ``x`` of ``X``, the greedy problem
    ``min ||x - c @ dictionary||_2`` subject to ``||c||_0 <= n_nonzero_coefs``
    with the Batch-OMP algorithm of Rubinstein, Zibulevsky & Elad (2008): the
    correlations of a chunk of signals with the atoms come from one BLAS
    matrix product, and the greedy selection of each signal then works on the
    Gram matrix ``dictionary @ dictionary.T`` with a progressively updated
    Cholesky factor. On the CPU the selection runs compiled (Numba), in
    parallel over signals; on a CUDA device it is batched in torch.

    It computes exactly what scikit-learn's
    :func:`~sklearn.linear_model.orthogonal_mp_gram` computes with
    ``Gram=dictionary @ dictionary.T``, ``Xy=dictionary @ X.T`` and the same
    ``n_nonzero_coefs`` (same atom choice and stopping rule), returned as
    ``(n_signals, n_atoms)`` instead of its ``(n_atoms, n_signals)``.

    Parameters
    ----------
    X : array-like of shape (n_signals, n_features)
        Signals, one per row. float32 stays float32 (faster); anything else
        is converted to float64.
    dictionary : array-like of shape (n_atoms, n_features)
        Atoms, one per row (scikit-learn's ``components_`` layout). Atoms
        need not have unit norm, but OMP selects by raw correlation, so they
        usually should.
    n_nonzero_coefs : int
        Number of atoms per signal; at most ``min(n_features, n_atoms)``.
    gram : array-like of shape (n_atoms, n_atoms), default=None
        Precomputed ``dictionary @ dictionary.T``.
    sparse_output : bool, default=False
        Return a ``scipy.sparse.csr_matrix`` instead of a dense array.
    n_jobs : int, default=None
        Threads for the per-signal selection: ``None`` is 1 unless a
        :func:`joblib.parallel_config` context says otherwise, ``-1`` all
        cores.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="cpu"
        Where to run. ``"auto"`` uses CUDA when available.
    chunk_size : int, default=4096
        Signals per matrix product (bounds memory to ``chunk_size * n_atoms``).
    return_n_nonzero : bool, default=False
        Also return how many atoms each signal got (fewer than
        ``n_nonzero_coefs`` only when the residual vanished or the next atom
        was linearly dependent on the chosen ones).

    Returns
    -------
    coef : ndarray or csr_matrix of shape (n_signals, n_atoms)
        The codes.
    n_nonzero : ndarray of shape (n_signals,)
        Only when ``return_n_nonzero=True``.

    See Also
    --------
    sklearn.linear_model.orthogonal_mp_gram : The same algorithm, one signal at a time.
    SparseSupportMRF : The generative model that uses these codes.

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral import orthogonal_mp_batch
    >>> rng = np.random.RandomState(0)
    >>> D = rng.standard_normal((32, 16))
    >>> D /= np.linalg.norm(D, axis=1, keepdims=True)
    >>> X = rng.standard_normal((5, 16))
    >>> codes = orthogonal_mp_batch(X, D, 3)
    >>> codes.shape, (codes != 0).sum(axis=1).tolist()
    ((5, 32), [3, 3, 3, 3, 3])
    """
    X = check_array(X, dtype=[np.float64, np.float32], input_name="X")
    dictionary = check_dictionary(dictionary, X.dtype)
    if dictionary.shape[1] != X.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features but the dictionary atoms have "
            f"{dictionary.shape[1]}; 'dictionary' must have shape (n_atoms, n_features)."
        )
    limit = min(X.shape[1], dictionary.shape[0])
    if n_nonzero_coefs > limit:
        raise ValueError(
            f"The 'n_nonzero_coefs' parameter must be at most min(n_features, n_atoms)"
            f" = {limit}; got {n_nonzero_coefs}."
        )
    if gram is not None:
        gram = check_gram(gram, dictionary)
    dev = resolve_device(device)
    atoms, values, counts = batch_omp(
        X, dictionary, n_nonzero_coefs, gram=gram, device=dev, n_jobs=n_jobs,
        chunk_size=chunk_size,
    )
    convert = codes_to_csr if sparse_output else codes_to_dense
    coef = convert(atoms, values, counts, dictionary.shape[0])
    if return_n_nonzero:
        return coef, counts
    return coef


#: Rows of a user's ``gram`` compared with the dictionary's true Gram matrix.
_GRAM_PROBE_ROWS = 16


def check_dictionary(dictionary, dtype, name="dictionary"):
    """A finite 2-D dictionary whose atoms (rows) all have a non-zero norm.

    An atom of zero norm has no direction: OMP would divide by its norm.
    """
    dictionary = check_array(dictionary, dtype=dtype, input_name=name)
    norms = np.linalg.norm(dictionary, axis=1)
    if not np.all(norms > 0):
        raise ValueError(
            f"The '{name}' parameter has {int(np.sum(norms == 0))} atom(s) (rows) of zero "
            "norm; every atom must be non-zero."
        )
    return dictionary


def check_gram(gram, dictionary):
    """Check that a precomputed ``gram`` is ``dictionary @ dictionary.T``.

    Its shape and symmetry are checked in full; its values on a fixed set
    of rows (the cost of ``_GRAM_PROBE_ROWS`` atoms' correlations, not of
    the whole Gram matrix), since a wrong Gram matrix makes OMP's Cholesky
    updates fail into NaN codes.
    """
    gram = check_array(gram, dtype=dictionary.dtype, input_name="gram")
    n_atoms = dictionary.shape[0]
    if gram.shape != (n_atoms, n_atoms):
        raise ValueError(
            f"'gram' must have shape (n_atoms, n_atoms) = {(n_atoms, n_atoms)}; "
            f"got {gram.shape}."
        )
    rows = np.unique(np.linspace(0, n_atoms - 1, min(n_atoms, _GRAM_PROBE_ROWS)).astype(int))
    expected = dictionary[rows] @ dictionary.T
    scale = float(np.max(np.abs(expected)))
    tol = 1e-3 if dictionary.dtype == np.float32 else 1e-8
    if not (np.allclose(gram[rows], expected, rtol=tol, atol=tol * scale)
            and np.allclose(gram[:, rows].T, expected, rtol=tol, atol=tol * scale)):
        raise ValueError(
            "'gram' is not dictionary @ dictionary.T; pass the Gram matrix of this "
            "dictionary or gram=None to compute it."
        )
    return gram
