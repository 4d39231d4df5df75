"""The integer IR of a calibrated quantised model: the bridge from QAT to the integer contract.

:func:`ir_from_quant_model` reads every format and integer parameter from
:meth:`QuantSPViT.trace_ops <spvit_fpga.quant.model.QuantSPViT.trace_ops>` (recorded while the
fake-quant forward runs), so they are by construction the ones the forward uses;
:func:`export_ir` does it for a quantised checkpoint file (what ``python -m spvit_fpga.export``
writes).  The IR itself (:mod:`spvit_fpga.ir.graph`) knows nothing of the trainable model.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .._resources import file_sha256
from ..errors import UserError
from ..ir import intops
from ..ir.graph import (
    IR,
    SCHEMA_VERSION,
    AttentionOp,
    BlockOp,
    LayerNormOp,
    LinearOp,
    PatchEmbedOp,
    TableOp,
    TokenSelectOp,
    linear_acc_bits,
)
from .model import load_quant_checkpoint

__all__ = ["ir_from_quant_model", "export_ir", "file_sha256"]

def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t, dtype=np.int64)


def _table_op(name: str, rec: dict) -> TableOp:
    fn = intops.gelu_table if rec["kind"] == "gelu" else intops.sigmoid_table
    return TableOp(name, rec["kind"], rec["in_fmt"], rec["out_fmt"], _np(fn(rec["in_fmt"], rec["out_fmt"])))


def _linear_op(name: str, rec: dict, max_tokens: int, activation: Optional[TableOp] = None) -> LinearOp:
    w, b = _np(rec["weight"]), _np(rec["bias"])
    op = LinearOp(
        name=name, in_features=int(w.shape[1]), out_features=int(w.shape[0]), max_tokens=max_tokens,
        in_fmt=rec["in_fmt"], w_fmt=rec["w_fmt"], bias_fmt=rec["b_fmt"], out_fmt=rec["out_fmt"], acc_bits=0,
        weight=w, bias=b, residual_fmt=rec["residual_fmt"], activation=activation,
    )
    op.acc_bits = linear_acc_bits(op)
    return op


def _layernorm_op(name: str, rec: dict, max_tokens: int, mant_bits: int) -> LayerNormOp:
    gamma, beta = _np(rec["gamma"]), _np(rec["beta"])
    p = intops.layernorm_params(int(gamma.shape[0]), rec["in_fmt"], rec["eps"], mant_bits=mant_bits, norm_fmt=rec["norm_fmt"])
    n = rec["norm_fmt"]
    g_abs = int(np.abs(gamma).max()) if gamma.size else 0
    lo = -g_abs * max(-n.min_int, n.max_int) + (int(beta.min()) if beta.size else 0)
    hi = g_abs * max(-n.min_int, n.max_int) + (int(beta.max()) if beta.size else 0)
    return LayerNormOp(
        name=name, channels=p.channels, max_tokens=max_tokens, in_fmt=rec["in_fmt"], gamma_fmt=rec["gamma_fmt"],
        beta_fmt=rec["beta_fmt"], norm_fmt=n, out_fmt=rec["out_fmt"], eps=p.eps, eps_int=p.eps_int,
        mant_bits=p.mant_bits, table_bits=p.table_bits, rsqrt_shift=p.rsqrt_shift, sum_bits=p.sum_bits,
        dev_bits=p.dev_bits, var_bits=p.var_bits, affine_bits=intops.signed_bits_for_range(min(lo, 0), max(hi, 0)),
        gamma=gamma, beta=beta, rsqrt_table=np.array(p.table, dtype=np.int64),
    )


def ir_from_quant_model(qmodel: Any, dataset: Optional[dict] = None, provenance: Optional[dict] = None) -> IR:
    """The IR of a calibrated :class:`~spvit_fpga.quant.QuantSPViT`.

    Formats and integer parameters come from :meth:`QuantSPViT.trace_ops` (recorded while the
    fake-quant forward runs), so they are by construction the ones the forward uses.
    Raises UserError if an accumulator would need more than ``QuantConfig.acc_bits``.
    """
    if not qmodel.calibrated:
        raise UserError("the quantised model is not calibrated; build it with quantize_model()")
    cfg, qcfg = qmodel.cfg, qmodel.qcfg
    tr = qmodel.trace_ops()
    n, c, nh, dh = cfg.num_patches, cfg.embed_dim, cfg.num_heads, cfg.head_dim
    mb = qcfg.rsqrt_mant_bits

    e = tr["embed"]
    patch = PatchEmbedOp(
        name="patch_embed", patch_size=cfg.patch_size, in_chans=cfg.in_chans, grid=cfg.grid,
        linear=_linear_op("patch_embed", tr["patch_embed"], n), pos_fmt=e["pos_fmt"], pos=_np(e["pos"]), cls=_np(e["cls"]),
    )
    blocks = []
    stage = 0
    for i in range(cfg.depth):
        pre = f"blocks.{i}."
        sel = None
        if stage < cfg.num_stages and cfg.selector_blocks[stage] == i:
            sp = f"selectors.{stage}."
            keep = tr[sp + "keep"]
            wf, df = keep["w_fmt"], keep["delta_fmt"]
            tau_int = int(_tau_int(qmodel, stage, keep["score_frac"]))
            sel = TokenSelectOp(
                name=f"selectors.{stage}", stage=stage, block=i, max_tokens=n, num_heads=nh, head_dim=dh,
                in_fmt=tr[sp + "head_mean"]["in_fmt"], head_mean_fmt=tr[sp + "head_mean"]["out_fmt"],
                head_fc1=_linear_op(sp + "head_fc1", tr[sp + "head_fc1"], n, _table_op(sp + "head_gelu", tr[sp + "head_gelu"])),
                head_fc2=_linear_op(sp + "head_fc2", tr[sp + "head_fc2"], n, _table_op(sp + "head_w", tr[sp + "head_w"])),
                norm=_layernorm_op(sp + "norm", tr[sp + "norm"], n * nh, mb),
                in_fc=_linear_op(sp + "in_fc", tr[sp + "in_fc"], n * nh, _table_op(sp + "in_gelu", tr[sp + "in_gelu"])),
                out_fc1=_linear_op(sp + "out_fc1", tr[sp + "out_fc1"], n * nh, _table_op(sp + "out_gelu1", tr[sp + "out_gelu1"])),
                out_fc2=_linear_op(sp + "out_fc2", tr[sp + "out_fc2"], n * nh, _table_op(sp + "out_gelu2", tr[sp + "out_gelu2"])),
                delta=_linear_op(sp + "delta", tr[sp + "delta"], n * nh),
                sigma=TableOp(sp + "sigma", "sigmoid", df, keep["sig_fmt"], _np(intops.sigmoid_table(df, keep["sig_fmt"]))),
                keep_prob_fmt=keep["p_fmt"], score_frac=keep["score_frac"],
                score_bits=intops.keep_decision_bits(wf, df, nh),
                decision=qmodel.decision if qmodel.decision in ("threshold", "topk") else "threshold",
                tau=tau_int, topk=qmodel.topk_count(stage),
            )
            stage += 1
        t_max = 1 + n + stage
        at = tr[pre + "attn"]
        attn = AttentionOp(
            name=pre + "attn", num_heads=nh, head_dim=dh, max_tokens=t_max,
            q=_linear_op(pre + "attn.q", tr[pre + "attn.q"], t_max),
            k=_linear_op(pre + "attn.k", tr[pre + "attn.k"], t_max),
            v=_linear_op(pre + "attn.v", tr[pre + "attn.v"], t_max),
            score_fmt=at["score_fmt"], prob_fmt=at["prob_fmt"], context_fmt=at["context_fmt"], exp_frac=qcfg.exp_frac,
            score_acc_bits=intops.accumulator_bits(at["q_fmt"].bits, at["k_fmt"].bits, dh),
            context_acc_bits=intops.accumulator_bits(at["prob_fmt"].bits, at["v_fmt"].bits, t_max, in_signed=False),
            exp_table=_np(intops.exp_table(at["score_fmt"], qcfg.exp_frac)),
            proj=_linear_op(pre + "attn.proj", tr[pre + "attn.proj"], t_max),
        )
        blocks.append(
            BlockOp(
                index=i, max_tokens=t_max, selector=sel,
                norm1=_layernorm_op(pre + "norm1", tr[pre + "norm1"], t_max, mb), attn=attn,
                norm2=_layernorm_op(pre + "norm2", tr[pre + "norm2"], t_max, mb),
                fc1=_linear_op(pre + "mlp.fc1", tr[pre + "mlp.fc1"], t_max, _table_op(pre + "mlp.gelu", tr[pre + "mlp.gelu"])),
                fc2=_linear_op(pre + "mlp.fc2", tr[pre + "mlp.fc2"], t_max),
            )
        )
    ir = IR(
        schema_version=SCHEMA_VERSION, model=cfg.to_dict(), quant=qcfg.to_dict(), input_fmt=qmodel.input_fmt,
        input_shape=[cfg.in_chans, cfg.img_size, cfg.img_size], num_classes=cfg.num_classes, patch_embed=patch,
        blocks=blocks, norm=_layernorm_op("norm", tr["norm"], 1, mb), head=_linear_op("head", tr["head"], 1),
        dataset=dict(dataset or {}), provenance=dict(provenance or {}),
    )
    too_wide = [op.name for op in _all_linears(ir) if op.acc_bits > qcfg.acc_bits + (1 if op.name.endswith(".delta") else 0)]
    if too_wide:
        raise UserError(
            f"accumulators of {too_wide[:4]} need more than {qcfg.acc_bits} bits; "
            "raise QuantConfig.acc_bits or check the biases"
        )
    ir.validate()
    return ir


def _tau_int(qmodel: Any, stage: int, frac: int) -> int:
    return int(intops.tau_to_int(qmodel.tau[stage], frac))


def _all_linears(ir: IR) -> list[LinearOp]:
    out = [ir.patch_embed.linear]
    for b in ir.blocks:
        if b.selector:
            s = b.selector
            out += [s.head_fc1, s.head_fc2, s.in_fc, s.out_fc1, s.out_fc2, s.delta]
        out += [b.attn.q, b.attn.k, b.attn.v, b.attn.proj, b.fc1, b.fc2]
    return out + [ir.head]


def export_ir(checkpoint: str | os.PathLike, decision: str | None = None) -> IR:
    """The IR of a quantised checkpoint (UserError for a float-only checkpoint)."""
    path = Path(checkpoint)
    if path.is_dir() and (path / "checkpoint.pt").exists():
        path = path / "checkpoint.pt"
    qmodel, dataset, _meta = load_quant_checkpoint(path)
    if decision:
        qmodel.decision = decision
    provenance = {"checkpoint_sha256": file_sha256(path), "checkpoint_name": path.name}
    return ir_from_quant_model(qmodel, dataset=dataset, provenance=provenance)
