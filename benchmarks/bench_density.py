"""Held-out density (bits per dimension) of every model beside probabilistic PCA, in one run.

The protocol is in ``_density``: models fitted on 10,000 dequantised
training images, scored on the test images (MNIST; the JPEG-decoded
CIFAR-10 copy in ../shared/data). Every system is fitted and scored once,
in ``setup_cache``; the ``track_`` benchmarks report the numbers, so one
``asv run --python=same --bench bench_density`` measures the library's
models and the scikit-learn peers (PCA as probabilistic PCA, PCA +
GaussianMixture) in the same run. The searches fit every grid point on
10,000 images and score 2,000 held-out training images. On a 2-core CPU
the MNIST suite runs for tens of minutes, CIFAR-10 for hours.
"""

from . import _density as d


def _tracker(metric, unit):
    def track(self, results, system):
        return float(results[system][metric])

    track.unit = unit
    return track


class MNISTDensity:
    """Bits per dimension on the 10,000 MNIST test images."""

    params = list(d.systems("mnist"))
    param_names = ["system"]
    timeout = 3 * 3600
    number = 1
    repeat = 1

    def setup_cache(self):
        return d.bpd_table("mnist")

    track_bits_per_dim = _tracker("bpd", "bits/dim")
    track_fit_seconds = _tracker("fit_s", "seconds")
    track_score_seconds = _tracker("score_s", "seconds")


class CIFARDensity:
    """Bits per dimension on the 10,000 CIFAR-10 test images (JPEG-decoded copy)."""

    params = list(d.systems("cifar"))
    param_names = ["system"]
    timeout = 6 * 3600
    number = 1
    repeat = 1

    def setup_cache(self):
        return d.bpd_table("cifar")

    track_bits_per_dim = _tracker("bpd", "bits/dim")
    track_fit_seconds = _tracker("fit_s", "seconds")
    track_score_seconds = _tracker("score_s", "seconds")


class MNISTModelSelection:
    """GridSearchCV with default scoring over each model's size: held-out bits/dim per size."""

    params = list(d.grids("mnist"))
    param_names = ["search"]
    timeout = 6 * 3600
    number = 1
    repeat = 1

    def setup_cache(self):
        return d.grid_curves("mnist")

    def track_picked_index(self, results, search):
        values = results[search]["values"]
        return float(values.index(results[search]["pick"]))

    track_picked_index.unit = "index in the grid"

    def track_best_bits_per_dim(self, results, search):
        return float(min(results[search]["bpd"]))

    track_best_bits_per_dim.unit = "bits/dim"
