"""cocotb testbench of spvit_const_stream (endless source of ROM tokens 0..DEPTH-1, 0, ...).

Vectors (spvit_fpga.rtl.vectors.plumbing.const_stream_vectors): DEPTH random entries (lane extremes
included), written as a $readmemh file; expected tokens from ``vectors_plumbing.
const_stream_model`` (the specification).  The first test takes several rounds of the DEPTH
entries under random back-pressure; the second takes them without back-pressure and checks one
token a cycle.
"""
import random

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import RisingEdge, with_timeout

from rtl_sim.streams import (
    CLOCK_NS,
    StreamMonitor,
    first_mismatch,
    load_vectors,
    quiet_loggers,
    start_clock_and_reset,
)


async def _take(dut, vec, stall, seed):
    want = [b[0] for b in vec["outputs"]["m_axis"]]
    t0 = get_sim_time("ns")
    mon = StreamMonitor(dut, "m_axis", stall=stall, rng=random.Random(seed))
    beats = await with_timeout(mon.wait_beats(len(want)), (100 + 10 * len(want)) * CLOCK_NS, "ns")
    cycles = round((get_sim_time("ns") - t0) / CLOCK_NS)
    await RisingEdge(dut.clk)  # leave the ReadOnly phase before driving tready low
    mon.stop()
    got = [b.data for b in beats]
    assert got == want, "m_axis data: " + first_mismatch(got, want)
    return cycles


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def const_stream_matches_model(dut):
    quiet_loggers()
    vec = load_vectors()
    dut.m_axis_tready.value = 0
    await start_clock_and_reset(dut)
    await _take(dut, vec, 0.4, 5)


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def const_stream_full_rate(dut):
    """No back-pressure: one token a cycle from the start."""
    quiet_loggers()
    vec = load_vectors()
    dut.m_axis_tready.value = 0
    await start_clock_and_reset(dut)
    cycles = await _take(dut, vec, 0.0, 6)
    limit = vec["full_rate_cycles"]
    assert cycles <= limit, f"{cycles} cycles for {len(vec['outputs']['m_axis'])} tokens (limit {limit})"
