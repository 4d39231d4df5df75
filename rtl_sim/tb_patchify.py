"""cocotb testbench of spvit_patchify (pixel stream -> patch tokens).

Vectors (spvit_fpga.rtl.vectors.edge.patchify_vectors): several images back to back (the first a
pattern of all-ones and zero pixels, the others random), one pixel a beat in channel / row /
column order with tlast on each image's last pixel; expected: reference.py ``_patches`` of each
image, tuser = 1, tlast on the image's last token.

* ``patchify_matches_reference``: random idle cycles on the pixel stream, random back-pressure on
  the token stream; tokens, tlast and tuser compared exactly.
* ``patchify_full_rate``: no idle cycles, no back-pressure: the input takes one pixel a cycle and
  the last token leaves G + 1 cycles after the last pixel (the header's cycle count; one stall
  cycle per image when the buffer is a single region, CIN > 1 and G = 1).
* ``patchify_heavy_backpressure``: the output ready 3 % of the time, so the input is held off
  while the region its next pixel goes to is still full (checked to happen).
"""
import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from rtl_sim.streams import (
    drive_and_check,
    load_vectors,
    quiet_loggers,
    start_clock_and_reset,
)


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def patchify_matches_reference(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.3, stall=0.5, seed=5, check_user=True)


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def patchify_full_rate(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=6, check_user=True)
    pixels = len(vec["inputs"]["s_axis"])
    grid = vec["params"]["IMG"] // vec["params"]["P"]
    images = len(vec["outputs"]["m_axis"]) // (grid * grid)
    # the driver's first beat is on the bus one cycle after the start; + the output latency;
    # with one region (CIN > 1, G = 1) each next image waits one cycle for the token to leave
    single_region = vec["params"]["CIN"] > 1 and grid == 1
    bound = pixels + grid + 2 + (images - 1 if single_region else 0)
    dut._log.warning("patchify full rate: %d pixels, %d cycles (bound %d)", pixels, run.cycles, bound)
    assert run.cycles <= bound, f"{run.cycles} cycles for {pixels} pixels (bound {bound})"


async def _count_input_stalls(dut, counter):
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        if int(dut.s_axis_tvalid.value) and not int(dut.s_axis_tready.value):
            counter[0] += 1


@cocotb.test(timeout_time=40, timeout_unit="ms")
async def patchify_heavy_backpressure(dut):
    """Output ready 3 % of the cycles: the buffer fills up and the input must be held off (its
    region still full) without losing or reordering a pixel."""
    quiet_loggers()
    vec = load_vectors()
    stalls = [0]
    await start_clock_and_reset(dut)
    cocotb.start_soon(_count_input_stalls(dut, stalls))
    await drive_and_check(dut, vec, idle=0.0, stall=0.97, seed=8, check_user=True, cycles_per_beat=80)
    dut._log.warning("patchify heavy back-pressure: input held off in %d cycles", stalls[0])
    assert stalls[0] > 0, "the input was never held off: the full-region path was not exercised"
