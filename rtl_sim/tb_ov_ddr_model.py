"""cocotb bench of spvit_ov_ddr_model on its own: the bench is the AXI master (one AR at a time per
call, rready high unless said otherwise) and checks the model's answers beat by beat.

Vectors (spvit_fpga.rtl.vectors.ov_io.ddr_model_vectors): the random file the model loads, the
parameters (ID width 2, a small AR_DEPTH).

* ``responses``: data and rlast of an in-range burst on each port, rid = arid; a burst crossing
  4 KiB, one with arsize != log2(PB) and a FIXED burst are answered SLVERR; a beat outside the
  memory DECERR with zero data; the first beat exactly LATENCY edges after the AR handshake.
* ``ar_depth``: with rready low the port accepts AR_DEPTH bursts, then holds arready low; the R
  register holds its beat (rvalid stays high, data stable) until rready.
"""
from __future__ import annotations

import cocotb
from cocotb.triggers import NextTimeStep, ReadOnly, RisingEdge

from rtl_sim.streams import load_vectors, quiet_loggers, start_clock_and_reset


class Master:
    def __init__(self, dut, vec):
        self.dut = dut
        self.p = vec["params"]
        self.data = bytes.fromhex(vec["data"])
        self.np, self.pb = self.p["NP"], self.p["PB"]
        self.cycle = 0
        for n in ("s_axi_arvalid", "s_axi_araddr", "s_axi_arlen", "s_axi_arsize", "s_axi_arburst", "s_axi_arid",
                  "pause_ar", "pause_r", "err_en", "err_addr"):
            getattr(dut, n).value = 0
        dut.s_axi_rready.value = (1 << self.np) - 1
        cocotb.start_soon(self._count())

    async def _count(self):
        while True:
            await RisingEdge(self.dut.clk)
            self.cycle += 1

    def field(self, name, port, width):
        return int(getattr(self.dut, name).value) >> (port * width) & ((1 << width) - 1)

    async def ar(self, port, addr, beats, size=None, burst=1, arid=0):
        """Issue one AR on ``port``; returns the edge of its handshake."""
        d = self.dut
        size = self.pb.bit_length() - 1 if size is None else size
        await RisingEdge(d.clk)    # drive right after an edge (a NextTimeStep may be an edge's own step)
        sel = 1 << port
        d.s_axi_araddr.value = addr << (40 * port)
        d.s_axi_arlen.value = (beats - 1) << (8 * port)
        d.s_axi_arsize.value = size << (3 * port)
        d.s_axi_arburst.value = burst << (2 * port)
        d.s_axi_arid.value = arid << (2 * port)
        d.s_axi_arvalid.value = sel
        for _ in range(1000):
            await ReadOnly()
            if int(d.s_axi_arready.value) & sel:
                break
            await RisingEdge(d.clk)
        else:
            raise AssertionError(f"port {port}: AR at {addr:#x} not accepted within 1000 cycles")
        await RisingEdge(d.clk)
        d.s_axi_arvalid.value = 0
        await ReadOnly()           # the cycle counter has counted this edge by now
        return self.cycle

    async def beats(self, port, n, limit=200, now=False):
        """Collect ``n`` R handshakes of ``port``: (edge, data, resp, last, id); ``now``: the
        handshake at the coming edge counts too (called outside a ReadOnly phase)."""
        d = self.dut
        out = []
        for k in range(limit):
            if not (now and k == 0):
                await RisingEdge(d.clk)
            await ReadOnly()
            v = int(d.s_axi_rvalid.value) >> port & 1
            r = int(d.s_axi_rready.value) >> port & 1
            if v and r:
                out.append((self.cycle + 1, self.field("s_axi_rdata", port, 8 * self.pb),
                            self.field("s_axi_rresp", port, 2), self.field("s_axi_rlast", port, 1),
                            self.field("s_axi_rid", port, 2)))
                if len(out) == n:
                    return out
        raise AssertionError(f"port {port}: {len(out)} of {n} beats")

    def word(self, off):
        return int.from_bytes(self.data[off:off + self.pb], "little")


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def responses(dut):
    quiet_loggers()
    vec = load_vectors()
    m = Master(dut, vec)
    await start_clock_and_reset(dut)
    base, pb, lat = m.p["BASE"], m.pb, m.p["LATENCY"]
    for port in range(m.np):
        off = 0x100 + 0x40 * port
        e = await m.ar(port, base + off, 4, arid=port + 1)
        got = await m.beats(port, 4)
        assert got[0][0] == e + lat, f"port {port}: first beat {got[0][0] - e} edges after the AR, expected {lat}"
        assert [g[1] for g in got] == [m.word(off + k * pb) for k in range(4)], f"port {port}: data"
        assert [g[2:] for g in got] == [(0, 0, port + 1)] * 3 + [(0, 1, port + 1)], f"port {port}: resp/last/id"
    cases = [
        ("4 KiB crossing", dict(addr=base + 0xFF0, beats=2), 2),
        ("arsize 3", dict(addr=base + 0x200, beats=1, size=3), 2),
        ("FIXED burst", dict(addr=base + 0x200, beats=1, burst=0), 2),
        ("outside the memory", dict(addr=base + len(m.data), beats=1), 3),
        ("below the memory", dict(addr=base - 0x1000, beats=1), 3),
    ]
    for name, kw, resp in cases:
        await m.ar(0, **kw)
        got = await m.beats(0, kw["beats"])
        assert all(g[2] == resp for g in got), f"{name}: rresp {[g[2] for g in got]}, expected {resp}"
        if resp == 3:
            assert all(g[1] == 0 for g in got), f"{name}: DECERR data not zero"
    await NextTimeStep()
    dut.err_en.value = 1
    dut.err_addr.value = base + 0x310
    await m.ar(1, base + 0x300, 3)
    got = await m.beats(1, 3)
    assert [g[2] for g in got] == [0, 2, 0], f"err_addr: rresp {[g[2] for g in got]}"
    await RisingEdge(dut.clk)                     # the counter counts the last handshake at this edge
    await ReadOnly()
    assert int(dut.served_bytes.value) == pb * (4 * m.np + 2 + 4 + 3), "served_bytes"


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def ar_depth(dut):
    quiet_loggers()
    vec = load_vectors()
    m = Master(dut, vec)
    await start_clock_and_reset(dut)
    base, pb, depth = m.p["BASE"], m.pb, m.p["AR_DEPTH"]
    await NextTimeStep()
    dut.s_axi_rready.value = 0
    # AR_DEPTH bursts of 2 beats are accepted; the first beat is put on R after LATENCY and held
    for k in range(depth):
        await m.ar(0, base + 0x400 + 0x20 * k, 2)
    await NextTimeStep()
    dut.s_axi_araddr.value = base + 0x800
    dut.s_axi_arlen.value = 0
    dut.s_axi_arsize.value = pb.bit_length() - 1
    dut.s_axi_arburst.value = 1
    dut.s_axi_arvalid.value = 1
    for _ in range(m.p["LATENCY"] + 20):
        await RisingEdge(dut.clk)
        await ReadOnly()
        assert not int(dut.s_axi_arready.value) & 1, "AR accepted beyond AR_DEPTH"
    assert int(dut.s_axi_rvalid.value) & 1, "no beat presented"
    held = m.field("s_axi_rdata", 0, 8 * pb)
    assert held == m.word(0x400), "the held beat is not the first one"
    for _ in range(5):
        await RisingEdge(dut.clk)
        await ReadOnly()
        assert int(dut.s_axi_rvalid.value) & 1 and m.field("s_axi_rdata", 0, 8 * pb) == held, "R beat not held"
    await NextTimeStep()
    dut.s_axi_rready.value = 1
    got = await m.beats(0, 2 * depth, now=True)
    want = [m.word(0x400 + 0x20 * k + j * pb) for k in range(depth) for j in range(2)]
    assert [g[1] for g in got] == want, "data after the stall"
    # the waiting AR goes in once a burst has been presented completely
    got = await m.beats(0, 1, limit=3 * m.p["LATENCY"])
    assert got[0][1] == m.word(0x800)
