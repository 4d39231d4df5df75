"""cocotb bench of spvit_ov_fetch (NP AXI4 read masters -> param stream) on cocotbext-axi's AxiRamRead.

Vectors (spvit_fpga.rtl.vectors.ov_io.fetch_vectors): the DDR image of a layout.ParamStream at
two bases (one not page-aligned), each load with its param-stream bytes and the exact burst plan
of every port.  One AxiRamRead per port on a shared sparse memory holding both images.  A monitor
samples every cycle: each AR handshake (checked: the plan's address and length, <= MAX_BURST beats,
no 4 KiB crossing, arsize = log2(PB), INCR, arcache 0011, arid/lock/prot/qos 0), each R handshake
(bursts in flight per port), rvalid while rready is low (the credits forbid it), every stream
beat (random ps_tready), done pulses.

* ``random_pauses``: random arready / rvalid pauses on every port and random ps_tready; two loads
  back to back (the second started in the cycle done is seen); a start in the middle of a load is
  ignored; stream bytes exact; several bursts in flight.
* ``full_rate``: no pauses; the stream runs at one beat a cycle once data arrives.
* ``error_flag``: one beat answered SLVERR sets error (the word, zeros, is still delivered); the
  next start clears it.
* ``zero_beats``: beats = 0 gives done two cycles after start and no read.
"""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge
from cocotbext.axi import AxiRamRead, AxiReadBus

from rtl_sim.streams import UnitControl, load_vectors, quiet_loggers, start_clock_and_reset


class FaultyRam(AxiRamRead):
    """AxiRamRead that answers the word at ``bad_addr`` with SLVERR (its _read raises)."""

    bad_addr = None

    async def _read(self, address, length):
        if self.bad_addr is not None and address == self.bad_addr:
            raise ValueError("injected read error")
        return await super()._read(address, length)


def _pauses(rng, p):
    while True:
        yield rng.random() < p


class Bench(UnitControl):
    def __init__(self, dut, vec, stall=0.0, seed=0):
        self.dut = dut
        self.p = vec["params"]
        self.np = self.p["NP"]
        self.pb = self.p["PB"]
        self.rams = []
        mem = None
        for i in range(self.np):
            ram = FaultyRam(AxiReadBus.from_prefix(dut, f"m_axi_gmem{i}"), dut.clk, dut.rst_n,
                            reset_active_level=False, size=1 << self.p["ADDR_W"], mem=mem)
            mem = ram.mem
            self.rams.append(ram)
        for ld in vec["loads"]:
            self.rams[0].write(ld["base"], bytes.fromhex(ld["image"]))
        for i in range(self.np, 4):  # bundles the design does not use
            getattr(dut, f"m_axi_gmem{i}_arready").value = 0
            getattr(dut, f"m_axi_gmem{i}_rvalid").value = 0
        self.rng = random.Random(seed)
        self.stall = stall
        self.cycle = 0
        self.ars = [[] for _ in range(self.np)]      # (cycle, addr, beats, size, burst, cache, id, lock, prot, qos)
        self.rs = [[] for _ in range(self.np)]       # (cycle, last, resp)
        self.r_stalls = 0
        self.inflight = [0] * self.np
        self.max_inflight = [0] * self.np
        self.beats = []                              # (cycle, data)
        self._init_control()
        dut.start.value = 0
        dut.ps_tready.value = 0
        cocotb.start_soon(self._monitor())

    async def _monitor(self):
        d = self.dut
        sb = self.np * self.pb
        while True:
            await RisingEdge(d.clk)
            d.ps_tready.value = 0 if self.rng.random() < self.stall else 1
            await ReadOnly()
            # cycle = the edge just past; a handshake seen now happens at the next edge, cycle + 1
            self.cycle += 1
            e = self.cycle + 1
            for i in range(self.np):
                g = lambda n: int(getattr(d, f"m_axi_gmem{i}_{n}").value)  # noqa: E731
                if g("arvalid") and g("arready"):
                    self.ars[i].append((e, g("araddr"), g("arlen") + 1, g("arsize"), g("arburst"),
                                        g("arcache"), g("arid"), g("arlock"), g("arprot"), g("arqos")))
                    self.inflight[i] += 1
                    self.max_inflight[i] = max(self.max_inflight[i], self.inflight[i])
                if g("rvalid"):
                    if g("rready"):
                        self.rs[i].append((e, g("rlast"), g("rresp")))
                        self.inflight[i] -= g("rlast")
                    else:
                        self.r_stalls += 1
            if int(d.ps_tvalid.value) and int(d.ps_tready.value):
                self.beats.append((e, int(d.ps_tdata.value).to_bytes(sb, "little")))
            self._control(self.cycle)

    def set_pauses(self, ar, r, seed):
        rng = random.Random(seed)
        for ram in self.rams:
            ram.ar_channel.set_pause_generator(_pauses(rng, ar) if ar else None)
            ram.r_channel.set_pause_generator(_pauses(rng, r) if r else None)

    async def start(self, ld, beats=None):
        await self.pulse_start(base=ld["base"], region_bytes=ld["region"], beats=ld["beats"] if beats is None else beats)

    def _progress(self):
        return (f"{len(self.beats)} beats, {[len(a) for a in self.ars]} bursts, "
                f"{[len(r) for r in self.rs]} R beats")

    def marks(self):
        return [len(a) for a in self.ars], len(self.beats)

    def check(self, ld, marks, stream=None):
        a0, b0 = marks
        want = bytes.fromhex(ld["stream"]) if stream is None else stream
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
            for _, addr, n, size, burst, cache, arid, lock, prot, qos in ars:
                assert 1 <= n <= self.p["MAX_BURST"], f"port {i}: burst at {addr:#x} of {n} beats"
                assert addr % 4096 + n * self.pb <= 4096, f"port {i}: burst at {addr:#x} of {n} beats crosses 4 KiB"
                assert (size, burst, cache, arid, lock, prot, qos) == (lb, 1, 3, 0, 0, 0, 0), \
                    f"port {i}: AR fields arsize {size} arburst {burst} arcache {cache} arid {arid} " \
                    f"lock/prot/qos {lock}/{prot}/{qos}"
            got_plan = [(addr, n) for _, addr, n, *_ in ars]
            want_plan = [tuple(x) for x in ld["bursts"][i]]
            assert got_plan == want_plan, f"port {i} bursts {[(hex(a), n) for a, n in got_plan]}\n" \
                                          f" want {[(hex(a), n) for a, n in want_plan]}"
        assert self.r_stalls == 0, f"rready was low under rvalid in {self.r_stalls} cycles"


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def random_pauses(dut):
    quiet_loggers()
    vec = load_vectors()
    b = Bench(dut, vec, stall=0.3, seed=3)
    b.set_pauses(0.3, 0.3, seed=5)
    await start_clock_and_reset(dut)
    assert int(dut.busy.value) == 0 and int(dut.done.value) == 0
    for k, ld in enumerate(vec["loads"]):
        m = b.marks()
        await b.start(ld)
        await ReadOnly()
        assert int(dut.busy.value) == 1 and int(dut.error.value) == 0
        if k == 0:  # a start while busy is ignored
            while len(b.beats) < ld["beats"] // 2:
                await RisingEdge(dut.clk)
            await b.start(vec["loads"][-1])
        await b.wait_done(60 * ld["beats"] + 2000)
        assert int(dut.error.value) == 0
        b.check(ld, m)
        # the next load starts in the cycle done is seen
    for _ in range(20):
        await RisingEdge(dut.clk)
    assert len(b.dones) == len(vec["loads"]), f"{len(b.dones)} done pulses"
    assert len(b.beats) == sum(ld["beats"] for ld in vec["loads"]), "beats after the last done"
    assert int(dut.busy.value) == 0
    assert max(b.max_inflight) >= 2, f"bursts in flight at most {b.max_inflight}"
    dut._log.warning("ov_fetch random pauses: most bursts in flight per port %s", b.max_inflight)


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def full_rate(dut):
    quiet_loggers()
    vec = load_vectors()
    b = Bench(dut, vec)
    await start_clock_and_reset(dut)
    ld = vec["loads"][1]
    m = b.marks()
    await b.start(ld)
    d = await b.wait_done(60 * ld["beats"] + 2000)
    s = b.starts[-1]
    b.check(ld, m)
    first_r = min(b.rs[i][0][0] for i in range(b.np))
    first_ps = b.beats[m[1]][0]
    # every port's first R beat arrives in the same cycle here; the stream then runs without gaps
    assert first_ps == first_r + 2, f"first stream beat at {first_ps}, first R beat at {first_r}"
    gaps = sum(1 for (c0, _), (c1, _) in zip(b.beats[m[1]:], b.beats[m[1] + 1:]) if c1 != c0 + 1)
    dut._log.warning("ov_fetch on AxiRamRead, no pauses: %d beats, start->done %d cycles, first AR %d cycles "
                     "after start, first R %d, %d gaps in the stream", ld["beats"], d - s,
                     b.ars[0][m[0][0]][0] - s, first_r - s, gaps)
    assert b.ars[0][m[0][0]][0] == s + 4, "first AR handshake not 4 edges after start"
    assert d == b.beats[-1][0], "done not in the cycle after the last beat"


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def error_flag(dut):
    quiet_loggers()
    vec = load_vectors()
    b = Bench(dut, vec, stall=0.2, seed=9)
    b.set_pauses(0.0, 0.2, seed=11)
    await start_clock_and_reset(dut)
    err = vec["error"]
    ld = vec["loads"][err["load"]]
    bad_port = b.np - 1
    b.rams[bad_port].bad_addr = err["addr"]
    want = bytearray.fromhex(ld["stream"])
    region_off = err["addr"] - ld["base"] - bad_port * ld["region"]
    beat = region_off // b.pb
    k = beat * b.np * b.pb + bad_port * b.pb
    want[k:k + b.pb] = bytes(b.pb)
    m = b.marks()
    await b.start(ld)
    await b.wait_done(60 * ld["beats"] + 2000)
    assert int(dut.error.value) == 1, "SLVERR beat did not set error"
    b.check(ld, m, bytes(want))
    b.rams[bad_port].bad_addr = None
    ld = vec["loads"][1]
    m = b.marks()
    await b.start(ld)
    await ReadOnly()
    assert int(dut.error.value) == 0, "start did not clear error"
    await b.wait_done(60 * ld["beats"] + 2000)
    assert int(dut.error.value) == 0
    b.check(ld, m)


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def zero_beats(dut):
    quiet_loggers()
    vec = load_vectors()
    b = Bench(dut, vec)
    await start_clock_and_reset(dut)
    m = b.marks()
    await b.start(vec["loads"][0], beats=0)
    d = await b.wait_done(50)
    s = b.starts[-1]
    assert d == s + 1, f"done after edge {d - s} from start, expected 1"
    for _ in range(10):
        await RisingEdge(dut.clk)
    assert b.marks() == m and int(dut.busy.value) == 0, "a zero-beat fetch read or delivered something"
