
import pytest
import torch

# Small models: one thread is as fast and does not fight other processes for the two cores.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits():
    from spvit_fpga.nn.data import load_dataset

    return load_dataset("digits")
