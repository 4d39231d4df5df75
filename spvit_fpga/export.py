"""``python -m spvit_fpga.export``: write the integer IR of a quantised checkpoint.

    python -m spvit_fpga.export --checkpoint CKPT --out DIR [--force] [--qonnx FILE]

``DIR`` receives ``ir.json`` + ``weights.npz`` (see :mod:`spvit_fpga.ir.graph`), written into a
temporary directory next to it and renamed into place, so an interrupted export never leaves
a half-written directory.  The same checkpoint always gives byte-identical files.

The checkpoint must be quantised (written by QAT, ``python -m spvit_fpga.train --qat``); a
float-only checkpoint is refused.  ``--qonnx FILE`` additionally exports the quantised
backbone to QONNX for FINN / hls4ml users (see :mod:`spvit_fpga.quant.qonnx_export`).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Sequence

from .errors import ArgumentParser, run_cli
from .ir.graph import IR, save_ir
from .nn.defaults import default_checkpoint
from .outdir import check_output_dir, check_output_file, write_dir_atomically
from .quant.to_ir import export_ir


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m spvit_fpga.export", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", metavar="CKPT", help="quantised checkpoint (default: the embedded model)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory for ir.json and weights.npz")
    p.add_argument("--force", action="store_true", help="replace DIR if it exists and is not empty")
    p.add_argument("--decision", choices=("threshold", "topk"), default=None, help="default keep rule stored in the IR (default: the model's)")
    p.add_argument("--qonnx", metavar="FILE", help="also export the quantised backbone to QONNX (FINN / hls4ml); "
                                                 "its folder must exist")
    return p


def write_ir_dir(ir: IR, out: str | os.PathLike, force: bool = False) -> Path:
    """Write ``ir`` to ``out`` atomically: into a temporary sibling directory, then rename.
    A non-empty ``out`` is only replaced with ``force``."""
    return write_dir_atomically(out, lambda tmp: save_ir(ir, tmp), force)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ckpt = args.checkpoint or str(default_checkpoint())
    out = Path(args.out)
    check_output_dir(out, args.force)  # fail before the export work
    if args.qonnx:
        check_output_file(args.qonnx, "--qonnx")
    ir = export_ir(ckpt, args.decision)
    write_ir_dir(ir, out, force=args.force)
    n_ops = sum(1 for _ in ir.ops())
    print(f"wrote {out}/ir.json and weights.npz ({n_ops} ops, {len(ir.blocks)} blocks, {len(ir.selectors)} selector stages)")
    if args.qonnx:
        from .quant.qonnx_export import export_qonnx_backbone

        info = export_qonnx_backbone(ckpt, args.qonnx)
        print(f"wrote {args.qonnx} ({info})")
    return 0


if __name__ == "__main__":
    run_cli(main)
