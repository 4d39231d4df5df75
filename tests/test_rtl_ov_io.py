"""The overlay engine's I/O units on Verilator through cocotb (rtl_sim/tb_ov_*.py).

* ``spvit_ov_fetch`` on cocotbext-axi's AxiRamRead (one per port): the merged param stream equals
  layout.ParamStream's bytes exactly under random AR/R pauses and ps_tready; every AR is checked
  (the exact burst plan, <= MAX_BURST beats, no 4 KiB crossing); several bursts in flight; rready
  never low under rvalid (credits); SLVERR sets error; beats = 0.
* ``spvit_ov_ddr_model`` behind the fetch (harness ``spvit_ov_fetch_sim``): the image from the
  model's $fread file, latency, the per-port and the shared byte caps measured, the fetch's
  cycle formula at full rate, random pauses, SLVERR injection, the served-bytes counter.

Every configuration is also linted (``verilator --lint-only -Wall``).  No skips.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # rtl_sim lives beside spvit_fpga

from spvit_fpga.rtl import runner  # noqa: E402
from spvit_fpga.rtl.vectors import ov_io  # noqa: E402

FETCH_CASES = {
    "np2-pb16-b256": {},
    "np3-pb8-b16-fifo24-out2": dict(ports=3, port_bytes=8, max_burst=16, fifo_beats=24, outstanding=2, scale=2,
                                    bases=(0xFE8, 0x2_0000)),
}


@pytest.mark.parametrize("case", list(FETCH_CASES))
def test_fetch_on_axi_ram(case):
    params, vec = ov_io.fetch_vectors(**FETCH_CASES[case])
    runner.lint(runner.sources_for("spvit_ov_fetch"), "spvit_ov_fetch", parameters=params)
    result = runner.run(top="spvit_ov_fetch", test_module="rtl_sim.tb_ov_fetch", parameters=params, vectors=vec)
    assert result.tests == 4


DDR_CASES = {
    # budget above NP*PB: each port at one beat a cycle, the fetch's exact cycle formula
    "np2-pb16-free": {},
    # zcu102's figures: 4 HP ports of 16 bytes, 512/10 = 51.2 B/cycle shared (15.36 GB/s at 300 MHz)
    "np4-pb16-zcu102": dict(ports=4, budget=(512, 10), scale=4, fifo_beats=256),
}


@pytest.mark.parametrize("case", list(DDR_CASES))
def test_fetch_on_ddr_model(case):
    params, vec = ov_io.ddr_vectors(**DDR_CASES[case])
    for top in ("spvit_ov_ddr_model", "spvit_ov_fetch_sim"):
        keys = ("NP", "PB", "BASE", "MEM_BYTES", "FILE", "LATENCY", "BUDGET_NUM", "BUDGET_DEN")
        lp = params if top == "spvit_ov_fetch_sim" else {k: params[k] for k in keys}
        runner.lint(runner.sources_for(top), top, parameters=lp)
    result = runner.run(top="spvit_ov_fetch_sim", test_module="rtl_sim.tb_ov_ddr", parameters=params, vectors=vec)
    assert result.tests == 3


PIXEL_CASES = {
    "micro-c1-32-p4-l8": {},
    "c3-32-p4-l8": dict(channels=3),
    "c3-32-p16-l8": dict(channels=3, patch=16),
    "c3-32-p16-l32": dict(channels=3, patch=16, lanes=32),
    # 108 pixels: a partial last beat, beats across image rows, P = 3 segments across words
    "c3-6-p3-l4": dict(channels=3, height=6, width=6, patch=3, lanes=4),
}


@pytest.mark.parametrize("case", list(PIXEL_CASES))
def test_pixels(case):
    params, vec = ov_io.pixels_vectors(**PIXEL_CASES[case])
    runner.lint(runner.sources_for("spvit_ov_pixels"), "spvit_ov_pixels", parameters=params)
    result = runner.run(top="spvit_ov_pixels", test_module="rtl_sim.tb_ov_pixels", parameters=params, vectors=vec)
    assert result.tests == 2


RESULT_CASES = {
    "nc10-s3-l8": {},
    "nc5-w19-s0-l4": dict(classes=5, stages=0, lanes=4, logit_w=19),
    "nc7-s2-l2": dict(classes=7, stages=2, lanes=2),
    "nc16-s1-cnt32-l8": dict(classes=16, stages=1, cnt_w=32, ra_w=1),
}


@pytest.mark.parametrize("case", list(RESULT_CASES))
def test_results(case):
    params, vec = ov_io.results_vectors(**RESULT_CASES[case])
    runner.lint(runner.sources_for("spvit_ov_results"), "spvit_ov_results", parameters=params)
    result = runner.run(top="spvit_ov_results", test_module="rtl_sim.tb_ov_results", parameters=params, vectors=vec)
    assert result.tests == 2


AXIL_CASES = {
    "addr40-aw6": {},
    "addr64-aw5": dict(addr_w=64, axil_aw=5),
}


@pytest.mark.parametrize("case", list(AXIL_CASES))
def test_axil(case):
    params, vec = ov_io.axil_vectors(**AXIL_CASES[case])
    runner.lint(runner.sources_for("spvit_ov_axil"), "spvit_ov_axil", parameters=params)
    result = runner.run(top="spvit_ov_axil", test_module="rtl_sim.tb_ov_axil", parameters=params, vectors=vec)
    assert result.tests == 4


# --------------------------------------------------------------------------------------------
# The benches catch an injected error (one wrong expected value each; one cocotb test run)
# --------------------------------------------------------------------------------------------


def _corrupt_hex(text: str, index: int) -> str:
    data = bytearray.fromhex(text)
    data[index] ^= 0x01
    return data.hex()


def test_benches_catch_injected_errors():
    params, vec = ov_io.fetch_vectors(**FETCH_CASES["np2-pb16-b256"])
    addr, n = vec["loads"][1]["bursts"][1][0]
    vec["loads"][1]["bursts"][1][0] = (addr, n - 1)
    with pytest.raises(runner.RTLSimError, match="port 1 bursts"):
        runner.run(top="spvit_ov_fetch", test_module="rtl_sim.tb_ov_fetch", parameters=params, vectors=vec,
                   testcase="full_rate")

    params, vec = ov_io.ddr_vectors(**DDR_CASES["np2-pb16-free"])
    vec["loads"][1]["stream"] = _corrupt_hex(vec["loads"][1]["stream"], 1000)
    with pytest.raises(runner.RTLSimError, match="stream byte 1000"):
        runner.run(top="spvit_ov_fetch_sim", test_module="rtl_sim.tb_ov_ddr", parameters=params, vectors=vec,
                   testcase="latency_caps_formula")

    params, vec = ov_io.pixels_vectors(**PIXEL_CASES["c3-6-p3-l4"])
    key = next(iter(vec["images"][0]["mem"]))
    vec["images"][0]["mem"][key] ^= 0x80
    with pytest.raises(runner.RTLSimError, match="1 wrong lanes"):
        runner.run(top="spvit_ov_pixels", test_module="rtl_sim.tb_ov_pixels", parameters=params, vectors=vec,
                   testcase="full_rate_cycles")

    params, vec = ov_io.results_vectors(**RESULT_CASES["nc10-s3-l8"])
    vec["frames"][0]["words"][11][0] ^= 1            # a kept count
    with pytest.raises(runner.RTLSimError, match="word 11"):
        runner.run(top="spvit_ov_results", test_module="rtl_sim.tb_ov_results", parameters=params, vectors=vec,
                   testcase="full_rate_cycles")

    params, vec = ov_io.axil_vectors(**AXIL_CASES["addr40-aw6"])
    vec["params"] = dict(params, ADDR_W=48)          # the bench expects 16 base-high bits, the design has 8
    with pytest.raises(runner.RTLSimError, match="base high keeps"):
        runner.run(top="spvit_ov_axil", test_module="rtl_sim.tb_ov_axil", parameters=params, vectors=vec,
                   testcase="register_map")


def test_ddr_model_responses():
    params, vec = ov_io.ddr_model_vectors()
    runner.lint(runner.sources_for("spvit_ov_ddr_model"), "spvit_ov_ddr_model", parameters=params)
    result = runner.run(top="spvit_ov_ddr_model", test_module="rtl_sim.tb_ov_ddr_model", parameters=params,
                        vectors=vec)
    assert result.tests == 2


def test_patch_tensor_is_the_reference():
    """The pixel vectors' patch tensor is reference.py's _patches (what execute.py reproduces)."""
    import numpy as np
    import torch

    from spvit_fpga.rtl.vectors.edge import patches_model

    image = np.arange(3 * 8 * 8).reshape(3, 8, 8)
    want = patches_model(torch.tensor(image), 4).numpy()
    assert (ov_io.patch_tensor(image, 4) == want).all()
    plan = ov_io.pixel_plan(3, 8, 8, 4, 8, 16, base=5, stride=6)
    assert len(plan) == 3 * 8 * 8 // 4 and all(a >= 5 for a, _ in plan)
