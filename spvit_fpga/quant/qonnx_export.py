"""QONNX export of the quantised backbone, for FINN / hls4ml users (``export --qonnx FILE``).

What is exported (and what is not)
----------------------------------
The token selectors remove a data-dependent number of tokens, which an ONNX graph with static
shapes cannot express.  This module therefore exports the **dense backbone** of a
:class:`~spvit_fpga.quant.QuantSPViT` with a fixed token count ``T = 1 + N``: the input is the
image's flattened patches ``[N, C*P*P]`` (the float pixel values, quantised by the first Quant
node), then patch embedding + position embedding, class token, every encoder block on all
``T`` tokens, the final LayerNorm of the class token and the classifier.  Selectors and package
tokens are omitted: it is the model with nothing pruned and without package tokens.

It is built from Brevitas layers (``QuantLinear`` with ``Int8WeightPerTensorFixedPoint`` weights
and ``Int32Bias``, ``QuantIdentity`` with fixed-point activation quantisers), all with
*constant* power-of-two scales equal to the project's formats, and exported with
``brevitas.export.export_qonnx``.  The linear layers, their biases and every activation quant
point carry exactly the integers of the IR (weights bit-identical; the fused residual adds are
"add, then quantise once" as in the integer model).  LayerNorm, softmax and GELU are float ONNX
ops between the quant points, so the QONNX graph approximates, but is not bit-exact with, the
integer reference (``spvit_fpga.ir.reference`` is the golden model; the QONNX file is a starting
point for FINN's streamlining or hls4ml's converter).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from ..ir.intops import FixedFormat
from .model import QuantSPViT, load_quant_checkpoint, param_format


def _brevitas():
    try:
        from brevitas.nn import QuantIdentity, QuantLinear
        from brevitas.quant import (
            Int8ActPerTensorFixedPoint,
            Int8WeightPerTensorFixedPoint,
            Int32Bias,
            Uint8ActPerTensorFixedPoint,
        )
    except ImportError as exc:  # pragma: no cover - environment problem
        raise UserError(f"QONNX export needs brevitas ({exc}); pip install brevitas==0.13.4") from None
    return QuantIdentity, QuantLinear, Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Int32Bias, Uint8ActPerTensorFixedPoint


def _act(fmt: FixedFormat) -> nn.Module:
    """QuantIdentity with the constant power-of-two scale ``2**-fmt.frac`` and ``fmt.bits``."""
    QuantIdentity, _, IntAct, _, _, UintAct = _brevitas()
    quant = IntAct if fmt.signed else UintAct
    mx = fmt.max_int * 2.0 ** (-fmt.frac)
    return QuantIdentity(
        act_quant=quant, bit_width=fmt.bits, scaling_impl_type="const", scaling_init=mx, max_val=mx,
        return_quant_tensor=True,
    )


def _linear(q: QuantSPViT, name: str, bias: bool = True) -> nn.Module:
    """QuantLinear holding exactly the fake-quant weights of op ``name``."""
    _, QuantLinear, _, IntW, Int32Bias, _ = _brevitas()
    w, b = q.linear_params(name)
    fmt = q.weight_format(w)
    mx = fmt.max_int * 2.0 ** (-fmt.frac)
    lin = QuantLinear(
        w.shape[1], w.shape[0], bias=bias, weight_quant=IntW, weight_bit_width=fmt.bits,
        weight_scaling_impl_type="const", weight_scaling_init=mx, weight_max_val=mx,
        bias_quant=Int32Bias, return_quant_tensor=False,
    )
    with torch.no_grad():
        lin.weight.copy_(fmt.to_float(fmt.to_int(w)))
        if bias:
            lin.bias.copy_(b)
    return lin


def _value(t: Any) -> torch.Tensor:
    return t.value if hasattr(t, "value") else t


class _Block(nn.Module):
    def __init__(self, q: QuantSPViT, i: int) -> None:
        super().__init__()
        pre, blk, f = f"blocks.{i}.", q.blocks[i], q.formats
        self.heads, self.dh = q.cfg.num_heads, q.cfg.head_dim
        self.norm1, self.norm2 = blk.norm1, blk.norm2
        self.q_norm1, self.q_norm2 = _act(f[pre + "norm1"]), _act(f[pre + "norm2"])
        self.wq, self.wk, self.wv = (_linear(q, pre + n) for n in ("attn.q", "attn.k", "attn.v"))
        self.qq, self.qk, self.qv = (_act(f[pre + n]) for n in ("attn.q", "attn.k", "attn.v"))
        self.q_scores, self.q_probs, self.q_ctx = _act(f[pre + "attn.scores"]), _act(q.prob_fmt), _act(f[pre + "attn.context"])
        self.proj, self.q_res1 = _linear(q, pre + "attn.proj"), _act(f[pre + "attn.proj"])
        self.fc1, self.q_fc1, self.q_gelu = _linear(q, pre + "mlp.fc1"), _act(f[pre + "mlp.fc1"]), _act(f[pre + "mlp.gelu"])
        self.fc2, self.q_res2 = _linear(q, pre + "mlp.fc2"), _act(f[pre + "mlp.fc2"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, c = x.shape
        h = self.q_norm1(self.norm1(x))
        qh = _value(self.qq(self.wq(h))).reshape(t, self.heads, self.dh).transpose(0, 1)
        kh = _value(self.qk(self.wk(h))).reshape(t, self.heads, self.dh).transpose(0, 1)
        vh = _value(self.qv(self.wv(h))).reshape(t, self.heads, self.dh).transpose(0, 1)
        s = _value(self.q_scores(qh @ kh.transpose(1, 2)))
        p = _value(self.q_probs(torch.softmax(s, dim=-1)))
        o = self.q_ctx((p @ vh).transpose(0, 1).reshape(t, c))
        x = _value(self.q_res1(x + self.proj(o)))
        h = self.q_norm2(self.norm2(x))
        a = self.q_gelu(F.gelu(_value(self.q_fc1(self.fc1(h)))))
        return _value(self.q_res2(x + self.fc2(a)))


class DenseBackbone(nn.Module):
    """The dense quantised backbone described in the module docstring (input: patches [N, K])."""

    def __init__(self, q: QuantSPViT) -> None:
        super().__init__()
        if not q.calibrated:
            raise UserError("the quantised model is not calibrated")
        f = q.formats
        self.q_in = _act(q.input_fmt)
        self.patch = _linear(q, "patch_embed")
        pos = q.pos_embed[0, 1:].detach()
        pf = param_format(pos, q.qcfg.residual_bits)  # on its int16 grid, added before q_embed
        self.register_buffer("pos", pf.to_float(pf.to_int(pos)))
        cls = (q.cls_token[0, 0] + q.pos_embed[0, 0]).detach()
        self.register_buffer("cls", f["embed"].to_float(f["embed"].to_int(cls))[None])
        self.q_embed = _act(f["embed"])
        self.blocks = nn.ModuleList(_Block(q, i) for i in range(q.cfg.depth))
        self.norm, self.q_norm = q.norm, _act(f["norm"])
        self.head = _linear(q, "head")

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        e = _value(self.q_embed(self.patch(self.q_in(patches)) + self.pos))
        x = torch.cat([self.cls, e], dim=0)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.q_norm(self.norm(x[:1])))


def export_qonnx_backbone(checkpoint: str | os.PathLike, out: str | os.PathLike) -> str:
    """Export the dense backbone of a quantised checkpoint to QONNX; returns a short summary."""
    try:
        from brevitas.export import export_qonnx
    except ImportError as exc:
        raise UserError(f"QONNX export needs onnx and brevitas' export extras ({exc}); pip install onnx==1.21.0 qonnx==1.0.0") from None
    q, _, _ = load_quant_checkpoint(checkpoint)
    model = DenseBackbone(q).eval()
    cfg = q.cfg
    k = cfg.in_chans * cfg.patch_size * cfg.patch_size
    example = torch.zeros(cfg.num_patches, k)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        export_qonnx(model, args=example, export_path=str(out))
    return f"dense backbone, {cfg.num_patches + 1} tokens, input patches [{cfg.num_patches}, {k}]"
