"""cocotb testbench of spvit_layernorm (integer sums, rsqrt table, per-token shift, affine).

Vectors (spvit_fpga.rtl.vectors.kernels.layernorm_vectors): constant tokens (d = 0: y = RNE(beta); with eps = 0
also V = 0), one non-zero channel (small variance, negative k: the mantissa is a left shift),
alternating extremes (largest variance), random tokens of several scales, per-channel gamma/beta
on their own stream (beta at the 32-bit limits: output saturation), and intops.int_layernorm.
LANES channels a beat on every stream.  A second test runs at full rate and checks the cycle count
of the module header (spvit_fpga.rtl.vectors.kernels.layernorm_cycles: T*(2P + 6) without OVERLAP, (T-1)*max(P, 5)
+ 2P + 6 with it, P = C/LANES).
"""
import cocotb

from rtl_sim.streams import drive_and_check, load_vectors, quiet_loggers, start_clock_and_reset


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def layernorm_matches_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.3, stall=0.3, seed=8)


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def layernorm_full_rate_cycles(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=9)
    want = vec["full_rate_cycles"]
    dut._log.warning("full rate: %d cycles, header formula %d", run.cycles, want)
    assert run.cycles == want, f"{run.cycles} cycles, header formula gives {want}"
