"""cocotb testbench of spvit_weight_loader (AXI4 read master -> weight bus).

Vectors (spvit_fpga.rtl.vectors.edge.weight_loader_vectors): two non-overlapping images of random
words at non-zero bases, N_WORDS not a multiple of the burst size, crossing 4 KB boundaries,
and each load's expected burst plan.  The slave is cocotbext-axi's AxiRamRead holding both
images; a monitor records every AR handshake (checked against the burst plan: addresses,
lengths, arsize, INCR, no 4 KB crossing, at most MAX_BURST beats) and every weight-bus cycle
(every word exactly once, in order, wb_addr = its index, the right data).

* ``loads_back_to_back``: random arready / rvalid pauses (back-pressure and latency on both
  channels), the two loads started back to back (the second in the cycle done rises), a start
  pulse in the middle of a load that must be ignored.
* ``full_rate``: no pauses; the load takes at most N_WORDS + 4 cycles per burst + 10.
* ``error_flag``: one beat answered SLVERR sets error (data still broadcast, every word
  counted); the next clean load clears it.
"""
import random

import cocotb
from cocotb.triggers import NextTimeStep, ReadOnly, RisingEdge
from cocotbext.axi import AxiRamRead, AxiReadBus

from rtl_sim.streams import load_vectors, quiet_loggers, start_clock_and_reset


class FaultyRam(AxiRamRead):
    """AxiRamRead that answers the beat at ``bad_addr`` with SLVERR (its _read raises)."""

    bad_addr = None

    async def _read(self, address, length):
        if self.bad_addr is not None and address == self.bad_addr:
            raise ValueError("injected read error")
        return await super()._read(address, length)


def _pauses(rng, p):
    while True:
        yield rng.random() < p


class Bench:
    def __init__(self, dut, vec):
        self.dut = dut
        self.vec = vec
        self.p = vec["params"]
        self.nbytes = self.p["WB_W"] // 8
        self.ram = FaultyRam(AxiReadBus.from_prefix(dut, "m_axi_gmem"), dut.clk, dut.rst_n,
                             reset_active_level=False, size=1 << self.p["ADDR_W"])
        for load in vec["loads"]:
            self.fill(load)
        self.ars = []       # (araddr, beats, arsize, arburst, arid)
        self.words = []     # (wb_addr, wb_data)
        self.cycle = 0
        dut.start.value = 0
        dut.base_addr.value = 0
        cocotb.start_soon(self._monitor())

    def fill(self, load):
        data = b"".join(w.to_bytes(self.nbytes, "little") for w in load["words"])
        self.ram.write(load["base"], data)

    async def _monitor(self):
        d = self.dut
        while True:
            await RisingEdge(d.clk)
            await ReadOnly()
            self.cycle += 1
            if int(d.m_axi_gmem_arvalid.value) and int(d.m_axi_gmem_arready.value):
                self.ars.append((int(d.m_axi_gmem_araddr.value), int(d.m_axi_gmem_arlen.value) + 1,
                                 int(d.m_axi_gmem_arsize.value), int(d.m_axi_gmem_arburst.value),
                                 int(d.m_axi_gmem_arid.value)))
            if int(d.wb_valid.value):
                self.words.append((int(d.wb_addr.value), int(d.wb_data.value)))

    async def start(self, base):
        await NextTimeStep()    # leave a ReadOnly phase; start is sampled at the next edge
        self.dut.start.value = 1
        self.dut.base_addr.value = base
        await RisingEdge(self.dut.clk)
        self.dut.start.value = 0

    async def wait_done(self, limit):
        for _ in range(limit):
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            if int(self.dut.done.value):
                return
        raise AssertionError(f"no done within {limit} cycles: {len(self.words)} words, {len(self.ars)} bursts")

    def check(self, load, ars, words):
        n = self.p["N_WORDS"]
        assert len(words) == n, f"{len(words)} words on the weight bus, expected {n}"
        for i, (a, w) in enumerate(words):
            assert a == i, f"word {i}: wb_addr {a}"
            assert w == load["words"][i], f"word {i}: wb_data {w:#x}, want {load['words'][i]:#x}"
        lb = self.nbytes.bit_length() - 1
        for addr, beats, size, burst, arid in ars:
            assert size == lb and burst == 1 and arid == 0, f"burst at {addr:#x}: arsize {size} arburst {burst}"
            assert 1 <= beats <= self.p["MAX_BURST"], f"burst at {addr:#x}: {beats} beats"
            assert (addr & 0xFFF) + beats * self.nbytes <= 4096, f"burst at {addr:#x} crosses 4 KB"
        got = [(a, b) for a, b, *_ in ars]
        want = [tuple(x) for x in load["bursts"]]
        assert got == want, f"bursts {[(hex(a), b) for a, b in got]}\n want {[(hex(a), b) for a, b in want]}"


def _limit(p):
    return 50 * p["N_WORDS"] + 2000


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def loads_back_to_back(dut):
    quiet_loggers()
    vec = load_vectors()
    b = Bench(dut, vec)
    rng = random.Random(7)
    b.ram.ar_channel.set_pause_generator(_pauses(rng, 0.4))
    b.ram.r_channel.set_pause_generator(_pauses(rng, 0.35))
    await start_clock_and_reset(dut)
    assert int(dut.busy.value) == 0 and int(dut.done.value) == 0
    for k, load in enumerate(vec["loads"]):
        a0, w0 = len(b.ars), len(b.words)
        await b.start(load["base"])
        await ReadOnly()
        assert int(dut.busy.value) == 1 and int(dut.done.value) == 0
        if k == 0:
            # a start while busy is ignored (another base address, mid-load)
            while len(b.words) < vec["params"]["N_WORDS"] // 2:
                await RisingEdge(dut.clk)
            await b.start(vec["loads"][-1]["base"])
        await b.wait_done(_limit(vec["params"]))
        assert int(dut.busy.value) == 0 and int(dut.error.value) == 0
        b.check(load, b.ars[a0:], b.words[w0:])
        # the next load starts in the cycle done is seen
    for _ in range(30):
        await RisingEdge(dut.clk)
    assert len(b.words) == len(vec["loads"]) * vec["params"]["N_WORDS"], "words after the last load"
    assert int(dut.done.value) == 1 and int(dut.busy.value) == 0


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def full_rate(dut):
    quiet_loggers()
    vec = load_vectors()
    b = Bench(dut, vec)
    await start_clock_and_reset(dut)
    load = vec["loads"][0]
    await b.start(load["base"])
    c0 = b.cycle
    await b.wait_done(_limit(vec["params"]))
    cycles = b.cycle - c0
    b.check(load, b.ars, b.words)
    n, bursts = vec["params"]["N_WORDS"], len(load["bursts"])
    assert cycles <= n + 4 * bursts + 10, f"{cycles} cycles for {n} words in {bursts} bursts"
    dut._log.warning("weight loader full rate: %d words, %d bursts, %d cycles start->done", n, bursts, cycles)


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def error_flag(dut):
    quiet_loggers()
    vec = load_vectors()
    b = Bench(dut, vec)
    rng = random.Random(11)
    b.ram.r_channel.set_pause_generator(_pauses(rng, 0.2))
    await start_clock_and_reset(dut)
    err = vec["error_load"]
    b.ram.bad_addr = err["bad_addr"]
    await b.start(err["base"])
    await b.wait_done(_limit(vec["params"]))
    assert int(dut.error.value) == 1, "SLVERR beat did not set error"
    b.check(err, b.ars, b.words)
    b.ram.bad_addr = None
    a0, w0 = len(b.ars), len(b.words)
    load = vec["loads"][-1]
    await b.start(load["base"])
    await ReadOnly()
    assert int(dut.error.value) == 0 and int(dut.done.value) == 0, "start did not clear error / done"
    await b.wait_done(_limit(vec["params"]))
    assert int(dut.error.value) == 0
    b.check(load, b.ars[a0:], b.words[w0:])
