"""Shared cocotb harness of the overlay vector units (LayerNorm, softmax): buffer RAM models, the
param stream, and the start / busy / done handshake of one instruction.

One coroutine runs every clock cycle (one wake-up a cycle for everything) and models:

* read ports ``<b>_rd_en`` / ``<b>_rd_addr`` -> ``<b>_rd_data`` exactly ``RD_LAT = 2`` cycles later
  (the simple-dual-port buffer RAMs of ``docs``' overlay architecture: L lanes a word);
* write ports ``<b>_wr_en`` / ``<b>_wr_addr`` / ``<b>_wr_be`` / ``<b>_wr_data`` (a lane is written
  when its enable bit is set), recording every write;
* the param stream ``ps_tdata`` / ``ps_tvalid`` / ``ps_tready`` (AXI-Stream handshake) with a
  random idle cycle before a beat with probability ``idle``, counting pops;
* ``start`` (one cycle, with the ``cfg_*`` ports) and the cycle count until ``done``, checking
  that ``busy`` is high from the cycle after ``start`` to the cycle before ``done`` and that
  ``done`` is a single-cycle pulse.

A transfer or request is sampled in the ReadOnly phase of its cycle, so combinational ready /
enable outputs are seen as the RAM or the stream would see them at the next clock edge.
"""
from __future__ import annotations

import random
from collections import deque
from typing import Any, Dict, List, Optional

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from rtl_sim.streams import start_clock_and_reset  # noqa: F401  (re-exported for the benches)

RD_LAT = 2


class Harness:
    """Buffer memories (``rd_mem`` / ``wr_mem``: ``{prefix: {word address: int}}``, one memory a
    read port and one a write port), the param stream and the control."""

    def __init__(self, dut, *, read_ports: Dict[str, int], write_ports: Dict[str, int], lanes: int,
                 idle: float = 0.0, seed: int = 0) -> None:
        self.dut = dut
        self.clk = dut.clk
        self.lanes = lanes
        self.rd_mem: Dict[str, Dict[int, int]] = {p: {} for p in read_ports}
        self.wr_mem: Dict[str, Dict[int, int]] = {p: {} for p in write_ports}
        self.read_ports = read_ports
        self.write_ports = write_ports
        self.rng = random.Random(seed)
        self.idle = idle
        self.ps: deque = deque()
        self.ps_presenting = False
        self.pops = 0
        self.cycle = 0
        self.writes: List[tuple] = []
        self.pending_start: Optional[Dict[str, int]] = None
        self.start_cycle = -1
        self.done_cycles: List[int] = []
        self.errors: List[str] = []
        self.in_flight = False
        self._pipes = {p: deque([None] * RD_LAT) for p in read_ports}
        dut.start.value = 0
        dut.ps_tvalid.value = 0
        for p in read_ports:
            getattr(dut, f"{p}_rd_data").value = 0
        cocotb.start_soon(self._run())

    # -- per-cycle model ---------------------------------------------------------------------
    async def _run(self) -> None:
        dut = self.dut
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1
            for p, pipe in self._pipes.items():
                v = pipe.popleft()
                if v is not None:
                    getattr(dut, f"{p}_rd_data").value = v
            # control: a start pulse lasts one cycle
            if self.pending_start is not None:
                for k, v in self.pending_start.items():
                    getattr(dut, k).value = v
                dut.start.value = 1
                self.start_cycle = self.cycle
                self.pending_start = None
                self.in_flight = True
            else:
                dut.start.value = 0
            # param stream: present the next beat (after a random idle cycle)
            if not self.ps_presenting and self.ps and (self.idle == 0.0 or self.rng.random() >= self.idle):
                dut.ps_tdata.value = self.ps[0]
                self.ps_presenting = True
            dut.ps_tvalid.value = 1 if self.ps_presenting else 0
            await ReadOnly()
            for p, pipe in self._pipes.items():
                if int(getattr(dut, f"{p}_rd_en").value):
                    addr = int(getattr(dut, f"{p}_rd_addr").value)
                    pipe.append(self.rd_mem[p].get(addr, 0))
                else:
                    pipe.append(None)
            for p, width in self.write_ports.items():
                if int(getattr(dut, f"{p}_wr_en").value):
                    addr = int(getattr(dut, f"{p}_wr_addr").value)
                    be = int(getattr(dut, f"{p}_wr_be").value)
                    data = int(getattr(dut, f"{p}_wr_data").value)
                    old = self.wr_mem[p].get(addr, 0)
                    mask = 0
                    for ln in range(self.lanes):
                        if be >> ln & 1:
                            mask |= ((1 << width) - 1) << (ln * width)
                    self.wr_mem[p][addr] = (old & ~mask) | (data & mask)
                    self.writes.append((self.cycle, p, addr, be))
            if self.ps_presenting and int(dut.ps_tready.value):
                self.ps.popleft()
                self.pops += 1
                self.ps_presenting = False
            busy = int(dut.busy.value)
            done = int(dut.done.value)
            if self.start_cycle >= 0 and self.cycle > self.start_cycle:
                if done:
                    self.done_cycles.append(self.cycle)
                    if busy:
                        self.errors.append(f"busy high in the done cycle {self.cycle}")
                    self.in_flight = False
                elif self.in_flight and not busy:
                    self.errors.append(f"busy low in cycle {self.cycle} before done")
            elif done:
                self.errors.append(f"done in cycle {self.cycle} without an instruction")

    # -- one instruction ---------------------------------------------------------------------
    async def run_instruction(self, cfg: Dict[str, int], blob: List[int], *, sentinels: int = 2,
                              timeout: int = 200000) -> int:
        """Start one instruction; return its cycles (start cycle to done cycle).  ``sentinels``
        extra beats follow the blob on the stream: the unit must leave them there."""
        self.ps.clear()
        self.ps_presenting = False
        self.ps.extend(blob)
        self.ps.extend([(1 << 64) - 1 - i for i in range(sentinels)])
        pops0 = self.pops
        n_done = len(self.done_cycles)
        self.pending_start = dict(cfg)
        waited = 0
        while len(self.done_cycles) == n_done:
            await RisingEdge(self.clk)
            waited += 1
            assert waited < timeout, f"no done within {timeout} cycles (popped {self.pops - pops0} of {len(blob)} beats)"
        for _ in range(4):  # done must be a single pulse; nothing may follow
            await RisingEdge(self.clk)
        assert len(self.done_cycles) == n_done + 1, f"done pulsed {len(self.done_cycles) - n_done} times"
        assert not self.errors, "; ".join(self.errors[:5])
        popped = self.pops - pops0
        assert popped == len(blob), f"popped {popped} param-stream beats, the blob has {len(blob)}"
        self.ps.clear()
        self.ps_presenting = False
        return self.done_cycles[-1] - self.start_cycle


def word_mismatch(got: Dict[int, int], want: Dict[str, Any], lanes: int, width: int, signed: bool = False) -> str:
    """'' when every address of ``want`` holds its word in ``got``; else the first difference."""
    for a_str, w in sorted(want.items(), key=lambda kv: int(kv[0])):
        a = int(a_str)
        g = got.get(a, None)
        if g != w:
            def lanes_of(v):
                if v is None:
                    return None
                out = []
                for i in range(lanes):
                    x = (v >> (i * width)) & ((1 << width) - 1)
                    if signed and x >> (width - 1):
                        x -= 1 << width
                    out.append(x)
                return out
            return f"word {a}: got lanes {lanes_of(g)}, want {lanes_of(w)}"
    return ""
