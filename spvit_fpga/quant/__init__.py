"""Quantisation-aware training: the fake-quant twin of the float SPViT and its exports.

Owns the Brevitas layers with the project's fixed-point quantizers (``brevitas_layers``), the
fake-quant autograd versions of the integer operators (``qat_ops``), the quantised model with its
calibration and checkpoints (``model``: ``QuantSPViT``, ``QuantConfig``, ``quantize_model``,
``build_model``), the integer IR of a quantised model (``to_ir``: ``ir_from_quant_model``,
``export_ir``), the QAT flavour of the training loop (``training``) and the QONNX export for
FINN / hls4ml users (``qonnx_export``).

Comes after :mod:`spvit_fpga.ir`: its forward *is* the integer contract (``intops``) with
straight-through gradients, so QAT trains against exactly what the hardware computes.

May import: the top-level helpers, :mod:`spvit_fpga.nn` and :mod:`spvit_fpga.ir`.

The public names of :mod:`spvit_fpga.quant.model` are re-exported here
(``from spvit_fpga.quant import QuantSPViT``).
"""
from . import model as _model
from .model import *  # noqa: F401,F403  (the names of model.__all__)

__all__ = list(_model.__all__)
