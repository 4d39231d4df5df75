"""The embedded default model that every CLI uses when no checkpoint is given.

Its files stay in the package's data folder ``spvit_fpga/default_model/`` (one level up from here)."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "default_model"
DEFAULT_CHECKPOINT = DEFAULT_DIR / "checkpoint.pt"  # QAT checkpoint (float weights + frozen formats)
DEFAULT_IR_DIR = DEFAULT_DIR / "ir"  # its export: python -m spvit_fpga.export --checkpoint DEFAULT_CHECKPOINT


def default_checkpoint() -> Path:
    if not DEFAULT_CHECKPOINT.exists():
        raise UserError(
            f"the embedded default model {DEFAULT_CHECKPOINT} is missing from this installation; "
            "reinstall spvit_fpga or pass --checkpoint"
        )
    return DEFAULT_CHECKPOINT


def default_ir_dir() -> Path:
    if not (DEFAULT_IR_DIR / "ir.json").exists():
        raise UserError(
            f"the embedded default IR {DEFAULT_IR_DIR} is missing from this installation; "
            "reinstall spvit_fpga or pass --ir/--checkpoint"
        )
    return DEFAULT_IR_DIR
