"""cocotb testbench of spvit_divider (sequential divider, round half to even).

Vectors (spvit_fpga.rtl.vectors.kernels.divider_vectors): random and edge-case (num, den) — den 1 and maximal,
exact .5 ties with even and odd quotients, both signs, the largest |num| the precondition allows —
and intops.int_rounded_div results.  tuser/tlast must come back with their division.
"""
import random

import cocotb

from rtl_sim.streams import (
    Beat,
    StreamDriver,
    StreamMonitor,
    first_mismatch,
    load_vectors,
    quiet_loggers,
    settle_and_check_no_extra,
    start_clock_and_reset,
    to_signed,
)


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def divider_matches_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    p = vec["params"]
    num_w, out_w = p["NUM_W"], p["OUT_W"]
    await start_clock_and_reset(dut)
    src = StreamDriver(dut, "s_axis", idle=0.3, rng=random.Random(11))
    sink = StreamMonitor(dut, "m_axis", stall=0.3, rng=random.Random(12))
    n = len(vec["num"])
    for i in range(n):
        word = (vec["den"][i] << num_w) | (vec["num"][i] & ((1 << num_w) - 1))
        src.append(Beat(word, last=vec["last"][i], user=vec["user"][i]))
    beats = await sink.wait_beats(n)
    signed = bool(p["SIGNED"])
    got = [to_signed(b.data, out_w) if signed else b.data for b in beats]
    assert got == vec["y"], first_mismatch(got, vec["y"])
    assert [b.user for b in beats] == vec["user"], "tuser not carried with its division"
    assert [b.last for b in beats] == vec["last"], "tlast not carried with its division"
    await settle_and_check_no_extra(sink, n)
