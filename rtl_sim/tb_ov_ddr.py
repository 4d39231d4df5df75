"""cocotb bench of spvit_ov_ddr_model behind spvit_ov_fetch (harness spvit_ov_fetch_sim).

Vectors (spvit_fpga.rtl.vectors.ov_io.ddr_vectors): one layout.ParamStream's DDR image stored twice
in the model's file (at a page-aligned and at a non-aligned offset from BASE), each load with its
stream bytes and burst plan.  The harness' mon_* outputs give every AR and R handshake of every
port; a monitor samples them each cycle with the param stream (random ps_tready) and the model's
served-bytes counter.

* ``latency_caps_formula``: no pauses, ps_tready high.  Every burst's first R handshake is at least
  LATENCY edges after its AR handshake (exactly LATENCY for each port's first burst); a port moves
  at most one beat a cycle; in every window of W edges all ports together move at most
  BUDGET*W + one bucket (max(NP*PB, BUDGET)) bytes, and over the load they average
  min(NP*PB, BUDGET) within 2 %; when the budget does not bind, each port delivers a beat every
  cycle and the fetch takes exactly LATENCY + beats + 5 edges from start to done; served_bytes
  grows by NP*PB*beats; file_bytes is the file's size.
* ``random_pauses``: 30 % AR and R pauses in the model, random ps_tready, both loads: the stream is
  exact, the burst plan exact, rready never low under rvalid, several bursts in flight.
* ``slverr``: err_en on one beat's address sets the fetch's error (the data is still right); the
  next load clears it.
"""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from rtl_sim.streams import UnitControl, load_vectors, quiet_loggers, start_clock_and_reset


class Bench(UnitControl):
    def __init__(self, dut, vec, stall=0.0, seed=0):
        self.dut = dut
        self.vec = vec
        self.p = vec["params"]
        self.np = self.p["NP"]
        self.pb = self.p["PB"]
        self.rng = random.Random(seed)
        self.stall = stall
        self.cycle = 0
        self.ars = [[] for _ in range(self.np)]   # (edge, addr, beats, size, burst, cache)
        self.rs = [[] for _ in range(self.np)]    # (edge, last, resp)
        self.r_stalls = 0
        self.inflight = [0] * self.np
        self.max_inflight = [0] * self.np
        self.beats = []                           # (edge, bytes)
        self._init_control()
        for n in ("start", "ps_tready", "pause_ar", "pause_r", "err_en", "err_addr"):
            getattr(dut, n).value = 0
        cocotb.start_soon(self._monitor())

    async def _monitor(self):
        d = self.dut
        sb = self.np * self.pb
        aw = 40
        while True:
            await RisingEdge(d.clk)
            d.ps_tready.value = 0 if self.rng.random() < self.stall else 1
            await ReadOnly()
            self.cycle += 1
            e = self.cycle + 1                    # a handshake seen now happens at the next edge
            arf, rf = int(d.mon_ar_fire.value), int(d.mon_r_fire.value)
            if arf:
                addr, alen = int(d.mon_araddr.value), int(d.mon_arlen.value)
                size, burst, cache = int(d.mon_arsize.value), int(d.mon_arburst.value), int(d.mon_arcache.value)
                for i in range(self.np):
                    if arf >> i & 1:
                        self.ars[i].append((e, addr >> (i * aw) & ((1 << aw) - 1), (alen >> (8 * i) & 255) + 1,
                                            size >> (3 * i) & 7, burst >> (2 * i) & 3, cache >> (4 * i) & 15))
                        self.inflight[i] += 1
                        self.max_inflight[i] = max(self.max_inflight[i], self.inflight[i])
            if rf:
                last, resp = int(d.mon_rlast.value), int(d.mon_rresp.value)
                for i in range(self.np):
                    if rf >> i & 1:
                        self.rs[i].append((e, last >> i & 1, resp >> (2 * i) & 3))
                        self.inflight[i] -= last >> i & 1
            if int(d.mon_r_stall.value):
                self.r_stalls += 1
            if int(d.ps_tvalid.value) and int(d.ps_tready.value):
                self.beats.append((e, int(d.ps_tdata.value).to_bytes(sb, "little")))
            self._control(self.cycle)

    async def start(self, ld):
        await self.pulse_start(base=ld["base"], region_bytes=ld["region"], beats=ld["beats"])

    def _progress(self):
        return (f"{len(self.beats)} beats, {[len(a) for a in self.ars]} bursts, "
                f"{[len(r) for r in self.rs]} R beats")

    def marks(self):
        return [len(a) for a in self.ars], [len(r) for r in self.rs], len(self.beats)

    def check(self, ld, marks):
        a0, _, b0 = marks
        want = bytes.fromhex(ld["stream"])
        got = b"".join(b for _, b in self.beats[b0:])
        sb = self.np * self.pb
        assert len(got) == len(want), f"{len(got) // sb} stream beats, expected {len(want) // sb}"
        if got != want:
            k = next(i for i in range(len(want)) if got[i] != want[i])
            raise AssertionError(f"stream byte {k} (beat {k // sb}, port {(k % sb) // self.pb}): "
                                 f"{got[k]:#x}, expected {want[k]:#x}")
        lb = self.pb.bit_length() - 1
        for i in range(self.np):
            ars = self.ars[i][a0[i]:]
            for _, addr, n, size, burst, cache in ars:
                assert 1 <= n <= self.p["MAX_BURST"] and addr % 4096 + n * self.pb <= 4096, \
                    f"port {i}: burst at {addr:#x} of {n} beats"
                assert (size, burst, cache) == (lb, 1, 3), f"port {i}: arsize {size} arburst {burst} arcache {cache}"
            got_plan = [(addr, n) for _, addr, n, *_ in ars]
            assert got_plan == [tuple(x) for x in ld["bursts"][i]], f"port {i} bursts {got_plan}"
        assert self.r_stalls == 0, f"rready was low under rvalid in {self.r_stalls} cycles"


def _budget(p):
    return p["BUDGET_NUM"] / p["BUDGET_DEN"]


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def latency_caps_formula(dut):
    quiet_loggers()
    vec = load_vectors()
    p = vec["params"]
    b = Bench(dut, vec)
    await start_clock_and_reset(dut)
    assert int(dut.file_bytes.value) == vec["file_bytes"], "file_bytes is not the file's size"
    ld = vec["loads"][1]
    m = b.marks()
    served0 = int(dut.served_bytes.value)
    await b.start(ld)
    d = await b.wait_done(40 * ld["beats"] + 2000)
    s = b.starts[-1]
    b.check(ld, m)
    assert int(dut.error.value) == 0
    lat, np_, pb = p["LATENCY"], b.np, b.pb
    # latency: each burst's first R handshake vs its AR handshake
    for i in range(np_):
        ars, rs = b.ars[i][m[0][i]:], b.rs[i][m[1][i]:]
        firsts = [rs[0][0]] + [rs[k + 1][0] for k in range(len(rs) - 1) if rs[k][1]]
        assert len(firsts) == len(ars)
        waits = [f - a[0] for f, a in zip(firsts, ars)]
        assert min(waits) >= lat, f"port {i}: a burst's first beat {min(waits)} edges after its AR"
        assert waits[0] == lat, f"port {i}: first burst's first beat {waits[0]} edges after its AR, expected {lat}"
    # caps: bytes per edge over all ports
    edges = [e for i in range(np_) for e, *_ in b.rs[i][m[1][i]:]]
    lo, hi = min(edges), max(edges)
    per = [0] * (hi - lo + 1)
    for e in edges:
        per[e - lo] += pb
    per_port = [len(b.rs[i][m[1][i]:]) for i in range(np_)]
    budget = _budget(p)
    bucket = max(np_ * pb, budget)
    for w in (1, 10, 100):
        worst = max(sum(per[k:k + w]) for k in range(len(per) - w + 1))
        assert worst <= budget * w + bucket, f"{worst} bytes in {w} edges: budget {budget}/cycle"
    rate = sum(per) / len(per)
    cap = min(np_ * pb, budget)
    assert 0.98 * cap <= rate <= cap + bucket / len(per), f"{rate:.2f} B/cycle, cap {cap}"
    served = int(dut.served_bytes.value) - served0
    assert served == np_ * pb * ld["beats"], f"served_bytes grew by {served}"
    dut._log.warning("ov_ddr: NP=%d PB=%d budget %.1f B/cycle latency %d: %d beats in %d edges start->done, "
                     "R at %.2f B/cycle over all ports, per port %s beats, most bursts in flight %s",
                     np_, pb, budget, lat, ld["beats"], d - s, rate, per_port, b.max_inflight)
    if budget >= np_ * pb:
        for i in range(np_):
            rs = [e for e, *_ in b.rs[i][m[1][i]:]]
            assert rs == list(range(rs[0], rs[0] + len(rs))), f"port {i}: gaps in its R beats"
        assert d - s == lat + ld["beats"] + 5, f"start->done {d - s} edges, formula {lat + ld['beats'] + 5}"


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def random_pauses(dut):
    quiet_loggers()
    vec = load_vectors()
    b = Bench(dut, vec, stall=0.3, seed=4)
    dut.pause_ar.value = 30
    dut.pause_r.value = 30
    await start_clock_and_reset(dut)
    for ld in vec["loads"]:
        m = b.marks()
        await b.start(ld)
        await b.wait_done(40 * ld["beats"] + 2000)
        assert int(dut.error.value) == 0
        b.check(ld, m)
    assert max(b.max_inflight) >= 2, f"bursts in flight at most {b.max_inflight}"


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def slverr(dut):
    quiet_loggers()
    vec = load_vectors()
    b = Bench(dut, vec, stall=0.1, seed=8)
    await start_clock_and_reset(dut)
    err = vec["error"]
    ld = vec["loads"][err["load"]]
    dut.err_en.value = 1
    dut.err_addr.value = err["addr"]
    m = b.marks()
    await b.start(ld)
    await b.wait_done(40 * ld["beats"] + 2000)
    assert int(dut.error.value) == 1, "SLVERR beat did not set error"
    bad = [(i, e) for i in range(b.np) for e, _, resp in b.rs[i][m[1][i]:] if resp]
    assert len(bad) == 1, f"{len(bad)} R beats with an error response"
    b.check(ld, m)
    ld = vec["loads"][1]
    m = b.marks()
    await b.start(ld)
    dut.err_en.value = 0        # after start's edge (two NextTimeSteps in a row could land on an edge)
    await ReadOnly()
    assert int(dut.error.value) == 0, "start did not clear error"
    await b.wait_done(40 * ld["beats"] + 2000)
    assert int(dut.error.value) == 0
    b.check(ld, m)
