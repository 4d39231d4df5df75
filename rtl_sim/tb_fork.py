"""cocotb testbench of spvit_fork (one stream broadcast to N outputs).

Vectors (spvit_fpga.rtl.vectors.plumbing.fork_vectors): token frames incl. 1-token frames; every output
must receive every beat (``vectors_plumbing.fork_model``, the specification).  The outputs are
packed ports (output i at m_axis_tdata[i*W +: W], m_axis_t{valid,ready,last}[i],
m_axis_tuser[i*USER_W +: USER_W]), so this testbench has its own N-output monitor: each output
gets its own back-pressure probability (vec["stalls"]).  In every cycle the monitor also flips
all tready bits in mid-cycle and checks that no m_axis_tvalid bit moves (tvalid does not depend
combinationally on any tready), then restores them before the clock edge.  A second test runs
without idle cycles or back-pressure and checks one beat a cycle (n + 1 cycles).
"""
import random

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import Event, ReadOnly, RisingEdge, Timer, with_timeout

from rtl_sim.streams import (
    CLOCK_NS,
    Beat,
    StreamDriver,
    first_mismatch,
    load_vectors,
    quiet_loggers,
    start_clock_and_reset,
)


class ForkMonitor:
    """Takes beats from the N packed outputs, output i with back-pressure probability stalls[i]."""

    def __init__(self, dut, n, w, user_w, stalls, rng, check_comb):
        self.dut, self.n, self.w, self.user_w = dut, n, w, user_w
        self.stalls, self.rng, self.check_comb = stalls, rng, check_comb
        self.beats = [[] for _ in range(n)]
        self.want = 0
        self.done = Event()
        dut.m_axis_tready.value = 0
        self.task = cocotb.start_soon(self._run())

    def stop(self):
        self.task.cancel()
        self.dut.m_axis_tready.value = 0

    async def wait_beats(self, count):
        self.want = count
        if min(len(b) for b in self.beats) < count:
            self.done.clear()
            await self.done.wait()

    async def _run(self):
        dut, n = self.dut, self.n
        full = (1 << n) - 1
        while True:
            await RisingEdge(dut.clk)
            rdy = sum(1 << i for i in range(n) if self.rng.random() >= self.stalls[i])
            dut.m_axis_tready.value = rdy
            await ReadOnly()
            valid = int(dut.m_axis_tvalid.value)
            data = int(dut.m_axis_tdata.value)
            last = int(dut.m_axis_tlast.value)
            user = int(dut.m_axis_tuser.value)
            for i in range(n):
                if (rdy >> i) & 1 and (valid >> i) & 1:
                    self.beats[i].append(Beat(
                        data=(data >> (i * self.w)) & ((1 << self.w) - 1),
                        last=(last >> i) & 1,
                        user=(user >> (i * self.user_w)) & ((1 << self.user_w) - 1),
                    ))
            if self.want and min(len(b) for b in self.beats) >= self.want:
                self.done.set()
            if self.check_comb:
                await Timer(CLOCK_NS // 2, "ns")
                dut.m_axis_tready.value = rdy ^ full
                await ReadOnly()
                moved = int(dut.m_axis_tvalid.value)
                assert moved == valid, (
                    f"m_axis_tvalid changed from {valid:b} to {moved:b} when tready went from "
                    f"{rdy:b} to {rdy ^ full:b} within a cycle"
                )
                await Timer(1, "ns")
                dut.m_axis_tready.value = rdy


async def _run_fork(dut, vec, idle, stalls, seed, check_comb):
    p = vec["params"]
    n, w, user_w = p["N"], p["W"], p["USER_W"]
    rng = random.Random(seed)
    beats = vec["inputs"]["s_axis"]
    t0 = get_sim_time("ns")
    drv = StreamDriver(dut, "s_axis", idle=idle, rng=random.Random(rng.randrange(1 << 30)))
    drv.extend(Beat(*b) for b in beats)
    mon = ForkMonitor(dut, n, w, user_w, stalls, random.Random(rng.randrange(1 << 30)), check_comb)
    await with_timeout(mon.wait_beats(len(beats)), (200 + 40 * len(beats)) * CLOCK_NS, "ns")
    cycles = round((get_sim_time("ns") - t0) / CLOCK_NS)
    for _ in range(20):
        await RisingEdge(dut.clk)
    drv.stop()
    mon.stop()
    for i in range(n):
        got = [(b.data, b.last, b.user) for b in mon.beats[i]]
        want = [tuple(b) for b in vec["expected"][i]]
        assert got == want, f"output {i}: " + first_mismatch(got, want)
    return cycles


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def fork_matches_model(dut):
    """Random idle cycles on the input, independent back-pressure on each output."""
    quiet_loggers()
    vec = load_vectors()
    dut.m_axis_tready.value = 0
    await start_clock_and_reset(dut)
    await _run_fork(dut, vec, 0.3, vec["stalls"], 5, check_comb=True)


@cocotb.test(timeout_time=3, timeout_unit="ms")
async def fork_full_rate(dut):
    """No idle cycles, no back-pressure: one beat a cycle on every output."""
    quiet_loggers()
    vec = load_vectors()
    dut.m_axis_tready.value = 0
    await start_clock_and_reset(dut)
    n = vec["params"]["N"]
    cycles = await _run_fork(dut, vec, 0.0, [0.0] * n, 6, check_comb=False)
    limit = vec["full_rate_cycles"]
    assert cycles <= limit, f"{cycles} cycles for {len(vec['inputs']['s_axis'])} beats (limit {limit})"
