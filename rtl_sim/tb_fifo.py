"""cocotb testbench of spvit_fifo (stream FIFO, block-RAM storage, registered output).

Vectors (spvit_fpga.rtl.vectors.plumbing.fifo_vectors): token frames incl. 1-token frames; expected
output = the input (``vectors_plumbing.fifo_model``, the specification).  Tests: random idle
cycles on the input and back-pressure on the output (tdata, tlast, tuser compared exactly); full
rate without idle cycles or back-pressure (one beat a cycle: n + 2 cycles, the 2-cycle latency
included; FOLD > 1: one beat every FOLD cycles, FOLD * n + 3 cycles); fill: with the output
stalled the FIFO takes exactly its capacity (DEPTH + 1 beats; FOLD > 1: DEPTH + 2) and then holds
tready low, and drains them in order under random back-pressure.
"""
import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from rtl_sim.streams import (
    Beat,
    StreamDriver,
    StreamMonitor,
    drive_and_check,
    first_mismatch,
    load_vectors,
    quiet_loggers,
    settle_and_check_no_extra,
    start_clock_and_reset,
)


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def fifo_matches_model(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.3, stall=0.3, seed=5, check_user=True)


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def fifo_full_rate(dut):
    """No idle cycles, no back-pressure: one beat a cycle (FOLD > 1: every FOLD cycles)."""
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=6, check_user=True)
    limit = vec["full_rate_cycles"]
    beats = len(vec["inputs"]["s_axis"])
    assert run.cycles <= limit, f"{run.cycles} cycles for {beats} beats (limit {limit})"


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def fifo_fill_to_capacity(dut):
    """Output stalled: exactly the capacity (DEPTH + 1 beats, FOLD > 1: DEPTH + 2) is accepted;
    then the beats drain in order."""
    quiet_loggers()
    vec = load_vectors()
    fill = vec["fill"]
    capacity = vec["capacity"]
    fold = int(vec["params"].get("FOLD", 1))
    assert len(fill) > capacity
    dut.m_axis_tready.value = 0
    await start_clock_and_reset(dut)
    drv = StreamDriver(dut, "s_axis", idle=0.0, rng=random.Random(7))
    drv.extend(Beat(*b) for b in fill)
    for _ in range(fold * (capacity + 2) + 30):
        await RisingEdge(dut.clk)
    await ReadOnly()
    assert drv.sent == capacity, f"accepted {drv.sent} beats with the output stalled, capacity is {capacity}"
    assert int(dut.s_axis_tready.value) == 0, "tready high although the FIFO is full"
    assert int(dut.m_axis_tvalid.value) == 1
    await RisingEdge(dut.clk)
    mon = StreamMonitor(dut, "m_axis", stall=0.3, rng=random.Random(8))
    beats = await mon.wait_beats(len(fill))
    got = [(b.data, b.last, b.user) for b in beats]
    want = [tuple(b) for b in fill]
    assert got == want, "fill/drain: " + first_mismatch(got, want)
    await settle_and_check_no_extra(mon, len(fill))
    drv.stop()
    mon.stop()
