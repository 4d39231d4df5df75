"""cocotb testbench of spvit_token_mean (mean over live tokens, intops.int_token_mean).

Vectors (spvit_fpga.rtl.vectors.selector.token_mean_vectors): one live token, one dead token, no live
token (defined 0), N_MAX tokens all min / all max, .5 ties, random frames with random live
masks (tuser).  The first test adds random idle cycles and back-pressure; the second runs at
full rate and checks the cycle count of the module header.
"""
import cocotb

from rtl_sim.streams import drive_and_check, load_vectors, quiet_loggers, start_clock_and_reset


def full_rate_cycles(tokens_per_frame, p: dict) -> int:
    """Cycles for back-to-back frames without stalls (spvit_token_mean header): each frame is
    received at one beat a cycle, then its B = C/LANES division groups enter the dividers one
    every D = ceil(Q_W/DIV_STEPS)+1 cycles; the last group's division overlaps the next frame,
    whose receive takes at least D-1 cycles before its first group can start."""
    bpt = p["C"] // p["LANES"]
    q_w = p["IN_W"] + max(p["UP"], 0)
    per_div = -(-q_w // p["DIV_STEPS"]) + 1
    recv = [t * bpt if i == 0 else max(t * bpt, per_div - 1) for i, t in enumerate(tokens_per_frame)]
    return sum(r + (bpt - 1) * per_div + 1 for r in recv) + per_div


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def token_mean_matches_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.3, stall=0.3, seed=21)


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def token_mean_full_rate(dut):
    quiet_loggers()
    vec = load_vectors()
    p = vec["params"]
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=22)
    bpt = p["C"] // p["LANES"]
    frames, n = [], 0
    for beat in vec["inputs"]["s_axis"]:
        n += 1
        if beat[1]:
            frames.append(n // bpt)
            n = 0
    want = full_rate_cycles(frames, p)
    dut._log.warning("token_mean full rate: %d cycles (formula %d)", run.cycles, want)
    assert abs(run.cycles - want) <= 2, f"{run.cycles} cycles, header formula gives {want}"
