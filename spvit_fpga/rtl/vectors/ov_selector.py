"""Test vectors, buffer images and the cycle formula of the overlay selector unit
(``rtl/spvit_ov_selector.sv``; issue 10, ``/work/notes/unit_sel.md``).

A *case* is one instruction of the unit: its config ports, the buffer contents before it (XB words,
the three AM banks, filled with random bytes so a stray write shows), the param-stream beats it
pops, and the buffer contents expected after it, computed with :mod:`spvit_fpga.intops` (random
cases) or taken from :func:`spvit_fpga.reference.run_reference` intermediates (real stages of the
default model).  Cases run back to back on one build; the testbench (``rtl_sim/tb_ov_selector.py``)
models the buffers (two-cycle reads) and checks every word of every buffer, the SELECT results and
the cycle count against :func:`selector_cycles`.

Buffer words are Python ints: XB words hold ``L`` lanes of ``X_W`` bits, AM words ``L`` lanes of
8 bits, lane ``i`` at bits ``[i*W, (i+1)*W)`` (two's complement).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch

from spvit_fpga.ir import intops
from spvit_fpga.ir.intops import FixedFormat
from spvit_fpga.hw.overlay.cycles import selector_cycles  # the unit's formula, which the bench checks exactly
from spvit_fpga.hw.overlay.layout import ParamStream

__all__ = ["OP", "SelectorParams", "selector_cycles", "Buffers", "Case", "head_mean_case", "token_mean_case",
           "concat_case", "select_case", "random_cases", "stage_cases", "build_vectors"]

OP = {"HEAD_MEAN": 0, "TOKEN_MEAN": 1, "CONCAT": 2, "SELECT": 3}
XB_BANK = -1


@dataclass(frozen=True)
class SelectorParams:
    """Compile-time parameters of ``spvit_ov_selector`` (names as in the RTL)."""

    L: int = 8
    X_W: int = 16
    SB: int = 32
    N_MAX: int = 64
    T_MAX: int = 68
    H_MAX: int = 12
    DH_MAX: int = 64
    DPL_MAX: int = 16
    Z_W: int = 20
    UP_MAX: int = 4
    DN_MAX: int = 8
    XB_AW: int = 11
    AM_AW: int = 12
    DIV_STEPS: int = 2

    def rtl(self) -> dict[str, int]:
        return dict(self.__dict__)

    @property
    def div_iter(self) -> int:
        return -(-self.X_W // self.DIV_STEPS)

    @property
    def lw(self) -> int:
        return self.L.bit_length() - 1

    @property
    def sh_w(self) -> int:
        return max(self.UP_MAX, self.DN_MAX).bit_length() + 1


# --------------------------------------------------------------------------------------------
# buffers
# --------------------------------------------------------------------------------------------


def _pack(values, width: int) -> int:
    mask = (1 << width) - 1
    out = 0
    for i, v in enumerate(values):
        out |= (int(v) & mask) << (i * width)
    return out


def _unpack(word: int, width: int, count: int, signed: bool) -> list[int]:
    mask = (1 << width) - 1
    out = []
    for i in range(count):
        v = (word >> (i * width)) & mask
        if signed and v >> (width - 1):
            v -= 1 << width
        out.append(v)
    return out


@dataclass
class Buffers:
    """XB and the three AM banks as lists of words."""

    L: int
    x_w: int
    xb: list[int]
    am: list[list[int]]

    @staticmethod
    def random(p: SelectorParams, xb_words: int, am_words, rng: random.Random) -> "Buffers":
        sizes = list(am_words) if isinstance(am_words, (list, tuple)) else [am_words] * 3
        return Buffers(p.L, p.X_W, [rng.getrandbits(p.L * p.X_W) for _ in range(xb_words)],
                       [[rng.getrandbits(p.L * 8) for _ in range(w)] for w in sizes])

    def copy(self) -> "Buffers":
        return Buffers(self.L, self.x_w, list(self.xb), [list(b) for b in self.am])

    # XB rows (D values of x_w bits)
    def xb_rows(self, r0: int, rows: int, dpl: int) -> np.ndarray:
        out = np.zeros((rows, dpl * self.L), dtype=np.int64)
        for r in range(rows):
            vals = []
            for w in range(dpl):
                vals += _unpack(self.xb[(r0 + r) * dpl + w], self.x_w, self.L, True)
            out[r] = vals
        return out

    def set_xb_rows(self, r0: int, values: np.ndarray, dpl: int) -> None:
        for r, row in enumerate(np.asarray(values)):
            for w in range(dpl):
                self.xb[(r0 + r) * dpl + w] = _pack(row[w * self.L:(w + 1) * self.L], self.x_w)

    # AM tensors: row r, column c = lane c % L of word base + r*stride + c // L
    def am_read(self, bank: int, base: int, stride: int, rows: int, cols: int, signed: bool) -> np.ndarray:
        out = np.zeros((rows, cols), dtype=np.int64)
        for r in range(rows):
            for c in range(cols):
                word = self.am[bank][base + r * stride + c // self.L]
                out[r, c] = _unpack(word >> (8 * (c % self.L)), 8, 1, signed)[0]
        return out

    def am_write(self, bank: int, base: int, stride: int, values: np.ndarray) -> None:
        v = np.asarray(values)
        for r in range(v.shape[0]):
            for c in range(v.shape[1]):
                a = base + r * stride + c // self.L
                sh = 8 * (c % self.L)
                self.am[bank][a] = (self.am[bank][a] & ~(0xFF << sh)) | ((int(v[r, c]) & 0xFF) << sh)


@dataclass
class Case:
    name: str
    op: str
    cfg: dict[str, int]
    before: Buffers
    after: Buffers
    beats: list[int] = field(default_factory=list)
    kept: Optional[int] = None
    t_new: Optional[int] = None
    cycles: int = 0
    ps_idle: float = 0.0
    keep: list[int] = field(default_factory=list)
    psum: int = 0  # SELECT: sum of the pruned tokens' keep probabilities
    ties: int = 0  # SELECT: tokens whose score equals another token's

    def to_json(self) -> dict[str, Any]:
        """The buffers before, and the words the instruction changes (address, new word)."""
        def diff(a: list[int], b: list[int]) -> list[list[int]]:
            return [[i, w] for i, (v, w) in enumerate(zip(a, b)) if v != w]

        return {"name": self.name, "op": self.op, "cfg": self.cfg, "xb": self.before.xb, "am": self.before.am,
                "beats": self.beats, "expect_xb": diff(self.before.xb, self.after.xb),
                "expect_am": [diff(a, b) for a, b in zip(self.before.am, self.after.am)], "kept": self.kept,
                "t_new": self.t_new, "cycles": self.cycles, "ps_idle": self.ps_idle}


def _twos(v: int, bits: int) -> int:
    return int(v) & ((1 << bits) - 1)


def _cfg(p: SelectorParams, op: str, **kw: int) -> dict[str, int]:
    cfg = dict(cfg_op=OP[op], cfg_n=0, cfg_t=1, cfg_h=1, cfg_dh=p.L, cfg_half=p.L, cfg_dpl=1, cfg_up=0,
               cfg_out_bits=8, cfg_out_signed=1, cfg_d_bits=8, cfg_tau=0, cfg_k=0, cfg_topk=0, cfg_a_bank=0,
               cfg_a_base=0, cfg_a_stride=1, cfg_b_bank=1, cfg_b_base=0, cfg_b_stride=1, cfg_w_bank=2, cfg_w_base=0,
               cfg_w_stride=1)
    for k, v in kw.items():
        cfg["cfg_" + k] = int(v)
    cfg["cfg_up"] = _twos(cfg["cfg_up"], p.sh_w)
    cfg["cfg_tau"] = _twos(cfg["cfg_tau"], p.Z_W)
    return cfg


def _t64(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.int64)


def _check_up(p: SelectorParams, up: int) -> None:
    if not -p.DN_MAX <= up <= p.UP_MAX:
        raise ValueError(f"UP {up} outside [-{p.DN_MAX}, {p.UP_MAX}]")


# --------------------------------------------------------------------------------------------
# one case per op
# --------------------------------------------------------------------------------------------


def head_mean_case(p: SelectorParams, name: str, buf: Buffers, *, n: int, heads: int, head_dim: int, in_frac: int,
                   out_fmt: FixedFormat, u_bank: int, u_base: int, u_stride: int,
                   expect: Optional[np.ndarray] = None) -> Case:
    """U[t] = int_head_mean(XB row 1+t) for t < N."""
    d = heads * head_dim
    dpl = d // p.L
    up = out_fmt.frac - in_frac
    _check_up(p, up)
    after = buf.copy()
    x = buf.xb_rows(1, n, dpl)
    u = intops.int_head_mean(_t64(x), num_heads=heads, in_frac=in_frac, out_fmt=out_fmt).numpy().reshape(n, heads)
    if expect is not None and not np.array_equal(u, np.asarray(expect)):
        raise AssertionError(f"{name}: intops head mean differs from the reference's")
    after.am_write(u_bank, u_base, u_stride, u)
    cfg = _cfg(p, "HEAD_MEAN", n=n, h=heads, dh=head_dim, dpl=dpl, up=up, out_bits=out_fmt.bits,
               out_signed=out_fmt.signed, w_bank=u_bank, w_base=u_base, w_stride=u_stride)
    cyc = selector_cycles("HEAD_MEAN", L=p.L, x_w=p.X_W, div_steps=p.DIV_STEPS, n=n, dpl=dpl)
    return Case(name, "HEAD_MEAN", cfg, buf, after, cycles=cyc)


def token_mean_case(p: SelectorParams, name: str, buf: Buffers, *, n: int, heads: int, half: int, in_frac: int,
                    out_fmt: FixedFormat, f_bank: int, f_base: int, f_stride: int, g_bank: int, g_base: int,
                    g_stride: int, expect: Optional[np.ndarray] = None) -> Case:
    """G[h] = int_token_mean over t < N of F1[t*H+h][half:2*half]."""
    up = out_fmt.frac - in_frac
    _check_up(p, up)
    after = buf.copy()
    f = buf.am_read(f_bank, f_base, f_stride, n * heads, 2 * half, True).reshape(n, heads, 2 * half)
    g = intops.int_token_mean(_t64(f[..., half:]).transpose(0, 1), in_frac=in_frac, out_fmt=out_fmt).numpy()
    g = g.reshape(heads, half)
    if expect is not None and not np.array_equal(g, np.asarray(expect)):
        raise AssertionError(f"{name}: intops token mean differs from the reference's")
    after.am_write(g_bank, g_base, g_stride, g)
    cfg = _cfg(p, "TOKEN_MEAN", n=n, h=heads, half=half, up=up, out_bits=out_fmt.bits, out_signed=out_fmt.signed,
               a_bank=f_bank, a_base=f_base, a_stride=f_stride, w_bank=g_bank, w_base=g_base, w_stride=g_stride)
    cyc = selector_cycles("TOKEN_MEAN", L=p.L, x_w=p.X_W, div_steps=p.DIV_STEPS, n=n, heads=heads, half=half)
    return Case(name, "TOKEN_MEAN", cfg, buf, after, cycles=cyc)


def concat_case(p: SelectorParams, name: str, buf: Buffers, *, n: int, heads: int, half: int, f_bank: int,
                f_base: int, f_stride: int, g_bank: int, g_base: int, g_stride: int, z_bank: int, z_base: int,
                z_stride: int) -> Case:
    """Z[t*H+h] = [F1[t*H+h][:half], G[h][:half]] for t < N."""
    after = buf.copy()
    f = buf.am_read(f_bank, f_base, f_stride, n * heads, 2 * half, True).reshape(n, heads, 2 * half)
    g = buf.am_read(g_bank, g_base, g_stride, heads, half, True)
    z = np.concatenate([f[..., :half], np.broadcast_to(g[None], (n, heads, half))], axis=-1)
    after.am_write(z_bank, z_base, z_stride, z.reshape(n * heads, 2 * half))
    cfg = _cfg(p, "CONCAT", n=n, h=heads, half=half, a_bank=f_bank, a_base=f_base, a_stride=f_stride, b_bank=g_bank,
               b_base=g_base, b_stride=g_stride, w_bank=z_bank, w_base=z_base, w_stride=z_stride)
    cyc = selector_cycles("CONCAT", L=p.L, n=n, heads=heads, half=half, same_bank=f_bank == g_bank)
    return Case(name, "CONCAT", cfg, buf, after, cycles=cyc)


def select_case(p: SelectorParams, name: str, buf: Buffers, *, n: int, t: int, heads: int, d: int, rule: str,
                tau: int, k: int, w_fmt: FixedFormat, delta_fmt: FixedFormat, sig_fmt: FixedFormat,
                p_fmt: FixedFormat, dl_bank: int, dl_base: int, dl_stride: int, hw_bank: int, hw_base: int,
                hw_stride: int, ps_idle: float = 0.0, expect_xb: Optional[np.ndarray] = None) -> Case:
    """Keep decision, keep probability, package token and the compaction of XB (execute.select)."""
    if w_fmt != FixedFormat(8, w_fmt.frac, signed=False) or delta_fmt.bits > 8 or not delta_fmt.signed:
        raise ValueError("the unit takes u8 head weights and signed deltas of at most 8 bits")
    up = p_fmt.frac - sig_fmt.frac
    _check_up(p, up)
    dpl = d // p.L
    after = buf.copy()
    w = _t64(buf.am_read(hw_bank, hw_base, hw_stride, n, heads, False))
    delta = _t64(buf.am_read(dl_bank, dl_base, dl_stride, n * heads, 1, True).reshape(n, heads))
    if rule == "threshold":
        keep = intops.keep_decision(w, delta, tau)
    else:
        keep = intops.topk_decision((w * delta).sum(dim=-1), k)
    prob = intops.int_keep_prob(w, delta, w_fmt=w_fmt, delta_fmt=delta_fmt, sig_fmt=sig_fmt, out_fmt=p_fmt)
    x = _t64(buf.xb_rows(0, t, dpl))
    live = x[1:1 + n]
    pkg = intops.int_package_token(live, prob, pruned=~keep)
    new = torch.cat([x[:1], live[keep], x[1 + n:], pkg[None]], dim=0).numpy()
    if expect_xb is not None and not np.array_equal(new, np.asarray(expect_xb)):
        raise AssertionError(f"{name}: intops selection differs from the reference's")
    after.set_xb_rows(0, new, dpl)
    stream = ParamStream(p.SB)
    stream.add_table8(intops.sigmoid_table(delta_fmt, sig_fmt).numpy())
    data = stream.blob_bytes(0)
    beats = [int.from_bytes(data[i:i + p.SB], "little") for i in range(0, len(data), p.SB)]
    kept = int(keep.sum())
    cfg = _cfg(p, "SELECT", n=n, t=t, h=heads, dpl=dpl, up=up, out_bits=p_fmt.bits, out_signed=0,
               d_bits=delta_fmt.bits, tau=tau, k=k, topk=int(rule == "topk"), a_bank=dl_bank, a_base=dl_base,
               a_stride=dl_stride, b_bank=hw_bank, b_base=hw_base, b_stride=hw_stride)
    cyc = selector_cycles("SELECT", L=p.L, x_w=p.X_W, div_steps=p.DIV_STEPS, n=n, t=t, heads=heads, dpl=dpl,
                          same_bank=dl_bank == hw_bank, rule=rule, k=k, table_beats=len(beats))
    z = (w * delta).sum(dim=-1).tolist()
    return Case(name, "SELECT", cfg, buf, after, beats=beats, kept=kept, t_new=new.shape[0], cycles=cyc,
                ps_idle=ps_idle, keep=[int(v) for v in keep.tolist()], psum=int(prob[~keep].sum()),
                ties=sum(1 for v in z if z.count(v) > 1))


# --------------------------------------------------------------------------------------------
# random cases
# --------------------------------------------------------------------------------------------


def _rand_x(rng: np.random.Generator, shape, x_w: int, kind: str) -> np.ndarray:
    lo, hi = -(1 << (x_w - 1)), (1 << (x_w - 1)) - 1
    if kind == "max":
        return np.full(shape, hi, dtype=np.int64)
    if kind == "min":
        return np.full(shape, lo, dtype=np.int64)
    if kind == "small":
        return rng.integers(-40, 41, size=shape)
    return rng.integers(lo, hi + 1, size=shape)


class _Alloc:
    """Places tensors at random, non-overlapping word ranges of the AM banks."""

    def __init__(self, words: int, rng: random.Random) -> None:
        self.words, self.rng, self.top = words, rng, [0, 0, 0]

    def place(self, bank: int, rows: int, cols: int, L: int) -> tuple[int, int]:
        stride = -(-cols // L) + self.rng.choice([0, 0, 1])
        base = self.top[bank] + self.rng.randrange(0, 4)
        self.top[bank] = base + max(1, rows) * stride
        if self.top[bank] > self.words:
            raise ValueError("AM bank too small for the random case")
        return base, stride


def random_cases(p: SelectorParams, seed: int = 1) -> list[Case]:
    """Random data and formats for every op, and the edge cases of docs/integer_arithmetic.md §5.7."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    L, am_words = p.L, 512
    cases: list[Case] = []

    def fresh(xb_rows: int = 1, dpl: int = 1) -> tuple[Buffers, _Alloc]:
        return Buffers.random(p, xb_rows * dpl, am_words, rng), _Alloc(am_words, rng)

    # ---- HEAD_MEAN: formats, saturation, H > L, N = 0 / 1
    hm = [("hm-h2-dh32-down5", 40, 2, 32, 13, FixedFormat(8, 8), "full"),
          ("hm-h3-dh16-up2-sat-u6", 17, 3, 16, 6, FixedFormat(6, 8, signed=False), "full"),
          ("hm-h10-dh8-HgtL-max", 5, 10, 8, 12, FixedFormat(8, 4), "max"),
          ("hm-h4-dh8-min-eq", 3, 4, 8, 9, FixedFormat(8, 9), "min"),
          ("hm-n1", 1, 2, 16, 10, FixedFormat(8, 7), "small"),
          ("hm-n0", 0, 2, 16, 10, FixedFormat(8, 7), "full")]
    for name, n, heads, dh, in_frac, out_fmt, kind in hm:
        dpl = heads * dh // L
        buf, al = fresh(n + 3, dpl)
        rows = _rand_x(nrng, (n, heads * dh), p.X_W, kind)
        buf.set_xb_rows(1, rows, dpl)
        bank = rng.randrange(3)
        base, stride = al.place(bank, n, heads, L)
        cases.append(head_mean_case(p, name, buf, n=n, heads=heads, head_dim=dh, in_frac=in_frac, out_fmt=out_fmt,
                                    u_bank=bank, u_base=base, u_stride=stride))

    # ---- TOKEN_MEAN: half a multiple of L and half = L/2, saturation, N = 0 / 1
    tm = [("tm-h2-half16", 37, 2, 16, 5, FixedFormat(8, 5)),
          ("tm-h3-half4-lt-L-up3-sat", 9, 3, L // 2, 2, FixedFormat(7, 5)),
          ("tm-h6-half8-down6-u8", 23, 6, 8, 9, FixedFormat(8, 3, signed=False)),
          ("tm-n1", 1, 2, 8, 4, FixedFormat(8, 4)),
          ("tm-n0", 0, 2, 8, 4, FixedFormat(8, 4))]
    for name, n, heads, half, in_frac, out_fmt in tm:
        buf, al = fresh()
        fb, gb = rng.sample(range(3), 2)
        fbase, fstr = al.place(fb, n * heads, 2 * half, L)
        f = nrng.integers(-128, 128, size=(n * heads, 2 * half))
        buf.am_write(fb, fbase, fstr, f)
        gbase, gstr = al.place(gb, heads, half, L)
        cases.append(token_mean_case(p, name, buf, n=n, heads=heads, half=half, in_frac=in_frac, out_fmt=out_fmt,
                                     f_bank=fb, f_base=fbase, f_stride=fstr, g_bank=gb, g_base=gbase, g_stride=gstr))

    # ---- CONCAT: both layouts, A and B in one bank or two
    cat = [("cat-h2-half16", 11, 2, 16, False), ("cat-h3-half4-lt-L", 7, 3, L // 2, False),
           ("cat-h3-half4-lt-L-samebank", 6, 3, L // 2, True), ("cat-h2-half8-samebank", 5, 2, 8, True),
           ("cat-n0", 0, 2, 8, False)]
    for name, n, heads, half, same in cat:
        buf, al = fresh()
        fb = rng.randrange(3)
        gb = fb if same else rng.choice([b for b in range(3) if b != fb])
        zb = rng.randrange(3)
        fbase, fstr = al.place(fb, n * heads, 2 * half, L)
        buf.am_write(fb, fbase, fstr, nrng.integers(-128, 128, size=(n * heads, 2 * half)))
        gbase, gstr = al.place(gb, heads, half, L)
        buf.am_write(gb, gbase, gstr, nrng.integers(-128, 128, size=(heads, half)))
        zbase, zstr = al.place(zb, n * heads, 2 * half, L)
        cases.append(concat_case(p, name, buf, n=n, heads=heads, half=half, f_bank=fb, f_base=fbase, f_stride=fstr,
                                 g_bank=gb, g_base=gbase, g_stride=gstr, z_bank=zb, z_base=zbase, z_stride=zstr))

    # ---- SELECT: both rules, the edge cases, formats, param-stream stalls
    w8 = FixedFormat(8, 8, signed=False)
    sel = [
        # name, n, old packages, heads, dh, rule, tau, k, delta fmt, sig fmt, p fmt, same bank, data, idle
        ("sel-thr-h2", 30, 1, 2, 32, "threshold", 0, 0, FixedFormat(8, 4), w8, w8, True, "rand", 0.3),
        ("sel-topk-h3", 26, 2, 3, 16, "topk", 0, 11, FixedFormat(8, 3), w8, w8, False, "rand", 0.5),
        ("sel-topk-ties-w0", 20, 0, 2, 16, "topk", 0, 7, FixedFormat(8, 4), w8, w8, True, "w0", 0.0),
        ("sel-topk-ties-eqz", 19, 1, 4, 8, "topk", 0, 5, FixedFormat(6, 2), FixedFormat(8, 7, signed=False),
         FixedFormat(7, 6, signed=False), False, "eqz", 0.2),
        ("sel-topk-k-ge-n", 12, 1, 2, 16, "topk", 0, 12, FixedFormat(8, 4), w8, w8, True, "rand", 0.0),
        ("sel-topk-k0-all-pruned-d3", 9, 0, 2, 16, "topk", 0, 0, FixedFormat(3, 1), w8, w8, False, "rand", 0.0),
        ("sel-thr-nothing-pruned", 15, 2, 2, 16, "threshold", -(1 << 19), 0, FixedFormat(8, 4), w8, w8, True,
         "rand", 0.0),
        ("sel-thr-all-pruned", 14, 0, 3, 8, "threshold", (1 << 19) - 1, 0, FixedFormat(8, 4), w8, w8, False,
         "rand", 0.0),
        ("sel-thr-psum0", 16, 1, 2, 16, "threshold", 0, 0, FixedFormat(8, 4), w8, w8, True, "p0", 0.0),
        ("sel-thr-n1-pruned", 1, 1, 2, 16, "threshold", (1 << 19) - 1, 0, FixedFormat(8, 4), w8, w8, True, "rand",
         0.0),
        ("sel-n0", 0, 2, 2, 16, "threshold", 0, 0, FixedFormat(8, 4), w8, w8, True, "rand", 0.0),
        ("sel-thr-h10-HgtL-d5-up2", 8, 1, 10, 8, "threshold", 0, 0, FixedFormat(5, 2), FixedFormat(8, 6, signed=False),
         w8, True, "rand", 0.0),
        ("sel-topk-h10-HgtL-down3", 11, 0, 10, 8, "topk", 0, 4, FixedFormat(8, 4), w8, FixedFormat(6, 5, signed=False),
         False, "rand", 0.0),
    ]
    for name, n, old, heads, dh, rule, tau, k, dfmt, sfmt, pfmt, same, data, idle in sel:
        d = heads * dh
        dpl = d // L
        t = 1 + n + old
        buf, al = fresh(t + 2, dpl)
        buf.set_xb_rows(0, _rand_x(nrng, (t, d), p.X_W, "full" if data != "p0" else "small"), dpl)
        dlb = rng.randrange(3)
        hwb = dlb if same else rng.choice([b for b in range(3) if b != dlb])
        dlbase, dlstr = al.place(dlb, n * heads, 1, L)
        hwbase, hwstr = al.place(hwb, n, heads, L)
        w = nrng.integers(0, 256, size=(n, heads))
        delta = nrng.integers(dfmt.min_int, dfmt.max_int + 1, size=(n, heads))
        if data == "w0":
            w[:] = 0
        elif data == "eqz":
            w[:] = w[0]
            delta[:] = delta[0]
            delta[::3] = dfmt.min_int
        elif data == "p0":  # the pruned tokens' keep probabilities quantise to 0
            w[:] = 200
            delta[:] = dfmt.min_int
            delta[::2] = dfmt.max_int
            tau = 0
        buf.am_write(hwb, hwbase, hwstr, w)
        buf.am_write(dlb, dlbase, dlstr, delta.reshape(n * heads, 1))
        if rule == "threshold" and data == "rand" and -1000 < tau < 1000:
            z = (w * delta).sum(axis=-1)
            tau = int(np.median(z)) if n else 0
        c = select_case(p, name, buf, n=n, t=t, heads=heads, d=d, rule=rule, tau=tau, k=k, w_fmt=w8,
                        delta_fmt=dfmt, sig_fmt=sfmt, p_fmt=pfmt, dl_bank=dlb, dl_base=dlbase, dl_stride=dlstr,
                        hw_bank=hwb, hw_base=hwbase, hw_stride=hwstr, ps_idle=idle)
        kept, pruned = c.kept or 0, n - (c.kept or 0)
        # the edge case a case is named after really happens
        assert {"sel-thr-psum0": pruned > 0 and c.psum == 0,
                "sel-topk-ties-w0": c.ties == n and 0 < k < n,
                "sel-topk-ties-eqz": c.ties > 2 and 0 < k < n,
                "sel-topk-k-ge-n": kept == n,
                "sel-thr-nothing-pruned": kept == n,
                "sel-thr-all-pruned": kept == 0,
                "sel-topk-k0-all-pruned-d3": kept == 0,
                "sel-thr-n1-pruned": n == 1 and kept == 0}.get(name, 0 < kept < n or n == 0), name
        cases.append(c)
    return cases


# --------------------------------------------------------------------------------------------
# real stages of the default model
# --------------------------------------------------------------------------------------------


def stage_cases(p: SelectorParams, *, stages: tuple[int, ...] = (0, 1, 2), image_index: int = 0,
                decisions: tuple[str, ...] = ("threshold", "topk"), ps_idle: float = 0.3) -> list[Case]:
    """The four selector instructions of real stages of the embedded model on a digits test image,
    on the buffer layout of the overlay program (``compile_program`` with ``L``), expected values
    from :func:`spvit_fpga.reference.run_reference` intermediates."""
    from spvit_fpga.nn.data import load_dataset
    from spvit_fpga.nn.defaults import default_ir_dir
    from spvit_fpga.hw.overlay.arch import OverlayConfig
    from spvit_fpga.hw.overlay.program import HeadMean, Select, TokenMean, compile_program
    from spvit_fpga.ir.graph import load_ir
    from spvit_fpga.ir.reference import quantize_image, run_reference

    ir = load_ir(default_ir_dir())
    cfg = OverlayConfig(lanes=p.L, pack=2, dsp_type="DSP48E2", ports=2, port_bytes=p.SB // 2, clock_mhz=300.0,
                        ddr_bytes_per_cycle=51.2)
    prog = compile_program(ir, cfg)
    if prog.t_max > p.T_MAX or prog.n_max > p.N_MAX or prog.embed_dim // p.L > p.DPL_MAX:
        raise ValueError("the build parameters are too small for the default model")
    img, _ = load_dataset("digits").test[image_index]
    image = quantize_image(ir, img)
    sel_blocks = [i for i, b in enumerate(ir.blocks) if b.selector is not None]
    tens = prog.tensors
    L, dpl = p.L, prog.embed_dim // p.L
    rng = random.Random(7)
    cases: list[Case] = []
    for decision in decisions:
        ref = run_reference(ir, image, decision=decision, return_intermediates=True)
        inter = ref.intermediates
        assert inter is not None
        for s in stages:
            sel = ir.selectors[s]
            blk = sel_blocks[s]
            pre = f"selectors.{s}."
            ins = {type(i).__name__: i for i in prog.instructions if getattr(i, "name", "").startswith(f"selectors.{s}.")}
            hm: HeadMean = ins["HeadMean"]
            tmi: TokenMean = ins["TokenMean"]
            sl: Select = ins["Select"]
            seq = inter[f"blocks.{blk - 1}.mlp.fc2"]  # the sequence entering the stage
            n = inter[pre + "in"].shape[0]
            t = seq.shape[0]
            H, dh = sel.num_heads, sel.head_dim
            buf = Buffers.random(p, prog.t_max * dpl, prog.bank_words, rng)
            buf.set_xb_rows(0, seq, dpl)
            tag = f"stage{s}-{decision}"
            U, F1, G, Z = tens["U"], tens["F1"], tens["G"], tens["Z"]
            c = head_mean_case(p, f"{tag}-head-mean", buf, n=n, heads=H, head_dim=dh, in_frac=hm.in_frac,
                               out_fmt=hm.out_fmt, u_bank=U.bank, u_base=U.base, u_stride=U.stride,
                               expect=inter[pre + "head_mean"])
            cases.append(c)
            buf = c.after.copy()
            buf.am_write(F1.bank, F1.base, F1.stride, inter[pre + "in_gelu"].reshape(n * H, dh))
            c = token_mean_case(p, f"{tag}-token-mean", buf, n=n, heads=H, half=tmi.half, in_frac=tmi.in_frac,
                                out_fmt=tmi.out_fmt, f_bank=F1.bank, f_base=F1.base, f_stride=F1.stride, g_bank=G.bank,
                                g_base=G.base, g_stride=G.stride, expect=inter[pre + "global"])
            cases.append(c)
            buf = c.after.copy()
            cases.append(concat_case(p, f"{tag}-concat", buf, n=n, heads=H, half=tmi.half, f_bank=F1.bank,
                                     f_base=F1.base, f_stride=F1.stride, g_bank=G.bank, g_base=G.base,
                                     g_stride=G.stride, z_bank=Z.bank, z_base=Z.base, z_stride=Z.stride))
            buf = cases[-1].after.copy()
            HW, DL = tens[sl.w_tensor], tens[sl.d_tensor]
            buf.am_write(HW.bank, HW.base, HW.stride, inter[pre + "head_w"])
            buf.am_write(DL.bank, DL.base, DL.stride, inter[pre + "delta"].reshape(n * H, 1))
            after_seq = inter[f"blocks.{blk}.in"]
            c = select_case(p, f"{tag}-select", buf, n=n, t=t, heads=H, d=prog.embed_dim, rule=decision, tau=sl.tau,
                            k=sl.topk, w_fmt=sl.w_fmt, delta_fmt=sl.delta_fmt, sig_fmt=sl.sig_fmt, p_fmt=sl.p_fmt,
                            dl_bank=DL.bank, dl_base=DL.base, dl_stride=DL.stride, hw_bank=HW.bank,
                            hw_base=HW.base, hw_stride=HW.stride, ps_idle=ps_idle, expect_xb=after_seq)
            if c.kept != len(ref.kept_indices[s]):
                raise AssertionError(f"{tag}: kept {c.kept}, reference {len(ref.kept_indices[s])}")
            cases.append(c)
    return cases


def build_vectors(p: Optional[SelectorParams] = None, *, seed: int = 1, stages: tuple[int, ...] = (0, 1, 2),
                  inject: bool = True) -> tuple[dict[str, int], dict[str, Any]]:
    """(RTL parameters, testbench vectors): random cases, real stages, and the injected-error case
    (a copy of a SELECT case whose run corrupts one bit of one XB read; the bench must see it)."""
    p = p or SelectorParams()
    cases = random_cases(p, seed) + stage_cases(p, stages=stages)
    vec: dict[str, Any] = {"params": p.rtl(), "cases": [c.to_json() for c in cases]}
    if inject:
        # a kept token's row is copied verbatim: one flipped bit of one of its XB reads must show
        victim = next(c for c in cases if c.op == "SELECT" and c.cfg["cfg_n"] > 4 and 0 < (c.kept or 0))
        j = victim.keep.index(1)
        vec["inject"] = {"case": victim.to_json(), "port": "xb", "read": j * victim.cfg["cfg_dpl"] + 1, "bit": 5}
    return p.rtl(), vec


def counter_edge_vectors(seed: int = 5) -> tuple[dict[str, int], dict[str, Any]]:
    """(RTL parameters, vectors) of a unit whose N_MAX puts N + L - 1 past the token counter's width
    (N_MAX = 124, L = 8: 7-bit counters, 124 + 7 = 131): top-k and threshold SELECTs at N = N_MAX.  The
    rank phase's word count once wrapped there (DeiT's 196 tokens at L = 64 hung the engine)."""
    p = SelectorParams(L=8, N_MAX=124, T_MAX=126, H_MAX=2, DH_MAX=16, DPL_MAX=4, XB_AW=10, AM_AW=10)
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    heads, dh, n = 2, 16, p.N_MAX
    d, dpl, t = heads * dh, heads * dh // p.L, 1 + p.N_MAX
    w8 = FixedFormat(8, 8, signed=False)
    cases = []
    for rule, k in (("topk", 61), ("threshold", 0)):
        buf = Buffers.random(p, (t + 1) * dpl, 512, rng)
        buf.set_xb_rows(0, _rand_x(nrng, (t, d), p.X_W, "full"), dpl)
        w = nrng.integers(0, 256, size=(n, heads))
        delta = nrng.integers(-128, 128, size=(n, heads))
        buf.am_write(2, 3, 1, w)
        buf.am_write(0, 0, 1, delta.reshape(n * heads, 1))
        tau = int(np.median((w * delta).sum(axis=-1)))
        c = select_case(p, f"edge-n{n}-{rule}", buf, n=n, t=t, heads=heads, d=d, rule=rule, tau=tau, k=k,
                        w_fmt=w8, delta_fmt=FixedFormat(8, 4), sig_fmt=w8, p_fmt=w8, dl_bank=0, dl_base=0,
                        dl_stride=1, hw_bank=2, hw_base=3, hw_stride=1, ps_idle=0.2)
        assert 0 < (c.kept or 0) < n, c.name
        cases.append(c)
    vec: dict[str, Any] = {"params": p.rtl(), "cases": [c.to_json() for c in cases]}
    j = cases[0].keep.index(1)
    vec["inject"] = {"case": cases[0].to_json(), "port": "xb", "read": j * dpl + 1, "bit": 3}
    return p.rtl(), vec
