"""cocotb testbench of spvit_token_select_tok: the generic token-stream tests of
rtl_sim/tb_tokwrap.py (all frames back to back with idle cycles / back-pressure, and at full rate)
plus one frame at a time with the n_kept status checked after each frame.

Vectors: spvit_fpga.rtl.vectors.tokwrap.token_select_tok_vectors (the model selector's tau and formats;
random, nothing pruned, everything pruned, class-only, one-patch, z == tau ties, p = 0, maximum
frames) with the expected frames from intops.keep_decision / intops.int_package_token.
"""
import cocotb
from cocotb.triggers import RisingEdge

from rtl_sim.streams import drive_and_check, load_vectors, quiet_loggers, start_clock_and_reset
from rtl_sim.tb_tokwrap import tokwrap_full_rate, tokwrap_matches_intops  # noqa: F401  (run here too)


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def tokwrap_frames_n_kept(dut):
    """One frame at a time, n_kept after each."""
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    for i, group in enumerate(vec["groups"]):
        try:
            await drive_and_check(dut, group, idle=0.2, stall=0.4, seed=300 + i, check_user=True)
        except AssertionError as exc:
            raise AssertionError(f"frame {i} ({group['name']}): {exc}") from None
        await RisingEdge(dut.clk)
        got = int(dut.n_kept.value)
        assert got == group["n_kept"], f"frame {i} ({group['name']}): n_kept {got}, want {group['n_kept']}"
