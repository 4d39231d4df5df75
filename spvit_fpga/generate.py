"""``python -m spvit_fpga.generate``: emit a complete HLS project for a model and a board.

    python -m spvit_fpga.generate --board zcu102 --out DIR [--csim [--images N]]
    python -m spvit_fpga.generate --board zcu102 --checkpoint CKPT | --ir IRDIR --out DIR
    python -m spvit_fpga.generate --board zcu102 --model deit-tiny --random-weights --out DIR
    python -m spvit_fpga.generate --board zcu102 --model deit-small --estimate
    python -m spvit_fpga.generate --list-boards

The project (``docs/hls_backend.md``): top function, parameter headers (or a DDR weight image), a
C testbench with test vectors from the golden reference, ``run_hls.tcl`` (csim, csynth, cosim,
export for the board's part and clock; Vitis HLS or Vivado HLS), ``block_design.tcl`` (Vivado
block design: PS, DMA, HP ports, clock), ``manifest.json`` and a README.  It is rendered into a
temporary directory and renamed into place; a non-empty ``--out`` needs ``--force``.  ``--csim``
compiles the project with g++ against the ap_types headers, runs every test vector and writes
``DIR/csim.json`` ("N/N bit-exact" = logits and kept tokens per stage equal the reference's).
Without a model argument the embedded default model is used.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from tqdm.auto import tqdm

from .builder.design import Design, design_for, latency_estimates
from .builder.estimate import estimate, measured_kept_info, render_estimate, shape_design, target_kept_info
from .builder.project import MANIFEST, build_project, write_project
from .builder.summary import boards_table, summary_table
from .errors import ArgumentParser, UserError, positive_int, run_cli, ticking
from .hw import source as models
from .hw.boards import board_names, load_board
from .hw.vectors import make_vectors
from .nn.config import MODELS, ModelConfig, model_config
from .outdir import check_output_dir

DEFAULT_IMAGES_ONCHIP = 10
DEFAULT_IMAGES_DDR = 2
LARGE_WEIGHTS = 1 << 20
"""Weight-image bytes above which a design gets DEFAULT_IMAGES_DDR test vectors by default."""
ESTIMATE_IMAGES = 100  # test images --estimate measures the kept tokens on


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m spvit_fpga.generate", description=__doc__.splitlines()[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--board", help="target board: a name (see --list-boards) or the path of a board file "
                                   "(docs/boards.md)")
    p.add_argument("--list-boards", action="store_true", help="list the known boards and exit")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--checkpoint", metavar="CKPT", help="checkpoint (quantised; a float one is post-training quantised)")
    src.add_argument("--ir", metavar="DIR", help="exported IR directory (python -m spvit_fpga.export)")
    src.add_argument("--model", choices=sorted(MODELS), help="architecture for --random-weights / --estimate")
    p.add_argument("--random-weights", action="store_true", help="with --model: architecture-only design, random weights")
    p.add_argument("--depth", type=positive_int, default=None, metavar="N", help="with --random-weights: only the first N blocks")
    p.add_argument("--selector-blocks", default=None, metavar="I,J,..",
                   help="with --random-weights: put the token selectors before these blocks (default: the model's)")
    p.add_argument("--in-chans", type=positive_int, default=None, metavar="C",
                   help="with --random-weights: image channels (default: the model's)")
    p.add_argument("--seed", type=int, default=None, help="seed of --random-weights (default 0)")
    p.add_argument("--decision", choices=("threshold", "topk"), default=None, help="keep rule of the selectors (default: the model's)")
    p.add_argument("--weights", choices=("auto", "onchip", "ddr"), default="auto",
                   help="where the GEMM weights live: the HLS engine streams them all from DDR (weights.bin), "
                        "so auto (default) and ddr are the same and onchip is refused")
    p.add_argument("--out", metavar="DIR", help="project directory to create (default: ./hls_<model>_<board>)")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out")
    p.add_argument("--csim", action="store_true", help="compile the project with g++ and C-simulate the test vectors")
    p.add_argument("--rtl", action="store_true", help="also emit an RTL design (rtl/, manifest key rtl); "
                                                      "simulate it with python -m spvit_fpga.simulate --design DIR --rtl")
    p.add_argument("--rtl-arch", choices=("auto", "dataflow", "overlay"), default="auto",
                   help="with --rtl: dataflow (one unit per op, weights on chip), overlay (layer-sequential engine, "
                        "weights streamed from DDR) or auto (default: dataflow where it fits the board, else overlay)")
    p.add_argument("--rtl-lanes", type=positive_int, default=None, metavar="L",
                   help="with --rtl-arch overlay: the GEMM array side (a power of two; default: the largest the board fits)")
    p.add_argument("--rtl-ports", type=positive_int, default=None, metavar="N",
                   help="with --rtl-arch overlay: AXI4 weight ports (default: every HP port of the board)")
    p.add_argument("--images", type=positive_int, default=None, metavar="N",
                   help=f"test vectors in the project (default {DEFAULT_IMAGES_ONCHIP}; {DEFAULT_IMAGES_DDR} for a weight image "
                        f"above 1 MB); with --estimate the test images the kept tokens are measured on (default {ESTIMATE_IMAGES})")
    p.add_argument("--dataset", default=None, help="digits | cifar10:PATH | imagefolder:PATH (default: the model's; "
                                                   "noise images for --random-weights)")
    p.add_argument("--kept", default=None, metavar="K1,K2,..", help="kept patch tokens per stage for the estimates "
                                                                    "(default: --estimate measures them for a trained "
                                                                    "model; otherwise the model's keep ratios)")
    p.add_argument("--estimate", action="store_true", help="print the latency estimate (summary, then per layer) and "
                                                           "exit; writes nothing")
    p.add_argument("--json", action="store_true", help="with --estimate: print the estimate as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


# --------------------------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------------------------


def _parse_kept(text: Optional[str], cfg: ModelConfig) -> Optional[list[int]]:
    if text is None:
        return None
    try:
        kept = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--kept takes comma-separated integers, got {text!r}") from None
    if len(kept) != cfg.num_stages:
        raise UserError(f"--kept needs {cfg.num_stages} counts for {cfg.name} (one per selector stage), got {len(kept)}")
    prev = cfg.num_patches
    for k in kept:
        if not 0 <= k <= prev:
            raise UserError(f"--kept {text}: counts must be non-increasing within 0..{cfg.num_patches}")
        prev = k
    return kept


def _recorded_command(argv: Sequence[str]) -> str:
    """The command line without --out/--force/--debug (the manifest must not depend on the output path)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--out":
            skip = True
            continue
        if a.startswith("--out=") or a in ("--force", "--debug"):
            continue
        out.append(a)
    return " ".join(["python -m spvit_fpga.generate", *out, "--out DIR"])


def load_source(args: argparse.Namespace) -> models.ModelSource:
    """The model source the arguments select (default: the embedded model)."""
    if args.random_weights and not args.model:
        raise UserError("--random-weights needs --model (deit-tiny, deit-small, deit-base or micro)")
    if args.depth is not None and not args.random_weights:
        raise UserError("--depth is only for --random-weights designs")
    if args.in_chans is not None and not args.random_weights:
        raise UserError("--in-chans is only for --random-weights designs")
    sel = None
    if args.selector_blocks is not None:
        if not args.random_weights:
            raise UserError("--selector-blocks is only for --random-weights designs")
        try:
            sel = tuple(int(v) for v in args.selector_blocks.split(",") if v.strip())
        except ValueError:
            raise UserError(f"--selector-blocks takes comma-separated block indices, got {args.selector_blocks!r}") from None
    if args.model:
        if not args.random_weights:
            raise UserError(f"--model {args.model} has no trained weights here: add --random-weights for an "
                            "architecture-only design, or pass --checkpoint")
        src = models.random_weights_ir(args.model, depth=args.depth, seed=args.seed or 0, selector_blocks=sel,
                                       in_chans=args.in_chans)
    elif args.checkpoint:
        src = models.checkpoint_ir(args.checkpoint)
    elif args.ir:
        src = models.ir_directory(args.ir)
    else:
        src = models.default_model_ir()
    if args.decision:
        src.ir = src.ir.with_decision(args.decision)
    return src


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def simulate(project: Path, design: Design, n_images: int, quiet: bool):
    """g++ C-simulation of the project in ``project`` (csim.json); per-image latency estimates."""
    from .hls.csim import compile_project, run_csim

    t0 = time.monotonic()
    with ticking("compiling the C-simulation with g++", disable=quiet):
        binary = compile_project(project)
    compile_s = time.monotonic() - t0
    with tqdm(total=n_images, desc="C-sim", unit="img", disable=quiet, file=sys.stderr) as bar:
        csim = run_csim(project, binary=binary, compile_seconds=compile_s, progress=bar,
                        latency=latency_estimates(design))
    for r in csim.per_image:
        if not r["bit_exact"]:
            print(f"  image {r['index']}: MISMATCH (logits equal: {r['logits_equal']}, kept {r['kept']} "
                  f"vs reference {r['expected_kept']})")
    return csim


def check_flags(args: argparse.Namespace) -> None:
    """Refuse flags that contradict each other or would be ignored (before any work)."""
    if args.estimate:
        writes = [f for f, on in (("--out", args.out), ("--force", args.force), ("--csim", args.csim),
                                  ("--rtl", args.rtl)) if on]
        if writes:
            raise UserError(f"--estimate prints the estimate and writes nothing; drop {', '.join(writes)}")
        if args.model:  # the architecture alone, at its target keep ratios
            unused = [f for f, on in (("--images", args.images is not None), ("--dataset", args.dataset),
                                      ("--selector-blocks", args.selector_blocks), ("--in-chans", args.in_chans),
                                      ("--seed", args.seed is not None), ("--decision", args.decision)) if on]
            if unused:
                raise UserError(f"--estimate --model {args.model} estimates the architecture at its target keep ratios "
                                f"(--kept to choose others); drop {', '.join(unused)}")
        measuring = [f for f, on in (("--images", args.images is not None), ("--dataset", args.dataset)) if on]
        if args.kept is not None and measuring and not args.model:
            raise UserError(f"--kept gives the kept tokens, so --estimate measures nothing on test images; "
                            f"drop {' and '.join(measuring)} or --kept")
    elif args.json:
        raise UserError("--json prints the estimate as JSON; add --estimate")
    if args.seed is not None and not args.random_weights:
        raise UserError("--seed is the seed of --random-weights; drop it or add --model NAME --random-weights")
    if not args.rtl and (args.rtl_arch != "auto" or args.rtl_lanes is not None or args.rtl_ports is not None):
        raise UserError("--rtl-arch, --rtl-lanes and --rtl-ports choose the RTL design: add --rtl")


def measure_kept(src: models.ModelSource, cfg: ModelConfig, args: argparse.Namespace) -> dict:
    """Kept tokens per stage of a trained model, measured by the integer reference on test images."""
    if not cfg.num_stages:
        return {"per_stage": [], "source": "an unpruned model (no selector stages)"}
    n = args.images or ESTIMATE_IMAGES
    images, labels, img_src = models.test_images(src, cfg, args.dataset, n, exact=args.images is not None)
    with tqdm(total=len(images), desc="measuring kept tokens", unit="img", disable=args.quiet or args.json,
              file=sys.stderr) as bar:
        vectors = make_vectors(src.ir, images, labels, img_src, progress=bar)
    return measured_kept_info(vectors.kept.tolist(), img_src)


def print_estimate(design: Design, kept_info: dict, args: argparse.Namespace) -> None:
    d = estimate(design, kept_info)
    print(json.dumps(d, indent=1) if args.json else render_estimate(d))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_boards:
        others = [f"--{k.replace('_', '-')}" for k, v in vars(args).items()
                  if k not in ("list_boards", "debug", "quiet") and v != parser.get_default(k)]
        if others:
            raise UserError(f"--list-boards only lists the boards; drop {', '.join(others)}")
        print(boards_table())
        return 0
    if not args.board:
        raise UserError(f"--board is required; known boards: {', '.join(board_names())} (or the path of a board file)")
    check_flags(args)
    board = load_board(args.board)
    if args.estimate and args.model:  # the estimate needs the architecture only
        cfg = model_config(args.model)
        cfg = models.truncate_config(cfg, args.depth) if args.depth is not None else cfg
        kept = _parse_kept(args.kept, cfg)
        print_estimate(shape_design(cfg, board, args.weights), {"per_stage": kept, "source": "--kept"} if kept is not None
                       else target_kept_info(cfg, architecture_only=True), args)
        return 0

    if not args.estimate and args.out:
        check_output_dir(Path(args.out), args.force)  # fail before the expensive steps
    t0 = time.monotonic()
    src = load_source(args)
    for note in src.notes:
        print(f"NOTE: {note}", file=sys.stderr)
    cfg = ModelConfig.from_dict(src.ir.model)
    kept = _parse_kept(args.kept, cfg)
    if args.estimate:
        design = design_for(src, board, args.weights)  # refuses a design that does not fit before measuring
        print_estimate(design, {"per_stage": kept, "source": "--kept"} if kept is not None
                       else measure_kept(src, cfg, args), args)
        return 0
    out_dir = Path(args.out) if args.out else Path(f"hls_{cfg.name}_{board.name}")
    check_output_dir(out_dir, args.force)
    design = design_for(src, board, args.weights)
    large = design.plan.program.stream.nbytes > LARGE_WEIGHTS  # a DeiT: a few C-simulated images take minutes
    n_images = args.images or (DEFAULT_IMAGES_DDR if large else DEFAULT_IMAGES_ONCHIP)
    images, labels, img_src = models.test_images(src, cfg, args.dataset, n_images, exact=args.images is not None)
    with tqdm(total=len(images), desc="reference", unit="img", disable=args.quiet, file=sys.stderr) as bar:
        vectors = make_vectors(src.ir, images, labels, img_src, progress=bar)
    files = build_project(design, vectors, _recorded_command(argv), kept, rtl=args.rtl, rtl_arch=args.rtl_arch,
                          rtl_lanes=args.rtl_lanes, rtl_ports=args.rtl_ports)
    csims = []  # the C-simulation runs on the complete project before it is moved into place
    then = (lambda tmp: csims.append(simulate(tmp, design, len(vectors), args.quiet))) if args.csim else None
    out = write_project(files, out_dir, force=args.force, then=then)
    csim = csims[0] if csims else None
    print(f"wrote {out} ({len(files)} files, {time.monotonic() - t0:.1f} s)")
    print(summary_table(design, files, out, csim))
    if not args.quiet:
        print(f"next: cd {out} && vitis_hls -f run_hls.tcl, then python -m spvit_fpga.report {out}")
        if args.rtl:
            print(f"      python -m spvit_fpga.simulate --design {out} --rtl   (the RTL in Verilator, cycle by cycle)")
    if src.random_weights:
        print("NOTE: RANDOM WEIGHTS -- architecture-only design", file=sys.stderr)
    drc = json.loads(files[MANIFEST])["hls"]["drc"]
    failed = [r["rule"] for r in drc["rules"] if not r["passed"]]
    if failed:
        print(f"design-rule check FAILED: {', '.join(failed)} (details: {out / MANIFEST}, hls.drc)")
    if csim is not None:
        print(f"{csim.bit_exact}/{csim.images} bit-exact")
        return 0 if csim.all_bit_exact and not failed else 1
    return 1 if failed else 0


if __name__ == "__main__":
    run_cli(main)
