"""Functional model of the overlay engine: runs a :class:`~.program.Program` on one image.

It keeps the engine's buffers as word arrays (``L`` lanes a word, at the addresses the program
allocated), reads every parameter back out of the param stream in program order (so the weight
image layout is exercised exactly as the hardware consumes it) and computes each instruction with
the integer contract (:mod:`spvit_fpga.intops`).  Its logits and kept tokens must equal the golden
reference's (:func:`spvit_fpga.reference.run_reference`); the RTL and HLS engines must equal both.
It also records, per instruction, the run-time row counts the cost model needs.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional

import numpy as np
import torch

from ...ir import intops
from ...errors import UserError
from .layout import ParamStream
from .program import (XB, Concat, Gemm, HeadMean, LayerNorm, LoadXB, Pixels, Program, Result, Select, Softmax, Tensor,
                      TokenMean)

__all__ = ["EngineRun", "run_engine", "parse_gemm_blob"]


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.int64)


def _from_lanes(data: bytes, nbytes: int, count: int, signed: bool) -> np.ndarray:
    dt = {1: "<u1", 2: "<u2", 4: "<u4"}[nbytes]
    v = np.frombuffer(data[:count * nbytes], dtype=dt).astype(np.int64)
    if signed:
        top = 1 << (8 * nbytes - 1)
        v = np.where(v >= top, v - (top << 1), v)
    return v


def _padded(n: int, beat: int) -> int:
    return -(-n // beat) * beat


def parse_gemm_blob(data: bytes, n_out: int, k_in: int, lanes: int, w16: bool, table_entries: int, beat: int,
                    table_signed: bool = True) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """(weight [n_out, k_in], bias [n_out], table or None) from a GEMM blob (inverse of the layout)."""
    pos = 0
    table = None
    if table_entries:
        table = _from_lanes(data[pos:], 1, table_entries, signed=table_signed)
        pos += _padded(table_entries, beat)
    nb, kc = -(-n_out // lanes), -(-k_in // lanes)
    wb = 2 if w16 else 1
    w = np.zeros((nb * lanes, kc * lanes), dtype=np.int64)
    b = np.zeros(nb * lanes, dtype=np.int64)
    order = [r for p in reversed(range(lanes // 2)) for r in (2 * p, 2 * p + 1)]
    for bk in range(nb):
        b[bk * lanes:(bk + 1) * lanes] = _from_lanes(data[pos:], 4, lanes, signed=True)
        pos += _padded(4 * lanes, beat)
        for c in range(kc):
            tile = _from_lanes(data[pos:], wb, lanes * lanes, signed=True).reshape(lanes, lanes)
            pos += _padded(lanes * lanes * wb, beat)
            w[np.array(order) + bk * lanes, c * lanes:(c + 1) * lanes] = tile
    return w[:n_out, :k_in], b[:n_out], table


@dataclass
class EngineRun:
    logits: np.ndarray
    kept: list[int]  # kept patch tokens per stage
    kept_indices: list[list[int]]  # original patch indices kept per stage (functional model only)
    steps: list[dict[str, Any]] = field(default_factory=list)  # per instruction: name, op, run-time counts


class _Engine:
    def __init__(self, prog: Program) -> None:
        self.p = prog
        L = prog.cfg.lanes
        self.L = L
        self.am = [np.zeros((max(1, w), L), dtype=np.int64) for w in prog.bank_words]
        self.xb = np.zeros((prog.xb_rows * (prog.embed_dim // L), L), dtype=np.int64)
        self.result = np.zeros(prog.num_classes, dtype=np.int64)
        self.blob = 0
        self.regs = {"T": 1 + prog.n_max, "N": prog.n_max}
        self.kept: list[int] = []
        self.idx = list(range(prog.n_max))
        self.kept_indices: list[list[int]] = []
        self.steps: list[dict[str, Any]] = []
        self.exp_table = np.zeros(0, dtype=np.int64)

    # -- buffers -----------------------------------------------------------------------------
    def _buf(self, t: Tensor) -> np.ndarray:
        return self.xb if t.bank == XB else self.am[t.bank]

    def read(self, name: str, r0: int, nrows: int, c0: int, ncols: int) -> np.ndarray:
        t = self.p.tensors[name]
        if r0 + nrows > t.rows or c0 + ncols > t.cols:
            raise AssertionError(f"read outside tensor {name}")
        buf, L = self.am[t.bank], self.L
        out = np.zeros((nrows, ncols), dtype=np.int64)
        for i in range(nrows):
            for c in range(ncols):
                col = c0 + c
                out[i, c] = buf[t.base + (r0 + i) * t.stride + col // L, col % L]
        return out

    def write(self, name: str, r0: int, c0: int, values: np.ndarray) -> None:
        t = self.p.tensors[name]
        v = np.asarray(values, dtype=np.int64)
        if r0 + v.shape[0] > t.rows or c0 + v.shape[1] > t.cols:
            raise AssertionError(f"write outside tensor {name}")
        buf, L = self.am[t.bank], self.L
        rows = (t.base + (r0 + np.arange(v.shape[0])) * t.stride)[:, None]
        cols = c0 + np.arange(v.shape[1])[None, :]
        buf[rows + cols // L, cols % L] = v

    def xb_read(self, r0: int, nrows: int) -> np.ndarray:
        wpr = self.p.embed_dim // self.L
        return self.xb[r0 * wpr:(r0 + nrows) * wpr].reshape(nrows, self.p.embed_dim).copy()

    def xb_write(self, r0: int, values: np.ndarray) -> None:
        wpr = self.p.embed_dim // self.L
        v = np.asarray(values, dtype=np.int64)
        self.xb[r0 * wpr:(r0 + v.shape[0]) * wpr] = v.reshape(-1, self.L)

    def pop(self, index: int) -> bytes:
        if index != self.blob:
            raise AssertionError(f"param stream out of order: instruction wants blob {index}, next is {self.blob}")
        self.blob += 1
        return self.p.stream.blob_bytes(index)

    # -- instructions --------------------------------------------------------------------------
    def load_xb(self, ins: LoadXB) -> None:
        d = self.p.embed_dim
        vals = _from_lanes(self.pop(ins.blob), 2, ins.rows * d, signed=True).reshape(ins.rows, d)
        self.xb_write(ins.row0, vals)

    def pixels(self, ins: Pixels, image: np.ndarray) -> None:
        c, g, p = ins.channels, ins.height // ins.patch, ins.patch
        patches = np.asarray(image, dtype=np.int64).reshape(c, g, p, g, p).transpose(1, 3, 0, 2, 4).reshape(g * g, c * p * p)
        self.write(ins.dst, 0, 0, patches)

    def gemm(self, ins: Gemm) -> dict[str, Any]:
        R, K, N = ins.rows.value(self.regs), ins.k_in.value(self.regs), ins.n_out.value(self.regs)
        x = self.read(ins.act, ins.act_row0, R, ins.act_col0, K)
        table = None
        if ins.w_src == "stream":
            entries = (1 << ins.table[0].bits) if ins.table is not None else 0
            w, b, table = parse_gemm_blob(self.pop(ins.blob), N, K, self.L, ins.w_bits > 8, entries,
                                          self.p.stream.beat_bytes, ins.table is None or ins.table[1].signed)
        else:
            w = self.read(ins.w_tensor, ins.w_row0, N, ins.w_col0, K)
            b = None
        res = None
        if ins.residual:
            res = _t(self.xb_read(ins.dst_row0, R))
        y = intops.int_linear(_t(x), _t(w), None if b is None else _t(b), shift=ins.shift, out_fmt=ins.out_fmt,
                              residual=res, residual_align=ins.res_align)
        if ins.table is not None:
            assert table is not None
            y = intops.table_lookup(y, _t(table), ins.table[0])
        y = y.numpy()
        if ins.dst_kind == "am":
            self.write(ins.dst, ins.dst_row0, ins.dst_col0, y)
        elif ins.dst_kind == "am_t":
            self.write(ins.dst, ins.dst_col0, ins.dst_row0, y.T)
        elif ins.dst_kind == "xb":
            self.xb_write(ins.dst_row0, y)
        elif ins.dst_kind == "result":
            self.result[:] = y[0]
        else:
            raise AssertionError(ins.dst_kind)
        return {"rows": R, "k_in": K, "n_out": N}

    def layernorm(self, ins: LayerNorm) -> dict[str, Any]:
        data = self.pop(ins.blob)
        beat = self.p.stream.beat_bytes
        nt = len(ins.params.table)
        table = _from_lanes(data, 2, nt, signed=False)
        pos = _padded(2 * nt, beat)
        gamma = _from_lanes(data[pos:], 2, ins.channels, signed=True)
        pos += _padded(2 * ins.channels, beat)
        beta = _from_lanes(data[pos:], 4, ins.channels, signed=True)
        params = replace(ins.params, table=tuple(int(v) for v in table))
        R = ins.rows.value(self.regs)
        x = self.xb_read(ins.row0, R).reshape(R * ins.heads, ins.channels)
        n = intops.int_layernorm_normalize(_t(x), params)
        y = intops.requantize(_t(gamma) * n + _t(beta), ins.out_shift, ins.out_fmt).numpy()
        self.write(ins.dst, 0, 0, y)
        return {"rows": R * ins.heads}

    def softmax(self, ins: Softmax) -> dict[str, Any]:
        expect = intops.exp_table(ins.in_fmt, ins.exp_frac).numpy()
        if ins.blob >= 0:  # a new table; otherwise the unit keeps the block's first one
            self.exp_table = _from_lanes(self.pop(ins.blob), 2, ins.table_entries, signed=False)
        if not np.array_equal(self.exp_table, expect):
            raise AssertionError(f"{ins.name}: the exp table the unit holds differs from the contract's")
        R, n = ins.rows.value(self.regs), ins.length.value(self.regs)
        s = self.read(ins.src, 0, R, 0, n)
        p = intops.int_softmax(_t(s), in_fmt=ins.in_fmt, prob_fmt=ins.prob_fmt, exp_frac=ins.exp_frac).numpy()
        self.write(ins.dst, 0, 0, p)
        return {"rows": R, "length": n}

    def head_mean(self, ins: HeadMean) -> dict[str, Any]:
        n = self.regs["N"]
        x = self.xb_read(1, n)
        u = intops.int_head_mean(_t(x), num_heads=ins.heads, in_frac=ins.in_frac, out_fmt=ins.out_fmt).numpy()
        self.write(ins.dst, 0, 0, u)
        return {"rows": n}

    def token_mean(self, ins: TokenMean) -> dict[str, Any]:
        n, H, half = self.regs["N"], ins.heads, ins.half
        f = self.read(ins.src, 0, n * H, 0, 2 * half).reshape(n, H, 2 * half)
        g = intops.int_token_mean(_t(f[..., half:]).transpose(0, 1), in_frac=ins.in_frac, out_fmt=ins.out_fmt).numpy()
        self.write(ins.dst, 0, 0, g)
        return {"rows": n}

    def concat(self, ins: Concat) -> dict[str, Any]:
        n, H, half = self.regs["N"], ins.heads, ins.half
        f = self.read(ins.src, 0, n * H, 0, 2 * half).reshape(n, H, 2 * half)
        g = self.read(ins.glob, 0, H, 0, half)
        z = np.concatenate([f[..., :half], np.broadcast_to(g[None], (n, H, half))], axis=-1).reshape(n * H, 2 * half)
        self.write(ins.dst, 0, 0, z)
        return {"rows": n}

    def select(self, ins: Select) -> dict[str, Any]:
        table = _from_lanes(self.pop(ins.blob), 1, 1 << ins.delta_fmt.bits, signed=False)
        expect = intops.sigmoid_table(ins.delta_fmt, ins.sig_fmt).numpy()
        if not np.array_equal(table, expect):
            raise AssertionError(f"{ins.name}: sigmoid table in the stream differs from the contract's")
        n, H, T = self.regs["N"], ins.heads, self.regs["T"]
        w = _t(self.read(ins.w_tensor, 0, n, 0, H))
        delta = _t(self.read(ins.d_tensor, 0, n * H, 0, 1).reshape(n, H))
        if ins.decision == "threshold":
            keep = intops.keep_decision(w, delta, ins.tau)
        else:
            keep = intops.topk_decision((w * delta).sum(dim=-1), ins.topk)
        p = intops.int_keep_prob(w, delta, w_fmt=ins.w_fmt, delta_fmt=ins.delta_fmt, sig_fmt=ins.sig_fmt,
                                 out_fmt=ins.p_fmt)
        x = _t(self.xb_read(0, T))
        live = x[1:1 + n]
        pkg = intops.int_package_token(live, p, pruned=~keep)
        new = torch.cat([x[:1], live[keep], x[1 + n:], pkg[None]], dim=0).numpy()
        self.xb_write(0, new)
        k = int(keep.sum())
        self.idx = [j for j, kk in zip(self.idx, keep.tolist()) if kk]
        self.kept_indices.append(list(self.idx))
        self.kept.append(k)
        self.regs = {"T": new.shape[0], "N": k}
        return {"rows": n, "kept": k}

    def run(self, image: np.ndarray, snapshot=None) -> EngineRun:
        for pc, ins in enumerate(self.p.instructions):
            regs = dict(self.regs)
            info: dict[str, Any] = {}
            if isinstance(ins, LoadXB):
                self.load_xb(ins)
            elif isinstance(ins, Pixels):
                self.pixels(ins, image)
            elif isinstance(ins, Gemm):
                info = self.gemm(ins)
            elif isinstance(ins, LayerNorm):
                info = self.layernorm(ins)
            elif isinstance(ins, Softmax):
                info = self.softmax(ins)
            elif isinstance(ins, HeadMean):
                info = self.head_mean(ins)
            elif isinstance(ins, TokenMean):
                info = self.token_mean(ins)
            elif isinstance(ins, Concat):
                info = self.concat(ins)
            elif isinstance(ins, Select):
                info = self.select(ins)
            elif isinstance(ins, Result):
                pass
            else:
                raise AssertionError(type(ins))
            self.steps.append({"name": ins.name, "op": ins.op, "T": regs["T"], "N": regs["N"], **info})
            if snapshot is not None:
                snapshot(pc, ins, {"am0": self.am[0], "am1": self.am[1], "am2": self.am[2], "xb": self.xb,
                                   "res": self.result})
        if self.blob != len(self.p.stream.blobs):
            raise AssertionError(f"{len(self.p.stream.blobs) - self.blob} blobs of the param stream were not used")
        return EngineRun(self.result.copy(), list(self.kept), self.kept_indices, self.steps)


def run_engine(prog: Program, image_int: np.ndarray, snapshot=None) -> EngineRun:
    """Run the program on one integer image [C, H, W] (the input format's integers).  ``snapshot``
    (optional) is called after every instruction with ``(pc, instruction, buffers)``, the buffers
    as word arrays (debugging an engine against this model)."""
    img = np.asarray(image_int)
    if img.dtype.kind == "f":
        raise UserError("run_engine takes an integer image")
    return _Engine(prog).run(img.astype(np.int64), snapshot)
