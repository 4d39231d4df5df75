"""cocotb testbench of spvit_kind_filter (tokens of the kinds in KEEP_KINDS, tlast moved onto the
last passed token of each frame).

Vectors (spvit_fpga.rtl.vectors.plumbing.kind_filter_vectors): frames with the last token filtered,
with nothing passing (also the first and the last frame of the stream), with everything passing,
1-token frames, random frames; expected outputs from ``vectors_plumbing.kind_filter_model`` (the
specification; there is no intops op).  The stream may end with frames that produce no output,
so the run ends when every input beat was accepted and every expected output beat was received
(then 20 more cycles must bring no extra beat).  The first test puts random idle cycles on the
input and random back-pressure on the output and compares tdata, tlast and tuser exactly; the
second runs without idle cycles or back-pressure and checks one input token a cycle
(n_in + 1 cycles); the third keeps the input always valid against heavy back-pressure.
"""
import random

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import with_timeout

from rtl_sim.streams import (
    CLOCK_NS,
    Beat,
    StreamDriver,
    StreamMonitor,
    first_mismatch,
    load_vectors,
    quiet_loggers,
    settle_and_check_no_extra,
    start_clock_and_reset,
)


async def _run(dut, vec, idle, stall, seed):
    rng = random.Random(seed)
    beats_in = vec["inputs"]["s_axis"]
    want = vec["outputs"]["m_axis"]
    t0 = get_sim_time("ns")
    drv = StreamDriver(dut, "s_axis", idle=idle, rng=random.Random(rng.randrange(1 << 30)))
    drv.extend(Beat(*b) for b in beats_in)
    mon = StreamMonitor(dut, "m_axis", stall=stall, rng=random.Random(rng.randrange(1 << 30)))
    budget = (200 + 40 * (len(beats_in) + len(want))) * CLOCK_NS
    await with_timeout(drv.wait_done(), budget, "ns")
    got = await with_timeout(mon.wait_beats(len(want)), budget, "ns")
    cycles = round((get_sim_time("ns") - t0) / CLOCK_NS)
    g = [(b.data, b.last, b.user) for b in got]
    w = [tuple(b) for b in want]
    assert g == w, "m_axis (tdata, tlast, tuser): " + first_mismatch(g, w)
    await settle_and_check_no_extra(mon, len(want))
    drv.stop()
    mon.stop()
    return cycles


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def kind_filter_matches_model(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await _run(dut, vec, 0.3, 0.3, 5)


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def kind_filter_full_rate(dut):
    """No idle cycles, no back-pressure: one input token a cycle."""
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    cycles = await _run(dut, vec, 0.0, 0.0, 6)
    limit = vec["full_rate_cycles"]
    assert cycles <= limit, f"{cycles} cycles for {len(vec['inputs']['s_axis'])} input tokens (limit {limit})"


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def kind_filter_congested_output(dut):
    """Input always valid, output mostly stalled: the hold/output registers fill up and the
    input must be held off exactly when a passed token cannot move on."""
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await _run(dut, vec, 0.0, 0.7, 7)
