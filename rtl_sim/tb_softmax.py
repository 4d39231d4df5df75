"""cocotb testbench of spvit_softmax (row max, exp table, sum, rounded division).

Vectors (spvit_fpga.rtl.vectors.kernels.softmax_vectors): rows of run-time length 1..N_MAX — a one-element row
(saturated 2^P), all mass on one element, exact halves and thirds, the longest row all equal,
one maximum with the table's zero tail everywhere else, random rows of several spreads — and
intops.int_softmax.  Random idle cycles on the scores and back-pressure on the probabilities;
a second test runs at full rate and checks the cycle count of the module header.
"""
import cocotb

from rtl_sim.streams import drive_and_check, load_vectors, quiet_loggers, start_clock_and_reset


def expected_cycles(row_lengths, p_w: int, div_steps: int) -> int:
    """Cycles for back-to-back rows without stalls (spvit_softmax header: receive, sum and divide
    stages of a pipeline), measured from the first input beat offered to the last output beat
    taken.  Cycle-exact model of the stage hand-overs; cycle 0 takes the first beat."""
    d = -(-(p_w + 1) // div_steps) + 1          # divider interval
    first_beat = 0                              # cycle the row's first beat is taken
    sum_left = -(1 << 30)                       # previous row: cycle it left the sum stage
    div_last_in = -(1 << 30)                    # previous row: cycle its last element entered the divider
    out_last = 0
    for n in row_lengths:
        into_sum = max(first_beat + n, sum_left)        # last beat in cycle first_beat + n - 1
        first_beat = into_sum + 1
        into_div = max(into_sum + n + 3, div_last_in)    # sum complete, divide stage free
        sum_left = into_div
        a0 = max(into_div + 3, div_last_in + d)
        div_last_in = a0 + (n - 1) * d
        out_last = div_last_in + d
    return out_last + 1


def header_formula(n: int, rows: int, p_w: int, div_steps: int) -> int:
    """The header's closed form for ``rows`` rows of equal length ``n`` back to back."""
    d = -(-(p_w + 1) // div_steps) + 1
    return (2 + d) * n + 7 + (rows - 1) * max(d * n + max(0, 3 - d), n + 3)


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
    pw, ds = p["P_W"], p["DIV_STEPS"]
    for n in sorted(set(lengths)):  # the model agrees with the header's closed form for equal rows
        assert expected_cycles([n] * 3, pw, ds) == header_formula(n, 3, pw, ds)
    dut._log.warning("full-rate run: %d cycles (header model %d), rows %s", run.cycles, want, lengths)
    assert run.cycles == want, f"{run.cycles} cycles, header model gives {want}"
