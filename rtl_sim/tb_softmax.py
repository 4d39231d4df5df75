"""cocotb testbench of spvit_softmax (row max, exp table, sum, rounded division).

Vectors (rtl_sim.vectors.softmax_vectors): rows of run-time length 1..N_MAX — a one-element row
(saturated 2^P), all mass on one element, exact halves and thirds, the longest row all equal,
one maximum with the table's zero tail everywhere else, random rows of several spreads — and
intops.int_softmax.  Random idle cycles on the scores and back-pressure on the probabilities;
a second test runs at full rate and checks the cycle count of the module header.
"""
import cocotb

from rtl_sim.streams import drive_and_check, load_vectors, quiet_loggers, start_clock_and_reset


def expected_cycles(row_lengths, p_w: int, div_steps: int) -> int:
    """Cycles for back-to-back rows without stalls (spvit_softmax header), measured from the
    first input beat offered to the last output beat taken."""
    per_div = -(-(p_w + 1) // div_steps) + 1
    return sum(n * (2 + per_div) + 5 for n in row_lengths)


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def softmax_matches_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.3, stall=0.3, seed=7)


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def softmax_full_rate_cycles(dut):
    quiet_loggers()
    vec = load_vectors()
    p = vec["params"]
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=8)
    lengths, n = [], 0
    for beat in vec["inputs"]["s_axis"]:
        n += 1
        if beat[1]:
            lengths.append(n)
            n = 0
    want = expected_cycles(lengths, p["P_W"], p["DIV_STEPS"])
    assert abs(run.cycles - want) <= 2, f"{run.cycles} cycles, header formula gives {want}"
