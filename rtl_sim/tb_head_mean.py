"""cocotb testbench of spvit_head_mean (per-head channel mean, intops.int_head_mean).

Vectors (spvit_fpga.rtl.vectors.selector.head_mean_vectors): all-min / all-max tokens (saturation),
zeros, +-1 LSB, exact .5 ties, one large channel per head, random tokens of several spreads.
The first test adds random idle cycles and back-pressure; the second runs at full rate and
checks the throughput bound of the module header.
"""
import cocotb

from rtl_sim.streams import drive_and_check, load_vectors, quiet_loggers, start_clock_and_reset


def full_rate_bound(tokens: int, p: dict) -> int:
    """Upper bound on the cycles of ``tokens`` back-to-back tokens (spvit_head_mean header)."""
    q_w = p["IN_W"] + max(p["UP"], 0)
    per_div = -(-q_w // p["DIV_STEPS"]) + 1
    per_head = max(p["C"] // p["H"] // p["LANES"], per_div)
    return tokens * p["H"] * per_head + per_div + 8


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def head_mean_matches_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.3, stall=0.3, seed=11)


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def head_mean_full_rate(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=12)
    bound = full_rate_bound(len(vec["outputs"]["m_axis"]), vec["params"])
    dut._log.warning("head_mean full rate: %d cycles (bound %d)", run.cycles, bound)
    assert run.cycles <= bound, f"{run.cycles} cycles, header bound {bound}"
