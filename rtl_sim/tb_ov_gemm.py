"""cocotb testbench of the overlay GEMM unit ``spvit_ov_gemm`` and its DSP element ``spvit_ov_dsp``.

Vectors: ``spvit_fpga/rtl/vectors/ov_gemm.py`` (through the runner's JSON file): a list of GEMM
instructions, each with its configuration, the images of the buffers it reads and writes
before and after, its param-stream blob and its stall-free cycle count.

:class:`Bench` models everything around the unit, one wake-up a clock cycle: the act / W / XB
read ports return the word ``RD_LAT = 2`` cycles after ``rd_en`` (read before the same cycle's
writes; stale data outside the images), the AM / XB / result write ports are applied with their
lane enables, the param stream offers the blobs of all instructions back to back (then foreign
beats that must stay unread) with random idle cycles, and the controller holds ``start`` with
the next instruction while there is one, so each instruction is taken in its predecessor's done
cycle.  After the program every image must equal the expected one word for word (a write
outside the instruction's lanes or words fails too), each instruction must have popped exactly
its blob, ``busy`` must be high from the cycle after the start to the cycle before ``done`` and
``done`` a single pulse; with an idle-free stream each instruction's cycles (take to done) must
equal the header's formula (``ov_gemm.gemm_cycles``).

Tests: ``ov_gemm_exact_with_stalls``, ``ov_gemm_cycles_no_stall`` (top ``spvit_ov_gemm``);
``ov_dsp_element`` (top ``spvit_ov_dsp``: the packed multiply against Python on random and
extreme triples).
"""
from __future__ import annotations

import random
from typing import Any, Dict, List, Optional

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from rtl_sim.streams import CLOCK_NS, load_vectors, quiet_loggers, start_clock_and_reset

RD_LAT = 2


def _lanes(word: int, width: int, count: int) -> List[int]:
    m = (1 << width) - 1
    return [(word >> (i * width)) & m for i in range(count)]


def _merge(old: int, new: int, be: int, width: int, count: int) -> int:
    m = (1 << width) - 1
    out = old
    for i in range(count):
        if (be >> i) & 1:
            out = (out & ~(m << (i * width))) | (new & (m << (i * width)))
    return out


def _compare(name: str, got: List[int], want: List[int], width: int, lanes: int) -> None:
    assert len(got) == len(want), f"{name}: image of {len(got)} words, want {len(want)}"
    for a, (g, w) in enumerate(zip(got, want)):
        if g != w:
            gl, wl = _lanes(g, width, lanes), _lanes(w, width, lanes)
            bad = [i for i in range(lanes) if gl[i] != wl[i]]
            raise AssertionError(f"{name}: mismatch at word {a}, lanes {bad}: got {gl}, want {wl}")


class Bench:
    """One coroutine a clock cycle models the buffers, the param stream and the controller.

    The controller holds ``start`` with the next instruction's ``cfg_*`` while there is one; the
    unit takes it in a cycle where ``busy`` is low (so an instruction queued behind another is
    taken in its predecessor's ``done`` cycle).  From the cycle after that, reads and writes go
    to the taken instruction's buffer images.  Requests and transfers are sampled in the
    ReadOnly phase of their cycle; read data is driven ``RD_LAT`` cycles later."""

    def __init__(self, dut, prm: Dict[str, int], *, stall: float, seed: int) -> None:
        self.dut, self.prm, self.stall = dut, prm, stall
        self.rng = random.Random(seed)
        self.L, self.xw = prm["L"], prm["X_W"]
        self.cycle = 0
        self.queue: List[Dict[str, Any]] = []
        self.cur: Optional[Dict[str, Any]] = None
        self.beats: List[int] = []
        self.bi = 0
        self.offering = False
        self.pend: Dict[int, list] = {}
        self.log: List[Dict[str, Any]] = []  # per taken instruction: case, take cycle, pops, done
        self.busy: List[int] = []
        self.dones: List[int] = []
        self.stale = int.from_bytes(bytes([0x5A] * self.L), "little")
        dut.start.value = 0
        dut.ps_tvalid.value = 0
        cocotb.start_soon(self._run())

    def _rd(self, key: str, addr: int, default: int) -> int:
        img = self.cur[key] if self.cur is not None else None
        return img[addr] if img is not None and 0 <= addr < len(img) else default

    def _wr(self, key: str, addr: int, data: int, be: int, width: int) -> None:
        name = self.cur["case"]["name"] if self.cur else "?"
        img = self.cur[key] if self.cur is not None else None
        assert img is not None, f"{name}: unexpected write on the {key} port (cycle {self.cycle})"
        assert 0 <= addr < len(img), f"{name}: {key} write outside the image (word {addr})"
        img[addr] = _merge(img[addr], data, be, width, self.L)

    async def _run(self) -> None:
        dut = self.dut
        act_rd_en, act_rd_addr, act_rd_data = dut.act_rd_en, dut.act_rd_addr, dut.act_rd_data
        w_rd_en, w_rd_addr, w_rd_data = dut.w_rd_en, dut.w_rd_addr, dut.w_rd_data
        xb_rd_en, xb_rd_addr, xb_rd_data = dut.xb_rd_en, dut.xb_rd_addr, dut.xb_rd_data
        ps_tdata, ps_tvalid, ps_tready = dut.ps_tdata, dut.ps_tvalid, dut.ps_tready
        while True:
            await RisingEdge(dut.clk)
            self.cycle += 1
            for h, v in self.pend.pop(self.cycle, ()):
                h.value = v
            if self.queue:
                for k, v in self.queue[0]["cfg"].items():
                    getattr(dut, k).value = v
                dut.start.value = 1
            else:
                dut.start.value = 0
            if not self.offering and self.bi < len(self.beats) and (self.stall == 0.0 or self.rng.random() >= self.stall):
                ps_tdata.value = self.beats[self.bi]
                self.offering = True
            ps_tvalid.value = 1 if self.offering else 0
            await ReadOnly()
            due = self.cycle + RD_LAT
            if int(act_rd_en.value):
                self.pend.setdefault(due, []).append((act_rd_data, self._rd("act", int(act_rd_addr.value), self.stale)))
            if int(w_rd_en.value):
                self.pend.setdefault(due, []).append((w_rd_data, self._rd("w", int(w_rd_addr.value), self.stale)))
            if int(xb_rd_en.value):
                self.pend.setdefault(due, []).append((xb_rd_data, self._rd("xb", int(xb_rd_addr.value), 0)))
            if int(dut.am_wr_en.value):
                self._wr("am", int(dut.am_wr_addr.value), int(dut.am_wr_data.value), int(dut.am_wr_be.value), 8)
            if int(dut.xb_wr_en.value):
                self._wr("xb", int(dut.xb_wr_addr.value), int(dut.xb_wr_data.value), int(dut.xb_wr_be.value), self.xw)
            if int(dut.res_wr_en.value):
                self._wr("res", int(dut.res_wr_addr.value), int(dut.res_wr_data.value), int(dut.res_wr_be.value), 32)
            busy = int(dut.busy.value)
            self.busy.append(busy)
            if int(dut.done.value):
                self.dones.append(self.cycle)
            if self.queue and not busy:  # taken at this edge
                case = self.queue.pop(0)
                self.cur = {"case": case, "act": case["act"], "w": case["w"],
                            "am": list(case["am_init"]) if case["am_init"] is not None else None,
                            "xb": list(case["xb_init"]) if case["xb_init"] is not None else None,
                            "res": list(case["res_init"]) if case["res_init"] is not None else None}
                self.log.append({"images": self.cur, "take": self.cycle, "pops": self.bi})
            if self.offering and int(ps_tready.value):
                self.bi += 1
                self.offering = False

    async def run_program(self, cases: List[Dict[str, Any]], sentinels: int = 3) -> List[int]:
        """Run ``cases`` back to back (blobs contiguous on the stream, then foreign beats that
        must stay unread); check every image, pop count and the handshake; return the cycles of
        each instruction (take cycle to done cycle)."""
        n0, d0 = len(self.log), len(self.dones)
        self.beats = self.beats[:self.bi]
        for c in cases:
            self.beats.extend(c["beats"])
        self.beats.extend(self.rng.getrandbits(self.prm["SB"] * 8) for _ in range(sentinels))
        self.queue.extend(cases)
        budget = sum(40 * c["cycles"] + 400 for c in cases)
        waited = 0
        while len(self.dones) < d0 + len(cases):
            await RisingEdge(self.dut.clk)
            waited += 1
            assert waited < budget, (f"{len(self.dones) - d0} of {len(cases)} instructions done within {budget} "
                                     f"cycles ({self.bi} beats popped)")
        for _ in range(6):  # no further done, no pop of the foreign beats
            await RisingEdge(self.dut.clk)
        log, dones = self.log[n0:], self.dones[d0:]
        assert len(log) == len(cases) and len(dones) == len(cases), (
            f"{len(log)} instructions taken, {len(dones)} done pulses for {len(cases)}")
        cycles = []
        for k, (ent, d) in enumerate(zip(log, dones)):
            case, s = ent["images"]["case"], ent["take"]
            name = case["name"]
            assert s < d, f"{name}: done in cycle {d} before its start {s}"
            if k + 1 < len(log):
                assert log[k + 1]["take"] >= d, f"{name}: the next instruction was taken before done"
            for c in range(s + 1, d):
                assert self.busy[c - 1], f"{name}: busy low in cycle {c} (start {s}, done {d})"
            assert not self.busy[d - 1], f"{name}: busy high in its done cycle"
            popped = (log[k + 1]["pops"] if k + 1 < len(log) else self.bi) - ent["pops"]
            assert popped == len(case["beats"]), f"{name}: {popped} stream beats popped, the blob has {len(case['beats'])}"
            img = ent["images"]
            if case["am_final"] is not None:
                _compare(f"{name} AM", img["am"], case["am_final"], 8, self.L)
            if case["xb_final"] is not None:
                _compare(f"{name} XB", img["xb"], case["xb_final"], self.xw, self.L)
            if case["res_final"] is not None:
                _compare(f"{name} result", img["res"], case["res_final"], 32, self.L)
            cycles.append(d - s)
        return cycles


async def _bench(dut, stall: Optional[float], seed: int) -> tuple:
    quiet_loggers()
    vec = load_vectors()
    stall = vec.get("stall", 0.3) if stall is None else stall
    dut.start.value = 0
    dut.ps_tvalid.value = 0
    dut.ps_tdata.value = 0
    await start_clock_and_reset(dut)
    return vec, Bench(dut, vec["params"], stall=stall, seed=seed)


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def ov_gemm_exact_with_stalls(dut):
    """The cases back to back with random param-stream stalls: exact images, pops, handshake."""
    vec, bench = await _bench(dut, None, 11)
    cycles = await bench.run_program(vec["cases"])
    for case, got in zip(vec["cases"], cycles):
        assert got >= case["cycles"], f"{case['name']}: {got} cycles with stalls, below the stall-free {case['cycles']}"


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def ov_gemm_cycles_no_stall(dut):
    """The cases back to back, stream never empty: each instruction's cycles equal the formula."""
    vec, bench = await _bench(dut, 0.0, 12)
    cycles = await bench.run_program(vec["cases"])
    report = [f"{c['name']}: {g} (formula {c['cycles']})" for c, g in zip(vec["cases"], cycles)]
    dut._log.warning("cycles: %s", "; ".join(report))
    for case, got in zip(vec["cases"], cycles):
        assert got == case["cycles"], f"{case['name']}: {got} cycles, the header formula gives {case['cycles']}"


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def ov_dsp_element(dut):
    """spvit_ov_dsp: a new (A, B) pair every cycle (A loaded with ce_a), lo / hi three cycles
    later equal x * w1 and x * w2 (PACK = 2) or x * w (PACK = 1)."""
    quiet_loggers()
    vec = load_vectors()
    triples = vec["triples"]  # [a_bits, x, lo, hi]
    pw = 18
    clk = dut.clk
    cocotb.start_soon(Clock(clk, CLOCK_NS, unit="ns").start())  # the element has no reset
    got = []
    for t in range(len(triples) + 3):
        await RisingEdge(clk)
        if t < len(triples):
            a_bits, x = triples[t][0], triples[t][1]
            dut.a.value = a_bits
            dut.b.value = x & 0x1FF
            dut.ce_a.value = 1
        else:
            dut.ce_a.value = 0
        await ReadOnly()
        if t >= 3:
            lo = int(dut.lo.value) & ((1 << pw) - 1)
            hi = int(dut.hi.value) & ((1 << pw) - 1)
            lo -= (1 << pw) if lo >> (pw - 1) else 0
            hi -= (1 << pw) if hi >> (pw - 1) else 0
            got.append((lo, hi))
    for i, (tr, (lo, hi)) in enumerate(zip(triples, got)):
        assert (lo, hi) == (tr[2], tr[3]), f"triple {i} (A {tr[0]:#x}, x {tr[1]}): got ({lo}, {hi}), want ({tr[2]}, {tr[3]})"
