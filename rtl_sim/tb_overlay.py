"""End-to-end cocotb testbench of a generated overlay design (``generate --rtl --rtl-arch overlay``).

The toplevel is the design's simulation harness ``spvit_overlay_sim``: the engine with its AXI4 read
masters on the SystemVerilog DDR model, which holds ``weights.bin`` (loaded with ``$fread``, so the
20 MB of a DeiT-S never pass through Python).  The bench writes the weights base over AXI4-Lite,
then image by image sets ``ap_start``, streams the pixels (16 a beat, random idle cycles) and takes
the result words (random back-pressure), and compares the logits and the kept patch tokens of every
selector stage exactly with the golden reference's.  Python sleeps while the engine computes: the
clock is the simulator's own (cocotb's GPI clock), the bench waits on the result stream's
``tvalid``, and the AXI4-Lite transactions are driven by a few lines here that wake only while a
transaction runs (cocotbext-axi's masters wake on every clock edge, which would make Python, not
the design, set the pace).

Per image it records: the cycles from ``ap_start`` to the last result word, the engine's own cycle
counter (AXI-Lite 0x1C), the cycle at which every instruction of the program started (probe
``u_engine.u_ctrl.probe_start``, built with ``SPVIT_PROBES``), and the bytes the DDR model served.

Vectors (JSON, ``SPVIT_TB_VECTORS``): ``images`` (pixel lists), ``logits``, ``kept``, ``base``,
``pixel_signed``, ``num_classes``, ``stages``, ``instructions``, ``max_cycles`` (per image), ``idle``,
``stall`` (probabilities), ``pause_ar``, ``pause_r`` (percent, DDR model), ``seed``.  Results (JSON)
go to ``SPVIT_TB_RESULTS`` before the verdict, so a failing run still reports every image.
"""
from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import First, ReadOnly, RisingEdge, Timer

from rtl_sim.streams import CLOCK_NS, load_vectors, quiet_loggers, report_cycles, report_progress

RESULTS_ENV = "SPVIT_TB_RESULTS"
PIX_BYTES = 16
REG_CTRL, REG_BASE_LO, REG_BASE_HI, REG_STATUS, REG_CYCLES = 0x00, 0x10, 0x14, 0x18, 0x1C


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


def _cycle() -> int:
    return int(get_sim_time(unit="ns")) // CLOCK_NS


async def _send_pixels(dut, pixels: list[int], rng: random.Random, idle: float) -> None:
    beats = [pixels[i:i + PIX_BYTES] for i in range(0, len(pixels), PIX_BYTES)]
    for n, beat in enumerate(beats):
        while rng.random() < idle:
            dut.s_axis_pixels_tvalid.value = 0
            await RisingEdge(dut.clk)
        word = 0
        for i, p in enumerate(beat):
            word |= (int(p) & 0xFF) << (8 * i)
        dut.s_axis_pixels_tdata.value = word
        dut.s_axis_pixels_tkeep.value = (1 << len(beat)) - 1
        dut.s_axis_pixels_tlast.value = int(n == len(beats) - 1)
        dut.s_axis_pixels_tvalid.value = 1
        while True:
            await ReadOnly()
            fired = bool(int(dut.s_axis_pixels_tready.value))
            await RisingEdge(dut.clk)
            if fired:
                break
    dut.s_axis_pixels_tvalid.value = 0


async def _receive(dut, words: int, rng: random.Random, stall: float, deadline: int) -> list[int]:
    out: list[int] = []
    dut.m_axis_results_tready.value = 0
    await ReadOnly()
    while not int(dut.m_axis_results_tvalid.value):
        budget = deadline - _cycle()
        if budget <= 0:
            raise AssertionError("no result before the cycle limit")
        await First(RisingEdge(dut.m_axis_results_tvalid), Timer(budget * CLOCK_NS, unit="ns"))
        await ReadOnly()
    await RisingEdge(dut.clk)
    while len(out) < words:
        rdy = rng.random() >= stall
        dut.m_axis_results_tready.value = int(rdy)
        await ReadOnly()
        if rdy and int(dut.m_axis_results_tvalid.value):
            out.append(int(dut.m_axis_results_tdata.value))
            last = int(dut.m_axis_results_tlast.value)
            if last != int(len(out) == words):
                raise AssertionError(f"results tlast={last} on word {len(out)} of {words}")
        await RisingEdge(dut.clk)
        if _cycle() > deadline:
            raise AssertionError(f"only {len(out)} of {words} result words before the cycle limit")
    dut.m_axis_results_tready.value = 0
    return out


class _AxiLite:
    """A minimal AXI4-Lite master on ``s_axi_control_*``: one transaction at a time, both write
    channels presented together, responses checked to be OKAY."""

    def __init__(self, dut) -> None:
        self.d = dut
        for sig in ("awvalid", "wvalid", "bready", "arvalid", "rready"):
            getattr(dut, f"s_axi_control_{sig}").value = 0

    async def _wait(self, name: str, limit: int = 1000) -> None:
        for _ in range(limit):
            await ReadOnly()
            if int(getattr(self.d, name).value):
                return
            await RisingEdge(self.d.clk)
        raise AssertionError(f"{name} never came")

    async def write(self, addr: int, data: int) -> None:
        d = self.d
        await RisingEdge(d.clk)
        d.s_axi_control_awaddr.value = addr
        d.s_axi_control_awvalid.value = 1
        d.s_axi_control_wdata.value = data & 0xFFFFFFFF
        d.s_axi_control_wstrb.value = 0xF
        d.s_axi_control_wvalid.value = 1
        d.s_axi_control_bready.value = 1
        aw = w = False
        for _ in range(1000):
            await ReadOnly()
            aw = aw or bool(int(d.s_axi_control_awready.value))
            w = w or bool(int(d.s_axi_control_wready.value))
            await RisingEdge(d.clk)
            if aw:
                d.s_axi_control_awvalid.value = 0
            if w:
                d.s_axi_control_wvalid.value = 0
            if aw and w:
                break
        await self._wait("s_axi_control_bvalid")
        resp = int(self.d.s_axi_control_bresp.value)
        await RisingEdge(d.clk)
        d.s_axi_control_bready.value = 0
        assert resp == 0, f"AXI-Lite write of 0x{addr:02x}: response {resp}"

    async def read(self, addr: int) -> int:
        d = self.d
        await RisingEdge(d.clk)
        d.s_axi_control_araddr.value = addr
        d.s_axi_control_arvalid.value = 1
        await self._wait("s_axi_control_arready")
        await RisingEdge(d.clk)
        d.s_axi_control_arvalid.value = 0
        d.s_axi_control_rready.value = 1
        await self._wait("s_axi_control_rvalid")
        data, resp = int(d.s_axi_control_rdata.value), int(d.s_axi_control_rresp.value)
        await RisingEdge(d.clk)
        d.s_axi_control_rready.value = 0
        assert resp == 0, f"AXI-Lite read of 0x{addr:02x}: response {resp}"
        return data


def _probes(dut, n: int) -> list[int]:
    try:
        arr = dut.u_engine.u_ctrl.probe_start
        return [int(arr[i].value) for i in range(n)]
    except (AttributeError, IndexError, ValueError):
        return []


@cocotb.test()
async def overlay_end_to_end(dut):
    quiet_loggers()
    vec = load_vectors()
    rng = random.Random(int(vec.get("seed", 0)))
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start())
    for sig, v in (("s_axis_pixels_tvalid", 0), ("m_axis_results_tready", 0), ("ddr_pause_ar", vec.get("pause_ar", 0)),
                   ("ddr_pause_r", vec.get("pause_r", 0)), ("ddr_err_en", 0), ("ddr_err_addr", 0)):
        getattr(dut, sig).value = int(v)
    dut.rst_n.value = 0
    for _ in range(5):
        await RisingEdge(dut.clk)
    dut.rst_n.value = 1
    await RisingEdge(dut.clk)
    host = _AxiLite(dut)
    base = int(vec["base"])
    await host.write(REG_BASE_LO, base & 0xFFFFFFFF)
    await host.write(REG_BASE_HI, base >> 32)
    nc, stages = int(vec["num_classes"]), int(vec["stages"])
    n_instr = int(vec.get("instructions", 0))
    per: list[dict] = []
    results_path = os.environ.get(RESULTS_ENV)
    cocotb.start_soon(report_cycles())
    try:
        for idx, pixels in enumerate(vec["images"]):
            served0 = int(dut.ddr_served_bytes.value)
            t0 = _cycle()
            await host.write(REG_CTRL, 1)
            deadline = t0 + int(vec["max_cycles"])
            sender = cocotb.start_soon(_send_pixels(dut, pixels, rng, float(vec.get("idle", 0.0))))
            words = await _receive(dut, nc + stages, rng, float(vec.get("stall", 0.0)), deadline)
            await sender
            t1 = _cycle()
            status = await host.read(REG_STATUS)
            engine_cycles = await host.read(REG_CYCLES)
            logits = [_signed(w, 32) for w in words[:nc]]
            kept = [int(w) for w in words[nc:]]
            starts = _probes(dut, n_instr)
            per.append({
                "index": idx, "cycles": t1 - t0, "engine_cycles": int(engine_cycles),
                "logits": logits, "kept": kept, "expected_kept": vec["kept"][idx],
                "logits_equal": logits == vec["logits"][idx], "kept_equal": kept == vec["kept"][idx],
                "load_error": bool(int(status) & 1), "ddr_bytes": int(dut.ddr_served_bytes.value) - served0,
                "instruction_starts": starts,
            })
            report_progress(idx + 1)
    finally:
        if results_path:
            with open(results_path, "w") as fh:
                json.dump({"images": per}, fh)
    bad = [r["index"] for r in per if not (r["logits_equal"] and r["kept_equal"])]
    assert not bad, f"images {bad} differ from the reference"
