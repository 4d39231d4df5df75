"""A shape-only IR: every op of a model config with zero weights and the formats of a template IR.

The layer program's structure, counts and param-stream sizes depend on the model's shapes and on the
*widths* of its formats (8-bit activations and weights, the 9-bit delta row, 8-bit table inputs, the
rsqrt table size), not on weight values or fraction bits.  :func:`shape_ir` builds an IR of
``cfg``'s shapes whose formats are copied from ``template`` (any IR of the same quantisation
recipe, e.g. the embedded default model), so the program, the cycle estimates and the generated
HLS sources of a model can be had without building and calibrating its weights (which takes
minutes for a DeiT-S).  Accumulator widths are the formats' worst case for the fan-in; thresholds
are 0 and the top-k counts come from the config's keep ratios.  Not a model to run: its weights are
zero.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from ...ir import intops
from ...ir.graph import IR, AttentionOp, BlockOp, LayerNormOp, LinearOp, PatchEmbedOp, TokenSelectOp
from ...nn.config import ModelConfig

__all__ = ["shape_ir"]


def _linear(t: LinearOp, name: str, k: int, m: int, max_tokens: int) -> LinearOp:
    acc = intops.accumulator_bits(t.in_fmt.bits, t.w_fmt.bits, k, in_signed=t.in_fmt.signed, w_signed=t.w_fmt.signed)
    acc += 2 if t.residual_fmt is not None else 1  # room for a bias / the aligned residual
    return dataclasses.replace(t, name=name, in_features=k, out_features=m, max_tokens=max_tokens,
                               weight=np.zeros((m, k), dtype=np.int64), bias=np.zeros(m, dtype=np.int64),
                               acc_bits=min(acc, 32))


def _layernorm(t: LayerNormOp, name: str, channels: int, max_tokens: int) -> LayerNormOp:
    p = intops.layernorm_params(channels, t.in_fmt, t.eps, mant_bits=t.mant_bits, table_bits=t.table_bits,
                                norm_fmt=t.norm_fmt)
    return dataclasses.replace(t, name=name, channels=channels, max_tokens=max_tokens, eps_int=p.eps_int,
                               rsqrt_shift=p.rsqrt_shift, sum_bits=p.sum_bits, dev_bits=p.dev_bits,
                               var_bits=p.var_bits, gamma=np.zeros(channels, dtype=np.int64),
                               beta=np.zeros(channels, dtype=np.int64), rsqrt_table=np.array(p.table, dtype=np.int64))


def _selector(ts: TokenSelectOp, cfg: ModelConfig, stage: int, block: int,
              decision: Optional[str]) -> TokenSelectOp:
    """Selector ``stage`` of ``cfg`` (in front of ``block``) with ``ts``'s formats: threshold 0, top-k from
    the config's keep ratio."""
    n, nh, dh = cfg.num_patches, cfg.num_heads, cfg.head_dim
    sp = f"selectors.{stage}."
    h2 = max(1, nh // 2)
    ratio = cfg.keep_ratios[stage] if stage < len(cfg.keep_ratios) else 1.0
    return dataclasses.replace(
        ts, name=f"selectors.{stage}", stage=stage, block=block, max_tokens=n, num_heads=nh, head_dim=dh,
        head_fc1=_linear(ts.head_fc1, sp + "head_fc1", nh, h2, n),
        head_fc2=_linear(ts.head_fc2, sp + "head_fc2", h2, nh, n),
        norm=_layernorm(ts.norm, sp + "norm", dh, n * nh),
        in_fc=_linear(ts.in_fc, sp + "in_fc", dh, dh, n * nh),
        out_fc1=_linear(ts.out_fc1, sp + "out_fc1", dh, dh // 2, n * nh),
        out_fc2=_linear(ts.out_fc2, sp + "out_fc2", dh // 2, dh // 4, n * nh),
        delta=_linear(ts.delta, sp + "delta", dh // 4, 1, n * nh),
        score_bits=intops.keep_decision_bits(ts.w_fmt, ts.sigma.in_fmt, nh),
        decision=decision or ts.decision, tau=0, topk=int(round(ratio * n)))


def shape_ir(cfg: ModelConfig, template: IR, decision: Optional[str] = None) -> IR:
    """The IR of ``cfg``'s shapes with ``template``'s formats and zero weights (module docstring).
    ``template`` needs at least one block and, if ``cfg`` prunes, one selector."""
    tb = template.blocks[0]
    ts = template.selectors[0] if template.selectors else None
    if cfg.num_stages and ts is None:
        raise ValueError("the template IR has no selector to copy formats from")
    n, c, nh, dh = cfg.num_patches, cfg.embed_dim, cfg.num_heads, cfg.head_dim
    kp = cfg.in_chans * cfg.patch_size ** 2
    tp = template.patch_embed
    patch = dataclasses.replace(tp, patch_size=cfg.patch_size, in_chans=cfg.in_chans, grid=cfg.grid,
                                linear=_linear(tp.linear, "patch_embed", kp, c, n),
                                pos=np.zeros((n, c), dtype=np.int64), cls=np.zeros(c, dtype=np.int64))
    stage_at = {b: s for s, b in enumerate(cfg.selector_blocks[:cfg.num_stages])}  # block -> selector stage
    blocks = []
    stage = 0  # selectors so far (each one adds the package token)
    for i in range(cfg.depth):
        pre = f"blocks.{i}."
        sel = _selector(ts, cfg, stage_at[i], i, decision) if i in stage_at else None
        stage += sel is not None
        t_max = 1 + n + stage
        ta = tb.attn
        attn = dataclasses.replace(
            ta, name=pre + "attn", num_heads=nh, head_dim=dh, max_tokens=t_max,
            q=_linear(ta.q, pre + "attn.q", c, c, t_max), k=_linear(ta.k, pre + "attn.k", c, c, t_max),
            v=_linear(ta.v, pre + "attn.v", c, c, t_max), proj=_linear(ta.proj, pre + "attn.proj", c, c, t_max),
            score_acc_bits=intops.accumulator_bits(ta.q.out_fmt.bits, ta.k.out_fmt.bits, dh),
            context_acc_bits=intops.accumulator_bits(ta.prob_fmt.bits, ta.v.out_fmt.bits, t_max, in_signed=False))
        blocks.append(BlockOp(
            index=i, max_tokens=t_max, selector=sel, norm1=_layernorm(tb.norm1, pre + "norm1", c, t_max), attn=attn,
            norm2=_layernorm(tb.norm2, pre + "norm2", c, t_max),
            fc1=_linear(tb.fc1, pre + "mlp.fc1", c, cfg.mlp_hidden, t_max),
            fc2=_linear(tb.fc2, pre + "mlp.fc2", cfg.mlp_hidden, c, t_max)))
    return IR(schema_version=template.schema_version, model=cfg.to_dict(), quant=dict(template.quant),
              input_fmt=template.input_fmt, input_shape=[cfg.in_chans, cfg.img_size, cfg.img_size],
              num_classes=cfg.num_classes, patch_embed=patch, blocks=blocks,
              norm=_layernorm(template.norm, "norm", c, 1),
              head=_linear(template.head, "head", c, cfg.num_classes, 1),
              provenance={"source": "shape-only IR (zero weights, formats of a template IR)"})
