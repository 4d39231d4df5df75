"""cocotb testbench of spvit_ov_selector, the overlay engine's selector unit (HEAD_MEAN,
TOKEN_MEAN, CONCAT, SELECT).

Vectors: ``spvit_fpga.rtl.vectors.ov_selector.build_vectors`` (random cases, edge cases and real
stages of the embedded model, expected buffers from intops / the reference).  The bench models the
buffers the unit sees: XB and three AM banks, each a simple-dual-port RAM whose read data appears
exactly two cycles after the read (read-first), written with lane enables; the AM port of each
logical unit port is the bank the unit names (``am_*_bank``).  It drives the param stream with
random idle cycles, starts one instruction at a time and checks, after ``done``:

* every word of every buffer (the expected changes, and nothing else written);
* the SELECT results (kept, new T);
* the cycle count, start to done, equal to the formula (``selector_cycles``) plus the cycles the
  unit waited for a param beat;
* busy from the cycle after start until done, no read or write outside a buffer, and port B never
  enabled when it shares A's bank.

The last test runs a SELECT case again with one flipped bit in one XB read and requires the check
to fail: the bench sees a single-bit error in the data path.
"""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from rtl_sim.streams import Beat, StreamDriver, load_vectors, quiet_loggers, start_clock_and_reset


class Buffers:
    """XB and AM0..AM2 behind the unit's ports, with two-cycle reads."""

    def __init__(self, dut, L: int, x_w: int):
        self.dut, self.L, self.x_w = dut, L, x_w
        self.xb: list[int] = []
        self.am: list[list[int]] = [[], [], []]
        self.cycle = 0
        self.pending = {"xb": [None, None], "a": [None, None], "b": [None, None]}
        self.errors: list[str] = []
        self.inject = None  # (port, read index, bit)
        self.reads = {"xb": 0, "a": 0, "b": 0}
        self.ps_wait = 0  # cycles with ps_tready && !ps_tvalid
        self.busy_low = 0  # cycles between start and done with busy low
        self.window = False
        cocotb.start_soon(self._run())

    def load(self, xb, am) -> None:
        self.xb = list(xb)
        self.am = [list(b) for b in am]
        self.reads = {"xb": 0, "a": 0, "b": 0}
        self.ps_wait = 0
        self.busy_low = 0

    @staticmethod
    def _merge(old: int, new: int, be: int, L: int, w: int) -> int:
        mask = (1 << w) - 1
        for i in range(L):
            if be >> i & 1:
                old = (old & ~(mask << (i * w))) | (new & (mask << (i * w)))
        return old

    def _read(self, port: str, mem: list[int], addr: int, what: str) -> int:
        if not 0 <= addr < len(mem):
            self.errors.append(f"cycle {self.cycle}: {what} read at {addr} outside the buffer ({len(mem)} words)")
            return 0
        v = mem[addr]
        if self.inject and self.inject[0] == port and self.inject[1] == self.reads[port]:
            v ^= 1 << self.inject[2]
        self.reads[port] += 1
        return v

    async def _run(self) -> None:
        d = self.dut
        while True:
            await RisingEdge(d.clk)
            self.cycle += 1
            for port, sig in (("xb", d.xb_rd_data), ("a", d.am_a_rd_data), ("b", d.am_b_rd_data)):
                v = self.pending[port][1]
                if v is not None:
                    sig.value = v
            await ReadOnly()
            for port in self.pending:
                self.pending[port][1] = self.pending[port][0]
                self.pending[port][0] = None
            if self.window and not int(d.busy.value) and not int(d.done.value):
                self.busy_low += 1
            if int(d.ps_tready.value) and not int(d.ps_tvalid.value):
                self.ps_wait += 1
            abank, bbank, wbank = int(d.am_a_bank.value), int(d.am_b_bank.value), int(d.am_w_bank.value)
            if int(d.xb_rd_en.value):
                self.pending["xb"][0] = self._read("xb", self.xb, int(d.xb_rd_addr.value), "XB")
            if int(d.am_a_rd_en.value):
                self.pending["a"][0] = self._read("a", self.am[abank], int(d.am_a_rd_addr.value), f"AM{abank} (A)")
            if int(d.am_b_rd_en.value):
                if bbank == abank:
                    self.errors.append(f"cycle {self.cycle}: port B enabled on A's bank {abank}")
                self.pending["b"][0] = self._read("b", self.am[bbank], int(d.am_b_rd_addr.value), f"AM{bbank} (B)")
            if int(d.xb_wr_en.value):
                a = int(d.xb_wr_addr.value)
                if 0 <= a < len(self.xb):
                    self.xb[a] = self._merge(self.xb[a], int(d.xb_wr_data.value), int(d.xb_wr_be.value), self.L,
                                             self.x_w)
                else:
                    self.errors.append(f"cycle {self.cycle}: XB write at {a} outside the buffer")
            if int(d.am_wr_en.value):
                a = int(d.am_wr_addr.value)
                mem = self.am[wbank]
                if 0 <= a < len(mem):
                    mem[a] = self._merge(mem[a], int(d.am_wr_data.value), int(d.am_wr_be.value), self.L, 8)
                else:
                    self.errors.append(f"cycle {self.cycle}: AM{wbank} write at {a} outside the buffer")


def _lanes(word: int, w: int, L: int) -> list[int]:
    mask = (1 << w) - 1
    out = []
    for i in range(L):
        v = (word >> (i * w)) & mask
        out.append(v - (1 << w) if v >> (w - 1) else v)
    return out


def compare(buf: Buffers, case: dict, res_kept: int, res_t: int, cycles: int) -> list[str]:
    """Every mismatch of one finished instruction (empty list: all exact)."""
    L, xw = buf.L, buf.x_w
    bad = list(buf.errors)
    want_xb = list(case["xb"])
    for a, w in case["expect_xb"]:
        want_xb[a] = w
    for a, (g, w) in enumerate(zip(buf.xb, want_xb)):
        if g != w:
            bad.append(f"XB word {a} (row {a // case['cfg']['cfg_dpl']}): got {_lanes(g, xw, L)}, "
                       f"want {_lanes(w, xw, L)}")
            if len(bad) > 6:
                return bad
    for bank in range(3):
        want = list(case["am"][bank])
        for a, w in case["expect_am"][bank]:
            want[a] = w
        for a, (g, w) in enumerate(zip(buf.am[bank], want)):
            if g != w:
                bad.append(f"AM{bank} word {a}: got {_lanes(g, 8, L)}, want {_lanes(w, 8, L)}")
                if len(bad) > 6:
                    return bad
    if case["op"] == "SELECT" and (res_kept, res_t) != (case["kept"], case["t_new"]):
        bad.append(f"results kept={res_kept} T={res_t}, want kept={case['kept']} T={case['t_new']}")
    want_cycles = case["cycles"] + buf.ps_wait
    if cycles != want_cycles:
        bad.append(f"{cycles} cycles, formula {case['cycles']} + {buf.ps_wait} param-stream waits = {want_cycles}")
    if buf.busy_low:
        bad.append(f"busy low in {buf.busy_low} cycles between start and done")
    return bad


async def run_case(dut, buf: Buffers, ps: StreamDriver, case: dict, rng: random.Random) -> list[str]:
    buf.load(case["xb"], case["am"])
    buf.errors = []
    ps.idle = case["ps_idle"]
    ps.extend(Beat(b) for b in case["beats"])
    for _ in range(rng.randrange(1, 4)):
        await RisingEdge(dut.clk)
    for k, v in case["cfg"].items():
        getattr(dut, k).value = v
    dut.start.value = 1  # cycle 0
    await RisingEdge(dut.clk)
    cycles = 1
    dut.start.value = 0
    for k in case["cfg"]:
        getattr(dut, k).value = 0  # config is only valid with start
    buf.window = True
    limit = 20 * case["cycles"] + 2000
    while True:
        await ReadOnly()
        if int(dut.done.value):
            break
        if cycles > limit:
            buf.window = False
            return [f"no done within {limit} cycles"]
        await RisingEdge(dut.clk)
        cycles += 1
    buf.window = False
    res_kept, res_t = int(dut.res_kept.value), int(dut.res_t.value)
    await RisingEdge(dut.clk)
    if ps.queue:
        return [f"{len(ps.queue)} param beats not taken"]
    return compare(buf, case, res_kept, res_t, cycles)


async def _setup(dut):
    quiet_loggers()
    vec = load_vectors()
    p = vec["params"]
    dut.start.value = 0
    await start_clock_and_reset(dut)
    buf = Buffers(dut, p["L"], p["X_W"])
    ps = StreamDriver(dut, "ps", idle=0.0, rng=random.Random(5))
    return vec, buf, ps


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def selector_cases_exact(dut):
    """Every case: buffers, results and cycles exact."""
    vec, buf, ps = await _setup(dut)
    rng = random.Random(3)
    failures = []
    for case in vec["cases"]:
        bad = await run_case(dut, buf, ps, case, rng)
        if bad:
            failures.append(f"{case['name']} ({case['op']}): " + "; ".join(bad[:6]))
        else:
            dut._log.info("%s: %d cycles ok", case["name"], case["cycles"])
    assert not failures, "\n".join(failures)


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def selector_injected_error_caught(dut):
    """One flipped bit in one XB read of a kept token: the check must report it."""
    vec, buf, ps = await _setup(dut)
    inj = vec["inject"]
    clean = await run_case(dut, buf, ps, inj["case"], random.Random(4))
    assert not clean, f"the case fails without an injected error: {clean}"
    buf.inject = (inj["port"], inj["read"], inj["bit"])
    bad = await run_case(dut, buf, ps, inj["case"], random.Random(4))
    buf.inject = None
    assert bad and any("XB word" in b for b in bad), f"injected error not caught: {bad}"
    dut._log.info("injected error caught: %s", bad[0])
