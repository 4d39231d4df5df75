"""``python -m spvit_fpga.interop``: FINN (finn-plus) and hls4ml as second opinions on one model.

    python -m spvit_fpga.interop [--checkpoint C | --ir D] [--board B] [--images N] [--layers L] [--json]

Exports every linear layer of the dense backbone with its requantisation as QONNX, runs
finn-plus's front end (numpy execution of its hardware layers, ``exp_cycles_per_layer``,
``res_estimation``) and hls4ml (``compile()`` with g++, ``predict()``) on it, and compares their
integers with this project's golden reference on the data set's test images and on random
rows, exactly.  The report gives per tool the parts that are bit-exact and the reason for every
other part, and a per-layer table of FINN's folding, cycles and resources beside this project's
RTL folding and overlay cost model (``docs/interop.md``).  Exit status 0 when every linear layer
is exact in both tools, 1 otherwise, 2 for a usage error.  Needs ``make interop``.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Sequence

from .errors import ArgumentParser
from .peers._project import UserError, default_ir_dir, export_ir, load_board, load_dataset, load_ir, run_cli

DEFAULT_IMAGES = 10


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m spvit_fpga.interop", description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument("--checkpoint", metavar="C", help="quantised checkpoint (default: the embedded model)")
    src.add_argument("--ir", metavar="D", help="IR directory written by python -m spvit_fpga.export")
    p.add_argument("--board", default="zcu102", help="board whose part and DSPs set FINN's layers and the folding (default: zcu102)")
    p.add_argument("--images", type=int, default=DEFAULT_IMAGES, metavar="N", help=f"test images to compare on (default: {DEFAULT_IMAGES})")
    p.add_argument("--random-frames", type=int, default=2, metavar="F", help="frames of random rows per layer (default: 2)")
    p.add_argument("--layers", metavar="L", help="comma-separated layer names or prefixes (default: every linear layer), "
                                                  "e.g. blocks.0,head")
    p.add_argument("--out", metavar="DIR", help="keep the QONNX units, the hls4ml projects and the tools' log here")
    p.add_argument("--json", action="store_true", help="print only the JSON report on standard output")
    return p


def _images(ir, n: int):
    spec = ir.dataset.get("spec") or ir.dataset.get("name")
    if not spec:
        raise UserError("the model does not record its data set; export it from a checkpoint trained on one")
    test = load_dataset(spec, image_size=int(ir.model["img_size"])).test
    if len(test) < n:
        raise UserError(f"--images {n}: the {spec} test split has only {len(test)} images")
    images = getattr(test, "images", None)
    if images is None:
        import torch

        images = torch.stack([test[i][0] for i in range(n)])
    return images[:n]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.images < 1:
        raise UserError(f"--images must be at least 1, got {args.images}")
    if args.random_frames < 1:
        raise UserError(f"--random-frames must be at least 1, got {args.random_frames}")
    from .peers.compare import run_interop

    board = load_board(args.board)
    if args.checkpoint:
        ir = export_ir(args.checkpoint)
    else:
        ir = load_ir(Path(args.ir) if args.ir else default_ir_dir())
    layers = [s.strip() for s in args.layers.split(",") if s.strip()] if args.layers else None
    images = _images(ir, args.images)
    with tempfile.TemporaryDirectory(prefix="spvit_interop_") as tmp:
        report = run_interop(ir, board, images, layers=layers, random_frames=args.random_frames,
                             work_dir=Path(args.out) if args.out else Path(tmp))
        if not args.out:
            report.work_dir = ""  # removed with the temporary directory
    if args.json:
        print(json.dumps(report.to_json(), indent=1, sort_keys=True))
    else:
        print(report.summary_table())
        if args.out:
            print(f"(QONNX units, FINN graphs, hls4ml projects and the tools' log: {report.work_dir})")
    return 0 if report.ok else 1


if __name__ == "__main__":
    run_cli(main)
