"""CoefficientPrior fit and sample at a realistic code size."""

from sklearn.decomposition import PCA

from skspectral import CoefficientPrior

from ._data import mnist

KINDS = ["gaussian", "diagonal", "gmm", "kde"]


def _prior(kind):
    return CoefficientPrior(kind, n_components=10, random_state=0)


class PriorSuite:
    """Codes: 10,000 MNIST images projected on 64 principal components."""

    params = KINDS
    param_names = ["kind"]
    timeout = 600

    def setup_cache(self):
        codes = PCA(64, random_state=0).fit_transform(mnist(10_000))
        return codes, {kind: _prior(kind).fit(codes) for kind in KINDS}

    def time_fit(self, cache, kind):
        _prior(kind).fit(cache[0])

    def time_sample_10k(self, cache, kind):
        cache[1][kind].sample(10_000, random_state=0)

    def peakmem_fit(self, cache, kind):
        _prior(kind).fit(cache[0])
