import os

import pytest
import torch

# Tests run on two cores next to each other; keep torch from oversubscribing them.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def digits():
    from spvit_fpga.data import load_dataset

    return load_dataset("digits")
