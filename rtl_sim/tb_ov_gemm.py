"""cocotb testbench of the overlay GEMM unit ``spvit_ov_gemm`` and its DSP element ``spvit_ov_dsp``.

Vectors: ``spvit_fpga/rtl/vectors/ov_gemm.py`` (through the runner's JSON file).  The buffers are
modelled here, one cycle at a time: the act / W / XB read ports return the word ``RD_LAT = 2``
cycles after ``rd_en`` (read before the same cycle's writes), the AM / XB / result write ports
are applied with their lane enables to Python images, and the param stream is a driver that
offers the instruction's blob beats (then a few foreign beats that must stay unread) with random
idle cycles.  After ``done`` every image must equal the expected one word for word (so a write
outside the instruction's lanes or words fails too), every blob beat must have been popped and
nothing more, ``busy`` must have been high from the cycle after ``start`` to ``done``, and with
an idle-free stream the cycle count must equal the header's formula
(``ov_gemm.gemm_cycles``).  All instructions of a run go through one unit back to back.

Tests: ``ov_gemm_exact_with_stalls`` (random stream stalls), ``ov_gemm_cycles_no_stall``,
``ov_dsp_element`` (the packed multiply against Python on random and extreme triples; top
``spvit_ov_dsp``).
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


async def run_instruction(dut, case: Dict[str, Any], prm: Dict[str, int], *, stall: float,
                          rng: random.Random) -> int:
    """Run one instruction; returns the cycle of ``done`` counted from ``start`` (cycle 0)."""
    L, xw = prm["L"], prm["X_W"]
    clk = dut.clk
    act: List[int] = case["act"]
    wimg: Optional[List[int]] = case["w"]
    am = list(case["am_init"]) if case["am_init"] is not None else None
    xb = list(case["xb_init"]) if case["xb_init"] is not None else None
    rs = list(case["res_init"]) if case["res_init"] is not None else None
    blob: List[int] = case["beats"]
    beats = blob + [rng.getrandbits(prm["SB"] * 8) for _ in range(3)]  # foreign beats stay unread
    stale = int.from_bytes(bytes([0x5A] * L), "little")

    def rd(img: Optional[List[int]], addr: int, default: int) -> int:
        return img[addr] if img is not None and 0 <= addr < len(img) else default

    def wr(img: Optional[List[int]], name: str, addr: int, data: int, be: int, width: int) -> None:
        assert img is not None, f"{case['name']}: unexpected write on {name}"
        assert 0 <= addr < len(img), f"{case['name']}: {name} write outside the image (word {addr})"
        img[addr] = _merge(img[addr], data, be, width, L)

    act_rd_en, act_rd_addr, act_rd_data = dut.act_rd_en, dut.act_rd_addr, dut.act_rd_data
    w_rd_en, w_rd_addr, w_rd_data = dut.w_rd_en, dut.w_rd_addr, dut.w_rd_data
    xb_rd_en, xb_rd_addr, xb_rd_data = dut.xb_rd_en, dut.xb_rd_addr, dut.xb_rd_data
    ps_tdata, ps_tvalid, ps_tready = dut.ps_tdata, dut.ps_tvalid, dut.ps_tready

    await RisingEdge(clk)
    for k, v in case["cfg"].items():
        getattr(dut, k).value = v
    dut.start.value = 1
    cyc = 0
    pend: Dict[int, list] = {}
    bi = 0
    offering = False
    budget = 40 * case["cycles"] + 4000
    done_at = None
    while True:
        for h, v in pend.pop(cyc, ()):
            h.value = v
        if not offering and bi < len(beats) and rng.random() >= stall:
            ps_tdata.value = beats[bi]
            ps_tvalid.value = 1
            offering = True
        await ReadOnly()
        if int(act_rd_en.value):
            pend.setdefault(cyc + RD_LAT, []).append((act_rd_data, rd(act, int(act_rd_addr.value), stale)))
        if int(w_rd_en.value):
            pend.setdefault(cyc + RD_LAT, []).append((w_rd_data, rd(wimg, int(w_rd_addr.value), stale)))
        if int(xb_rd_en.value):
            pend.setdefault(cyc + RD_LAT, []).append((xb_rd_data, rd(xb, int(xb_rd_addr.value), 0)))
        if int(dut.am_wr_en.value):
            wr(am, "AM", int(dut.am_wr_addr.value), int(dut.am_wr_data.value), int(dut.am_wr_be.value), 8)
        if int(dut.xb_wr_en.value):
            wr(xb, "XB", int(dut.xb_wr_addr.value), int(dut.xb_wr_data.value), int(dut.xb_wr_be.value), xw)
        if int(dut.res_wr_en.value):
            wr(rs, "result", int(dut.res_wr_addr.value), int(dut.res_wr_data.value), int(dut.res_wr_be.value), 32)
        if offering and int(ps_tready.value):
            bi += 1
            offering = False
        if cyc >= 1 and done_at is None:
            assert int(dut.busy.value) == 1, f"{case['name']}: busy low in cycle {cyc} before done"
        if int(dut.done.value):
            assert done_at is None, f"{case['name']}: done pulsed twice (cycles {done_at}, {cyc})"
            done_at = cyc
        if done_at is not None and cyc >= done_at + 4:
            break
        assert cyc < budget, (f"{case['name']}: no done within {budget} cycles "
                              f"({bi}/{len(blob)} beats popped)")
        await RisingEdge(clk)
        cyc += 1
        if cyc == 1:
            dut.start.value = 0
        if not offering:
            ps_tvalid.value = 0
    await RisingEdge(clk)
    ps_tvalid.value = 0
    assert int(dut.busy.value) == 0, f"{case['name']}: busy still high after done"
    assert bi == len(blob), f"{case['name']}: {bi} stream beats popped, the blob has {len(blob)}"
    if case["am_final"] is not None:
        _compare(f"{case['name']} AM", am, case["am_final"], 8, L)
    if case["xb_final"] is not None:
        _compare(f"{case['name']} XB", xb, case["xb_final"], xw, L)
    if case["res_final"] is not None:
        _compare(f"{case['name']} result", rs, case["res_final"], 32, L)
    return done_at


async def _setup(dut) -> Dict[str, Any]:
    quiet_loggers()
    vec = load_vectors()
    dut.start.value = 0
    dut.ps_tvalid.value = 0
    dut.ps_tdata.value = 0
    await start_clock_and_reset(dut)
    return vec


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def ov_gemm_exact_with_stalls(dut):
    vec = await _setup(dut)
    rng = random.Random(vec.get("seed", 1))
    for case in vec["cases"]:
        got = await run_instruction(dut, case, vec["params"], stall=vec.get("stall", 0.3), rng=rng)
        assert got >= case["cycles"], f"{case['name']}: {got} cycles with stalls, below the stall-free {case['cycles']}"


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def ov_gemm_cycles_no_stall(dut):
    vec = await _setup(dut)
    rng = random.Random(7)
    report = []
    for case in vec["cases"]:
        got = await run_instruction(dut, case, vec["params"], stall=0.0, rng=rng)
        report.append(f"{case['name']}: {got} (formula {case['cycles']})")
        assert got == case["cycles"], f"{case['name']}: {got} cycles, the header formula gives {case['cycles']}"
    dut._log.warning("cycles: %s", "; ".join(report))


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
