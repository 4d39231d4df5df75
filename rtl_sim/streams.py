"""Valid/ready stream drivers and monitors for the cocotb testbenches (mase_cocotb style).

Every stream port of the kernel library is named ``<prefix>_tdata``, ``<prefix>_tvalid``,
``<prefix>_tready`` and optionally ``<prefix>_tlast`` / ``<prefix>_tuser`` (AXI-Stream-like);
the upper-case suffixes and ``ap_clk`` / ``ap_rst_n`` of Vitis-HLS-exported RTL are found too.
:class:`StreamDriver` feeds beats into a slave port with random idle cycles;
:class:`StreamMonitor` takes beats from a master port with random back-pressure.  Both decide a
transfer in the ReadOnly phase before a clock edge (``tvalid && tready`` after all combinational
settling), so a ``tready`` that depends combinationally on ``tvalid`` is handled correctly.

Also here: packing of lanes into ``tdata`` (lane ``i`` at bits ``[i*W +: W]``), the clock/reset
set-up, loading of the JSON test vectors the runner passes in (``SPVIT_TB_VECTORS``) and the
progress lines a long testbench reports back (``SPVIT_TB_PROGRESS``).
"""
from __future__ import annotations

import json
import logging
import os
import random
from collections import deque
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import Event, NextTimeStep, ReadOnly, RisingEdge, SimTimeoutError, Timer, with_timeout

from spvit_fpga.rtl.bits import pack, to_signed, unpack  # noqa: F401  (re-exported for testbenches)

VECTORS_ENV = "SPVIT_TB_VECTORS"  # same name as spvit_fpga.rtl.runner.VECTORS_ENV (kept import-free)
CLOCK_NS = 10


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


@dataclass
class Beat:
    """One stream transfer."""

    data: int
    last: int = 0
    user: int = 0


def load_vectors() -> Any:
    """The test vectors the runner passed in (JSON file named by ``SPVIT_TB_VECTORS``)."""
    path = os.environ.get(VECTORS_ENV)
    if not path:
        raise RuntimeError(
            f"{VECTORS_ENV} is not set: run this testbench through spvit_fpga.rtl.runner.run(vectors=...)"
        )
    with open(path) as fh:
        return json.load(fh)


PROGRESS_ENV = "SPVIT_TB_PROGRESS"  # same name as spvit_fpga.rtl.runner.PROGRESS_ENV
_progress = {"done": 0}


def report_progress(done: Optional[int] = None) -> None:
    """Append ``<items done> <current cycle>`` to the file named by ``SPVIT_TB_PROGRESS`` (if set):
    the runner shows it as the simulation's progress line."""
    if done is not None:
        _progress["done"] = done
    path = os.environ.get(PROGRESS_ENV)
    if path:
        with open(path, "a") as fh:
            fh.write(f"{_progress['done']} {int(get_sim_time(unit='ns')) // CLOCK_NS}\n")


async def report_cycles(every: int = 20_000) -> None:
    """Background task: :func:`report_progress` every ``every`` simulated cycles (one wake-up each,
    so a long image shows its cycles while it runs)."""
    if not os.environ.get(PROGRESS_ENV):
        return
    while True:
        await Timer(every * CLOCK_NS, unit="ns")
        report_progress()


def quiet_loggers() -> None:
    """Keep cocotb's and cocotbext-axi's per-transaction INFO logging out of the way."""
    for name in ("cocotb", "cocotbext", "cocotbext.axi", "cocotb.regression", "cocotb.scheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _port(dut, prefix: str, field_name: str, required: bool = True):
    """``<prefix>_<field>`` in this library's naming, or ``<prefix>_<FIELD>`` (Vitis HLS)."""
    for name in (f"{prefix}_{field_name}", f"{prefix}_{field_name.upper()}"):
        if hasattr(dut, name):
            return getattr(dut, name)
    if required:
        raise AttributeError(f"{dut._name} has no port {prefix}_{field_name}")
    return None


def clock_of(dut):
    """The clock: ``clk`` (this library) or ``ap_clk`` (HLS-exported RTL)."""
    return dut.clk if hasattr(dut, "clk") else dut.ap_clk


def reset_of(dut):
    """The synchronous active-low reset: ``rst_n`` or ``ap_rst_n``."""
    return dut.rst_n if hasattr(dut, "rst_n") else dut.ap_rst_n


async def start_clock_and_reset(dut, cycles: int = 4) -> None:
    """Start the clock and hold the active-low reset for ``cycles`` cycles."""
    clk, rst = clock_of(dut), reset_of(dut)
    cocotb.start_soon(Clock(clk, CLOCK_NS, unit="ns").start())
    rst.value = 0
    for _ in range(cycles):
        await RisingEdge(clk)
    rst.value = 1
    await RisingEdge(clk)


# --------------------------------------------------------------------------------------------
# Driver and monitor
# --------------------------------------------------------------------------------------------


class StreamDriver:
    """Drives a slave stream port ``<prefix>_t*`` from a queue of :class:`Beat`.

    ``idle`` is the probability of inserting an idle cycle (``tvalid = 0``) before a beat.
    """

    def __init__(self, dut, prefix: str, *, idle: float = 0.3, rng: Optional[random.Random] = None):
        self.clk = clock_of(dut)
        self.name = prefix
        self.data = _port(dut, prefix, "tdata")
        self.valid = _port(dut, prefix, "tvalid")
        self.ready = _port(dut, prefix, "tready")
        self.last = _port(dut, prefix, "tlast", required=False)
        self.user = _port(dut, prefix, "tuser", required=False)
        self.idle = idle
        self.rng = rng or random.Random(0)
        self.queue: deque = deque()
        self.sent = 0
        self._empty = Event()
        self.valid.value = 0
        self._task = cocotb.start_soon(self._run())

    def append(self, beat: Beat) -> None:
        self.queue.append(beat)
        self._empty.clear()

    def extend(self, beats: Iterable[Beat]) -> None:
        for b in beats:
            self.append(b)

    def stop(self) -> None:
        """Stop driving (tvalid low) and end the driver's coroutine."""
        self._task.cancel()
        self.valid.value = 0

    async def wait_done(self) -> None:
        """Wait until every queued beat has been transferred."""
        if self.queue:
            await self._empty.wait()

    def _offer_now(self) -> bool:
        """Called each cycle while no beat is offered: offer the next one now?  (Subclasses
        change the idle pattern here: bursts, a fixed pace.)"""
        return self.rng.random() >= self.idle

    def _taken(self) -> None:
        """Called after each transfer."""

    async def _run(self) -> None:
        driving = False
        fired = False
        while True:
            await RisingEdge(self.clk)
            if fired:
                self.queue.popleft()
                self.sent += 1
                driving = False
                self._taken()
                if not self.queue:
                    self._empty.set()
            if not driving and self.queue and self._offer_now():
                beat = self.queue[0]
                self.data.value = beat.data
                if self.last is not None:
                    self.last.value = beat.last
                if self.user is not None:
                    self.user.value = beat.user
                driving = True
            self.valid.value = 1 if driving else 0
            await ReadOnly()
            fired = driving and bool(int(self.ready.value))


class StreamMonitor:
    """Takes beats from a master stream port ``<prefix>_t*`` with random back-pressure.

    ``stall`` is the probability of holding ``tready`` low in a cycle.
    """

    def __init__(self, dut, prefix: str, *, stall: float = 0.3, rng: Optional[random.Random] = None):
        self.clk = clock_of(dut)
        self.name = prefix
        self.data = _port(dut, prefix, "tdata")
        self.valid = _port(dut, prefix, "tvalid")
        self.ready = _port(dut, prefix, "tready")
        self.last = _port(dut, prefix, "tlast", required=False)
        self.user = _port(dut, prefix, "tuser", required=False)
        self.stall = stall
        self.rng = rng or random.Random(1)
        self.beats: List[Beat] = []
        self._want = 0
        self._enough = Event()
        self.ready.value = 0
        self._task = cocotb.start_soon(self._run())

    def stop(self) -> None:
        """Stop taking beats (tready low) and end the monitor's coroutine."""
        self._task.cancel()
        self.ready.value = 0

    async def wait_beats(self, count: int) -> List[Beat]:
        """Wait until ``count`` beats in total have been received; return them."""
        self._want = count
        if len(self.beats) < count:
            self._enough.clear()
            await self._enough.wait()
        return self.beats[:count]

    async def _run(self) -> None:
        while True:
            await RisingEdge(self.clk)
            rdy = self.rng.random() >= self.stall
            self.ready.value = 1 if rdy else 0
            await ReadOnly()
            if rdy and int(self.valid.value):
                self.beats.append(
                    Beat(
                        data=int(self.data.value),
                        last=int(self.last.value) if self.last is not None else 0,
                        user=int(self.user.value) if self.user is not None else 0,
                    )
                )
                if self._want and len(self.beats) >= self._want:
                    self._enough.set()


async def settle_and_check_no_extra(monitor: StreamMonitor, expected: int, cycles: int = 20) -> None:
    """Let ``cycles`` more cycles pass and check the port produced no beat beyond ``expected``."""
    for _ in range(cycles):
        await RisingEdge(monitor.clk)
    assert len(monitor.beats) == expected, (
        f"{monitor.name}: {len(monitor.beats)} beats received, expected exactly {expected}"
    )


def first_mismatch(got: Sequence[int], want: Sequence[int]) -> str:
    """A short description of where two integer sequences first differ ('' if equal)."""
    if list(got) == list(want):
        return ""
    n = min(len(got), len(want))
    for i in range(n):
        if got[i] != want[i]:
            lo = max(0, i - 3)
            return (
                f"first mismatch at index {i}: got {got[i]}, want {want[i]} "
                f"(got[{lo}:{i + 4}]={list(got[lo:i + 4])}, want[{lo}:{i + 4}]={list(want[lo:i + 4])}); "
                f"lengths {len(got)} / {len(want)}"
            )
    return f"lengths differ: got {len(got)}, want {len(want)}"


# --------------------------------------------------------------------------------------------
# Generic stream test: drive every input port, collect every output port, compare exactly
# --------------------------------------------------------------------------------------------


async def drive_and_check(
    dut,
    vec: Dict[str, Any],
    *,
    idle: float = 0.3,
    stall: float = 0.3,
    seed: int = 0,
    check_last: bool = True,
    check_user: bool = False,
    cycles_per_beat: int = 40,
) -> "StreamRun":
    """Drive ``vec["inputs"]`` and compare ``vec["outputs"]`` exactly.

    ``vec["inputs"]``: ``{port_prefix: [[data, last, user], ...]}`` (one driver per port, each
    with its own random idle cycles); ``vec["outputs"]``: ``{port_prefix: [[data, last, user],
    ...]}`` (one monitor per port with random back-pressure); ``vec["lanes"]``:
    ``{port_prefix: [width, count, signed]}`` for readable mismatch reports.  Returns the beats
    received and the clock cycles from the start until the last expected output beat.  Fails on
    the first data (and tlast/tuser, if asked) mismatch, on extra beats, and when the outputs do
    not arrive within ``cycles_per_beat`` cycles per input and output beat (plus 200): a hang
    reports how far each port got instead of running into the test's timeout.
    """
    rng = random.Random(seed)
    t_start = get_sim_time("ns")
    drivers = []
    for k, (port, beats) in enumerate(sorted(vec["inputs"].items())):
        drv = StreamDriver(dut, port, idle=idle, rng=random.Random(rng.randrange(1 << 30) + k))
        drv.extend(Beat(*b) for b in beats)
        drivers.append(drv)
    monitors = {
        port: StreamMonitor(dut, port, stall=stall, rng=random.Random(rng.randrange(1 << 30)))
        for port in sorted(vec["outputs"])
    }
    got: Dict[str, List[Beat]] = {}
    total = sum(len(b) for b in vec["inputs"].values()) + sum(len(b) for b in vec["outputs"].values())
    budget_ns = (200 + cycles_per_beat * total) * CLOCK_NS
    for port, want in sorted(vec["outputs"].items()):
        mon = monitors[port]
        try:
            beats = await with_timeout(mon.wait_beats(len(want)), budget_ns, "ns")
        except SimTimeoutError:
            progress = ", ".join(f"{d.name} {d.sent}/{d.sent + len(d.queue)} sent" for d in drivers)
            progress += ", " + ", ".join(f"{m.name} {len(m.beats)}/{len(vec['outputs'][m.name])} received"
                                         for m in monitors.values())
            raise AssertionError(f"no progress within {budget_ns // CLOCK_NS} cycles: {progress}") from None
        got[port] = beats
        lanes = vec.get("lanes", {}).get(port)
        if lanes:
            width, count, signed = lanes
            g = [v for b in beats for v in unpack(b.data, width, count, bool(signed))]
            w = [v for b in want for v in unpack(b[0], width, count, bool(signed))]
            assert g == w, f"{port} data: " + first_mismatch(g, w)
        else:
            g = [b.data for b in beats]
            w = [b[0] for b in want]
            assert g == w, f"{port} data: " + first_mismatch(g, w)
        if check_last:
            g = [b.last for b in beats]
            w = [b[1] for b in want]
            assert g == w, f"{port} tlast: " + first_mismatch(g, w)
        if check_user:
            g = [b.user for b in beats]
            w = [b[2] for b in want]
            assert g == w, f"{port} tuser: " + first_mismatch(g, w)
    cycles = round((get_sim_time("ns") - t_start) / CLOCK_NS)
    for drv in drivers:
        assert not drv.queue, f"{drv.name}: {len(drv.queue)} input beats were never accepted"
    for port, want in vec["outputs"].items():
        await settle_and_check_no_extra(monitors[port], len(want))
    for drv in drivers:
        drv.stop()
    for mon in monitors.values():
        mon.stop()
    return StreamRun(beats=got, cycles=cycles)


@dataclass
class StreamRun:
    """What :func:`drive_and_check` saw: beats per output port, cycles until the last one."""

    beats: Dict[str, List[Beat]]
    cycles: int


class UnitControl:
    """start / busy / done bookkeeping of a bench for a one-instruction unit (a one-cycle ``start``
    pulse with its config, ``busy`` while it runs, a one-cycle ``done``).  The bench's monitor calls
    :meth:`_control` once a cycle after ``ReadOnly``; :meth:`_progress` says what a unit that never
    finishes got through."""

    def _init_control(self) -> None:
        self.dones: List[int] = []    # cycles that saw done
        self.starts: List[int] = []   # cycles that saw busy rise (an accepted start)
        self._busy = 0

    def _control(self, cycle: int) -> None:
        d = self.dut
        if int(d.done.value):
            self.dones.append(cycle)
        busy = int(d.busy.value)
        if busy and not self._busy:
            self.starts.append(cycle)
        self._busy = busy

    async def pulse_start(self, **config: int) -> None:
        """Raise ``start`` with the config ports for one edge (leaving a ReadOnly phase first)."""
        await NextTimeStep()
        d = self.dut
        d.start.value = 1
        for name, value in config.items():
            getattr(d, name).value = value
        await RisingEdge(d.clk)
        d.start.value = 0

    async def wait_done(self, limit: int) -> int:
        """The cycle of the next done, within ``limit`` cycles."""
        n = len(self.dones)
        for _ in range(limit):
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            if len(self.dones) > n:
                return self.dones[-1]
        raise AssertionError(f"no done within {limit} cycles: {self._progress()}")

    def _progress(self) -> str:
        return ""
