"""cocotb testbench of spvit_table (ROM lookup on a stream: GELU / sigmoid tables).

Vectors (spvit_fpga.rtl.vectors.kernels.table_vectors): every table input in random order, twice, and the
expected intops.int_gelu / int_sigmoid outputs.  Random idle cycles and back-pressure.
"""
import random

import cocotb

from rtl_sim.streams import (
    Beat,
    StreamDriver,
    StreamMonitor,
    first_mismatch,
    load_vectors,
    pack,
    quiet_loggers,
    settle_and_check_no_extra,
    start_clock_and_reset,
    unpack,
)


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def table_matches_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    p = vec["params"]
    lanes = p["LANES"]
    await start_clock_and_reset(dut)
    src = StreamDriver(dut, "s_axis", idle=0.3, rng=random.Random(5))
    sink = StreamMonitor(dut, "m_axis", stall=0.4, rng=random.Random(6))
    xs, want = vec["x"], vec["y"]
    nbeats = len(xs) // lanes
    for b in range(nbeats):
        src.append(Beat(pack(xs[b * lanes:(b + 1) * lanes], p["IN_W"]), last=int(b == nbeats - 1)))
    beats = await sink.wait_beats(nbeats)
    got = []
    for b in beats:
        got += unpack(b.data, p["OUT_W"], lanes, signed=bool(p["OUT_SIGNED"]))
    assert got == want, first_mismatch(got, want)
    assert [b.last for b in beats] == [int(i == nbeats - 1) for i in range(nbeats)]
    await settle_and_check_no_extra(sink, nbeats)
