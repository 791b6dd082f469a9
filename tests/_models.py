"""Small, fast models of every kind, shared by the cross-model tests."""

from sklearn.decomposition import PCA

from skspectral import (
    CoefficientPrior,
    ConvSparseCoder,
    SparseSupportMRF,
    SpectralDictionary,
    make_pipeline,
)


def small_models():
    """One unfitted estimator per generative kind, keyed by a short name."""
    return {
        "spectral": SpectralDictionary(n_atoms=6, max_iter=2, random_state=0, device="cpu"),
        "sparse": SparseSupportMRF(n_atoms=24, n_nonzero_coefs=3, max_iter=2, burn_in=2,
                                   random_state=0, device="cpu"),
        "conv": ConvSparseCoder(n_filters=(3,), strides=(1,), image_shape=(8, 8), max_iter=1,
                                random_state=0, device="cpu"),
        "prior": CoefficientPrior("gmm", n_components=2, random_state=0),
        "pipeline": make_pipeline(PCA(5), CoefficientPrior(random_state=0)),
    }
