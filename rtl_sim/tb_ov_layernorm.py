"""cocotb testbench of spvit_ov_layernorm: a run of LAYERNORM instructions, each checked exactly.

Vectors: spvit_fpga/rtl/vectors/ov_layernorm.py (layernorm_vectors).  Per instruction the bench
loads the XB words into the read-port model, prefills the AM region with random bytes, queues the
blob on the param stream (then two sentinel beats the unit must not pop), pulses start with the
configuration and waits for done; then every AM word of the region must equal the expectation
(sub-row words written, the others untouched), no write may land outside it, and, with a stall-
free stream (vec["check_cycles"]), the cycle count must equal the header formula.
"""
import cocotb

from rtl_sim.streams import load_vectors, quiet_loggers, start_clock_and_reset
from rtl_sim.tb_ov_norm_common import Harness, word_mismatch


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def ov_layernorm_instructions(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    h = Harness(dut, read_ports={"xb": 16}, write_ports={"am": 8}, lanes=vec["lanes"], idle=vec["idle"],
                seed=vec["seed"])
    report = []
    for ins in vec["instructions"]:
        h.mem["xb"] = {int(k): v for k, v in ins["xb"].items()}
        h.mem["am"] = {int(k): v for k, v in ins["am_init"].items()}
        w0 = len(h.writes)
        cycles = await h.run_instruction(ins["cfg"], ins["blob"])
        bad = word_mismatch(h.mem["am"], ins["expect"], vec["lanes"], 8, signed=True)
        assert not bad, f"{ins['name']}: {bad}"
        outside = [w for w in h.writes[w0:] if str(w[2]) not in ins["expect"]]
        assert not outside, f"{ins['name']}: writes outside the destination region: {outside[:4]}"
        report.append(f"{ins['name']}: {cycles} cycles (formula {ins['cycles']})")
        if vec["check_cycles"]:
            assert cycles == ins["cycles"], f"{ins['name']}: {cycles} cycles, the header formula gives {ins['cycles']}"
    dut._log.warning("\n".join(report))
