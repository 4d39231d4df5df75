"""Generic cocotb testbench of a stream module checked against a Python model of its semantics.

Used by the plumbing modules whose whole specification is a model in spvit_fpga/rtl/vectors/plumbing.py
(spvit_split, spvit_merge, spvit_join2, spvit_prepend, spvit_kind_count; there is no intops op
for them).  Vectors: ``inputs`` / ``outputs`` as in :func:`rtl_sim.streams.drive_and_check`, and
``full_rate_cycles``, the module header's cycle count from the start to the last output beat
when nothing stalls (split: R*n_in + 1; merge, join2: n + 1; prepend: n_in + frames + 1;
kind_count: n_in + frames).  The first test puts random idle cycles on every input and random
back-pressure on every output and compares tdata, tlast and tuser exactly; the second runs
without idle cycles or back-pressure and checks that cycle count.
"""
import cocotb

from rtl_sim.streams import drive_and_check, load_vectors, quiet_loggers, start_clock_and_reset


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def matches_model(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.3, stall=0.3, seed=5, check_user=True)


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def full_rate(dut):
    """No idle cycles, no back-pressure: the cycle count of the module header."""
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=6, check_user=True)
    limit = vec["full_rate_cycles"]
    assert run.cycles <= limit, f"{run.cycles} cycles, the module header promises at most {limit}"
