"""cocotb testbench of spvit_token_select (keep decision, token replay, package-token merge).

Vectors (spvit_fpga.rtl.vectors.kernels.token_select_vectors): one frame per group with its threshold tau —
random frames at several tau, nothing pruned (package token 0), everything pruned, no patch
tokens, one patch token pruned, pruned tokens with p = 0 (equal-weight mean), z == tau ties,
all head weights 0 with tau = 0 and 1, N_MAX tokens at the value extremes — and the expected
output frame from intops.keep_decision / intops.int_package_token.  Random idle cycles on the
token and selector streams, back-pressure on the output; tuser (token kind), tlast and the
n_kept status are checked too.  A second test streams all frames back to back at one tau; a
third runs each frame at full rate and checks the cycle count of the module header.
"""
import cocotb
from cocotb.triggers import RisingEdge

from spvit_fpga.rtl.bits import to_signed
from rtl_sim.streams import drive_and_check, load_vectors, quiet_loggers, start_clock_and_reset


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def token_select_frames_match_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    z_w = vec["params"]["Z_W"]
    dut.tau.value = 0
    await start_clock_and_reset(dut)
    for i, group in enumerate(vec["groups"]):
        dut.tau.value = group["tau"] & ((1 << z_w) - 1)
        await RisingEdge(dut.clk)
        try:
            await drive_and_check(dut, group, idle=0.3, stall=0.3, seed=100 + i, check_user=True)
        except AssertionError as exc:
            raise AssertionError(f"frame {i} ({group['name']}, tau={group['tau']}): {exc}") from None
        got = int(dut.n_kept.value)
        assert got == group["n_kept"], f"frame {i} ({group['name']}): n_kept {got}, want {group['n_kept']}"
        assert to_signed(int(dut.tau.value), z_w) == group["tau"]


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def token_select_back_to_back(dut):
    """All frames that share the first frame's tau, streamed without gaps between frames."""
    quiet_loggers()
    vec = load_vectors()
    z_w = vec["params"]["Z_W"]
    tau = 100
    groups = [g for g in vec["groups"] if g["tau"] == tau]
    merged = {"inputs": {}, "outputs": {"m_axis": []}, "lanes": groups[0]["lanes"]}
    for g in groups:
        for port, beats in g["inputs"].items():
            merged["inputs"].setdefault(port, []).extend(beats)
        merged["outputs"]["m_axis"] += g["outputs"]["m_axis"]
    dut.tau.value = tau & ((1 << z_w) - 1)
    await start_clock_and_reset(dut)
    await drive_and_check(dut, merged, idle=0.1, stall=0.1, seed=7, check_user=True)


def expected_cycles(group, params) -> int:
    """Cycles of one frame without stalls (spvit_token_select header)."""
    bpt = params["C"] // params["LANES"]
    t = len(group["inputs"]["s_axis"]) // bpt
    k = len(group["outputs"]["m_axis"]) // bpt - 1          # emitted tokens before the package
    div = bpt * (-(-params["X_W"] // params["DIV_STEPS"]) + 1) + 2
    return t * bpt + max(k * bpt + (t - k) + bpt, div) + 1


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def token_select_full_rate_cycles(dut):
    quiet_loggers()
    vec = load_vectors()
    p = vec["params"]
    await start_clock_and_reset(dut)
    for i, group in enumerate(vec["groups"]):
        dut.tau.value = group["tau"] & ((1 << p["Z_W"]) - 1)
        await RisingEdge(dut.clk)
        run = await drive_and_check(dut, group, idle=0.0, stall=0.0, seed=200 + i, check_user=True)
        want = expected_cycles(group, p)
        assert run.cycles == want, f"frame {i} ({group['name']}): {run.cycles} cycles, header formula {want}"
