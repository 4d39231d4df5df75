"""The overlay latency table (spvit_fpga/hw/overlay/latency.py) against the engine's cycle model."""
import random

import pytest
import torch

from spvit_fpga.hw.boards import load_board
from spvit_fpga.hw.overlay.arch import choose_overlay
from spvit_fpga.hw.overlay.cycles import counts_for_kept, program_cycles
from spvit_fpga.hw.overlay.latency import latency_table, table_from_ir
from spvit_fpga.hw.overlay.program import compile_program
from spvit_fpga.hw.source import config_ir, default_model_ir
from spvit_fpga.nn.config import ModelConfig, model_config
from spvit_fpga.nn.macs import ratios_for_budget

MICRO = model_config("micro").with_data(1, 10)


@pytest.fixture(scope="module")
def micro_ir():
    return config_ir(MICRO, calib_images=1)


def full_model_cycles(prog, kept) -> int:
    return sum(s.cycles for s in program_cycles(prog, counts_for_kept(prog, kept)))


def kept_vectors(n: int, stages: int, count: int, seed: int = 0) -> list[list[int]]:
    """Edge cases and random non-increasing kept counts."""
    rng = random.Random(seed)
    out = [[n] * stages, [0] * stages, [n] + [0] * (stages - 1), [1] * stages]
    for _ in range(count):
        ks = [rng.randint(0, n)]
        while len(ks) < stages:
            ks.append(rng.randint(0, ks[-1]))
        out.append(ks)
    return out


@pytest.mark.parametrize("board", ["zcu102", "pynq-z2"])
def test_table_equals_cycle_model_at_integer_counts(micro_ir, board):
    b = load_board(board)
    table = table_from_ir(micro_ir, b)
    prog = compile_program(micro_ir, choose_overlay(b, MICRO.head_dim))
    for kept in kept_vectors(MICRO.num_patches, MICRO.num_stages, 20):
        assert table.cycles(kept) == full_model_cycles(prog, kept), kept
        assert table.ms(kept) == pytest.approx(table.cycles(kept) / (b.clock_mhz * 1e3), rel=1e-12)
    # more tokens never cost fewer cycles
    for stage in table.stage_cycles:
        assert all(a <= b for a, b in zip(stage, stage[1:]))


def test_weights_do_not_change_the_table(micro_ir):
    """The table built from random weights equals the one of the trained, quantised default model."""
    trained = default_model_ir().ir
    assert ModelConfig.from_dict(trained.model) == MICRO
    b = load_board("zcu102")
    assert table_from_ir(trained, b) == table_from_ir(micro_ir, b)


def test_unpruned_config_has_one_number(micro_ir):
    dense = config_ir(MICRO.unpruned(), calib_images=1)
    b = load_board("zcu102")
    table = table_from_ir(dense, b)
    assert table.num_stages == 0
    assert table.cycles([]) == full_model_cycles(compile_program(dense, choose_overlay(b, MICRO.head_dim)), [])
    # the selectors cost cycles: the pruned model keeping every token is slower than the unpruned one
    assert table_from_ir(micro_ir, b).dense_cycles > table.cycles([])


def test_interpolation_and_gradient(micro_ir):
    table = table_from_ir(micro_ir, load_board("zcu102"))
    kept = torch.tensor([[40.0, 30.0, 20.0], [40.25, 30.5, 19.0], [70.0, -3.0, 0.0]], requires_grad=True)
    ms = table.ms_torch(kept)
    mhz = table.clock_mhz * 1e3
    assert ms[0].item() == pytest.approx(table.cycles([40, 30, 20]) / mhz, rel=1e-6)
    s0, s1 = table.stage_cycles[0], table.stage_cycles[1]
    expect = (table.cycles([40, 30, 19]) + 0.25 * (s0[41] - s0[40]) + 0.5 * (s1[31] - s1[30])) / mhz
    assert ms[1].item() == pytest.approx(expect, rel=1e-6)
    assert ms[2].item() == pytest.approx(table.cycles([64, 0, 0]) / mhz, rel=1e-6)  # clamped to 0..N
    assert ms[1].item() == pytest.approx(table.ms([40.25, 30.5, 19.0]), rel=1e-6)
    ms.sum().backward()
    slopes = [(s[k + 1] - s[k]) / mhz for s, k in zip(table.stage_cycles, (40, 30, 20))]
    assert kept.grad[0].tolist() == pytest.approx(slopes, rel=1e-5)
    assert kept.grad[0].min() > 0


def test_keep_ratios_for_a_latency_budget(micro_ir):
    table = latency_table(MICRO, "zcu102")
    target = 0.8 * table.dense_ms
    ratios = ratios_for_budget(MICRO, (0.7, 0.5, 0.3), target, cost=table.ms)
    assert table.ms([r * MICRO.num_patches for r in ratios]) == pytest.approx(target, rel=1e-6)
    assert list(ratios) == sorted(ratios, reverse=True)
    with pytest.raises(ValueError, match="every token pruned"):
        ratios_for_budget(MICRO, (0.7, 0.5, 0.3), 0.1 * table.dense_ms, cost=table.ms)
