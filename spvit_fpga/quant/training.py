"""Quantisation-aware training: the :class:`~spvit_fpga.nn.training.ModelKind` of the fake-quant
model, which ``python -m spvit_fpga.train --qat`` hands to the float training loop.

The student is the :class:`~spvit_fpga.quant.model.QuantSPViT` of a float SPViT checkpoint
(activation formats calibrated on training images, then frozen), or a quantised checkpoint
continued as is; the float model is the teacher (logit distillation).  Checkpoints carry the
frozen formats (``save_quant_checkpoint``); ``last.pt`` keeps them under ``quant`` for ``--resume``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch

from ..errors import UserError
from ..nn.config import ModelConfig
from ..nn.model import SPViT
from ..nn.training import ModelKind
from .model import QuantConfig, QuantSPViT, is_quant_checkpoint, load_quant_checkpoint, quantize_model, save_quant_checkpoint

__all__ = ["QatKind", "build_qat_student_and_teacher"]


def build_qat_student_and_teacher(args, cfg: ModelConfig, init, splits) -> tuple[SPViT, Optional[SPViT]]:
    """Fake-quant student from a float SPViT checkpoint (activation formats calibrated on
    training images, then frozen); the float model is the teacher (logit distillation)."""
    if init is None:
        raise UserError("--qat needs --init CKPT: a float SPViT checkpoint (python -m spvit_fpga.train --init BASE --out DIR)")
    if not cfg.prunes:
        raise UserError("--qat expects a model with selectors; --no-prune models are not quantised")
    if is_quant_checkpoint(args.init):
        student, _, _ = load_quant_checkpoint(args.init)
        teacher = None
        return student, teacher
    teacher = SPViT(init.config)
    teacher.load_state_dict(init.state_dict)
    teacher.eval().requires_grad_(False)
    images = splits.train.images if isinstance(getattr(splits.train, "images", None), torch.Tensor) else torch.stack(
        [splits.train[i][0] for i in range(min(len(splits.train), args.calib_images))]
    )
    qcfg = QuantConfig(input_frac_bits=splits.input_frac_bits)
    student = quantize_model(teacher, images[: args.calib_images], qcfg)
    return student, teacher


class QatKind(ModelKind):
    """The fake-quant model: built from a float (or quantised) checkpoint, saved with its formats."""

    name = "qat"

    def build(self, args, cfg: ModelConfig, init, splits) -> tuple[SPViT, Optional[SPViT]]:
        return build_qat_student_and_teacher(args, cfg, init, splits)

    def fresh_model(self, model: SPViT, cfg: ModelConfig) -> SPViT:
        return QuantSPViT.from_quant_state(cfg, model.quant_state())

    def save_checkpoint(self, path: Path, model: SPViT, dataset: dict, **meta: Any) -> None:
        save_quant_checkpoint(path, model, dataset, **meta)

    def resume_state(self, model: SPViT) -> Any:
        return model.quant_state()

    def load_resume_state(self, model: SPViT, cfg: ModelConfig, state: Any) -> None:
        if state is not None:
            model.set_formats(QuantSPViT.from_quant_state(cfg, state).formats)
