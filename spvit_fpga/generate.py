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
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import torch
from tqdm.auto import tqdm

from .errors import UserError, run_cli
from .hw import cost_model
from .hw.boards import board_names, load_board
from .hw.estimate_report import architecture_lines, cost_model_lines, text_table
from .nn.config import MODELS, ModelConfig, model_config

DEFAULT_IMAGES_ONCHIP = 10
DEFAULT_IMAGES_DDR = 2
SYNTHETIC_SEED = 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m spvit_fpga.generate", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--board", help="target board (see --list-boards)")
    p.add_argument("--list-boards", action="store_true", help="list the known boards and exit")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--checkpoint", metavar="CKPT", help="checkpoint (quantised; a float one is post-training quantised)")
    src.add_argument("--ir", metavar="DIR", help="exported IR directory (python -m spvit_fpga.export)")
    src.add_argument("--model", choices=sorted(MODELS), help="architecture for --random-weights / --estimate")
    p.add_argument("--random-weights", action="store_true", help="with --model: architecture-only design, random weights")
    p.add_argument("--depth", type=int, default=None, metavar="N", help="with --random-weights: only the first N blocks")
    p.add_argument("--selector-blocks", default=None, metavar="I,J,..",
                   help="with --random-weights: put the token selectors before these blocks (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="seed of --random-weights (default 0)")
    p.add_argument("--decision", choices=("threshold", "topk"), default=None, help="keep rule of the selectors (default: the model's)")
    p.add_argument("--weights", choices=("auto", "onchip", "ddr"), default="auto",
                   help="where the GEMM weights live (default auto: on chip if they fit the board's BRAM)")
    p.add_argument("--out", metavar="DIR", help="project directory to create (default: ./hls_<model>_<board>)")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out")
    p.add_argument("--csim", action="store_true", help="compile the project with g++ and C-simulate the test vectors")
    p.add_argument("--rtl", action="store_true", help="also emit the dataflow RTL design (rtl/, manifest key rtl); "
                                                      "simulate it with python -m spvit_fpga.simulate --design DIR --rtl")
    p.add_argument("--images", type=int, default=None, metavar="N",
                   help=f"test vectors in the project (default {DEFAULT_IMAGES_ONCHIP}; {DEFAULT_IMAGES_DDR} when weights are in DDR)")
    p.add_argument("--dataset", default=None, help="digits | cifar10:PATH | imagefolder:PATH (default: the model's; "
                                                   "noise images for --random-weights)")
    p.add_argument("--kept", default=None, metavar="K1,K2,..", help="kept patch tokens per stage for the estimates "
                                                                    "(default: the model's keep ratios)")
    p.add_argument("--estimate", action="store_true", help="print the latency estimate (per layer, total) and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def boards_table() -> str:
    rows = [("board", "part", "DSP", "BRAM18", "URAM", "LUT", "clock")]
    for name in board_names():
        b = load_board(name)
        r = b.resources
        rows.append((name, b.part, str(r["dsp"]), str(r["bram18"]), str(r["uram"]), str(r["lut"]), f"{b.clock_mhz:g} MHz"))
    return text_table(rows)


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
    """The command line without --out/--force (the manifest must not depend on the output path)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--out":
            skip = True
            continue
        if a.startswith("--out=") or a == "--force":
            continue
        out.append(a)
    return " ".join(["python -m spvit_fpga.generate", *out, "--out DIR"])


def load_source(args: argparse.Namespace):
    from .hw import source as models

    if args.random_weights and not args.model:
        raise UserError("--random-weights needs --model (deit-tiny, deit-small, deit-base or micro)")
    if args.depth is not None and not args.random_weights:
        raise UserError("--depth is only for --random-weights designs")
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
        src = models.random_weights_ir(args.model, depth=args.depth, seed=args.seed, selector_blocks=sel)
    elif args.checkpoint:
        src = models.checkpoint_ir(args.checkpoint)
    elif args.ir:
        src = models.ir_directory(args.ir)
    else:
        src = models.default_model_ir()
    if args.decision:
        src.ir = src.ir.with_decision(args.decision)
    return src


def test_images(src, cfg: ModelConfig, spec: Optional[str], n: int):
    """(images [n,C,H,W], labels or None, description)."""
    from .hw.source import synthetic_images
    from .nn.data import load_dataset

    ir = src.ir
    spec = spec or src.dataset_spec
    if spec is None:
        if src.random_weights:
            return synthetic_images(cfg, n, ir.input_fmt.frac, SYNTHETIC_SEED), None, f"synthetic noise images (seed {SYNTHETIC_SEED})"
        raise UserError("the model does not record the data set it was trained on; pass --dataset")
    ds = load_dataset(spec, image_size=cfg.img_size)
    if ds.in_chans != cfg.in_chans:
        raise UserError(f"data set {spec} has {ds.in_chans} channels, the model takes {cfg.in_chans}")
    if ds.input_frac_bits != ir.input_fmt.frac:
        raise UserError(f"data set {spec} has pixels at 2^-{ds.input_frac_bits}, the model's input format is {ir.input_fmt}")
    test = ds.test
    n = min(n, len(test))
    if hasattr(test, "images") and hasattr(test, "labels"):
        return test.images[:n], test.labels[:n].tolist(), f"{spec} test split, first {n}"
    items = [test[i] for i in range(n)]
    return torch.stack([x for x, _ in items]), [int(y) for _, y in items], f"{spec} test split, first {n}"


def estimate_report(cfg: ModelConfig, board, kept: Optional[list[int]], weights: str = "auto") -> str:
    """Per-layer cycles and total latency of both estimate views (no weights needed)."""
    from .hls.estimate import kernel_costs
    from .hls.plan import design_shape

    par = cost_model.parallelism_for(cfg, board, weights)
    res = cost_model.check_fit(cfg, board, par)
    shape = design_shape(cfg, par.pe, par.simd)
    kept = kept if kept is not None else cost_model.target_kept(cfg)
    kc = kernel_costs(cfg, shape, kept)
    mhz = board.clock_mhz
    lines = architecture_lines(cfg, board, par, res, kept) + [""]
    cm_lines, tot_cm = cost_model_lines(cfg, board, par, kept)
    lines += cm_lines
    lines += ["", "generated kernels (hls/ as written), per step:"]
    lines.append(text_table([("step", "tokens", "cycles")] + [(x.name, str(x.tokens), str(x.cycles)) for x in kc]))
    tot_k = sum(x.cycles for x in kc)
    lines += ["", f"total (cost model, target accelerator): {tot_cm} cycles = {tot_cm / (mhz * 1e3):.3f} ms per image",
              f"total (generated kernels as written):   {tot_k} cycles = {tot_k / (mhz * 1e3):.3f} ms per image"]
    dense = [cfg.num_patches] * cfg.num_stages
    if cfg.num_stages:
        d_cm = cost_model.latency_ms(cost_model.layer_costs(cfg, board, par, dense), board)
        d_k = sum(x.cycles for x in kernel_costs(cfg, shape, dense)) / (mhz * 1e3)
        lines.append(f"dense (nothing pruned): {d_cm:.3f} ms (cost model), {d_k:.3f} ms (kernels)")
    return "\n".join(lines)


def summary_table(design, files: dict, out: Path, csim=None) -> str:
    from .codegen.project import estimates

    plan, board, cfg = design.plan, design.board, design.cfg
    est = estimates(design)
    eb = plan.engine("engine_block")
    rows = [("item", "value"),
            ("model", design.source.description),
            ("board", f"{board.name} ({board.part}), {board.clock_mhz:g} MHz"),
            ("block GEMM engine", f"PE {eb.pe} x SIMD {eb.simd} = {eb.macs_per_cycle} MAC/cycle"),
            ("weights", f"DDR image {len(files.get('weights.bin', b''))} bytes" if plan.weights_in_ddr else "on-chip ROMs"),
            ("kept tokens (target)", str(est["target_kept"])),
            ("latency, cost model", f"{est['cost_model']['latency_ms']:.3f} ms"),
            ("latency, kernels", f"{est['kernels']['latency_ms']:.3f} ms"),
            ("files", f"{len(files)} in {out}")]
    if csim is not None:
        rows.append(("C-simulation", f"{csim.bit_exact}/{csim.images} bit-exact (compile {csim.compile_seconds:.1f} s, "
                                     f"run {csim.run_seconds:.1f} s)"))
    return text_table(rows)


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def simulate(out: Path, design, cfg: ModelConfig, board, n_images: int, quiet: bool):
    """g++ C-simulation of the written project (csim.json); per-image latency estimates."""
    from .hls.csim import compile_project, run_csim
    from .hls.estimate import kernel_costs

    def latency(k: list[int]) -> dict:
        cm = cost_model.latency_ms(cost_model.layer_costs(cfg, board, design.par, k), board)
        kc = sum(x.cycles for x in kernel_costs(cfg, design.plan.shape, k)) / (board.clock_mhz * 1e3)
        return {"cost_model": round(cm, 6), "kernels": round(kc, 6)}

    t0 = time.monotonic()
    print("compiling the C-simulation with g++ ...", file=sys.stderr, flush=True)
    binary = compile_project(out)
    compile_s = time.monotonic() - t0
    with tqdm(total=n_images, desc="C-sim", unit="img", disable=quiet, file=sys.stderr) as bar:
        csim = run_csim(out, binary=binary, compile_seconds=compile_s, progress=bar, latency=latency)
    for r in csim.per_image:
        if not r["bit_exact"]:
            print(f"  image {r['index']}: MISMATCH (logits equal: {r['logits_equal']}, kept {r['kept']} "
                  f"vs reference {r['expected_kept']})")
    return csim


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.list_boards:
        print(boards_table())
        return 0
    if not args.board:
        raise UserError(f"--board is required; known boards: {', '.join(board_names())}")
    board = load_board(args.board)
    if args.images is not None and args.images < 1:
        raise UserError(f"--images must be at least 1, got {args.images}")
    if args.estimate and args.model:  # the estimate needs the architecture only
        from .hw.source import truncate_config

        cfg = model_config(args.model)
        cfg = truncate_config(cfg, args.depth) if args.depth is not None else cfg
        print(estimate_report(cfg, board, _parse_kept(args.kept, cfg), args.weights))
        return 0

    from .codegen.project import build_project, check_output_dir, design_for, write_project
    from .hw.vectors import make_vectors

    if not args.estimate and args.out:
        check_output_dir(Path(args.out), args.force)  # fail before the expensive steps
    t0 = time.monotonic()
    src = load_source(args)
    for note in src.notes:
        print(f"NOTE: {note}", file=sys.stderr)
    cfg = ModelConfig.from_dict(src.ir.model)
    kept = _parse_kept(args.kept, cfg)
    if args.estimate:
        print(estimate_report(cfg, board, kept, args.weights))
        return 0
    out_dir = Path(args.out) if args.out else Path(f"hls_{cfg.name}_{board.name}")
    check_output_dir(out_dir, args.force)
    design = design_for(src, board, args.weights)
    n_images = args.images or (DEFAULT_IMAGES_DDR if design.plan.weights_in_ddr else DEFAULT_IMAGES_ONCHIP)
    images, labels, img_src = test_images(src, cfg, args.dataset, n_images)
    with tqdm(total=len(images), desc="reference", unit="img", disable=args.quiet, file=sys.stderr) as bar:
        vectors = make_vectors(src.ir, images, labels, img_src, progress=bar)
    files = build_project(design, vectors, _recorded_command(argv), kept, rtl=args.rtl)
    out = write_project(files, out_dir, force=args.force)
    print(f"wrote {out} ({len(files)} files, {time.monotonic() - t0:.1f} s)")
    csim = simulate(out, design, cfg, board, len(vectors), args.quiet) if args.csim else None
    print(summary_table(design, files, out, csim))
    if src.random_weights:
        print("NOTE: RANDOM WEIGHTS -- architecture-only design", file=sys.stderr)
    if csim is not None:
        print(f"{csim.bit_exact}/{csim.images} bit-exact")
        return 0 if csim.all_bit_exact else 1
    return 0


if __name__ == "__main__":
    run_cli(main)
