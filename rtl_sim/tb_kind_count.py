"""cocotb testbench of spvit_kind_count (frame passed through, one count of a token kind per frame).

Vectors (rtl_sim.vectors_plumbing.kind_count_vectors): random frames incl. 1-token frames and a
frame whose count saturates; expected: the input beats unchanged on m_axis and the per-frame
counts on m_axis_cnt (a Python model of the stated semantics).  Random idle cycles on the input,
independent random back-pressure on both outputs (a count that waits must hold the next frame).
"""
import cocotb

from rtl_sim.streams import drive_and_check, load_vectors, quiet_loggers, start_clock_and_reset


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def kind_count_matches_model(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.3, stall=0.4, seed=5, check_user=True)


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def kind_count_full_rate(dut):
    """No idle cycles and no back-pressure: one token a cycle plus one bubble per frame."""
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=6, check_user=True)
    beats = len(vec["inputs"]["s_axis"])
    frames = len(vec["outputs"]["m_axis_cnt"])
    assert run.cycles == beats + frames, f"{run.cycles} cycles for {beats} tokens in {frames} frames"
