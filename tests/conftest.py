import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One thread per xdist worker: with BLAS, OpenMP, torch and Numba each
    # starting one thread per core, parallel workers oversubscribe the CPU and
    # spin-waiting makes the suite several times slower.
    import numba
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    torch.set_num_threads(1)
    numba.set_num_threads(1)

#: ../shared/data beside the checkout (CI has it; a bare clone may not).
SHARED_DATA = Path(
    os.environ.get(
        "SKSPECTRAL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)


@pytest.fixture(scope="session")
def shared_data():
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip("../shared/data is not present beside the checkout")
    return SHARED_DATA
