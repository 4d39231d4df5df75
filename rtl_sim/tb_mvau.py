"""cocotb testbench of spvit_mvau (dataflow GEMM unit: weight RAM on the weight bus, token in ->
token out, bias ROM, fused residual, requant, optional table, raw-accumulator mode).

Vectors: spvit_fpga.rtl.vectors.mvau.mvau_vectors (expected tokens from intops.int_linear /
table_lookup; weight words, bias and table files from spvit_fpga.rtl.pack).  Tests:

* ``mvau_matches_intops``: the weights are written first (the unit's words in random order, with
  words outside its range mixed in and random idle cycles on the bus), then the frames stream
  with random idle cycles on s_axis_x / s_axis_r and random back-pressure on m_axis; tokens,
  tlast and tuser are compared exactly.
* ``mvau_full_rate``: weights in image order, then no idle cycles and no back-pressure: checks the
  documented timing exactly — one output token every (M/PE)*(K/SIMD) cycles (+1 when
  K/SIMD = 1), the inputs taken at that rate once the pipeline is full, and (M/PE)*(K/SIMD) + 4
  cycles from the first token's input handshake to its output.
* ``mvau_long_backpressure``: m_axis_tready held low in random bursts up to several output
  groups long (so the array's epilogue and output registers fill and the MAC input stage stalls
  with a RAM read outstanding), s_axis_r idle in bursts too.
* ``mvau_waits_for_weights``: tokens are offered from the first cycle while the weights are
  still being written (slowly, foreign words mixed in): no token may be taken before the last
  owned word is in the RAM, and the results are still exact.
"""
import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

from rtl_sim.streams import (
    Beat,
    StreamDriver,
    StreamMonitor,
    clock_of,
    drive_and_check,
    first_mismatch,
    load_vectors,
    quiet_loggers,
    settle_and_check_no_extra,
    start_clock_and_reset,
    unpack,
)

LATENCY_EXTRA = 4  # input handshake -> token register -> RAM read -> MAC ... -> output register


def _idle_inputs(dut):
    dut.wb_valid.value = 0
    dut.wb_addr.value = 0
    dut.wb_data.value = 0
    dut.s_axis_x_tvalid.value = 0
    dut.s_axis_r_tvalid.value = 0
    dut.m_axis_tready.value = 0


def _bus_order(vec, rng: random.Random, shuffle: bool):
    own = [tuple(w) for w in vec["writes"]]
    if shuffle:
        rng.shuffle(own)
    seq = list(own)
    for fw in vec["foreign_writes"]:
        seq.insert(rng.randrange(len(seq) + 1), tuple(fw))
    return seq


async def write_weights(dut, writes, rng: random.Random, idle: float, at: list) -> None:
    """Drive the weight bus: one write a cycle, random idle cycles.  ``at`` receives, per write,
    the number of clock edges between the start and the edge that samples it, minus one."""
    clk = clock_of(dut)
    cycles = 0
    for addr, data in writes:
        while rng.random() < idle:
            dut.wb_valid.value = 0
            await RisingEdge(clk)
            cycles += 1
        dut.wb_valid.value = 1
        dut.wb_addr.value = addr
        dut.wb_data.value = data
        at.append(cycles)
        await RisingEdge(clk)
        cycles += 1
    dut.wb_valid.value = 0


class HandshakeLog:
    """Cycle numbers of the s_axis_x and m_axis transfers (cycle c: sampled by the (c+1)-th clock
    edge after the log started)."""

    def __init__(self, dut):
        self.dut = dut
        self.cycle = 0
        self.x = []
        self.y = []
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        clk = clock_of(self.dut)
        while True:
            await RisingEdge(clk)
            self.cycle += 1
            await ReadOnly()
            d = self.dut
            if int(d.s_axis_x_tvalid.value) and int(d.s_axis_x_tready.value):
                self.x.append(self.cycle)
            if int(d.m_axis_tvalid.value) and int(d.m_axis_tready.value):
                self.y.append(self.cycle)

    def stop(self):
        self._task.cancel()


def _budget(vec, extra_cycles: int = 0) -> int:
    beats = sum(len(b) for b in vec["inputs"].values()) + len(vec["outputs"]["m_axis"])
    return 3 * vec["rows"] + 40 + (extra_cycles + beats - 1) // beats


@cocotb.test(timeout_time=100, timeout_unit="ms")
async def mvau_matches_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    _idle_inputs(dut)
    await start_clock_and_reset(dut)
    rng = random.Random(11)
    await write_weights(dut, _bus_order(vec, rng, shuffle=True), rng, 0.3, [])
    await drive_and_check(dut, vec, idle=0.25, stall=0.3, seed=5, check_user=True,
                          cycles_per_beat=_budget(vec))


@cocotb.test(timeout_time=100, timeout_unit="ms")
async def mvau_full_rate(dut):
    """No idle cycles, no back-pressure: the documented cycles per token and latency, exactly."""
    quiet_loggers()
    vec = load_vectors()
    _idle_inputs(dut)
    await start_clock_and_reset(dut)
    rng = random.Random(12)
    await write_weights(dut, _bus_order(vec, rng, shuffle=False), rng, 0.0, [])
    for _ in range(4):  # the last word is in the RAM two edges after the edge that samples it
        await RisingEdge(clock_of(dut))
    log = HandshakeLog(dut)
    await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=6, check_user=True,
                          cycles_per_beat=_budget(vec))
    log.stop()
    n = len(vec["outputs"]["m_axis"])
    rows, kb = vec["rows"], vec["kb"]
    per_token = rows + (1 if kb == 1 else 0)
    assert len(log.x) == n and len(log.y) == n, (len(log.x), len(log.y), n)
    assert log.y[0] - log.x[0] == rows + LATENCY_EXTRA, f"latency {log.y[0] - log.x[0]} cycles, rows {rows}"
    gaps = [b - a for a, b in zip(log.y, log.y[1:])]
    assert all(g == per_token for g in gaps), f"output intervals {gaps}, expected {per_token}"
    # inputs: the same rate once the pipeline is full (with K/SIMD = 1 the first tokens fill it
    # faster), and never slower
    gaps_x = [b - a for a, b in zip(log.x, log.x[1:])]
    assert all(g <= per_token for g in gaps_x) and gaps_x[-1] == per_token, (
        f"input intervals {gaps_x}, expected {per_token}")
    print(f"MVAU_FULL_RATE tokens={n} rows={rows} cycles_per_token={per_token} "
          f"latency={log.y[0] - log.x[0]} total={log.y[-1] - log.x[0] + 1}")


@cocotb.test(timeout_time=100, timeout_unit="ms")
async def mvau_waits_for_weights(dut):
    """Tokens offered while the weight bus is still busy: nothing is taken before the weights."""
    quiet_loggers()
    vec = load_vectors()
    _idle_inputs(dut)
    await start_clock_and_reset(dut)
    rng = random.Random(13)
    writes = _bus_order(vec, rng, shuffle=False)
    at: list = []
    log = HandshakeLog(dut)
    cocotb.start_soon(write_weights(dut, writes, rng, 0.5, at))
    await drive_and_check(dut, vec, idle=0.2, stall=0.3, seed=7, check_user=True,
                          cycles_per_beat=_budget(vec, 3 * len(writes)))
    log.stop()
    assert len(at) == len(writes), "weight writes did not finish"
    # Foreign words may follow the last owned word.  The owned word sampled at edge E is in the
    # RAM after edge E+2, so the first token can be sampled at edge E+3 at the earliest.
    own = {tuple(w) for w in vec["writes"]}
    last_own = max(at[i] for i, w in enumerate(writes) if w in own)
    assert log.x, "no token was taken"
    assert log.x[0] >= last_own + 3, f"token taken in cycle {log.x[0]}, last owned word in cycle {last_own}"


class BurstMonitor(StreamMonitor):
    """``tready`` low in random bursts of 1..``max_burst`` cycles (probability ``start`` a cycle),
    otherwise high with probability ``1 - stall``."""

    def __init__(self, dut, prefix: str, *, max_burst: int, start: float = 0.08, **kw):
        self.max_burst = max_burst
        self.start = start
        super().__init__(dut, prefix, **kw)

    async def _run(self) -> None:
        hold = 0
        while True:
            await RisingEdge(self.clk)
            if hold == 0 and self.rng.random() < self.start:
                hold = self.rng.randint(1, self.max_burst)
            if hold:
                hold -= 1
                rdy = False
            else:
                rdy = self.rng.random() >= self.stall
            self.ready.value = 1 if rdy else 0
            await ReadOnly()
            if rdy and int(self.valid.value):
                self.beats.append(Beat(data=int(self.data.value), last=int(self.last.value),
                                       user=int(self.user.value)))
                if self._want and len(self.beats) >= self._want:
                    self._enough.set()


class BurstDriver(StreamDriver):
    """``tvalid`` low in random bursts (the residual arriving late for several groups)."""

    def __init__(self, dut, prefix: str, *, max_burst: int, start: float = 0.08, **kw):
        self.max_burst = max_burst
        self.start = start
        self._hold = 0
        super().__init__(dut, prefix, **kw)

    def _offer_now(self) -> bool:
        if self._hold == 0 and self.rng.random() < self.start:
            self._hold = self.rng.randint(1, self.max_burst)
        if self._hold:
            self._hold -= 1
            return False
        return True


@cocotb.test(timeout_time=100, timeout_unit="ms")
async def mvau_long_backpressure(dut):
    quiet_loggers()
    vec = load_vectors()
    _idle_inputs(dut)
    await start_clock_and_reset(dut)
    rng = random.Random(14)
    await write_weights(dut, _bus_order(vec, rng, shuffle=False), rng, 0.0, [])
    burst = 4 * vec["kb"] + 8
    drivers = [StreamDriver(dut, "s_axis_x", idle=0.05, rng=random.Random(21))]
    drivers[0].extend(Beat(*b) for b in vec["inputs"]["s_axis_x"])
    if "s_axis_r" in vec["inputs"]:
        drivers.append(BurstDriver(dut, "s_axis_r", max_burst=burst, idle=0.0, rng=random.Random(22)))
        drivers[1].extend(Beat(*b) for b in vec["inputs"]["s_axis_r"])
    mon = BurstMonitor(dut, "m_axis", max_burst=burst, stall=0.1, rng=random.Random(23))
    want = vec["outputs"]["m_axis"]
    got = await with_timeout(mon.wait_beats(len(want)), len(want) * (vec["rows"] + 2 * burst) * 40 + 2000, "ns")
    width, count, signed = vec["lanes"]["m_axis"]
    g = [v for b in got for v in unpack(b.data, width, count, bool(signed))]
    w = [v for b in want for v in unpack(b[0], width, count, bool(signed))]
    assert g == w, "m_axis data: " + first_mismatch(g, w)
    assert [(b.last, b.user) for b in got] == [(b[1], b[2]) for b in want], "m_axis tlast/tuser differ"
    await settle_and_check_no_extra(mon, len(want))
    for d in drivers:
        assert not d.queue, f"{d.name}: {len(d.queue)} beats never taken"
        d.stop()
    mon.stop()
