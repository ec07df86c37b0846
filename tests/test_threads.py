"""threads: every compute pool of a run is sized by the setting."""

import pytest
import torch
from threadpoolctl import threadpool_info

from recbench.errors import RecbenchError
from recbench.threads import available_cores, set_threads


def test_threads_setting_sizes_torch_and_blas_pools():
    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1
        assert torch.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
        assert set_threads(None) == available_cores() == torch.get_num_threads()
    finally:
        set_threads(before)


@pytest.mark.parametrize("value", [0, -2, 1.5])
def test_threads_must_be_a_positive_integer(value):
    with pytest.raises(RecbenchError, match="threads must be a positive integer"):
        set_threads(value)
