"""Beyond memory: a fit streamed from disk against the in-memory fit, and a 1- vs 2-worker cluster.

* ``OutOfCoreSuite``: ``SparseSupportMRF`` (M = 256, k = 10, 5 iterations)
  on all 60,000 MNIST training images, stored on disk as uint8 in a dask
  ``.npy`` stack (one file per block of 5,000 images). ``in_memory_ksvd``
  and ``in_memory_bcd`` read them into one float32 array and fit it (the
  default K-SVD, and the block coordinate descent the streamed fit runs);
  ``streamed`` fits the dask array over the stack, each block converted to
  float32 as it is read. ``peakmem_`` is the peak resident memory of the
  process, imports included; ``track_traced_peak`` the peak of the memory
  NumPy allocates during the fit (tracemalloc), which leaves out the code
  both fits load; ``track_heldout_error`` the per-pixel error on 2,000
  MNIST test images.
* ``ClusterTransformSuite``: ``transform`` of the same 60,000 images (the
  same stack, blocks of 5,000) by a fitted model on a
  ``dask.distributed.LocalCluster`` of 1 or 2 single-threaded worker
  processes.
"""

import tempfile
import tracemalloc
from pathlib import Path

import numpy as np

from ._data import SHARED_DATA, mnist

N_ATOMS, K, MAX_ITER, BLOCK = 256, 10, 5, 5_000


def _mnist_stack():
    """The 60,000 MNIST training images, uint8, as a dask ``.npy`` stack (written once).

    One ``.npy`` file per block of :data:`BLOCK` images: reading a block
    reads its file, and nothing else of the collection stays in memory.
    """
    import dask.array as da

    from skspectral.datasets import fetch_mnist

    folder = Path(tempfile.gettempdir()) / f"skspectral-bench-mnist-train-{BLOCK}"
    if not (folder / "info").exists():
        images = fetch_mnist(data_home=SHARED_DATA, download_if_missing=False).images
        flat = da.from_array(images.reshape(len(images), -1), chunks=(BLOCK, -1))
        da.to_npy_stack(folder, flat, axis=0)
    return str(folder)


def _to_unit_float(block):
    return block.astype(np.float32) / np.float32(255)


def _lazy_images(folder):
    import dask.array as da

    # Dask's own arithmetic, not a function of this module: cluster workers
    # cannot import the benchmarks.
    return da.from_npy_stack(folder, mmap_mode=None).astype(np.float32) / np.float32(255)


def _model(dictionary_update="auto"):
    from skspectral import SparseSupportMRF

    return SparseSupportMRF(N_ATOMS, n_nonzero_coefs=K, max_iter=MAX_ITER,
                            dictionary_update=dictionary_update, random_state=0)


def _fit(folder, how):
    if how == "streamed":
        return _model().fit(_lazy_images(folder))
    X = _lazy_images(folder).compute()
    return _model("ksvd" if how == "in_memory_ksvd" else "bcd").fit(X)


class OutOfCoreSuite:
    """Peak memory of SparseSupportMRF on 60,000 MNIST images: streamed from disk vs in memory."""

    params = ["in_memory_ksvd", "in_memory_bcd", "streamed"]
    param_names = ["fit"]
    timeout = 900
    number = 1
    repeat = 1

    def setup_cache(self):
        return _mnist_stack()

    def setup(self, path, how):
        # Imported before measuring: the libraries' memory is not the fit's.
        import dask.array  # noqa: F401

        import skspectral  # noqa: F401

    def peakmem_fit(self, path, how):
        _fit(path, how)

    def track_traced_peak(self, path, how):
        # NumPy's buffers at their peak (tracemalloc), without the ~380 MB of
        # code and libraries (torch, numba, scikit-learn) both fits load.
        tracemalloc.start()
        try:
            _fit(path, how)
            return tracemalloc.get_traced_memory()[1] / 1e6
        finally:
            tracemalloc.stop()

    track_traced_peak.unit = "MB"

    def track_heldout_error(self, path, how):
        return _fit(path, how).reconstruction_error(mnist(2_000, subset="test"))

    track_heldout_error.unit = "MSE per pixel"


class ClusterTransformSuite:
    """transform of 60,000 MNIST images on a LocalCluster of 1 or 2 worker processes."""

    params = [1, 2]
    param_names = ["n_workers"]
    timeout = 600
    number = 1
    repeat = 3
    warmup_time = 0

    def setup_cache(self):
        folder = _mnist_stack()
        model = _model("bcd").fit(_lazy_images(folder)[:10_000].compute())
        return folder, model

    def setup(self, cache, n_workers):
        from distributed import Client, LocalCluster

        self.cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                    dashboard_address=":0")
        self.client = Client(self.cluster)
        path, model = cache
        self.codes = model.transform(_lazy_images(path))
        # One warm-up pass: the workers compile the Batch-OMP kernel once.
        self.codes.sum().compute()

    def teardown(self, cache, n_workers):
        self.client.close()
        self.cluster.close()

    def time_transform(self, cache, n_workers):
        self.codes.sum().compute()
