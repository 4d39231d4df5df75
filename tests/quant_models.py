"""Small quantised micro models shared by test_quant / test_ir / test_reference (built once)."""
from __future__ import annotations

import functools

import torch

from spvit_fpga.nn.config import model_config
from spvit_fpga.nn.data import load_dataset
from spvit_fpga.nn.model import SPViT
from spvit_fpga.quant.model import QuantConfig, QuantSPViT, quantize_model


@functools.lru_cache(maxsize=None)
def digits():
    return load_dataset("digits")


def micro_cfg():
    return model_config("micro").with_data(1, 10)


@functools.lru_cache(maxsize=None)
def float_micro(seed: int = 0) -> SPViT:
    torch.manual_seed(seed)
    return SPViT(micro_cfg()).eval()


@functools.lru_cache(maxsize=None)
def quant_micro(seed: int = 0) -> QuantSPViT:
    """Random-init micro SPViT, formats calibrated on 24 digits images, tau calibrated on the
    integer scores (keep ratios 0.65/0.45/0.3)."""
    return quantize_model(float_micro(seed), digits().train.images[:24], QuantConfig(input_frac_bits=4))


def fresh_quant_micro(seed: int = 0) -> QuantSPViT:
    """A copy of :func:`quant_micro` that a test may modify."""
    q = quant_micro(seed)
    c = QuantSPViT.from_quant_state(q.cfg, q.quant_state())
    c.load_state_dict(q.state_dict())
    c.decision = q.decision
    return c.eval()


def sample_images(n: int = 6) -> torch.Tensor:
    return digits().test.images[:n]


class _ImageSubset(torch.utils.data.Dataset):
    """The first ``n`` items of an in-memory data set (with ``images`` / ``labels``)."""

    def __init__(self, ds, n: int) -> None:
        self.images, self.labels = ds.images[:n], ds.labels[:n]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, i):
        return self.images[i], int(self.labels[i])
