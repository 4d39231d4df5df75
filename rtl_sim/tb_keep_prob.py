"""cocotb testbench of spvit_keep_prob (sum w sigma(delta) / sum w, intops.int_keep_prob).

Vectors (spvit_fpga.rtl.vectors.selector.keep_prob_vectors): all weights zero (equal-weights
fallback), one non-zero weight, all weights max, deltas at both table ends, random and sparse
weights.  The first test adds random idle cycles and back-pressure; the second runs at full rate
and checks the throughput of the module header (one token per divider pass).
"""
import cocotb

from rtl_sim.streams import drive_and_check, load_vectors, quiet_loggers, start_clock_and_reset


def full_rate_cycles(tokens: int, p: dict) -> int:
    q_w = p["SIG_W"] + max(p["UP"], 0)
    per_div = -(-q_w // p["DIV_STEPS"]) + 1
    return tokens * per_div + 2


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def keep_prob_matches_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.3, stall=0.3, seed=31)


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def keep_prob_full_rate(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=32)
    want = full_rate_cycles(len(vec["outputs"]["m_axis"]), vec["params"])
    dut._log.warning("keep_prob full rate: %d cycles (formula %d)", run.cycles, want)
    assert abs(run.cycles - want) <= 3, f"{run.cycles} cycles, header formula gives {want}"
