import os

import pytest
import torch

SHARED_DATA = os.environ.get(
    "GEO3D_SHARED_DATA",
    os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data"
    ),
)


@pytest.fixture
def shared_data():
    """Path of the real data samples (../shared/data, or $GEO3D_SHARED_DATA)."""
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"real data folder {SHARED_DATA} not found (set GEO3D_SHARED_DATA)")
    return SHARED_DATA


def devices():
    """CPU always; CUDA where present (those cases carry the cuda marker)."""
    result = ["cpu"]
    if torch.cuda.is_available():
        result.append(pytest.param("cuda", marks=pytest.mark.cuda))
    return result
