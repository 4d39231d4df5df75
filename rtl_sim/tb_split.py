"""cocotb testbench of spvit_split (a token of R*L lanes into R beats of L lanes).

Vectors (rtl_sim.vectors_plumbing.split_vectors): token frames, 1-token frames included;
expected outputs from ``vectors_plumbing.split_model`` (the module's specification; there is no
intops op).  The first test puts random idle cycles on the input and random back-pressure on the
output and compares tdata, tlast and tuser exactly; the second runs without idle cycles or
back-pressure and checks the cycle count of the module header (one output beat a cycle:
R*n_in + 1 cycles from the start to the last output beat).
"""
import cocotb

from rtl_sim.streams import (
    drive_and_check,
    load_vectors,
    quiet_loggers,
    start_clock_and_reset,
)


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def split_matches_model(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.3, stall=0.3, seed=5, check_user=True)


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def split_full_rate(dut):
    """No idle cycles, no back-pressure: the cycle count of the module header."""
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=6, check_user=True)
    limit = vec["full_rate_cycles"]
    assert run.cycles <= limit, f"{run.cycles} cycles, the module header promises at most {limit}"
