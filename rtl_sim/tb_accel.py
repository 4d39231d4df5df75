"""End-to-end cocotb testbench of a generated dataflow design (``generate --rtl``, top ``spvit_accel``).

The weight image ``rtl/weights.bin`` sits in a cocotbext-axi AXI RAM model at a non-zero base; the
test pulses ``load_start`` and waits for ``weights_loaded``.  Then, image by image, the pixels go in
on ``s_axis_pixels`` (random idle cycles) and the result words are taken from ``m_axis_results``
(random back-pressure): the logits and the kept patch-token count of every selector stage are
compared exactly with the golden reference's (``tb/vectors`` of the design, passed in by
:mod:`spvit_fpga.simulate`).  Cycles per image are counted from the first pixel accepted to the
last result word; with the ``SPVIT_PROBES`` define the design also records, per stream, the cycle of
its latest frame end, from which the per-unit finish times of each image are read.

With ``stream`` the images go in back to back (the dataflow pipeline overlaps them) and
``interval`` is the cycles between consecutive results (the throughput); otherwise each image runs
alone and ``cycles`` is its latency.

Vectors (JSON, ``SPVIT_TB_VECTORS``): ``images`` (pixel lists), ``logits``, ``kept``, ``weights``
(path of weights.bin), ``base`` (byte address), ``num_classes``, ``stages``, ``probes`` (stream
names), ``max_cycles`` (per image), ``idle`` / ``stall`` probabilities, ``stream``.  Results (JSON) are written to
``SPVIT_TB_RESULTS`` before the verdict, so a failing run still reports every image.
"""
from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import ReadOnly, RisingEdge
from cocotbext.axi import AxiRamRead, AxiReadBus

from rtl_sim.streams import CLOCK_NS, load_vectors, quiet_loggers, report_cycles, report_progress, start_clock_and_reset

RESULTS_ENV = "SPVIT_TB_RESULTS"


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


def _cycle() -> int:
    return int(get_sim_time(unit="ns")) // CLOCK_NS


async def _load_weights(dut, vec) -> int:
    data = open(vec["weights"], "rb").read()
    base = int(vec["base"])
    size = 1 << max(12, (base + len(data) - 1).bit_length())
    ram = AxiRamRead(AxiReadBus.from_prefix(dut, "m_axi_gmem"), dut.clk, dut.rst_n, reset_active_level=False, size=size)
    ram.write(base, data)
    dut.weights_base.value = base
    dut.load_start.value = 0
    await RisingEdge(dut.clk)
    t0 = _cycle()
    dut.load_start.value = 1
    await RisingEdge(dut.clk)
    dut.load_start.value = 0
    limit = 4 * (len(data) // 8) + 2000
    while not int(dut.weights_loaded.value):
        await RisingEdge(dut.clk)
        if _cycle() - t0 > limit:
            raise AssertionError(f"weights_loaded not set {limit} cycles after load_start")
    assert not int(dut.load_error.value), "the weight loader saw an AXI error response"
    return _cycle() - t0


async def _send_image(dut, pixels, rng: random.Random, idle: float) -> int:
    """Drive one image; returns the cycle its first pixel was accepted."""
    first = None
    n = len(pixels)
    i = 0
    while i < n:
        if rng.random() < idle:
            dut.s_axis_pixels_tvalid.value = 0
            await RisingEdge(dut.clk)
            continue
        dut.s_axis_pixels_tdata.value = int(pixels[i])
        dut.s_axis_pixels_tlast.value = int(i == n - 1)
        dut.s_axis_pixels_tvalid.value = 1
        await ReadOnly()
        fired = bool(int(dut.s_axis_pixels_tready.value))
        await RisingEdge(dut.clk)
        if fired:
            if first is None:
                first = _cycle() - 1
            i += 1
    dut.s_axis_pixels_tvalid.value = 0
    return first if first is not None else _cycle()


async def _receive(dut, words: int, rng: random.Random, stall: float, deadline: int) -> tuple[list[int], int]:
    """Take ``words`` result words (random back-pressure); (words, cycle of the last)."""
    out: list[int] = []
    dut.m_axis_results_tready.value = 0
    while not int(dut.m_axis_results_tvalid.value):  # wait without waking every cycle
        await RisingEdge(dut.m_axis_results_tvalid)
        await ReadOnly()
        if _cycle() > deadline:
            raise AssertionError("no result before the cycle limit")
    await RisingEdge(dut.clk)
    last_cycle = _cycle()
    while len(out) < words:
        rdy = rng.random() >= stall
        dut.m_axis_results_tready.value = int(rdy)
        await ReadOnly()
        if rdy and int(dut.m_axis_results_tvalid.value):
            out.append(int(dut.m_axis_results_tdata.value))
            tlast = int(dut.m_axis_results_tlast.value)
            if tlast != int(len(out) == words):
                raise AssertionError(f"results tlast={tlast} on word {len(out)} of {words}")
            last_cycle = _cycle()
        await RisingEdge(dut.clk)
        if _cycle() > deadline:
            raise AssertionError(f"only {len(out)} of {words} result words before the cycle limit")
    dut.m_axis_results_tready.value = 0
    return out, last_cycle


async def _send_all(dut, images, rng: random.Random, idle: float, firsts: list) -> None:
    for pixels in images:
        firsts.append(await _send_image(dut, pixels, rng, idle))


@cocotb.test()
async def accel_matches_reference(dut):
    quiet_loggers()
    vec = load_vectors()
    rng = random.Random(int(vec.get("seed", 0)))
    dut.s_axis_pixels_tvalid.value = 0
    dut.m_axis_results_tready.value = 0
    dut.load_start.value = 0
    await start_clock_and_reset(dut)
    cocotb.start_soon(report_cycles())
    load_cycles = await _load_weights(dut, vec)
    nc, stages = int(vec["num_classes"]), int(vec["stages"])
    probes = [p for p in vec.get("probes", []) if hasattr(dut, f"probe_{p}")]
    stream = bool(vec.get("stream", False))
    idle, stall = float(vec.get("idle", 0.1)), float(vec.get("stall", 0.2))
    images = vec["images"]
    results = {"load_cycles": load_cycles, "stream": stream, "images": []}
    firsts: list = []
    ends: list = []
    sender = None
    for idx, (want_logits, want_kept) in enumerate(zip(vec["logits"], vec["kept"])):
        if stream:
            if sender is None:  # every image back to back: the dataflow pipeline overlaps them
                sender = cocotb.start_soon(_send_all(dut, images, rng, idle, firsts))
        else:
            sender = cocotb.start_soon(_send_all(dut, [images[idx]], rng, idle, firsts))
        words, end = await _receive(dut, nc + stages, rng, stall, _cycle() + int(vec["max_cycles"]))
        if not stream:
            await sender
        ends.append(end)
        first = firsts[idx] if idx < len(firsts) else end
        logits = [_signed(w, 32) for w in words[:nc]]
        kept = words[nc:]
        units = {}
        if not stream:  # back to back, later images overwrite the probes while this one finishes
            for p in probes:
                v = int(getattr(dut, f"probe_{p}").value)
                if v >= first:
                    units[p] = v - first
        results["images"].append({
            "index": idx, "cycles": end - first + 1, "interval": end - ends[idx - 1] if idx else end - first + 1,
            "logits": logits, "kept": kept,
            "expected_logits": [int(v) for v in want_logits], "expected_kept": [int(v) for v in want_kept],
            "logits_equal": logits == [int(v) for v in want_logits], "kept_equal": kept == [int(v) for v in want_kept],
            "unit_finish_cycles": units,
        })
        report_progress(idx + 1)
        if not stream:
            for _ in range(3):
                await RisingEdge(dut.clk)
    if sender is not None:
        await sender
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "w") as fh:
            json.dump(results, fh)
    bad = [r for r in results["images"] if not (r["logits_equal"] and r["kept_equal"])]
    assert not bad, (f"{len(bad)} of {len(results['images'])} images differ from the reference; first: image "
                     f"{bad[0]['index']} logits {bad[0]['logits']} vs {bad[0]['expected_logits']}, kept {bad[0]['kept']} "
                     f"vs {bad[0]['expected_kept']}")
