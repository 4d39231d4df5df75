"""cocotb bench of spvit_ov_pixels (pixel AXI-Stream -> patch tensor in an AM bank).

Vectors (spvit_fpga.rtl.vectors.ov_io.pixels_vectors): random images, each with its tensor placement
(base, stride), its stream beats (PIX_BYTES pixels, tkeep, tlast), the expected AM lanes of the
patch tensor (execute.py's reshape) and the unit's write plan (one write per run).  The bench keeps
an AM model: every write (am_wr_en at a clock edge) sets the enabled lanes of its word.

* ``images_random_stalls``: the images one after the other with random idle cycles on the pixel
  stream: every tensor lane written exactly once with the right pixel, no other lane written, the
  writes in the plan's order, one done pulse per image.
* ``full_rate_cycles``: no idle cycles: done after exactly (runs + 3) edges from start, one write a
  cycle, the first beat taken at the edge after start.
"""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from rtl_sim.streams import UnitControl, load_vectors, quiet_loggers, start_clock_and_reset


class Bench(UnitControl):
    def __init__(self, dut, vec, idle=0.0, seed=0):
        self.dut = dut
        self.p = vec["params"]
        self.rng = random.Random(seed)
        self.idle = idle
        self.queue = []
        self.sent = 0
        self.cycle = 0
        self.writes = []          # (edge, addr, be, data)
        self._init_control()
        self.taken = []           # edges of pixel-beat handshakes
        dut.start.value = 0
        dut.s_axis_pixels_tvalid.value = 0
        cocotb.start_soon(self._run())

    async def _run(self):
        d = self.dut
        offered = False
        fired = False
        while True:
            await RisingEdge(d.clk)
            if fired:
                self.queue.pop(0)
                self.sent += 1
                offered = False
            if not offered and self.queue and self.rng.random() >= self.idle:
                data, keep, last = self.queue[0]
                d.s_axis_pixels_tdata.value = data
                d.s_axis_pixels_tkeep.value = keep
                d.s_axis_pixels_tlast.value = last
                offered = True
            d.s_axis_pixels_tvalid.value = int(offered)
            await ReadOnly()
            self.cycle += 1
            e = self.cycle + 1
            fired = offered and bool(int(d.s_axis_pixels_tready.value))
            if fired:
                self.taken.append(e)
            if int(d.am_wr_en.value):
                self.writes.append((e, int(d.am_wr_addr.value), int(d.am_wr_be.value), int(d.am_wr_data.value)))
            self._control(self.cycle)

    async def start(self, img):
        await self.pulse_start(dst_base=img["base"], dst_stride=img["stride"])

    def _progress(self):
        return f"{self.sent} beats taken, {len(self.writes)} writes"

    def check(self, img, w0):
        L = self.p["L"]
        writes = self.writes[w0:]
        plan = [tuple(x) for x in img["plan"]]
        got_plan = [(a, be) for _, a, be, _ in writes]
        if got_plan != plan:
            k = next((i for i, (g, w) in enumerate(zip(got_plan, plan)) if g != w), min(len(got_plan), len(plan)))
            raise AssertionError(f"write {k} of {len(plan)}: got {got_plan[k:k + 3]}, plan {plan[k:k + 3]} "
                                 f"({len(got_plan)} writes)")
        mem, count = {}, {}
        for _, a, be, data in writes:
            for lane in range(L):
                if be >> lane & 1:
                    key = f"{a}:{lane}"
                    mem[key] = data >> (8 * lane) & 255
                    count[key] = count.get(key, 0) + 1
        want = img["mem"]
        extra = sorted(set(mem) - set(want))
        missing = sorted(set(want) - set(mem))
        assert not extra, f"lanes written outside the tensor: {extra[:5]}"
        assert not missing, f"tensor lanes never written: {missing[:5]}"
        twice = [k for k, n in count.items() if n > 1]
        assert not twice, f"lanes written more than once: {twice[:5]}"
        bad = [(k, mem[k], want[k]) for k in want if mem[k] != want[k]]
        assert not bad, f"{len(bad)} wrong lanes, e.g. (word:lane, got, want) {bad[:5]}"


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def images_random_stalls(dut):
    quiet_loggers()
    vec = load_vectors()
    b = Bench(dut, vec, idle=0.3, seed=2)
    await start_clock_and_reset(dut)
    assert int(dut.busy.value) == 0 and int(dut.s_axis_pixels_tready.value) == 0
    for img in vec["images"]:
        b.queue.extend(tuple(x) for x in img["beats"])  # offered before start: tready stays low
        w0, sent0 = len(b.writes), b.sent
        for _ in range(3):
            await RisingEdge(dut.clk)
        assert b.sent == sent0, "a beat was taken before start"
        await b.start(img)
        await b.wait_done(10 * len(img["plan"]) + 200)
        assert not b.queue, f"{len(b.queue)} beats not taken"
        b.check(img, w0)
    for _ in range(10):
        await RisingEdge(dut.clk)
    assert len(b.dones) == len(vec["images"]) and int(dut.busy.value) == 0


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def full_rate_cycles(dut):
    quiet_loggers()
    vec = load_vectors()
    b = Bench(dut, vec)
    await start_clock_and_reset(dut)
    for img in vec["images"]:
        w0, t0 = len(b.writes), len(b.taken)
        b.queue.extend(tuple(x) for x in img["beats"])
        await b.start(img)
        d = await b.wait_done(10 * len(img["plan"]) + 200)
        s = b.starts[-1]
        b.check(img, w0)
        runs = len(img["plan"])
        assert d - s == runs + 3, f"start->done {d - s} edges, formula runs + 3 = {runs + 3}"
        edges = [e for e, *_ in b.writes[w0:]]
        assert edges == list(range(s + 4, s + 4 + runs)), "the writes are not one a cycle from edge s+4"
        assert b.taken[t0] == s + 1, "first beat not taken at the edge after start"
        dut._log.warning("ov_pixels C=%d %dx%d P=%d L=%d: %d beats, %d runs, start->done %d cycles",
                         vec["params"]["C"], vec["params"]["IMG_H"], vec["params"]["IMG_W"], vec["params"]["P"],
                         vec["params"]["L"], len(img["beats"]), runs, d - s)
