"""cocotb bench of spvit_ov_loadxb (LOAD_XB: a constants blob from the param stream into XB words).

Vectors (JSON): ``L``, ``X_W``, ``SB``, and ``cases``: each ``{base, words, beats (stream beats as
ints, little-endian), expect (XB word address -> word as int), cycles}``.  The bench drives the
param stream with random gaps (``idle``), records every XB write, and checks the written words,
that each address is written once, that exactly the blob's beats are popped, and, without gaps,
the cycle formula (start in cycle 0, done in cycle ``cycles``).
"""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from rtl_sim.streams import load_vectors, quiet_loggers, start_clock_and_reset


async def _run_case(dut, case, rng: random.Random, idle: float) -> tuple[dict, int, int]:
    beats = list(case["beats"]) + [rng.getrandbits(len(dut.ps_tdata)) for _ in range(2)]  # two beats that must stay
    writes: dict[int, int] = {}
    popped = 0
    dut.cfg_base.value = case["base"]
    dut.cfg_words.value = case["words"]
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    cycle = 0
    done_at = None
    while done_at is None:
        valid = rng.random() >= idle and popped < len(beats)
        dut.ps_tvalid.value = int(valid)
        dut.ps_tdata.value = beats[popped] if popped < len(beats) else 0
        await ReadOnly()
        cycle += 1
        if valid and int(dut.ps_tready.value):
            popped += 1
        if int(dut.xb_wr_en.value):
            a = int(dut.xb_wr_addr.value)
            assert a not in writes, f"XB word {a} written twice"
            assert int(dut.xb_wr_be.value) == (1 << len(dut.xb_wr_be)) - 1
            writes[a] = int(dut.xb_wr_data.value)
        if int(dut.done.value):
            done_at = cycle
        await RisingEdge(dut.clk)
        if cycle > 10 * (len(beats) + case["words"]) + 50:
            raise AssertionError("no done")
    dut.ps_tvalid.value = 0
    return writes, popped, done_at


async def _check(dut, vec, idle: float, seed: int, timed: bool) -> None:
    rng = random.Random(seed)
    for case in vec["cases"]:
        writes, popped, done_at = await _run_case(dut, case, rng, idle)
        expect = {int(k): v for k, v in case["expect"].items()}
        assert writes == expect, f"case base={case['base']} words={case['words']}: XB writes differ"
        assert popped == len(case["beats"]), f"popped {popped} beats, the blob has {len(case['beats'])}"
        if timed:
            assert done_at == case["cycles"], f"done in cycle {done_at}, formula {case['cycles']}"
        await RisingEdge(dut.clk)


@cocotb.test()
async def loadxb_stalls(dut):
    quiet_loggers()
    await start_clock_and_reset(dut)
    await _check(dut, load_vectors(), idle=0.4, seed=1, timed=False)


@cocotb.test()
async def loadxb_full_rate_cycles(dut):
    quiet_loggers()
    await start_clock_and_reset(dut)
    await _check(dut, load_vectors(), idle=0.0, seed=2, timed=True)


@cocotb.test(expect_fail=True)
async def loadxb_injected_error_caught(dut):
    """One expected word changed: the bench must fail."""
    quiet_loggers()
    await start_clock_and_reset(dut)
    vec = load_vectors()
    case = dict(vec["cases"][0])
    exp = dict(case["expect"])
    k = next(iter(exp))
    exp[k] = exp[k] ^ 1
    case["expect"] = exp
    await _check(dut, {"cases": [case]}, idle=0.0, seed=3, timed=False)
