"""cocotb testbench of spvit_ov_softmax: a run of SOFTMAX instructions, each checked exactly.

Vectors: spvit_fpga/rtl/vectors/ov_softmax.py (softmax_vectors).  The score words sit behind the
AM read-port model (lanes beyond the row length hold garbage), the probability region is
prefilled with random bytes; after done every word of the region must equal the expectation (the
row's probabilities in lanes < n, the prefill elsewhere), no write may land outside it, exactly
the blob's beats must have been popped, and with a stall-free stream the cycle count must equal
the header formula.
"""
import cocotb

from rtl_sim.streams import load_vectors, quiet_loggers, start_clock_and_reset
from rtl_sim.tb_ov_norm_common import Harness, word_mismatch


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def ov_softmax_instructions(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    h = Harness(dut, read_ports={"am": 8}, write_ports={"am": 8}, lanes=vec["lanes"], idle=vec["idle"],
                seed=vec["seed"])
    report = []
    for ins in vec["instructions"]:
        h.rd_mem["am"] = {int(k): v for k, v in ins["src"].items()}
        h.wr_mem["am"] = {int(k): v for k, v in ins["am_init"].items()}
        w0 = len(h.writes)
        cycles = await h.run_instruction(ins["cfg"], ins["blob"])
        bad = word_mismatch(h.wr_mem["am"], ins["expect"], vec["lanes"], 8)
        assert not bad, f"{ins['name']}: {bad}"
        outside = [w for w in h.writes[w0:] if str(w[2]) not in ins["expect"]]
        assert not outside, f"{ins['name']}: writes outside the destination region: {outside[:4]}"
        report.append(f"{ins['name']}: {cycles} cycles (formula {ins['cycles']})")
        if vec["check_cycles"]:
            assert cycles == ins["cycles"], f"{ins['name']}: {cycles} cycles, the header formula gives {ins['cycles']}"
    dut._log.warning("\n".join(report))
