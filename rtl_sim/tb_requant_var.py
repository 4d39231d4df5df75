"""cocotb testbench of spvit_requant_var (round-half-even by a run-time shift; combinational).

Vectors (spvit_fpga.rtl.vectors.kernels.requant_var_vectors): for every shift of the range (left shifts
included) the tie / saturation edge inputs, plus random (x, sh); expected intops.requantize
with a per-element shift.  No stream: inputs are applied and the output read after a delay.
"""
import cocotb
from cocotb.triggers import Timer

from spvit_fpga.rtl.bits import to_signed
from rtl_sim.streams import first_mismatch, load_vectors, quiet_loggers


@cocotb.test(timeout_time=10, timeout_unit="ms")
async def requant_var_matches_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    p = vec["params"]
    got = []
    for x, sh in zip(vec["x"], vec["sh"]):
        dut.x.value = x & ((1 << p["IN_W"]) - 1)
        dut.sh.value = sh & ((1 << p["SH_W"]) - 1)
        await Timer(1, unit="ns")
        y = int(dut.y.value)
        got.append(to_signed(y, p["OUT_W"]) if p["OUT_SIGNED"] else y)
    assert got == vec["y"], first_mismatch(got, vec["y"])
