import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

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
