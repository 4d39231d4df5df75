"""Test vectors for the stream-plumbing modules of the dataflow design (rtl/DATAFLOW.md, "Token
streams"): spvit_fork, spvit_fifo, spvit_join2, spvit_kind_filter, spvit_split, spvit_merge,
spvit_prepend, spvit_const_stream.

These modules compute nothing, so there is no intops op: the expected outputs come from the
plain Python models below (``*_model``), which are the specification of each module's
semantics.  Same conventions as :mod:`spvit_fpga.rtl.vectors.kernels`: each builder returns ``(parameters,
vectors)`` with ``vectors = {"params", "inputs": {port: [[data, last, user], ...]}, "outputs":
{port: [...]}, "lanes": {port: [width, count, signed]}}`` for
:func:`rtl_sim.streams.drive_and_check`.  Token streams: a token is ``(lanes, kind)``, a frame a
list of tokens, ``tlast`` on a frame's last token; kinds 0..3 (all values of the 2-bit tuser).
"""
from __future__ import annotations

import random
from typing import Dict, List, Sequence, Tuple

from ..bits import pack
from ..runner import sv_string, sv_unsigned, write_memh

Params = Dict[str, object]
Vectors = Dict[str, object]
Token = Tuple[List[int], int]          # (lane values, kind)
Frame = List[Token]
BeatList = List[List[int]]             # [[tdata, tlast, tuser], ...]


# --------------------------------------------------------------------------------------------
# Random token streams
# --------------------------------------------------------------------------------------------


def _lanes(rng: random.Random, count: int, width: int) -> List[int]:
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    return [rng.choice((lo, hi, 0, -1, rng.randint(lo, hi), rng.randint(lo, hi))) for _ in range(count)]


def random_frames(
    rng: random.Random, lengths: Sequence[int], lanes: int, width: int, kinds: Sequence[int] = (0, 1, 2, 3)
) -> List[Frame]:
    """Frames of the given lengths, random lane values (extremes included) and random kinds."""
    return [[(_lanes(rng, lanes, width), rng.choice(kinds)) for _ in range(n)] for n in lengths]


def frame_beats(frames: Sequence[Frame], width: int) -> BeatList:
    """One beat a token, tlast on each frame's last token, tuser = kind."""
    return [
        [pack(vals, width), int(j == len(fr) - 1), kind]
        for fr in frames
        for j, (vals, kind) in enumerate(fr)
    ]


# --------------------------------------------------------------------------------------------
# Models (the specification)
# --------------------------------------------------------------------------------------------


def fork_model(beats: BeatList, n: int) -> List[BeatList]:
    """Every output gets every beat, unchanged."""
    return [[list(b) for b in beats] for _ in range(n)]


def fifo_model(beats: BeatList) -> BeatList:
    """The same beats in the same order."""
    return [list(b) for b in beats]


def join2_model(a: BeatList, b_data: Sequence[int], a_w: int) -> BeatList:
    """Beat j: tdata = {b_j, a_j} (a in the low a_w bits), tlast/tuser of a_j."""
    assert len(a) == len(b_data)
    return [[(bd << a_w) | ad, last, user] for (ad, last, user), bd in zip(a, b_data)]


def kind_filter_model(frames: Sequence[Frame], keep_kinds: int, width: int) -> BeatList:
    """The tokens whose kind k has bit k of keep_kinds set, in order; tlast on the last passed
    token of each input frame; a frame with no passed token gives nothing."""
    out: BeatList = []
    for fr in frames:
        passed = [(vals, kind) for vals, kind in fr if (keep_kinds >> kind) & 1]
        out += frame_beats([passed], width) if passed else []
    return out


def split_model(beats: BeatList, l: int, r: int, w: int) -> BeatList:
    """Input beat of r*l lanes -> r beats of l lanes (beat i = lanes [i*l, (i+1)*l)); tuser on
    all, tlast only on the last of the r beats of an input beat with tlast."""
    sw = l * w
    return [
        [(data >> (i * sw)) & ((1 << sw) - 1), int(last and i == r - 1), user]
        for data, last, user in beats
        for i in range(r)
    ]


def merge_model(beats: BeatList, l: int, r: int, w: int) -> BeatList:
    """r beats of l lanes -> one beat of r*l lanes (beat i at lanes [i*l, (i+1)*l)); tuser of
    the first beat, tlast of the last."""
    assert len(beats) % r == 0
    sw = l * w
    out: BeatList = []
    for g in range(0, len(beats), r):
        group = beats[g:g + r]
        data = sum(d << (i * sw) for i, (d, _, _) in enumerate(group))
        out.append([data, group[-1][1], group[0][2]])
    return out


def prepend_model(frames: Sequence[Frame], const: Sequence[int], kind: int, width: int) -> BeatList:
    """Before every frame the constant token (tuser = kind, tlast = 0), then the frame."""
    out: BeatList = []
    for fr in frames:
        out.append([pack(const, width), 0, kind])
        out += frame_beats([fr], width)
    return out


def const_stream_model(entries: Sequence[Sequence[int]], count: int, width: int) -> List[int]:
    """The first ``count`` tokens of entry 0, 1, ..., DEPTH-1, 0, 1, ... (tdata only)."""
    return [pack(entries[i % len(entries)], width) for i in range(count)]


# --------------------------------------------------------------------------------------------
# Vector builders
# --------------------------------------------------------------------------------------------

# 1-token frames, a long frame, and random lengths
_LENGTHS = (1, 3, 1, 1, 7, 2, 12, 1, 5, 4, 1, 9, 6)


def _token_vec(params: Params, beats_in: BeatList, beats_out: BeatList, width: int, lanes_out: int) -> Vectors:
    return dict(
        params=params,
        inputs={"s_axis": beats_in},
        outputs={"m_axis": beats_out},
        lanes={"m_axis": [width, lanes_out, 1]},
    )


def fork_vectors(*, seed: int = 0, n: int = 3, lanes: int = 4, width: int = 8,
                 stalls: Sequence[float] = (0.1, 0.5, 0.8)) -> Tuple[Params, Vectors]:
    """Frames through an N-way fork; each output gets its own back-pressure probability."""
    rng = random.Random(seed)
    beats = frame_beats(random_frames(rng, _LENGTHS, lanes, width), width)
    params: Params = dict(W=lanes * width, N=n, USER_W=2)
    vec = _token_vec(params, beats, beats, width, lanes)
    vec["expected"] = fork_model(beats, n)
    vec["stalls"] = [stalls[i % len(stalls)] for i in range(n)]
    vec["full_rate_cycles"] = len(beats) + 1
    return params, vec


def fifo_vectors(*, seed: int = 0, depth: int = 5, lanes: int = 4, width: int = 8,
                 frames: int = 13, fold: int = 1) -> Tuple[Params, Vectors]:
    """Frames through the FIFO (identity); ``fill`` holds more beats than the FIFO can.

    ``fold`` > 1: each beat is stored as ``fold`` narrow RAM words (spvit_fifo FOLD); capacity
    DEPTH + 2 beats (RAM + read/assembly registers + output register), full rate one beat every
    ``fold`` cycles: n beats in fold * n + 3 cycles (fold = 1: DEPTH + 1 beats, n + 2 cycles)."""
    rng = random.Random(seed)
    lengths = [_LENGTHS[i % len(_LENGTHS)] for i in range(frames)]
    beats = frame_beats(random_frames(rng, lengths, lanes, width), width)
    params: Params = dict(W=lanes * width, DEPTH=depth, USER_W=2)
    if fold != 1:
        params["FOLD"] = fold
    vec = _token_vec(params, beats, fifo_model(beats), width, lanes)
    fill = frame_beats(random_frames(rng, [depth + 4], lanes, width), width)
    vec["fill"] = fill
    if fold == 1:
        vec["capacity"] = depth + 1         # DEPTH RAM words + the output register
        vec["full_rate_cycles"] = len(beats) + 2
    else:
        vec["capacity"] = depth + 2         # DEPTH beats in the RAM + assembly + output register
        vec["full_rate_cycles"] = fold * len(beats) + 3
    return params, vec


def join2_vectors(*, seed: int = 0, a_lanes: int = 4, b_lanes: int = 2, width: int = 8) -> Tuple[Params, Vectors]:
    """Token frames on a, one b beat per a beat."""
    rng = random.Random(seed)
    a = frame_beats(random_frames(rng, _LENGTHS, a_lanes, width), width)
    b = [pack(_lanes(rng, b_lanes, width), width) for _ in a]
    a_w = a_lanes * width
    params: Params = dict(A_W=a_w, B_W=b_lanes * width, USER_W=2)
    vec = dict(
        params=params,
        inputs={"s_axis_a": a, "s_axis_b": [[d, 0, 0] for d in b]},
        outputs={"m_axis": join2_model(a, b, a_w)},
        lanes={"m_axis": [width, a_lanes + b_lanes, 1]},
        full_rate_cycles=len(a) + 1,
    )
    return params, vec


def kind_filter_vectors(*, seed: int = 0, keep_kinds: int = 0b0010, lanes: int = 3,
                        width: int = 8) -> Tuple[Params, Vectors]:
    """Frames with the last token filtered, with nothing passing (also first and last frame of
    the stream), with everything passing, 1-token frames passing and filtered, and random
    ones."""
    rng = random.Random(seed)
    keep = [k for k in range(4) if (keep_kinds >> k) & 1]
    drop = [k for k in range(4) if not (keep_kinds >> k) & 1]
    assert keep and drop

    def frame(pattern: str) -> Frame:     # 'k' = a kept kind, 'd' = a dropped kind, '?' = any
        kinds = {"k": keep, "d": drop, "?": list(range(4))}
        return [(_lanes(rng, lanes, width), rng.choice(kinds[c])) for c in pattern]

    patterns = [
        "ddd",            # nothing passes, at the start of the stream
        "kkd",            # last token filtered
        "k",              # 1-token frame, passes
        "d",              # 1-token frame, nothing passes
        "kkkk",           # all pass
        "dkdd",           # one passes, in the middle
        "kdkddd",         # last passed token followed by several filtered
        "dddddd",         # nothing passes
        "k", "k",         # 1-token frames back to back
        "dk",             # last token passes
        "kdkdkdkdk",
        "dd",
    ]
    frames = [frame(p) for p in patterns]
    frames += random_frames(rng, [rng.randint(1, 8) for _ in range(10)], lanes, width)
    frames += [frame("kd"), frame("dd")]  # the stream ends with a filtered tlast, then an empty frame
    params: Params = dict(W=lanes * width, USER_W=2, KEEP_KINDS=sv_unsigned(keep_kinds, 4))
    beats = frame_beats(frames, width)
    vec = _token_vec(params, beats, kind_filter_model(frames, keep_kinds, width), width, lanes)
    vec["full_rate_cycles"] = len(beats) + 1
    return params, vec


def split_vectors(*, seed: int = 0, l: int = 3, r: int = 4, width: int = 8) -> Tuple[Params, Vectors]:
    """Token frames of r*l lanes split into r beats of l lanes."""
    rng = random.Random(seed)
    beats = frame_beats(random_frames(rng, _LENGTHS, l * r, width), width)
    params: Params = dict(L=l, R=r, W=width, USER_W=2)
    vec = _token_vec(params, beats, split_model(beats, l, r, width), width, l)
    vec["full_rate_cycles"] = r * len(beats) + 1
    return params, vec


def merge_vectors(*, seed: int = 0, l: int = 3, r: int = 4, width: int = 8) -> Tuple[Params, Vectors]:
    """Sub-token streams (r beats of l lanes a token, kind on each, tlast on the frame's last)
    merged back into tokens; the groups' beats also carry differing tuser/tlast to check that
    tuser comes from the first beat and tlast from the last."""
    rng = random.Random(seed)
    tokens = frame_beats(random_frames(rng, _LENGTHS, l * r, width), width)
    sub = split_model(tokens, l, r, width)
    # perturb the inner beats' tuser (not the first of a group) and tlast (not the last)
    for i, b in enumerate(sub):
        if i % r != 0:
            b[2] = rng.randrange(4)
        if i % r != r - 1:
            b[1] = rng.randrange(2)
    params: Params = dict(L=l, R=r, W=width, USER_W=2)
    out = merge_model(sub, l, r, width)
    assert [o[0] for o in out] == [t[0] for t in tokens]  # the inverse of the split
    vec = _token_vec(params, sub, out, width, l * r)
    vec["full_rate_cycles"] = len(sub) + 1
    return params, vec


def prepend_vectors(*, seed: int = 0, lanes: int = 4, width: int = 8, kind: int = 0) -> Tuple[Params, Vectors]:
    """Token frames (patch tokens) with the constant token in front of each."""
    rng = random.Random(seed)
    const = _lanes(rng, lanes, width)
    const[0], const[-1] = -(1 << (width - 1)), (1 << (width - 1)) - 1
    frames = random_frames(rng, _LENGTHS, lanes, width, kinds=(1, 2))
    params: Params = dict(
        C=lanes, W=width, KIND=kind, USER_W=2,
        INIT_FILE=sv_string(write_memh(const, width, name="prepend")),
    )
    beats = frame_beats(frames, width)
    vec = _token_vec(params, beats, prepend_model(frames, const, kind, width), width, lanes)
    vec["full_rate_cycles"] = len(beats) + len(frames) + 1
    return params, vec


def const_stream_vectors(*, seed: int = 0, lanes: int = 3, width: int = 8, depth: int = 5,
                         repeats: int = 7) -> Tuple[Params, Vectors]:
    """``repeats`` rounds of the DEPTH entries plus a partial round."""
    rng = random.Random(seed)
    entries = [_lanes(rng, lanes, width) for _ in range(depth)]
    entries[0][0] = -(1 << (width - 1))
    entries[-1][-1] = (1 << (width - 1)) - 1
    params: Params = dict(
        C=lanes, W=width, DEPTH=depth,
        INIT_FILE=sv_string(write_memh([pack(e, width) for e in entries], lanes * width, name="const_stream")),
    )
    count = repeats * depth + depth // 2 + 1
    vec = dict(
        params=params,
        inputs={},
        outputs={"m_axis": [[d, 0, 0] for d in const_stream_model(entries, count, width)]},
        lanes={"m_axis": [width, lanes, 1]},
        full_rate_cycles=count,
    )
    return params, vec


def kind_count_vectors(*, seed: int = 0, lanes: int = 3, width: int = 8, kind: int = 1,
                       cnt_w: int = 3) -> Tuple[Params, Vectors]:
    """Frames through spvit_kind_count: the frame unchanged on m_axis, one count a frame on
    m_axis_cnt (tokens of ``kind``, saturating at 2^cnt_w - 1: some frames hold more)."""
    rng = random.Random(seed)
    lengths = list(_LENGTHS) + [12, 1]
    frames = random_frames(rng, lengths, lanes, width)
    frames.append([(_lanes(rng, lanes, width), kind) for _ in range(10)])  # saturates a 3-bit count
    beats = frame_beats(frames, width)
    counts = [[min(sum(1 for _, k in fr if k == kind), (1 << cnt_w) - 1), 0, 0] for fr in frames]
    params: Params = dict(W=lanes * width, USER_W=2, KIND=kind, CNT_W=cnt_w)
    vec = dict(params=params, inputs={"s_axis": beats}, outputs={"m_axis": beats, "m_axis_cnt": counts},
               lanes={"m_axis": [width, lanes, 1]}, full_rate_cycles=len(beats) + len(frames))
    return params, vec
