"""cocotb testbench of spvit_ov_softmax: SOFTMAX instructions, each checked exactly.

Vectors: spvit_fpga/rtl/vectors/ov_softmax.py (softmax_vectors).  The score words sit behind the
AM read-port model (lanes beyond the row length hold garbage), the probability region is
prefilled with random bytes; after done every word of the region must equal the expectation (the
row's probabilities in lanes < n, the prefill elsewhere), no write may land outside it, exactly
the blob's beats must have been popped, busy / done must follow the handshake, and with a
stall-free stream the cycle count must equal the header formula.  With vec["back_to_back"] the
instructions run as one program, each started in the done cycle of the one before
(rtl_sim/tb_ov_norm_common.py).
"""
import cocotb

from rtl_sim.streams import load_vectors
from rtl_sim.tb_ov_norm_common import run_vectors


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def ov_softmax_instructions(dut):
    report = await run_vectors(dut, load_vectors(), read_port="am", read_width=8, src_key="src", signed=False)
    dut._log.warning("\n".join(report))
