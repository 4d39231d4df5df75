"""Test vectors for the selector kernels (spvit_head_mean, spvit_token_mean, spvit_keep_prob):
random and edge-case inputs with the expected outputs from :mod:`spvit_fpga.ir.intops`.

Same conventions as :mod:`spvit_fpga.rtl.vectors.kernels`: each builder returns ``(parameters, vectors)``;
the vectors are ``{"params", "inputs": {port: [[data, last, user], ...]}, "outputs": {...},
"lanes": {port: [width, count, signed]}}`` for :func:`rtl_sim.streams.drive_and_check`.
"""
from __future__ import annotations

import random
from typing import List, Sequence, Tuple

import torch

from ...ir import intops
from ...ir.intops import FixedFormat

from ..bits import pack
from ..runner import sv_string
from .kernels import Params, Vectors, table_memfile


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64)


def _token_beats(token: Sequence[int], lanes: int, width: int, last: bool, user: int = 0) -> list:
    beats = len(token) // lanes
    return [
        [pack(token[b * lanes:(b + 1) * lanes], width), int(last and b == beats - 1), user]
        for b in range(beats)
    ]


# --------------------------------------------------------------------------------------------
# head mean
# --------------------------------------------------------------------------------------------


def head_mean_vectors(
    *,
    seed: int = 0,
    channels: int = 16,
    heads: int = 4,
    lanes: int = 2,
    in_fmt: FixedFormat = FixedFormat(16, 10),
    out_fmt: FixedFormat = FixedFormat(8, 4),
    div_steps: int = 3,
    random_tokens: int = 40,
) -> Tuple[Params, Vectors]:
    """Tokens through intops.int_head_mean: all-min / all-max (saturation), zeros, +-1 LSB,
    exact .5 ties of both parities, one large channel per head, random tokens of several
    spreads; tlast on every 7th token and the last."""
    rng = random.Random(seed)
    lo, hi = in_fmt.min_int, in_fmt.max_int
    dh = channels // heads
    toks: List[List[int]] = [
        [lo] * channels,
        [hi] * channels,
        [0] * channels,
        [1] + [0] * (channels - 1),
        [-1] + [0] * (channels - 1),
        [hi if c % dh == 0 else 0 for c in range(channels)],
        [lo if c % dh == dh - 1 else 0 for c in range(channels)],
        [(hi if c % 2 else lo) for c in range(channels)],
    ]
    # sums that land on k + 1/2 of the divisor for even and odd k, both signs
    den = dh * (1 << max(0, in_fmt.frac - out_fmt.frac))
    up = max(0, out_fmt.frac - in_fmt.frac)
    for k in (-3, -2, -1, 0, 1, 2, 3, 6, 7):
        if den % 2 == 0 and up == 0:
            target = k * den + den // 2
            tok = []
            for _h in range(heads):
                per = [target // dh] * dh
                per[0] += target - sum(per)
                tok += per
            if all(lo <= v <= hi for v in tok):
                toks.append(tok)
    for _ in range(random_tokens):
        spread = rng.choice((1, 4, 64, 1 << (in_fmt.bits - 1)))
        centre = rng.randint(lo, hi)
        toks.append([min(max(centre + rng.randint(-spread, spread), lo), hi) for _ in range(channels)])
    u = intops.int_head_mean(_t(toks), num_heads=heads, in_frac=in_fmt.frac, out_fmt=out_fmt).tolist()
    x_beats, y_beats = [], []
    for j, (tok, uj) in enumerate(zip(toks, u)):
        last = j % 7 == 6 or j == len(toks) - 1
        x_beats += _token_beats(tok, lanes, in_fmt.bits, last)
        y_beats.append([pack(uj, out_fmt.bits), int(last), 0])
    params = dict(
        C=channels, H=heads, LANES=lanes, IN_W=in_fmt.bits, UP=out_fmt.frac - in_fmt.frac,
        OUT_W=out_fmt.bits, OUT_SIGNED=int(out_fmt.signed), DIV_STEPS=div_steps,
    )
    vec = dict(
        params=params,
        inputs={"s_axis": x_beats},
        outputs={"m_axis": y_beats},
        lanes={"m_axis": [out_fmt.bits, heads, int(out_fmt.signed)]},
    )
    return params, vec


# --------------------------------------------------------------------------------------------
# token mean
# --------------------------------------------------------------------------------------------


def token_mean_vectors(
    *,
    seed: int = 0,
    channels: int = 16,
    lanes: int = 4,
    in_fmt: FixedFormat = FixedFormat(8, 4),
    out_fmt: FixedFormat = FixedFormat(8, 4),
    n_max: int = 12,
    div_steps: int = 3,
    random_frames: int = 12,
) -> Tuple[Params, Vectors]:
    """Frames through intops.int_token_mean: one live token, one dead token (mean 0), nothing
    live, N_MAX tokens all min / all max, two tokens giving .5 ties, random frames with random
    live masks and value spreads."""
    rng = random.Random(seed)
    lo, hi = in_fmt.min_int, in_fmt.max_int

    def rand_tok(spread: int) -> List[int]:
        centre = rng.randint(lo, hi)
        return [min(max(centre + rng.randint(-spread, spread), lo), hi) for _ in range(channels)]

    frames: List[Tuple[List[List[int]], List[int]]] = [
        ([rand_tok(255)], [1]),
        ([rand_tok(255)], [0]),
        ([rand_tok(255) for _ in range(5)], [0] * 5),
        ([[lo] * channels for _ in range(n_max)], [1] * n_max),
        ([[hi] * channels for _ in range(n_max)], [1] * n_max),
        ([[c - channels // 2 for c in range(channels)], [c - channels // 2 + 1 for c in range(channels)]], [1, 1]),
        ([[hi] * channels, [lo] * channels, [hi] * channels], [1, 0, 1]),
        ([rand_tok(3) for _ in range(4)], [1, 1, 1, 1]),
    ]
    for _ in range(random_frames):
        n = rng.randint(1, n_max)
        spread = rng.choice((2, 16, 255))
        frames.append(([rand_tok(spread) for _ in range(n)], [int(rng.random() < 0.6) for _ in range(n)]))
    x_beats, y_beats = [], []
    for toks, live in frames:
        g = intops.int_token_mean(
            _t(toks), in_frac=in_fmt.frac, out_fmt=out_fmt, live=torch.tensor(live, dtype=torch.bool)
        ).tolist()
        for j, (tok, lv) in enumerate(zip(toks, live)):
            x_beats += _token_beats(tok, lanes, in_fmt.bits, j == len(toks) - 1, lv)
        y_beats += [[b[0], b[1], 0] for b in _token_beats(g, lanes, out_fmt.bits, True)]
    params = dict(
        C=channels, LANES=lanes, IN_W=in_fmt.bits, N_MAX=n_max, UP=out_fmt.frac - in_fmt.frac,
        OUT_W=out_fmt.bits, OUT_SIGNED=int(out_fmt.signed), DIV_STEPS=div_steps,
    )
    vec = dict(
        params=params,
        inputs={"s_axis": x_beats},
        outputs={"m_axis": y_beats},
        lanes={"m_axis": [out_fmt.bits, lanes, int(out_fmt.signed)]},
        frames=len(frames),
    )
    return params, vec


# --------------------------------------------------------------------------------------------
# keep probability
# --------------------------------------------------------------------------------------------


def keep_prob_vectors(
    *,
    seed: int = 0,
    heads: int = 4,
    w_fmt: FixedFormat = intops.prob_format(8),
    delta_fmt: FixedFormat = FixedFormat(8, 4),
    sig_fmt: FixedFormat = intops.prob_format(8),
    out_fmt: FixedFormat = intops.prob_format(8),
    div_steps: int = 3,
    random_tokens: int = 150,
) -> Tuple[Params, Vectors]:
    """Tokens through intops.int_keep_prob: all weights 0 (equal-weights fallback) with several
    deltas, one non-zero weight, all weights max, deltas at both table ends, random tokens
    (some with sparse weights)."""
    rng = random.Random(seed)
    wlo, whi = w_fmt.min_int, w_fmt.max_int
    dlo, dhi = delta_fmt.min_int, delta_fmt.max_int
    toks: List[Tuple[List[int], List[int]]] = [
        ([0] * heads, [0] * heads),
        ([0] * heads, [dhi] * heads),
        ([0] * heads, [dlo] * heads),
        ([0] * heads, [rng.randint(dlo, dhi) for _ in range(heads)]),
        ([whi] * heads, [dhi] * heads),
        ([whi] * heads, [dlo] * heads),
        ([1] + [0] * (heads - 1), [dhi] + [dlo] * (heads - 1)),
        ([0] * (heads - 1) + [whi], [rng.randint(dlo, dhi) for _ in range(heads)]),
        ([1] * heads, [dlo, dhi] * (heads // 2) + [0] * (heads % 2)),
    ]
    for _ in range(random_tokens):
        sparse = rng.random() < 0.3
        w = [0 if sparse and rng.random() < 0.7 else rng.randint(wlo, whi) for _ in range(heads)]
        toks.append((w, [rng.randint(dlo, dhi) for _ in range(heads)]))
    w_t = _t([t[0] for t in toks])
    d_t = _t([t[1] for t in toks])
    p = intops.int_keep_prob(w_t, d_t, w_fmt=w_fmt, delta_fmt=delta_fmt, sig_fmt=sig_fmt, out_fmt=out_fmt).tolist()
    x_beats, y_beats = [], []
    for j, ((w, d), pj) in enumerate(zip(toks, p)):
        last = int(j % 5 == 4 or j == len(toks) - 1)
        data = pack(w, w_fmt.bits) | (pack(d, delta_fmt.bits) << (heads * w_fmt.bits))
        x_beats.append([data, last, 0])
        y_beats.append([pj, last, 0])
    params = dict(
        H=heads, W_W=w_fmt.bits, D_W=delta_fmt.bits, SIG_W=sig_fmt.bits, UP=out_fmt.frac - sig_fmt.frac,
        OUT_W=out_fmt.bits, DIV_STEPS=div_steps,
        SIG_FILE=sv_string(table_memfile("sigmoid", delta_fmt, sig_fmt)),
    )
    vec = dict(params=params, inputs={"s_axis": x_beats}, outputs={"m_axis": y_beats})
    return params, vec
