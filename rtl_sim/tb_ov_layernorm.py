"""cocotb testbench of spvit_ov_layernorm: LAYERNORM instructions, each checked exactly.

Vectors: spvit_fpga/rtl/vectors/ov_layernorm.py (layernorm_vectors).  Per instruction the bench
puts the XB words behind the read-port model, prefills the AM region with random bytes, queues the
blob on the param stream (then two sentinel beats the unit must not pop), starts the instruction
and waits for done; every AM word of the region must then equal the expectation (sub-row words
written, the others untouched), no write may land outside it, exactly the blob must have been
popped, busy / done must follow the handshake, and with a stall-free stream the cycle count must
equal the header formula.  With vec["back_to_back"] the instructions run as one program, each
started in the done cycle of the one before (rtl_sim/tb_ov_norm_common.py).
"""
import cocotb

from rtl_sim.streams import load_vectors
from rtl_sim.tb_ov_norm_common import run_vectors


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def ov_layernorm_instructions(dut):
    report = await run_vectors(dut, load_vectors(), read_port="xb", read_width=16, src_key="xb", signed=True)
    dut._log.warning("\n".join(report))
