"""cocotb testbench of spvit_attention (q, k, v token streams -> context token stream).

Vectors (rtl_sim.vectors_attention): frames of 1..T_MAX tokens back to back — random q, k, v
over the full range, all-min / all-max frames (saturated scores, uniform rows, saturated
context), a split frame (scores saturated both ways, the exp table's far tail), a frame with
one dominant score — and the context tokens of intops.int_attention_scores / int_softmax /
int_attention_context per head.  The q, k and v streams each get their own random idle cycles
(no lock-step), the output random back-pressure; data, tlast and tuser (the q token's kind) are
compared exactly.  A second test runs at full rate and checks the cycle count of the module
header (expected_cycles; QP query rows in parallel, the pipelined spvit_softmax).
"""
import cocotb

from rtl_sim.streams import drive_and_check, load_vectors, quiet_loggers, start_clock_and_reset


def expected_cycles(frames, p: dict):
    """Cycles for back-to-back frames without idle cycles or back-pressure (spvit_attention
    header), from the first input beat offered to the last output beat taken; None when the
    context MACs pace the divisions (NB > D), where the header gives no exact figure.  With
    QP rows in parallel a frame of T tokens has G = ceil(T/QP) row groups, the last of
    L = T - (G-1)*QP rows, whose L tokens leave one a cycle; the next frame's load overlaps them."""
    nb = p["DH"] // p["SIMD"]
    d = -(-(p["P_W"] + 1) // p["DIV_STEPS"]) + 1
    if nb > d:
        return None
    h, ns, qp = p["H"], p["C"] // p["SIMD"], p.get("QP", 1)
    total = 0
    for k, t in enumerate(frames):
        g = -(-t // qp)
        last_rows = t - (g - 1) * qp
        row = max(d * t + max(0, 3 - d), t + 3)  # softmax row interval (pipelined, rows of t)
        total += (ns - 1 + nb) * t + (2 + d) * t + 7 + (h * g - 1) * row + nb + 5 + (last_rows - 1)
        if k < len(frames) - 1:
            total -= last_rows
    return total


def cycles_per_beat(p: dict) -> int:
    """A generous hang budget per stream beat: a frame of T tokens has 4T beats and takes about
    H*T*T*(2 + max(D, NB)) cycles."""
    nb = p["DH"] // p["SIMD"]
    d = -(-(p["P_W"] + 1) // p["DIV_STEPS"]) + 1
    return 40 + p["H"] * p["T_MAX"] * (3 + max(nb, d))


@cocotb.test(timeout_time=200, timeout_unit="ms")
async def attention_matches_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.3, stall=0.3, seed=11, check_user=True,
                          cycles_per_beat=cycles_per_beat(vec["params"]))


@cocotb.test(timeout_time=200, timeout_unit="ms")
async def attention_full_rate_cycles(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=12, check_user=True,
                                cycles_per_beat=cycles_per_beat(vec["params"]))
    want = expected_cycles(vec["frames"], vec["params"])
    dut._log.warning("full-rate run: %d cycles (header formula %s), frames %s", run.cycles, want, vec["frames"])
    if want is not None:
        assert run.cycles == want, f"{run.cycles} cycles, header formula gives {want}"
