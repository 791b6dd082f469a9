"""CoefficientPrior fit and sample at a realistic code size."""

from sklearn.decomposition import PCA

from skspectral import CoefficientPrior

from ._data import mnist


class PriorSuite:
    """Codes: 10,000 MNIST images projected on 64 principal components."""

    params = ["gaussian", "diagonal", "gmm", "kde"]
    param_names = ["kind"]
    timeout = 300

    def setup_cache(self):
        return PCA(64, random_state=0).fit_transform(mnist(10_000))

    def setup(self, codes, kind):
        self.codes = codes
        self.prior = CoefficientPrior(kind, n_components=10, random_state=0).fit(codes)

    def time_fit(self, codes, kind):
        CoefficientPrior(kind, n_components=10, random_state=0).fit(codes)

    def time_sample_10k(self, codes, kind):
        self.prior.sample(10_000, random_state=0)

    def peakmem_fit(self, codes, kind):
        CoefficientPrior(kind, n_components=10, random_state=0).fit(codes)
