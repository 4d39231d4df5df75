"""Every import of the rest of spvit_fpga used by :mod:`spvit_fpga.peers`, in one place.

The package layout is being reorganised (``quant``, ``ir``, ``hw``, ``nn`` subpackages); only the
import lines below change with it."""
from __future__ import annotations

from ..hw.boards import Board, load_board
from ..rtl.generator import MAX_LANES, choose_options
from ..nn.config import ModelConfig
from ..hw.cost_model import choose_parallelism, layer_costs
from ..nn.data import load_dataset
from ..nn.defaults import default_ir_dir
from ..errors import UserError, run_cli
from ..quant.to_ir import export_ir
from ..ir.intops import FixedFormat, int_linear
from ..ir.graph import IR, LinearOp, load_ir
from ..ir.reference import quantize_image, run_reference

__all__ = [
    "Board", "load_board", "MAX_LANES", "choose_options", "ModelConfig", "choose_parallelism",
    "layer_costs", "load_dataset", "default_ir_dir", "UserError", "run_cli", "export_ir",
    "FixedFormat", "int_linear", "IR", "LinearOp", "load_ir", "quantize_image", "run_reference",
]
