"""cocotb testbench of spvit_attention (q, k, v token streams -> context token stream).

Vectors (spvit_fpga.rtl.vectors.attention): frames of 1..T_MAX tokens back to back — random q, k, v
over the full range, all-min / all-max frames (saturated scores, uniform rows, saturated
context), a split frame (scores saturated both ways, the exp table's far tail), a frame with
one dominant score — and the context tokens of intops.int_attention_scores / int_softmax /
int_attention_context per head.  The q, k and v streams each get their own random idle cycles
(no lock-step), the output random back-pressure; data, tlast and tuser (the q token's kind) are
compared exactly.  A second test runs at full rate and checks the cycle count of the module
header (expected_cycles; QP query rows in parallel, the pipelined spvit_softmax, FRAMES frame
buffers); a third offers the q, k, v tokens paced as a GEMM unit upstream delivers them (each
token `gap` cycles after the previous one was taken, i.e. one every NS + gap cycles; a source
held off falls behind) with the gap chosen so that receiving the longest frames takes longer
than computing them, and checks the same model's cycle count (FRAMES = 1: receive + compute
per frame; FRAMES = 2: the frame interval is the receive time).
"""
import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import ReadOnly, RisingEdge, SimTimeoutError, with_timeout

from rtl_sim.streams import (CLOCK_NS, Beat, StreamDriver, StreamMonitor, drive_and_check, first_mismatch,
                             load_vectors, quiet_loggers, settle_and_check_no_extra, start_clock_and_reset,
                             unpack)


def _shape(p: dict):
    nb = p["DH"] // p["SIMD"]
    d = -(-(p["P_W"] + 1) // p["DIV_STEPS"]) + 1
    return nb, d, p["H"], p["C"] // p["SIMD"], p.get("QP", 1)


def frame_cycles(t: int, p: dict):
    """(E, L) of a frame of t tokens (spvit_attention header): E = NS*t + Q cycles from the first
    cycle its load may start to the first cycle after its last context token has been computed
    (load NS*t, compute Q), L = its last row group's tokens, which leave after that."""
    nb, d, h, ns, qp = _shape(p)
    g = -(-t // qp)
    last_rows = t - (g - 1) * qp
    row = max(d * t + max(0, 3 - d), t + 3)  # softmax row interval (pipelined, rows of t)
    q = (nb + 1 + d) * t + (h * g - 1) * row + nb + 11
    return ns * t + q, last_rows


def expected_cycles(frames, p: dict, gap: int = 0):
    """Cycles for back-to-back frames without back-pressure (spvit_attention header), from the
    first input beat offered to the last output beat taken; None when the context MACs pace the
    divisions (NB > D), where the header gives no exact figure.  Input token k > 0 of the run (q,
    k and v alike) is offered ``gap`` cycles after token k-1 was taken (gap 0: full rate).  Per
    frame i: its load may start at free_i (FRAMES = 1: when frame i-1 has been computed;
    FRAMES = 2: one cycle after frame i-1's load and when frame i-2 has been computed),
    each token is written over NS cycles, the load completes r_i one cycle after the last one;
    its computation starts at max(r_i, f_{i-1}) and ends Q_i = E_i - NS*T_i cycles later (f_i);
    the last frame's L tokens follow."""
    nb, d, h, ns, qp = _shape(p)
    if nb > d:
        return None
    nbuf = p.get("FRAMES", 1)
    r, f = [], []
    k = 0
    prev_taken = -1
    for i, t in enumerate(frames):
        e, last_rows = frame_cycles(t, p)
        if nbuf == 1:
            free = f[i - 1] if i else 0
        else:
            free = max(r[i - 1] + 1 if i else 0, f[i - 2] if i >= 2 else 0)
        for j in range(t):
            offer = prev_taken + 1 + gap if k else 0
            w = max(offer, free) if j == 0 else offer
            prev_taken = w + ns - 1
            k += 1
        r.append(prev_taken + 1)
        start = max(r[i], f[i - 1]) if i else r[i]
        f.append(start + e - ns * t)
    return f[-1] + last_rows


def gap_for(frames, p: dict) -> int:
    """A token gap at which receiving the longest frame (t*(NS + gap) cycles) takes longer than
    computing it (E - NS*t)."""
    t = max(frames)
    e, _ = frame_cycles(t, p)
    return max(1, -(-(e - 2 * (p["C"] // p["SIMD"]) * t) // t) + 1)


def cycles_per_beat(p: dict) -> int:
    """A generous hang budget per stream beat: a frame of T tokens has 4T beats and takes about
    H*T*T*(2 + max(D, NB)) cycles."""
    nb, d, h, ns, qp = _shape(p)
    return 40 + h * p["T_MAX"] * (3 + max(nb, d))


class PacedDriver(StreamDriver):
    """StreamDriver without random idle cycles that offers each beat ``gap`` cycles after the
    previous one was taken (the first one at its first clock edge)."""

    def __init__(self, dut, prefix: str, gap: int):
        self.gap = gap
        self._wait = 0
        super().__init__(dut, prefix, idle=0.0)

    def _offer_now(self) -> bool:  # the cycle the wait runs out is the cycle the beat is offered
        if self._wait:
            self._wait -= 1
        return self._wait == 0

    def _taken(self) -> None:  # _offer_now runs in this same cycle and counts it
        self._wait = self.gap + 1


@cocotb.test(timeout_time=200, timeout_unit="ms")
async def attention_matches_intops(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    await drive_and_check(dut, vec, idle=0.3, stall=0.3, seed=11, check_user=True,
                          cycles_per_beat=cycles_per_beat(vec["params"]))


@cocotb.test(timeout_time=200, timeout_unit="ms")
async def attention_full_rate_cycles(dut):
    quiet_loggers()
    vec = load_vectors()
    await start_clock_and_reset(dut)
    run = await drive_and_check(dut, vec, idle=0.0, stall=0.0, seed=12, check_user=True,
                                cycles_per_beat=cycles_per_beat(vec["params"]))
    want = expected_cycles(vec["frames"], vec["params"])
    dut._log.warning("full-rate run: %d cycles (header formula %s), frames %s", run.cycles, want, vec["frames"])
    if want is not None:
        assert run.cycles == want, f"{run.cycles} cycles, header formula gives {want}"


@cocotb.test(timeout_time=400, timeout_unit="ms")
async def attention_paced_cycles(dut):
    """Inputs paced as by the upstream GEMM units, output at full rate: data and the cycle count."""
    quiet_loggers()
    vec = load_vectors()
    p, frames = vec["params"], vec["frames"]
    gap = gap_for(frames, p)
    await start_clock_and_reset(dut)
    t_start = get_sim_time("ns")
    drivers = []
    for port, beats in sorted(vec["inputs"].items()):
        drv = PacedDriver(dut, port, gap)
        drv.extend(Beat(*b) for b in beats)
        drivers.append(drv)
    mon = StreamMonitor(dut, "m_axis", stall=0.0)
    want = vec["outputs"]["m_axis"]
    budget = 200 + gap * sum(frames) + len(want) * cycles_per_beat(p)
    try:
        got = await with_timeout(mon.wait_beats(len(want)), budget * CLOCK_NS, "ns")
    except SimTimeoutError:
        raise AssertionError(f"no progress within {budget} cycles: {len(mon.beats)}/{len(want)} received") from None
    cycles = round((get_sim_time("ns") - t_start) / CLOCK_NS)
    width, count, signed = vec["lanes"]["m_axis"]
    g = [v for b in got for v in unpack(b.data, width, count, bool(signed))]
    w = [v for b in want for v in unpack(b[0], width, count, bool(signed))]
    assert g == w, "m_axis data: " + first_mismatch(g, w)
    assert [b.last for b in got] == [b[1] for b in want], "m_axis tlast: " + first_mismatch(
        [b.last for b in got], [b[1] for b in want])
    assert [b.user for b in got] == [b[2] for b in want], "m_axis tuser: " + first_mismatch(
        [b.user for b in got], [b[2] for b in want])
    for drv in drivers:
        assert not drv.queue, f"{drv.name}: {len(drv.queue)} input beats were never accepted"
    await settle_and_check_no_extra(mon, len(want))
    for drv in drivers:
        drv.stop()
    mon.stop()
    model = expected_cycles(frames, p, gap)
    dut._log.warning("paced run (gap %d: a token every %d cycles): %d cycles (header model %s), frames %s",
                     gap, gap + p["C"] // p["SIMD"], cycles, model, frames)
    if model is not None:
        assert cycles == model, f"{cycles} cycles, header model gives {model}"
