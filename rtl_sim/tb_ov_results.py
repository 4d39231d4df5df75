"""cocotb bench of spvit_ov_results (result RAM + kept counts -> 32-bit result words).

Vectors (spvit_fpga.rtl.vectors.ov_io.results_vectors): per frame the result RAM's words (junk in
the lanes past NC), the kept counts and the expected words with tlast.  The bench models the
result RAM (res_rd_data = the word read two cycles earlier, random junk otherwise) and takes the
output with random back-pressure.

* ``frames_backpressure``: the frames one after the other, tready low 40 % of the cycles, `kept`
  changed to junk right after start (it must have been sampled): words and tlast exact, one done
  per frame, no word after the last.
* ``full_rate_cycles``: tready high: the first word at edge s+5, one word a cycle, done after edge
  s + NC + S + 4.
"""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from rtl_sim.streams import UnitControl, load_vectors, quiet_loggers, start_clock_and_reset


class Bench(UnitControl):
    def __init__(self, dut, vec, stall=0.0, seed=0):
        self.dut = dut
        self.p = vec["params"]
        self.rng = random.Random(seed)
        self.stall = stall
        self.ram = []
        self.pipe = {}
        self.cycle = 0
        self.words = []           # (edge, data, last)
        self._init_control()
        dut.start.value = 0
        dut.kept.value = 0
        dut.m_axis_results_tready.value = 0
        cocotb.start_soon(self._run())

    async def _run(self):
        d = self.dut
        width = self.p["L"] * self.p["LOGIT_W"]
        while True:
            await RisingEdge(d.clk)
            self.cycle += 1
            n = self.cycle
            d.res_rd_data.value = self.pipe.pop(n, None) if n in self.pipe else self.rng.getrandbits(width)
            d.m_axis_results_tready.value = 0 if self.rng.random() < self.stall else 1
            await ReadOnly()
            if int(d.res_rd_en.value):
                a = int(d.res_rd_addr.value)
                assert a < len(self.ram), f"read of result-RAM word {a}"
                self.pipe[n + 2] = self.ram[a]
            if int(d.m_axis_results_tvalid.value) and int(d.m_axis_results_tready.value):
                self.words.append((n + 1, int(d.m_axis_results_tdata.value), int(d.m_axis_results_tlast.value)))
            self._control(n)

    async def start(self, frame):
        self.ram = frame["ram"]  # the previous frame is done: no read of it is in flight
        await self.pulse_start(kept=frame["kept"])
        self.dut.kept.value = self.rng.getrandbits(len(self.dut.kept))  # kept must have been sampled

    def _progress(self):
        return f"{len(self.words)} words"

    def check(self, frame, w0):
        got = [[w, last] for _, w, last in self.words[w0:]]
        want = frame["words"]
        assert len(got) == len(want), f"{len(got)} words, expected {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert g == w, f"word {i}: (data, tlast) {g[0]:#x}, {g[1]}; expected {w[0]:#x}, {w[1]}"


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def frames_backpressure(dut):
    quiet_loggers()
    vec = load_vectors()
    b = Bench(dut, vec, stall=0.4, seed=6)
    await start_clock_and_reset(dut)
    for frame in vec["frames"]:
        w0 = len(b.words)
        await b.start(frame)
        await b.wait_done(20 * len(frame["words"]) + 100)
        b.check(frame, w0)
    for _ in range(10):
        await RisingEdge(dut.clk)
    assert len(b.words) == sum(len(f["words"]) for f in vec["frames"]), "words after the last frame"
    assert len(b.dones) == len(vec["frames"]) and int(dut.busy.value) == 0


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def full_rate_cycles(dut):
    quiet_loggers()
    vec = load_vectors()
    p = vec["params"]
    b = Bench(dut, vec)
    await start_clock_and_reset(dut)
    for frame in vec["frames"]:
        w0 = len(b.words)
        await b.start(frame)
        d = await b.wait_done(20 * len(frame["words"]) + 100)
        s = b.starts[-1]
        b.check(frame, w0)
        nw = p["NC"] + p["S"]
        edges = [e for e, *_ in b.words[w0:]]
        dut._log.warning("ov_results NC=%d S=%d L=%d: first word at s+%d, start->done %d cycles",
                         p["NC"], p["S"], p["L"], edges[0] - s, d - s)
        assert edges == list(range(s + 5, s + 5 + nw)), f"words at edges {[e - s for e in edges]} after start"
        assert d - s == nw + 4, f"start->done {d - s} edges, formula NC + S + 4 = {nw + 4}"
