"""Shared cocotb harness of the overlay vector units (LayerNorm, softmax): buffer RAM models, the
param stream, and the start / busy / done handshake of instructions.

One coroutine runs every clock cycle (one wake-up a cycle for everything) and models:

* read ports ``<b>_rd_en`` / ``<b>_rd_addr`` -> ``<b>_rd_data`` exactly ``RD_LAT = 2`` cycles later
  (the simple-dual-port buffer RAMs of the overlay architecture: L lanes a word);
* write ports ``<b>_wr_en`` / ``<b>_wr_addr`` / ``<b>_wr_be`` / ``<b>_wr_data`` (a lane is written
  when its enable bit is set), recording every write;
* the param stream ``ps_tdata`` / ``ps_tvalid`` / ``ps_tready`` (AXI-Stream handshake) with a
  random idle cycle before a beat with probability ``idle``, counting pops;
* the controller: ``start`` with the ``cfg_*`` ports held until the unit takes the instruction
  (``start`` high while ``busy`` is low), so a queued instruction starts in the cycle its
  predecessor's ``done`` is high, as the engine's controller starts it.

Read memories (``rd_mem``) and write memories (``wr_mem``) are separate dicts per port.  A request
or transfer is sampled in the ReadOnly phase of its cycle.  After each instruction the harness
checks that ``done`` was a single pulse, that ``busy`` was high exactly from the cycle after the
start to the cycle before ``done``, and that the unit popped exactly its blob's beats.
"""
from __future__ import annotations

import random
from collections import deque
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

RD_LAT = 2
SENTINEL = (1 << 64) - 1


class Harness:
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
        self.writes: List[Tuple[int, str, int, int]] = []
        self.starts: deque = deque()          # instructions (cfg dicts) waiting to be taken
        self.accepted: List[int] = []         # cycles in which an instruction was taken
        self.done_cycles: List[int] = []
        self.pops_at: List[int] = []          # pops before each accepted instruction
        self.busy_log: List[int] = []         # busy of every cycle (index = cycle - 1)
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
            if self.starts:
                for k, v in self.starts[0].items():
                    getattr(dut, k).value = v
                dut.start.value = 1
            else:
                dut.start.value = 0
            if not self.ps_presenting and self.ps and (self.idle == 0.0 or self.rng.random() >= self.idle):
                dut.ps_tdata.value = self.ps[0]
                self.ps_presenting = True
            dut.ps_tvalid.value = 1 if self.ps_presenting else 0
            await ReadOnly()
            for p, pipe in self._pipes.items():
                if int(getattr(dut, f"{p}_rd_en").value):
                    pipe.append(self.rd_mem[p].get(int(getattr(dut, f"{p}_rd_addr").value), 0))
                else:
                    pipe.append(None)
            for p, width in self.write_ports.items():
                if int(getattr(dut, f"{p}_wr_en").value):
                    addr = int(getattr(dut, f"{p}_wr_addr").value)
                    be = int(getattr(dut, f"{p}_wr_be").value)
                    data = int(getattr(dut, f"{p}_wr_data").value)
                    mask = 0
                    for ln in range(self.lanes):
                        if be >> ln & 1:
                            mask |= ((1 << width) - 1) << (ln * width)
                    old = self.wr_mem[p].get(addr, 0)
                    self.wr_mem[p][addr] = (old & ~mask) | (data & mask)
                    self.writes.append((self.cycle, p, addr, be))
            busy = int(dut.busy.value)
            self.busy_log.append(busy)
            if int(dut.done.value):
                self.done_cycles.append(self.cycle)
            if self.starts and not busy:  # the unit takes the instruction at this clock edge
                self.starts.popleft()
                self.accepted.append(self.cycle)
                self.pops_at.append(self.pops)
            if self.ps_presenting and int(dut.ps_tready.value):
                self.ps.popleft()
                self.pops += 1
                self.ps_presenting = False

    # -- instructions --------------------------------------------------------------------------
    async def run_program(self, program: Sequence[Tuple[Dict[str, int], List[int]]], *, sentinels: int = 2,
                          timeout: int = 400000) -> List[int]:
        """Run ``program`` (``(cfg, blob)`` pairs) back to back: the blobs follow each other on the
        param stream (then ``sentinels`` beats the unit must leave there), instruction k+1 starts
        in the done cycle of instruction k.  Returns the cycles of every instruction (start cycle
        to done cycle)."""
        self.ps.clear()
        self.ps_presenting = False
        for _, blob in program:
            self.ps.extend(blob)
        self.ps.extend([SENTINEL - i for i in range(sentinels)])
        a0, d0, p0 = len(self.accepted), len(self.done_cycles), self.pops
        self.starts.extend(cfg for cfg, _ in program)
        waited = 0
        while len(self.done_cycles) < d0 + len(program):
            await RisingEdge(self.clk)
            waited += 1
            assert waited < timeout, (f"{len(self.done_cycles) - d0} of {len(program)} instructions done within "
                                      f"{timeout} cycles (popped {self.pops - p0} beats)")
        for _ in range(6):  # nothing may follow: no second done, no pop of the sentinels
            await RisingEdge(self.clk)
        acc = self.accepted[a0:]
        dones = self.done_cycles[d0:]
        assert len(acc) == len(program) and len(dones) == len(program), (
            f"{len(acc)} instructions taken, {len(dones)} done pulses for {len(program)} instructions")
        cycles = []
        for k, (s, d) in enumerate(zip(acc, dones)):
            assert s < d, f"instruction {k}: done in cycle {d} before its start {s}"
            if k + 1 < len(acc):
                assert acc[k + 1] >= d, f"instruction {k + 1} taken in cycle {acc[k + 1]} before done {d}"
            for c in range(s + 1, d):
                assert self.busy_log[c - 1], f"instruction {k}: busy low in cycle {c} (start {s}, done {d})"
            assert not self.busy_log[d - 1], f"instruction {k}: busy in its done cycle {d}"
            popped = (self.pops_at[a0 + k + 1] if k + 1 < len(acc) else self.pops) - self.pops_at[a0 + k]
            want = len(program[k][1])
            assert popped == want, f"instruction {k}: popped {popped} param-stream beats, its blob has {want}"
            cycles.append(d - s)
        self.ps.clear()
        self.ps_presenting = False
        return cycles

    async def run_instruction(self, cfg: Dict[str, int], blob: List[int]) -> int:
        """One instruction alone (the sentinel beats follow its blob)."""
        return (await self.run_program([(cfg, blob)]))[0]


def word_mismatch(got: Dict[int, int], want: Dict[str, Any], lanes: int, width: int, signed: bool = False) -> str:
    """'' when every address of ``want`` holds its word in ``got``; else the first difference."""

    def lanes_of(v: Optional[int]):
        if v is None:
            return None
        out = []
        for i in range(lanes):
            x = (v >> (i * width)) & ((1 << width) - 1)
            if signed and x >> (width - 1):
                x -= 1 << width
            out.append(x)
        return out

    for a_str, w in sorted(want.items(), key=lambda kv: int(kv[0])):
        g = got.get(int(a_str))
        if g != w:
            return f"word {a_str}: got lanes {lanes_of(g)}, want {lanes_of(w)}"
    return ""


async def run_vectors(dut, vec: Dict[str, Any], *, read_port: str, read_width: int, src_key: str,
                      signed: bool) -> List[str]:
    """The bench of a unit with one read port ``read_port`` (lanes of ``read_width`` bits) and one
    AM write port ``am`` (8-bit lanes): every
    instruction of ``vec`` alone (its read memory and prefilled AM region installed before it), or,
    with ``vec["back_to_back"]``, all of them as one program (disjoint regions, installed at once).
    Checks every word of each destination region, that no write lands outside the regions, and
    (``vec["check_cycles"]``) each instruction's cycles against the formula.  Returns a report."""
    from rtl_sim.streams import quiet_loggers, start_clock_and_reset

    quiet_loggers()
    await start_clock_and_reset(dut)
    lanes = vec["lanes"]
    h = Harness(dut, read_ports={read_port: read_width}, write_ports={"am": 8}, lanes=lanes,
                idle=vec["idle"], seed=vec["seed"])
    instrs = vec["instructions"]
    groups = [instrs] if vec.get("back_to_back") else [[i] for i in instrs]
    report = []
    for group in groups:
        h.rd_mem[read_port] = {}
        h.wr_mem["am"] = {}
        region: Dict[str, Any] = {}
        for ins in group:
            h.rd_mem[read_port].update({int(k): v for k, v in ins[src_key].items()})
            h.wr_mem["am"].update({int(k): v for k, v in ins["am_init"].items()})
            region.update(ins["expect"])
        w0 = len(h.writes)
        cycles = await h.run_program([(ins["cfg"], ins["blob"]) for ins in group])
        for ins, cyc in zip(group, cycles):
            bad = word_mismatch(h.wr_mem["am"], ins["expect"], lanes, 8, signed=signed)
            assert not bad, f"{ins['name']}: {bad}"
            report.append(f"{ins['name']}: {cyc} cycles (formula {ins['cycles']})")
            if vec["check_cycles"]:
                assert cyc == ins["cycles"], f"{ins['name']}: {cyc} cycles, the header formula gives {ins['cycles']}"
        outside = [w for w in h.writes[w0:] if str(w[2]) not in region]
        assert not outside, f"writes outside the destination regions: {outside[:4]}"
    if vec.get("back_to_back"):
        report.append(f"back to back: {len(instrs)} instructions, each started in its predecessor's done cycle")
    return report
