"""cocotb testbench of spvit_gemm (PE x SIMD MAC array + bias / residual / requant / GELU).

Vectors (spvit_fpga.rtl.vectors.kernels.gemm_vectors): several layers with different fan-ins K in one stream,
an extreme layer (all -128 / 127 activations and weights, maximal accumulations), bias values
at the 32-bit limits (saturation both ways) and a layer whose outputs are all exact .5 ties.
Expected outputs from intops.int_linear (+ intops.int_gelu).  Every input stream (x, w, bias,
residual) gets its own random idle cycles; the output gets random back-pressure.  A second test
runs without idle cycles or back-pressure and checks the array takes one beat per cycle.
"""
import cocotb

from rtl_sim.streams import drive_and_check, load_vectors, quiet_loggers, start_clock_and_reset

PIPELINE_CYCLES = 4  # stream start-up + MAC, epilogue and output registers


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def gemm_matches_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.25, stall=0.3, seed=3)


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def gemm_full_rate(dut):
    """No idle cycles, no back-pressure: the array must take one input beat per cycle."""
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=4)
    beats = len(vec["inputs"]["s_axis_x"])
    assert run.cycles <= beats + PIPELINE_CYCLES, f"{run.cycles} cycles for {beats} input beats"
