"""
======================================================
Fitting on images stored on disk, larger than memory
======================================================

Every estimator of skspectral can learn from data it never holds at once.
This example stores the 60,000 MNIST training images on disk as uint8
pixels in a dask ``.npy`` stack (one file per block of 5,000 images) and
opens it as a :class:`dask.array.Array` whose blocks are read and converted
to float32 only when a task needs them. Two ways to fit on it:

* ``fit(dask_array)``: :class:`~skspectral.SparseSupportMRF` runs every
  dictionary-learning iteration as a map over the blocks (Batch-OMP codes
  and the sums ``sum g g^T``, ``sum g x^T`` of each block) and a reduce (the
  sums), then updates the atoms. The same code runs on a
  ``dask.distributed`` cluster when a client is active.
* ``partial_fit(chunk)`` in a loop of your own, for any source of chunks
  (files, a database, a data loader).

The peak memory of each fit is measured with :mod:`tracemalloc`, which
counts NumPy's buffers; the images alone take 188 MB as one float32 array.
"""

import tempfile
import time
import tracemalloc
from pathlib import Path

import dask
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np

from skspectral import SparseSupportMRF
from skspectral.datasets import fetch_mnist
from skspectral.plotting import plot_image_grid

# sphinx-gallery runs examples from examples/; the data live beside the checkout.
train = fetch_mnist(data_home="../../shared/data")
test = fetch_mnist(data_home="../../shared/data", subset="test", n_samples=2_000)

folder = Path(tempfile.mkdtemp()) / "mnist-train"
flat = train.images.reshape(len(train.images), -1)
da.to_npy_stack(folder, da.from_array(flat, chunks=(5_000, -1)), axis=0)
print(f"{len(flat)} images on disk in {len(list(folder.glob('*.npy')))} files; "
      f"{flat.size * 4 / 1e6:.0f} MB as one float32 array")
del train, flat


# %%
# A lazy float32 view of the stack, in blocks of 5,000 images.
def to_unit_float(block):
    return block.astype(np.float32) / np.float32(255)


images = da.from_npy_stack(folder, mmap_mode=None).map_blocks(to_unit_float, dtype=np.float32)
print(images)

# %%
# Fit on the dask array. Dask's local scheduler runs one block per core, so
# the memory in use is a few blocks, whatever the number of images.
tracemalloc.start()
start = time.perf_counter()
with dask.config.set(scheduler="threads"):
    model = SparseSupportMRF(n_atoms=256, n_nonzero_coefs=10, max_iter=8,
                             random_state=0).fit(images)
seconds = time.perf_counter() - start
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(f"fit on 60,000 images in {seconds:.0f} s, peak traced memory {peak / 1e6:.0f} MB")
print(f"held-out reconstruction MSE: {model.reconstruction_error(test.data):.5f}")

# %%
# The same model learned online: ``partial_fit`` on the blocks, read one at
# a time, three passes. Only the block in hand is in memory.
tracemalloc.start()
online = SparseSupportMRF(n_atoms=256, n_nonzero_coefs=10, random_state=0)
for _ in range(3):
    for i in range(images.numblocks[0]):
        online.partial_fit(images.blocks[i].compute())
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(f"partial_fit: peak traced memory {peak / 1e6:.0f} MB, "
      f"held-out MSE {online.reconstruction_error(test.data):.5f}")

# %%
# ``transform`` of a dask array is a dask array, block for block (the model
# is shipped once to whoever computes it), and ``sample(..., chunks=...)``
# draws lazily, one seeded task per block.
codes = model.transform(images)
print(codes)
print(f"mean number of non-zeros per code: {(codes[:5_000] != 0).sum(axis=1).mean().compute():.1f}")
samples = model.sample(64, chunks=16, random_state=0)

fig, axes = plt.subplots(1, 2, figsize=(10, 5))
plot_image_grid(test.data[:64], (28, 28), ax=axes[0], title="Real test digits")
plot_image_grid(samples.compute(), (28, 28), ax=axes[1], title="Samples (fitted out of core)")
plt.tight_layout()
plt.show()
