"""cocotb bench of spvit_ov_axil (AXI4-Lite control slave, Vitis HLS ap_ctrl_hs register map).

The host is cocotbext-axi's AxiLiteMaster; the engine is a small model in the bench: a start
pulse makes it busy (idle low from the next cycle) for ``run`` cycles, then it pulses done and is
idle again; it can raise its error output during an image (a level until the next start, as
spvit_ov_fetch's error).  A monitor counts start pulses and records their cycles.

* ``register_map``: reset values, R/W registers with partial (wstrb) writes, the base output,
  read-only registers ignore writes, addresses outside the map read 0 and change nothing.
* ``start_done_interrupt``: ap_start -> exactly one start pulse, ap_ready (clear on read), ap_start
  self-clearing; done -> ap_done (clear on read), ISR (toggle on write), the interrupt output only
  with GIE and IER; the cycle register = the start-to-done cycles of the image.
* ``auto_restart``: images back to back while auto_restart is set; clearing it stops after the
  image that is running.
* ``load_error``: an error during an image sets status bit 0; a new ap_start then issues no start
  until the base is rewritten, which clears the status and lets the pending start go.
"""
from __future__ import annotations

import cocotb
from cocotb.triggers import NextTimeStep, ReadOnly, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from rtl_sim.streams import load_vectors, quiet_loggers, start_clock_and_reset

CTRL, GIE, IER, ISR, BASE_LO, BASE_HI, STATUS, CYCLES = range(0, 0x20, 4)


class Engine:
    """The controller as the AXI-Lite slave sees it."""

    def __init__(self, dut, run=25):
        self.dut = dut
        self.run = run
        self.starts = []          # cycles of start pulses
        self.dones = []           # cycles of done pulses
        self.fail_next = False    # raise error during the next image
        self.cycle = 0
        dut.idle.value = 1
        dut.done.value = 0
        dut.error.value = 0
        cocotb.start_soon(self._run())

    async def _run(self):
        d = self.dut
        left = -1
        err = 0
        while True:
            await RisingEdge(d.clk)
            self.cycle += 1
            # drive this cycle's engine outputs
            d.done.value = int(left == 0)
            if left == 0:
                self.dones.append(self.cycle)
                d.idle.value = 1
            if left >= 0:
                left -= 1
            d.error.value = err
            await ReadOnly()
            if int(d.start.value):
                assert left < 0, "start pulse while the engine runs"
                self.starts.append(self.cycle)
                left = self.run
                err = 0
                await NextTimeStep()
                d.idle.value = 0
                d.error.value = 0
                if self.fail_next:
                    self.fail_next = False
                    err = 1       # rises a few cycles into the image (next cycle on)


async def setup(dut, run=25):
    quiet_loggers()
    vec = load_vectors()
    eng = Engine(dut, run)
    host = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_control"), dut.clk, dut.rst_n, reset_active_level=False)
    await start_clock_and_reset(dut)
    for _ in range(2):
        await RisingEdge(dut.clk)
    return vec, eng, host


async def rd(host, addr):
    return await host.read_dword(addr)


async def wait_cycles(dut, n):
    for _ in range(n):
        await RisingEdge(dut.clk)


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def register_map(dut):
    vec, eng, host = await setup(dut)
    aw = vec["params"]["ADDR_W"]
    assert await rd(host, CTRL) == 0b100, "control after reset: only ap_idle"
    for a in (GIE, IER, ISR, BASE_LO, BASE_HI, STATUS, CYCLES):
        assert await rd(host, a) == 0, f"register {a:#x} not 0 after reset"
    await host.write_dword(GIE, 0xFFFF_FFFF)
    await host.write_dword(IER, 0xFFFF_FFFF)
    assert await rd(host, GIE) == 1 and await rd(host, IER) == 1, "GIE / IER keep bit 0 only"
    await host.write_dword(BASE_LO, 0x1234_5678)
    await host.write_dword(BASE_HI, 0xFFFF_FFFF)
    hi_mask = (1 << (aw - 32)) - 1
    assert await rd(host, BASE_HI) == hi_mask, "base high keeps ADDR_W - 32 bits"
    await host.write(BASE_LO + 1, b"\xab\xcd")          # bytes 1 and 2 only (wstrb 0110)
    assert await rd(host, BASE_LO) == 0x12CD_AB78, "partial write of base low"
    assert int(dut.base.value) == (hi_mask << 32) | 0x12CD_AB78, "base output"
    # read-only registers ignore writes; ISR toggles (tested below); control: only bits 0 and 7
    await host.write_dword(STATUS, 0xFFFF_FFFF)
    await host.write_dword(CYCLES, 0xFFFF_FFFF)
    assert await rd(host, STATUS) == 0 and await rd(host, CYCLES) == 0
    # outside the register space: reads 0, writes change nothing
    size = 1 << vec["params"]["AXIL_AW"]
    for a in range(0x20, size, 4):
        await host.write_dword(a, 0xFFFF_FFFF)
        assert await rd(host, a) == 0, f"address {a:#x} outside the map"
    assert await rd(host, BASE_LO) == 0x12CD_AB78 and await rd(host, GIE) == 1
    assert await rd(host, CTRL) == 0b100 and not eng.starts, "a write outside the map started the engine"


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def start_done_interrupt(dut):
    vec, eng, host = await setup(dut, run=25)
    await host.write_dword(BASE_LO, 0x8000_0000)
    await host.write_dword(IER, 1)
    await host.write_dword(CTRL, 1)                       # ap_start
    ctrl = await rd(host, CTRL)
    assert len(eng.starts) == 1, f"{len(eng.starts)} start pulses"
    assert ctrl & 0b1001 == 0b1000, f"control {ctrl:#x}: ap_start should be cleared, ap_ready set"
    assert await rd(host, CTRL) & 0b1000 == 0, "ap_ready not cleared by the read"
    await wait_cycles(dut, 40)
    assert eng.dones, "the engine never finished"
    assert int(dut.interrupt.value) == 0, "interrupt without GIE"
    assert await rd(host, ISR) == 1, "ISR bit 0 not set by done"
    await host.write_dword(GIE, 1)
    await wait_cycles(dut, 2)
    assert int(dut.interrupt.value) == 1, "no interrupt with GIE, IER and ISR"
    ctrl = await rd(host, CTRL)
    assert ctrl & 0b110 == 0b110 and ctrl >> 9 & 1, f"control {ctrl:#x}: ap_done, ap_idle, interrupt expected"
    assert await rd(host, CTRL) & 0b10 == 0, "ap_done not cleared by the read"
    cycles = await rd(host, CYCLES)
    assert cycles == eng.dones[0] - eng.starts[0] == 25 + 1, f"cycle register {cycles}, engine " \
                                                              f"{eng.dones[0] - eng.starts[0]}"
    await host.write_dword(ISR, 1)                        # toggle: clears
    await wait_cycles(dut, 2)
    assert await rd(host, ISR) == 0 and int(dut.interrupt.value) == 0, "ISR toggle-on-write"
    await host.write_dword(ISR, 1)                        # toggle again: sets
    await wait_cycles(dut, 2)
    assert await rd(host, ISR) == 1 and int(dut.interrupt.value) == 1
    await host.write_dword(ISR, 1)
    await host.write_dword(IER, 0)
    await host.write_dword(CTRL, 1)                       # a second image with the done interrupt off
    await wait_cycles(dut, 40)
    assert len(eng.starts) == 2 and len(eng.dones) == 2
    assert await rd(host, ISR) == 0, "ISR set with IER off"
    assert int(dut.base.value) == 0x8000_0000


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def auto_restart(dut):
    vec, eng, host = await setup(dut, run=10)
    await host.write_dword(CTRL, 0x81)                    # auto_restart + ap_start
    await wait_cycles(dut, 60)
    n = len(eng.starts)
    assert n >= 3, f"{n} images with auto_restart"
    gaps = [s - d for d, s in zip(eng.dones, eng.starts[1:])]
    assert max(gaps) <= 4, f"restart gaps {gaps} cycles"
    assert await rd(host, CTRL) & 1, "ap_start cleared under auto_restart"
    await host.write_dword(CTRL, 0)                       # auto_restart off (ap_start unchanged by 0)
    await wait_cycles(dut, 40)
    m = len(eng.starts)
    await wait_cycles(dut, 40)
    assert len(eng.starts) == m, "images continue after auto_restart was cleared"
    assert await rd(host, CTRL) & 1 == 0, "ap_start still set after the last image"


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def load_error(dut):
    vec, eng, host = await setup(dut, run=20)
    eng.fail_next = True
    await host.write_dword(CTRL, 1)
    await wait_cycles(dut, 40)
    assert len(eng.dones) == 1
    assert await rd(host, STATUS) == 1, "the fetch error did not set status bit 0"
    await host.write_dword(CTRL, 1)
    await wait_cycles(dut, 50)
    assert len(eng.starts) == 1, "a start went out with a load error pending"
    assert await rd(host, CTRL) & 1, "ap_start should stay pending"
    await host.write_dword(BASE_HI, 0)                    # rewriting the base clears the error
    await wait_cycles(dut, 5)
    assert len(eng.starts) == 2, "the pending start did not go out after the base was rewritten"
    assert await rd(host, STATUS) == 0
    await wait_cycles(dut, 40)
    assert await rd(host, STATUS) == 0, "a clean image set the load error"
