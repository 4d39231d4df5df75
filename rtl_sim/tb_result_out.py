"""cocotb testbench of spvit_result_out (logits token + kept counts -> OUT_W-bit words).

Vectors (spvit_fpga.rtl.vectors.edge.result_out_vectors): several frames back to back, the first ones at
the limits of both widths (most negative / most positive logits, zero / largest counts, -1 and 0),
then random values; expected: the HLS write_output words (NC logits as OUT_W-bit two's
complement, then the S counts), tlast on each frame's last word.

* ``result_out_matches_hls``: random idle cycles on both input streams (they arrive at
  independent times), random back-pressure on the output; words and tlast compared exactly.
* ``result_out_full_rate``: no idle cycles or back-pressure: NC + S + 1 cycles a frame.
With S = 0 the kept port is held idle (tvalid = 0) and must never be ready.
"""
import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from rtl_sim.streams import (
    drive_and_check,
    load_vectors,
    quiet_loggers,
    start_clock_and_reset,
)


async def _kept_never_ready(dut, flags):
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        if int(dut.s_axis_kept_tready.value):
            flags.append(1)


def _idle_kept_port(dut, vec):
    if vec["params"]["S"] == 0:
        dut.s_axis_kept_tvalid.value = 0
        dut.s_axis_kept_tdata.value = 0
        flags = []
        cocotb.start_soon(_kept_never_ready(dut, flags))
        return flags
    return []


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def result_out_matches_hls(dut):
    quiet_loggers()
    vec = load_vectors()
    flags = _idle_kept_port(dut, vec)
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.4, stall=0.4, seed=9)
    assert not flags, "s_axis_kept_tready went high with S = 0"


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def result_out_full_rate(dut):
    quiet_loggers()
    vec = load_vectors()
    _idle_kept_port(dut, vec)
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=10)
    frames = len(vec["inputs"]["s_axis_logits"])
    bound = frames * (vec["words_per_frame"] + 1) + 2
    dut._log.warning("result_out full rate: %d frames, %d cycles (bound %d)", frames, run.cycles, bound)
    assert run.cycles <= bound, f"{run.cycles} cycles for {frames} frames (bound {bound})"
