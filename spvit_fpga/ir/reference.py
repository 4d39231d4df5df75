"""Golden integer reference: runs an :class:`~spvit_fpga.ir.graph.IR` on one image.

Integers only (int64 torch tensors through :mod:`spvit_fpga.ir.intops`; constants from the IR,
whose tables :func:`~spvit_fpga.ir.load_ir` has checked against their definitions), one image at a time, pruned tokens physically removed: after a selector stage
the sequence is ``[class token, kept patch tokens in their original order, earlier package
tokens, this stage's package token]``.  The HLS C-simulation and the RTL simulation must
reproduce :attr:`RefOutput.logits`, :attr:`RefOutput.kept_indices` and, kernel by kernel,
the tensors of :attr:`RefOutput.intermediates` exactly.

Intermediate names (``return_intermediates=True``; numpy int64 arrays, tokens on axis 0 of
the physical sequence):

==========================================  =====================================================
``input``                                    image [C,H,W] (input format)
``patch_embed.patches``                      flattened patches [N, C*P*P]
``embed``                                    [1+N, D] class token + patch tokens (+ position)
``selectors.S.in``                           live patch tokens [n, D] entering stage S
``selectors.S.head_mean`` / ``head_fc1`` /   SE head-weight path [n, H] / [n, H/2] / ... ;
``head_gelu`` / ``head_fc2`` / ``head_w``    ``head_w`` = head weights w (unsigned)
``selectors.S.norm`` / ``in_fc`` /           per-head path [n, H, d] ...
``in_gelu``
``selectors.S.global``                       global feature [H, d/2] (mean over live tokens)
``selectors.S.out_fc1`` / ``out_gelu1`` /    [n, H, d/2] / ... / [n, H, d/4]
``out_fc2`` / ``out_gelu2``
``selectors.S.delta``                        s_keep - s_prune [n, H]
``selectors.S.score``                        z = sum_h w_h delta_h [n]
``selectors.S.keep``                         keep decisions [n] (0/1)
``selectors.S.sigma`` / ``keep_prob``        sigmoid(delta) [n, H] / keep probability p [n]
``selectors.S.package``                      package token [D]
``blocks.I.in``                              sequence entering block I [T, D]
``blocks.I.norm1``                           [T, D]
``blocks.I.attn.q`` / ``.k`` / ``.v``        [T, D] (heads are channel slices of d)
``blocks.I.attn.scores``                     [H, T, T]
``blocks.I.attn.softmax``                    [H, T, T] probabilities
``blocks.I.attn.context``                    [T, D] (heads concatenated)
``blocks.I.attn.proj``                       [T, D] residual stream after attention
``blocks.I.norm2`` / ``mlp.fc1`` /           [T, D] / [T, 4D] / [T, 4D]
``mlp.gelu``
``blocks.I.mlp.fc2``                         [T, D] block output
``norm``                                     final LayerNorm of the class token [D]
``logits``                                   [num_classes] (accumulator, frac ``ir.logits_frac``)
==========================================  =====================================================
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from ..errors import UserError
from . import intops
from .graph import IR, AttentionOp, BlockOp, LayerNormOp, LinearOp, TableOp, TokenSelectOp

__all__ = ["RefOutput", "run_reference", "quantize_image", "predict", "evaluate_reference"]


@dataclass
class RefOutput:
    logits: np.ndarray  # int64 [num_classes], frac = ir.logits_frac
    kept_indices: list[list[int]]  # per stage: original indices (0..N-1) of the kept patch tokens
    token_counts: list[int] = field(default_factory=list)  # sequence length entering each block
    intermediates: Optional[dict[str, np.ndarray]] = None

    @property
    def prediction(self) -> int:
        """Index of the largest logit (ties: the lowest index)."""
        return int(np.argmax(self.logits))


def quantize_image(ir: IR, image: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Float image [C,H,W] -> integers in ``ir.input_fmt`` (round half even, saturate).

    For the data sets of :mod:`spvit_fpga.nn.data` the values are exactly
    ``pixel / 2**input_frac_bits``, so the integers are the pixels themselves (digits: 0..16)."""
    x = torch.as_tensor(np.asarray(image) if not isinstance(image, torch.Tensor) else image)
    return ir.input_fmt.to_int(x.to(torch.float64))


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.int64)


class _Recorder:
    def __init__(self, enabled: bool) -> None:
        self.data: Optional[dict[str, np.ndarray]] = {} if enabled else None

    def __call__(self, name: str, x: torch.Tensor) -> torch.Tensor:
        if self.data is not None:
            self.data[name] = x.detach().to(torch.int64).numpy().copy()
        return x


def _table(op: TableOp, x: torch.Tensor) -> torch.Tensor:
    return intops.table_lookup(x, _t(op.table), op.in_fmt)


def _linear(op: LinearOp, x: torch.Tensor, rec: _Recorder, residual: Optional[torch.Tensor] = None) -> torch.Tensor:
    y = intops.int_linear(
        x, _t(op.weight), _t(op.bias), shift=op.shift, out_fmt=op.out_fmt,
        residual=residual, residual_align=op.residual_align,
    )
    rec(op.name, y)
    if op.activation is not None:
        y = rec(op.activation.name, _table(op.activation, y))
    return y


def _layernorm(op: LayerNormOp, x: torch.Tensor, rec: _Recorder) -> torch.Tensor:
    n = intops.int_layernorm_normalize(x, op.params())
    y = intops.requantize(_t(op.gamma) * n + _t(op.beta), op.out_shift, op.out_fmt)
    return rec(op.name, y)


def _attention(op: AttentionOp, h: torch.Tensor, x: torch.Tensor, rec: _Recorder) -> torch.Tensor:
    t = h.shape[0]
    nh, dh = op.num_heads, op.head_dim

    def heads(a: torch.Tensor) -> torch.Tensor:  # [T, D] -> [H, T, d]
        return a.reshape(t, nh, dh).transpose(0, 1)

    q, k, v = (heads(_linear(lin, h, rec)) for lin in (op.q, op.k, op.v))
    s = rec(op.name + ".scores", intops.int_attention_scores(q, k, shift=op.score_shift, out_fmt=op.score_fmt))
    p = rec(op.name + ".softmax", intops.int_softmax(s, in_fmt=op.score_fmt, prob_fmt=op.prob_fmt, exp_frac=op.exp_frac))
    o = intops.int_attention_context(p, v, shift=op.context_shift, out_fmt=op.context_fmt)
    o = rec(op.name + ".context", o.transpose(0, 1).reshape(t, nh * dh))
    return _linear(op.proj, o, rec, residual=x)


def _block(b: BlockOp, x: torch.Tensor, rec: _Recorder) -> torch.Tensor:
    rec(f"blocks.{b.index}.in", x)
    h = _layernorm(b.norm1, x, rec)
    x = _attention(b.attn, h, x, rec)
    h = _layernorm(b.norm2, x, rec)
    a = _linear(b.fc1, h, rec)
    return _linear(b.fc2, a, rec, residual=x)


def _select(s: TokenSelectOp, x: torch.Tensor, decision: str, rec: _Recorder) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep decisions [n] (bool) and the package token [D] for live patch tokens x [n, D]."""
    n = x.shape[0]
    nh, dh, half = s.num_heads, s.head_dim, s.head_dim // 2
    pre = s.name + "."
    rec(pre + "in", x)
    u = rec(pre + "head_mean", intops.int_head_mean(x, num_heads=nh, in_frac=s.in_fmt.frac, out_fmt=s.head_mean_fmt))
    w = _linear(s.head_fc2, _linear(s.head_fc1, u, rec), rec)  # [n, H] head weights (sigmoid table)
    t = _layernorm(s.norm, x.reshape(n, nh, dh), rec)
    f = _linear(s.in_fc, t, rec)  # [n, H, d] after GELU
    assert s.in_fc.activation is not None
    f_fmt = s.in_fc.activation.out_fmt
    g = intops.int_token_mean(f[..., half:].transpose(0, 1), in_frac=f_fmt.frac, out_fmt=f_fmt)  # [H, d/2]
    rec(pre + "global", g)
    z = torch.cat([f[..., :half], g[None].expand(n, nh, half)], dim=-1)
    a = _linear(s.out_fc2, _linear(s.out_fc1, z, rec), rec)
    delta = _linear(s.delta, a, rec)[..., 0]  # [n, H]
    rec(pre + "delta", delta)
    score = rec(pre + "score", (w * delta).sum(dim=-1))
    if decision == "threshold":
        keep = intops.keep_decision(w, delta, s.tau)
    elif decision == "topk":
        keep = intops.topk_decision(score, s.topk)
    else:
        raise ValueError(f"decision must be threshold or topk, got {decision!r}")
    rec(pre + "keep", keep.to(torch.int64))
    rec(pre + "sigma", _table(s.sigma, delta))
    p = intops.int_keep_prob(
        w, delta, w_fmt=s.w_fmt, delta_fmt=s.sigma.in_fmt, sig_fmt=s.sigma.out_fmt, out_fmt=s.keep_prob_fmt
    )
    rec(pre + "keep_prob", p)
    pkg = rec(pre + "package", intops.int_package_token(x, p, pruned=~keep))
    return keep, pkg


def _patches(ir: IR, image: torch.Tensor) -> torch.Tensor:
    pe = ir.patch_embed
    c, g, p = pe.in_chans, pe.grid, pe.patch_size
    return image.reshape(c, g, p, g, p).permute(1, 3, 0, 2, 4).reshape(g * g, c * p * p)


def run_reference(
    ir: IR,
    image_int: torch.Tensor | np.ndarray,
    *,
    decision: Optional[str] = None,
    return_intermediates: bool = False,
) -> RefOutput:
    """Run the integer model on one image ``image_int`` [C,H,W] (integers in ``ir.input_fmt``,
    see :func:`quantize_image`).  ``decision`` overrides every selector's default rule
    (``threshold`` with its integer ``tau``, or ``topk``)."""
    img = torch.as_tensor(np.asarray(image_int) if not isinstance(image_int, torch.Tensor) else image_int)
    if torch.is_floating_point(img):
        raise UserError("run_reference takes an integer image; convert it with quantize_image(ir, image)")
    img = img.to(torch.int64)
    if list(img.shape) != list(ir.input_shape):
        raise UserError(f"image shape {list(img.shape)} does not match the model input {ir.input_shape}")
    if not ir.input_fmt.contains(img):
        raise UserError(f"image values leave the input format {ir.input_fmt}")
    rec = _Recorder(return_intermediates)
    rec("input", img)
    pe = ir.patch_embed
    patches = rec("patch_embed.patches", _patches(ir, img))
    e = _linear(pe.linear, patches, rec, residual=_t(pe.pos))
    x = rec("embed", torch.cat([_t(pe.cls)[None], e], dim=0))
    idx = list(range(pe.grid * pe.grid))
    kept: list[list[int]] = []
    counts: list[int] = []
    for b in ir.blocks:
        if b.selector is not None:
            m = len(idx)
            keep, pkg = _select(b.selector, x[1 : 1 + m], decision or b.selector.decision, rec)
            x = torch.cat([x[:1], x[1 : 1 + m][keep], x[1 + m :], pkg[None]], dim=0)
            idx = [j for j, k in zip(idx, keep.tolist()) if k]
            kept.append(list(idx))
        counts.append(int(x.shape[0]))
        x = _block(b, x, rec)
    cls = _layernorm(ir.norm, x[0], rec)
    logits = _linear(ir.head, cls, rec)
    rec("logits", logits)
    return RefOutput(logits.numpy().astype(np.int64), kept, counts, rec.data)


def predict(ir: IR, images: torch.Tensor, decision: Optional[str] = None) -> tuple[np.ndarray, list[list[list[int]]]]:
    """Predictions and kept indices of float images [B,C,H,W] through the reference."""
    preds, kept = [], []
    for img in images:
        out = run_reference(ir, quantize_image(ir, img), decision=decision)
        preds.append(out.prediction)
        kept.append(out.kept_indices)
    return np.array(preds, dtype=np.int64), kept


def evaluate_reference(ir: IR, dataset, decision: Optional[str] = None, progress=None):
    """Accuracy / kept tokens / MACs of the integer reference on a data set (one image at a
    time), as an :class:`spvit_fpga.nn.evaluation.EvalResult` (backend ``integer``)."""
    from ..nn.config import ModelConfig
    from ..nn.evaluation import EvalResult, iterate_batches
    from ..nn.macs import model_macs, unpruned_macs

    cfg = ModelConfig.from_dict(ir.model)
    preds, labels, kept, indices = [], [], [], []
    for x, y in iterate_batches(dataset, 64):
        for img, lab in zip(x, y):
            out = run_reference(ir, quantize_image(ir, img), decision=decision)
            preds.append(out.prediction)
            labels.append(int(lab))
            kept.append([len(k) for k in out.kept_indices])
            indices.append(out.kept_indices)
            if progress is not None:
                progress.update(1)
    kept_arr = np.array(kept, dtype=np.int64).reshape(len(kept), cfg.num_stages)
    macs = np.array([float(model_macs(cfg, list(r))) for r in kept_arr] if cfg.prunes else [float(unpruned_macs(cfg))] * len(preds))
    return EvalResult(np.array(preds), np.array(labels), kept_arr, macs, unpruned_macs(cfg), indices)
