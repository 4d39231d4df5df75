"""cocotb testbench of the token-stream wrappers (spvit_layernorm_tok, spvit_head_mean_tok,
spvit_keep_prob_tok, spvit_token_select_tok, spvit_global_concat).

Vectors (spvit_fpga.rtl.vectors.tokwrap): several frames back to back, each token / sub-token one beat
with its kind in tuser and tlast on the frame's last beat, expected values from spvit_fpga.ir.intops.
The first test drives every input stream with random idle cycles and takes the output with
random back-pressure, comparing data, tuser and tlast exactly (and n_kept of the last frame for
spvit_token_select_tok).  The second runs at full rate: it checks the cycle count where the
vectors give the module header's figure (``full_rate_cycles``), else logs it.  rtl_sim/tb_token_select_tok.py
adds a per-frame n_kept test for spvit_token_select_tok.
"""
import cocotb

from rtl_sim.streams import drive_and_check, load_vectors, quiet_loggers, start_clock_and_reset


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def tokwrap_matches_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.3, stall=0.3, seed=41, check_user=True,
                          cycles_per_beat=vec.get("cycles_per_beat", 40))
    if "n_kept" in vec:
        assert int(dut.n_kept.value) == vec["n_kept"], f"n_kept {int(dut.n_kept.value)}, want {vec['n_kept']}"


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def tokwrap_full_rate(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=42, check_user=True,
                                cycles_per_beat=vec.get("cycles_per_beat", 40))
    beats = len(vec["outputs"]["m_axis"])
    dut._log.warning("full rate: %d cycles for %d output beats", run.cycles, beats)
    want = vec.get("full_rate_cycles")
    if want is not None:
        assert run.cycles == want, f"{run.cycles} cycles, the module header's formula gives {want}"
