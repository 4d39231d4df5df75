"""End-to-end cocotb testbench of the RTL that Vitis HLS / Vivado HLS export from a generated HLS
project (``run_hls.tcl``, top ``spvit_top``), against the golden reference.

Port naming of the exported top (Vitis HLS 2022+, Vivado HLS 2020):
``ap_clk``, ``ap_rst_n``; AXI-Stream ``pixels_TDATA/TVALID/TREADY/TLAST[/TKEEP/TSTRB]`` and
``results_T*``; the AXI-Lite control block ``s_axi_control_*`` (register 0x00: bit 0 ``ap_start``,
bit 1 ``ap_done``; the ``weights`` pointer at 0x10 / 0x14); for designs with weights in DDR the
AXI4 master ``m_axi_gmem_*``.  Names are matched case-insensitively (cocotb-bus), so the same
code serves both tools.  For every image: write ``ap_start``, stream the pixels (random idle
cycles), take the result words (random back-pressure), compare the logits and kept counts
exactly, wait for ``ap_done``.

Vectors as for ``rtl_sim/tb_accel.py`` (``images``, ``logits``, ``kept``, ``weights`` or null,
``base``, ``num_classes``, ``stages``, ``max_cycles``); results to ``SPVIT_TB_RESULTS``.  This
testbench has not been run against real exported RTL here (no vendor tools on this machine).
"""
from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.triggers import RisingEdge
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from rtl_sim.streams import (Beat, StreamDriver, StreamMonitor, clock_of, load_vectors, quiet_loggers, reset_of,
                             start_clock_and_reset)

AP_CTRL, WEIGHTS_LO, WEIGHTS_HI = 0x00, 0x10, 0x14
RESULTS_ENV = "SPVIT_TB_RESULTS"


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


def _port(dut, name: str):
    for n in (name, name.upper(), name.lower()):
        if hasattr(dut, n):
            return getattr(dut, n)
    return None


@cocotb.test()
async def hls_top_matches_reference(dut):
    quiet_loggers()
    vec = load_vectors()
    rng = random.Random(int(vec.get("seed", 0)))
    clk = clock_of(dut)
    for side in ("pixels_TKEEP", "pixels_TSTRB"):  # every byte valid
        sig = _port(dut, side)
        if sig is not None:
            sig.value = (1 << len(sig)) - 1
    await start_clock_and_reset(dut)
    ctrl = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_control"), clk, reset_of(dut), reset_active_level=False)
    if vec.get("weights"):
        data = open(vec["weights"], "rb").read()
        base = int(vec["base"])
        ram = AxiRam(AxiBus.from_prefix(dut, "m_axi_gmem"), clk, reset_of(dut), reset_active_level=False,
                     size=1 << max(12, (base + len(data) - 1).bit_length()))
        ram.write(base, data)
        await ctrl.write_dword(WEIGHTS_LO, base & 0xFFFFFFFF)
        await ctrl.write_dword(WEIGHTS_HI, base >> 32)
    nc, stages = int(vec["num_classes"]), int(vec["stages"])
    words = nc + stages
    out_bits = len(_port(dut, "results_TDATA"))
    results = {"images": []}
    for idx, (pixels, want_logits, want_kept) in enumerate(zip(vec["images"], vec["logits"], vec["kept"])):
        await ctrl.write_dword(AP_CTRL, 1)
        drv = StreamDriver(dut, "pixels", idle=0.1, rng=random.Random(rng.randrange(1 << 30)))
        drv.extend(Beat(int(p), int(i == len(pixels) - 1), 0) for i, p in enumerate(pixels))
        mon = StreamMonitor(dut, "results", stall=0.2, rng=random.Random(rng.randrange(1 << 30)))
        got = await mon.wait_beats(words)
        drv.stop()
        mon.stop()
        for _ in range(int(vec.get("max_cycles", 1_000_000))):
            if int(await ctrl.read_dword(AP_CTRL)) & 0x2 or not int(await ctrl.read_dword(AP_CTRL)) & 0x1:
                break
            await RisingEdge(clk)
        logits = [_signed(b.data, out_bits) for b in got[:nc]]
        kept = [b.data for b in got[nc:]]
        results["images"].append({
            "index": idx, "logits": logits, "kept": kept,
            "logits_equal": logits == [int(v) for v in want_logits], "kept_equal": kept == [int(v) for v in want_kept],
            "tlast_on_last": [b.last for b in got] == [0] * (words - 1) + [1],
        })
    if os.environ.get(RESULTS_ENV):
        with open(os.environ[RESULTS_ENV], "w") as fh:
            json.dump(results, fh)
    bad = [r for r in results["images"] if not (r["logits_equal"] and r["kept_equal"] and r["tlast_on_last"])]
    assert not bad, f"{len(bad)} of {len(results['images'])} images differ from the reference: {bad[:1]}"
