"""cocotb testbench of spvit_requant_stream (round-half-even shift + saturation, LANES lanes).

Vectors (from spvit_fpga.rtl.vectors.kernels.requant_vectors): ``x`` inputs, ``y`` = intops.requantize(x).
Random idle cycles on the input and random back-pressure on the output; exact comparison.
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
async def requant_stream_matches_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    p = vec["params"]
    lanes, in_w, out_w = p["LANES"], p["IN_W"], p["OUT_W"]
    rng = random.Random(1234)
    await start_clock_and_reset(dut)
    src = StreamDriver(dut, "s_axis", idle=0.3, rng=rng)
    sink = StreamMonitor(dut, "m_axis", stall=0.3, rng=random.Random(99))
    xs, want = vec["x"], vec["y"]
    nbeats = len(xs) // lanes
    for b in range(nbeats):
        chunk = xs[b * lanes:(b + 1) * lanes]
        src.append(Beat(pack(chunk, in_w), last=int(b % 7 == 6)))
    beats = await sink.wait_beats(nbeats)
    got = []
    for b in beats:
        got += unpack(b.data, out_w, lanes, signed=bool(p["OUT_SIGNED"]))
    assert got == want, first_mismatch(got, want)
    lasts = [b.last for b in beats]
    assert lasts == [int(i % 7 == 6) for i in range(nbeats)], "tlast not passed through"
    await settle_and_check_no_extra(sink, nbeats)
