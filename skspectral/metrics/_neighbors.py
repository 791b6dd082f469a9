"""Memorisation check: how close are samples to their nearest training image."""

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_array


def nearest_neighbor_distance(X_gen, X_train, *, return_ratio=False, n_jobs=None):
    """Euclidean distance from each generated image to its closest training image.

    Samples that are copies of training images have distance ~0. The ratio
    divides each distance by the median distance between a training image
    and its nearest *other* training image (the sparse-model paper's
    memorisation check): values well above 0 mean the samples are new.

    Parameters
    ----------
    X_gen : array-like of shape (n_gen, n_features)
        Generated images, flattened.
    X_train : array-like of shape (n_train, n_features)
        Training images, flattened (at least two).
    return_ratio : bool, default=False
        Also return the distances divided by the training set's median
        nearest-neighbour distance.
    n_jobs : int, default=None
        Passed to :class:`~sklearn.neighbors.NearestNeighbors`.

    Returns
    -------
    distances : ndarray of shape (n_gen,)
    ratio : ndarray of shape (n_gen,)
        Only when ``return_ratio`` is True.

    Examples
    --------
    >>> import numpy as np
    >>> from skspectral.metrics import nearest_neighbor_distance
    >>> X_train = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    >>> nearest_neighbor_distance(np.array([[0.0, 1.0]]), X_train)
    array([1.])
    """
    X_gen = check_array(X_gen, dtype=np.float64, input_name="X_gen")
    X_train = check_array(X_train, dtype=np.float64, ensure_min_samples=2, input_name="X_train")
    if X_gen.shape[1] != X_train.shape[1]:
        raise ValueError(
            f"X_gen has {X_gen.shape[1]} features but X_train has {X_train.shape[1]}."
        )
    nn = NearestNeighbors(n_neighbors=2, n_jobs=n_jobs).fit(X_train)
    distances = nn.kneighbors(X_gen, n_neighbors=1)[0][:, 0]
    if not return_ratio:
        return distances
    train_nn = np.median(nn.kneighbors(X_train, n_neighbors=2)[0][:, 1])
    if not train_nn > 0:
        raise ValueError(
            "return_ratio=True needs distinct training images: most rows of X_train are "
            "duplicates, so their median nearest-neighbour distance is 0."
        )
    return distances, distances / train_nn
