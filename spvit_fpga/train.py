"""``python -m spvit_fpga.train``: train an unpruned ViT or fine-tune an SPViT model.

    python -m spvit_fpga.train --no-prune --out DIR                 # the unpruned baseline
    python -m spvit_fpga.train --init BASE.pt --out DIR             # SPViT, BASE as the teacher
    python -m spvit_fpga.train --qat --init SPVIT.pt --out DIR      # quantisation-aware fine-tuning

The recipe and the loop are :mod:`spvit_fpga.nn.training`; ``--qat`` runs the same loop on the
fake-quant model (:mod:`spvit_fpga.quant.training`).  Runs unchanged under
``torchrun --nproc_per_node=N`` (DDP; gloo on CPU).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from .errors import (ArgumentParser, UserError, nonnegative_float, nonnegative_int, positive_float, positive_int,
                     run_cli, unit_float)
from .nn.config import MODELS
from .nn.distributed import init_distributed, shutdown
from .nn.training import Trainer
from .outdir import check_writable


CALIB_IMAGES = 512  # default of --calib-images


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m spvit_fpga.train", description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help=f"architecture: {', '.join(MODELS)} (default micro; with --init: the checkpoint's)")
    p.add_argument("--dataset", default=None, help="digits | cifar10:PATH | imagefolder:PATH (default: the --init checkpoint's, else digits)")
    p.add_argument("--out", required=True, help="output directory (checkpoint.pt, last.pt, train_log.json); must be empty "
                                                "unless --resume or --force")
    p.add_argument("--force", action="store_true", help="start over in a non-empty --out (replaces its run)")
    p.add_argument("--epochs", type=positive_int, default=60)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--lr", type=positive_float, default=1e-3)
    p.add_argument("--weight-decay", type=nonnegative_float, default=0.05)
    p.add_argument("--warmup-epochs", type=nonnegative_int, default=3)
    p.add_argument("--label-smoothing", type=unit_float, default=0.1)
    p.add_argument("--augment-shift", type=nonnegative_int, default=None, help="max random translation in pixels (default: image_size/16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-prune", action="store_true", help="train the unpruned baseline (no selectors)")
    p.add_argument("--qat", action="store_true", help="quantisation-aware fine-tuning of the float SPViT checkpoint given with --init")
    p.add_argument("--calib-images", type=positive_int, default=None,
                   help=f"training images used to calibrate activation formats (--qat; default {CALIB_IMAGES})")
    p.add_argument("--init", metavar="CKPT", help="start from this spvit_fpga checkpoint; it is also the teacher")
    p.add_argument("--pretrained", metavar="PATH", help="DeiT/timm state_dict to initialise the backbone")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--selector-blocks", type=_int_list, help="comma list of block indices with a selector")
    p.add_argument("--keep-ratios", type=_float_list, help="comma list of cumulative keep ratios, one per stage")
    p.add_argument("--target-gmacs", type=positive_float, help="computation-aware: train toward this GMACs/image budget")
    p.add_argument("--freeze-epochs", type=nonnegative_int, default=None, help="backbone frozen for the first epochs of phase A")
    p.add_argument("--det-epochs", type=nonnegative_int, default=None, help="epochs of phase B (default: half of --epochs)")
    p.add_argument("--ratio-weight", type=nonnegative_float, default=2.0)
    p.add_argument("--kl-weight", type=nonnegative_float, default=0.5)
    p.add_argument("--mse-weight", type=nonnegative_float, default=0.5)
    p.add_argument("--stop-after", type=positive_int, default=None, metavar="N", help="stop after N epochs of this run (continue later with --resume)")
    p.add_argument("--train-subset", type=positive_int, default=None, metavar="N", help="train on the first N training images only (smoke runs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("SPViT as the paper trains it (docs/token_selector.md)")
    g.add_argument("--img-size", type=positive_int, default=None, metavar="PX",
                   help="input size (default: the model's); with --pretrained the position embedding is interpolated")
    g.add_argument("--backbone-lr-scale", type=nonnegative_float, default=1.0, metavar="S",
                   help="backbone learning rate: at most S x --lr (official: 0.01 with --freeze-epochs 5); selectors "
                        "follow the full schedule")
    g.add_argument("--ratio-loss", choices=("batch", "image"), default="batch",
                   help="budget term on the batch mean (the paper's, default) or on every image")
    g.add_argument("--board", default=None, help="report the latency on this board's overlay engine (and train toward "
                                                 "--target-ms)")
    g.add_argument("--target-ms", type=positive_float, default=None, metavar="X",
                   help="latency-aware: train toward X ms per image on --board")
    return p


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma list of integers, got {text!r}") from None


def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma list of numbers, got {text!r}") from None


def check_paper_options(args) -> None:
    """The options of issue 13: input size, backbone rate, budget form, board and latency target."""
    if args.img_size is not None and args.img_size < 1:
        raise UserError(f"--img-size must be a positive number of pixels, got {args.img_size}")
    if not 0.0 <= args.backbone_lr_scale <= 1.0:
        raise UserError(f"--backbone-lr-scale must be in [0, 1], got {args.backbone_lr_scale:g} (official: 0.01)")
    if args.pretrained and args.init:
        raise UserError("--pretrained and --init both give the backbone; use --pretrained for a DeiT weight file, "
                        "--init for an spvit_fpga checkpoint")
    if args.pretrained and args.qat:
        raise UserError("--qat quantises an spvit_fpga checkpoint given with --init, not --pretrained weights")
    if args.target_ms is not None:
        if args.board is None:
            raise UserError("--target-ms needs --board (the board whose latency it is), e.g. --board zcu102")
        if args.target_ms <= 0:
            raise UserError(f"--target-ms must be positive, got {args.target_ms:g}")
        if args.target_gmacs is not None:
            raise UserError("--target-ms and --target-gmacs are two budgets; give one")
        if args.no_prune:
            raise UserError("--no-prune trains without selectors; drop --target-ms")
    if args.board is not None:
        from .hw.boards import load_board

        load_board(args.board)  # an unknown board fails here, before any training


def latency_model(args):
    """The latency table of a config on ``--board`` (None without a board)."""
    if args.board is None:
        return None
    from .hw.overlay.latency import latency_table

    def table(cfg):
        return latency_table(cfg, args.board)

    return table


def print_summary(summary: dict, out: Path) -> None:
    rows = [
        ("model", summary["model"]),
        ("data set", summary["dataset"]),
        ("seed", summary["seed"]),
        ("epochs (best)", f"{summary['epochs']} ({summary['best_epoch'] + 1})"),
        ("val accuracy", f"{100 * summary['val_accuracy']:.2f} %"),
        ("selectors", "on" if summary["prunes"] else "off"),
    ]
    if summary["prunes"]:
        rows.append(("keep ratios", ", ".join(f"{r:.3f}" for r in summary["keep_ratios"])))
        rows.append(("tau", ", ".join(f"{t:.3f}" for t in summary["tau"])))
    rows.append(("GMACs unpruned", f"{summary['gmacs_unpruned']:.4f}"))
    if "latency_ms" in summary:
        target = summary["latency_ms_target"]
        rows += [(f"latency on {summary['board']}", f"{summary['latency_ms']:.4f} ms (val mean), p99 "
                  f"{summary['latency_ms_p99']:.4f} ms" + (f", target {target:g} ms" if target is not None else "")),
                 ("latency unpruned", f"{summary['latency_ms_unpruned']:.4f} ms")]
    rows += [("time", f"{summary['train_seconds']} s"), ("checkpoint", str(out / "checkpoint.pt"))]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))


def check_flags(args) -> None:
    """Refuse flags that contradict each other or would be ignored (before any work is done)."""
    if args.no_prune and (args.target_gmacs or args.keep_ratios or args.selector_blocks):
        raise UserError("--no-prune trains without selectors; drop --target-gmacs/--keep-ratios/--selector-blocks")
    if args.no_prune and (args.det_epochs is not None or args.freeze_epochs is not None):
        raise UserError("--det-epochs and --freeze-epochs shape the selector phases; --no-prune has none, drop them")
    if args.target_gmacs is not None and args.keep_ratios:
        raise UserError("--target-gmacs chooses the keep ratios itself; give --target-gmacs or --keep-ratios, not both")
    if args.det_epochs is not None and args.det_epochs > args.epochs:
        raise UserError(f"--det-epochs {args.det_epochs} exceeds --epochs {args.epochs}; lower it or raise --epochs")
    if args.init and args.model:
        raise UserError("--model is taken from the --init checkpoint; drop --model")
    if args.qat and (args.target_gmacs is not None or args.selector_blocks):
        raise UserError("--qat keeps the selectors of its --init checkpoint and has no budget phase; drop "
                        "--target-gmacs/--selector-blocks (--keep-ratios recalibrates the thresholds)")
    if args.calib_images is not None and not args.qat:
        raise UserError("--calib-images sizes the calibration of --qat; drop it or add --qat")
    if args.resume and args.force:
        raise UserError("--resume continues the run in --out and --force starts it over; give one of them")
    check_paper_options(args)


def check_out(args) -> None:
    """``--out`` must be writable, and empty unless the run is resumed or ``--force`` starts over."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; choose a folder")
    if out.is_dir() and any(out.iterdir()) and not (args.resume or args.force):
        held = ", ".join(sorted(p.name for p in out.iterdir())[:4])
        raise UserError(f"--out {out} is not empty ({held}); pass --resume to continue its run, --force to start "
                        "over, or choose another --out")
    check_writable(out)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_flags(args)
    check_out(args)
    args.model = args.model or (None if args.init else "micro")
    args.calib_images = args.calib_images or CALIB_IMAGES
    info = init_distributed()
    try:
        kind = None
        if args.qat:
            from .quant.training import QatKind

            kind = QatKind()
        summary = Trainer(args, info, kind, latency_model(args)).run()
        if summary is not None:
            print_summary(summary, Path(args.out))
    finally:
        shutdown(info)
    return 0


if __name__ == "__main__":
    run_cli(main)
