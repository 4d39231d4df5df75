"""``python -m spvit_fpga.evaluate``: accuracy, GMACs and tokens kept per stage.

Evaluates one image at a time with pruned tokens physically removed (the hardware semantics):
accuracy, mean GMACs per image counting the tokens actually kept, the unpruned model's GMACs and
the tokens kept after every selector stage (mean, min, max). Without ``--checkpoint`` it runs on
the embedded default model.  ``--board B`` adds the latency on B's overlay engine at every image's
kept tokens (mean and 99th percentile); ``--decision gumbel --seed S`` reproduces the official
code's evaluation, which samples Gumbel decisions (float backend, batched with keep masks).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from dataclasses import dataclass

from .errors import ArgumentParser, UserError, nonnegative_int, positive_int, run_cli
from .nn.checkpoint import Checkpoint, load_checkpoint, load_pretrained_deit, read_deit_state
from .nn.config import MODELS, ModelConfig, model_config
from .nn.data import UINT8_FRAC_BITS, head_subset, load_dataset
from .nn.defaults import default_checkpoint
from .nn.evaluation import EvalResult, evaluate_masked, evaluate_physical
from .nn.model import SPViT
from .nn.viz import plot_accuracy_vs_gmacs, plot_accuracy_vs_latency, plot_kept_patches
from .outdir import check_writable


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m spvit_fpga.evaluate", description=__doc__.splitlines()[0])
    what = p.add_mutually_exclusive_group()
    what.add_argument("--checkpoint", nargs="+", metavar="CKPT", help="one or more checkpoints (default: the embedded model)")
    what.add_argument("--pretrained", metavar="PATH", help="evaluate a DeiT/timm state_dict (unpruned) with --model")
    p.add_argument("--model", default=None, help=f"architecture for --pretrained: {', '.join(MODELS)}")
    p.add_argument("--dataset", default=None, help="digits | cifar10:PATH | imagefolder:PATH (default: the checkpoint's)")
    p.add_argument("--split", choices=("test", "val"), default="test")
    p.add_argument("--decision", choices=("threshold", "topk", "gumbel"), default="threshold",
                   help="keep rule at inference: threshold (the hardware's), topk, or gumbel (the official code's "
                        "sampled decisions, float backend, with --seed)")
    p.add_argument("--seed", type=int, default=0, help="seed of the Gumbel noise of --decision gumbel (default 0)")
    p.add_argument("--board", default=None, help="add the latency on this board's overlay engine at every image's "
                                                 "kept tokens (latency_ms: mean, latency_ms_p99)")
    p.add_argument("--img-size", type=int, default=None, metavar="PX", help="input size for --pretrained")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="float model, fake-quant (QAT) model, or the bit-exact integer reference "
        "(default: integer for a quantised checkpoint, float otherwise)",
    )
    what.add_argument("--ir", metavar="DIR", help="evaluate an exported integer IR directory (integer backend)")
    p.add_argument("--max-images", type=positive_int, default=None, help="evaluate only the first N images of the split")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--per-image", action="store_true", help="add per-image predictions and kept-token indices to the JSON")
    p.add_argument("--visualize", type=nonnegative_int, default=0, metavar="N",
                   help="write kept-patch PNGs of N images to --out")
    p.add_argument("--out", default=None, help="directory for plots (accuracy_vs_gmacs.png, kept-patch PNGs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


BACKENDS = ("float", "fakequant", "integer")


def result_dict(res: EvalResult, label: str, spec: str, decision: str, backend: str = "float") -> dict:
    kept = res.kept
    return {
        "checkpoint": label,
        "dataset": spec,
        "backend": backend,
        "decision": decision,
        "images": res.images,
        "accuracy": res.accuracy,
        "gmacs": float(res.macs.mean() / 1e9),
        "gmacs_unpruned": res.macs_unpruned / 1e9,
        "mac_reduction": float(1.0 - res.macs.mean() / res.macs_unpruned),
        "tokens_kept": [float(v) for v in kept.mean(0)] if kept.size else [],
        "tokens_kept_min": [int(v) for v in kept.min(0)] if kept.size else [],
        "tokens_kept_max": [int(v) for v in kept.max(0)] if kept.size else [],
    }


def latency_dict(table, res: EvalResult) -> dict:
    """Latency of every image at its own kept tokens, from the board's latency table."""
    ms = table.images_ms(res.kept)
    return {"board": table.board, "latency_ms": float(ms.mean()), "latency_ms_p99": float(np.percentile(ms, 99)),
            "latency_ms_max": float(ms.max()), "latency_ms_dense": table.dense_ms}


def format_table(d: dict, num_patches: int) -> str:
    rows = [
        ("checkpoint", d["checkpoint"]),
        ("backend", d["backend"]),
        ("data set", f"{d['dataset']} ({d['images']} images)"),
        ("accuracy", f"{100 * d['accuracy']:.2f} %"),
        ("GMACs / image", f"{d['gmacs']:.5f}"),
        ("GMACs unpruned", f"{d['gmacs_unpruned']:.5f} ({100 * d['mac_reduction']:.1f} % fewer)"),
    ]
    for s, (m, lo, hi) in enumerate(zip(d["tokens_kept"], d["tokens_kept_min"], d["tokens_kept_max"])):
        rows.append((f"stage {s + 1} kept", f"mean {m:.1f}  min {lo}  max {hi}  of {num_patches}"))
    if "latency_ms" in d:
        rows.append((f"latency ({d['board']})", f"mean {d['latency_ms']:.4f} ms  p99 {d['latency_ms_p99']:.4f} ms  "
                                                f"(nothing pruned {d['latency_ms_dense']:.4f} ms)"))
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{w}}  {v}" for k, v in rows)


@dataclass
class Subject:
    """One thing to evaluate: a model (float or fake-quant) or an integer IR."""

    label: str
    cfg: ModelConfig
    backend: str
    dataset: dict
    model: SPViT | None = None
    ir: object | None = None

    def run(self, data, decision: str, progress, seed: int = 0) -> EvalResult:
        if decision == "gumbel":
            if self.backend != "float":
                raise UserError(f"--decision gumbel samples noise in the float model; the {self.backend} backend "
                                "implements the hardware's rule (threshold or topk)")
            gen = torch.Generator().manual_seed(seed)
            return evaluate_masked(self.model, data, "gumbel", generator=gen, progress=progress)
        if self.backend == "integer":
            from .ir.reference import evaluate_reference

            return evaluate_reference(self.ir, data, decision=decision, progress=progress)
        self.model.decision = decision
        return evaluate_physical(self.model, data, progress=progress)

    def latency_table(self, board: str, decision: str):
        """The board's latency table for this model (an IR's own, else its config's)."""
        from .hw.boards import load_board
        from .hw.overlay.latency import latency_table, table_from_ir

        rule = "topk" if decision == "topk" else "threshold"  # gumbel decisions: timed as the threshold rule's
        if self.ir is not None:
            return table_from_ir(self.ir, load_board(board), rule)
        return latency_table(self.cfg, board, rule)


def subject_from_checkpoint(path: str, backend: str | None) -> Subject:
    ck: Checkpoint = load_checkpoint(path)
    backend = backend or ("integer" if ck.is_quantized else "float")
    if backend == "float":
        return Subject(path, ck.config, backend, ck.dataset, model=ck.build_float_model())
    if not ck.is_quantized:
        raise UserError(
            f"--backend {backend} needs a quantised checkpoint and {path} is float; "
            f"run QAT first: python -m spvit_fpga.train --qat --init {path} --out DIR"
        )
    from .quant.model import build_model

    qmodel = build_model(ck)
    if backend == "fakequant":
        return Subject(path, ck.config, backend, ck.dataset, model=qmodel)
    from .quant.to_ir import ir_from_quant_model

    return Subject(path, ck.config, backend, ck.dataset, ir=ir_from_quant_model(qmodel, dataset=ck.dataset))


def load_subjects(args) -> list[Subject]:
    """Every model to evaluate, with its backend."""
    if args.ir:
        if args.backend not in (None, "integer"):
            raise UserError("--ir evaluates the integer reference; drop --backend or use --backend integer")
        from .ir.graph import load_ir

        ir = load_ir(args.ir)
        cfg = ModelConfig.from_dict(ir.model)
        return [Subject(str(args.ir), cfg, "integer", dict(ir.dataset or {}), ir=ir)]
    if args.pretrained:
        if not args.model:
            raise UserError("--pretrained needs --model (deit-tiny, deit-small, deit-base or micro)")
        if not args.dataset:
            raise UserError("--pretrained needs --dataset (the data the DeiT head was trained for)")
        if args.backend not in (None, "float"):
            raise UserError("--pretrained weights are float; quantise them with train --qat before other backends")
        cfg = model_config(args.model).unpruned()
        state = read_deit_state(args.pretrained)
        head = state.get("head.weight")  # a DeiT fine-tuned to another data set classifies its classes
        classes = head.shape[0] if isinstance(head, torch.Tensor) and head.ndim == 2 else cfg.num_classes
        cfg = cfg.with_data(cfg.in_chans, classes, img_size=args.img_size)
        model = SPViT(cfg)
        loaded = load_pretrained_deit(args.pretrained, model, input_frac_bits=UINT8_FRAC_BITS, allow_new_head=False,
                                      state=state)
        for note in loaded.notes:
            print(f"note: {note}", file=sys.stderr)
        return [Subject(str(args.pretrained), cfg, "float", {}, model=model.eval())]
    paths = args.checkpoint or [str(default_checkpoint())]
    return [subject_from_checkpoint(p, args.backend) for p in paths]


def check_flags(args) -> None:
    """Refuse flags that would be ignored, and an --out that cannot be written (before evaluating)."""
    if args.model and not args.pretrained:
        raise UserError("--model only names the architecture of --pretrained weights; a checkpoint or IR carries "
                        "its own: drop --model, or add --pretrained PATH")
    if args.per_image and not args.json:
        raise UserError("--per-image adds predictions and kept tokens to the JSON output; add --json")
    if args.visualize and not args.out:
        raise UserError("--visualize needs --out DIR for the PNG files")
    if args.img_size is not None and not args.pretrained:
        raise UserError("--img-size is for --pretrained weights; a checkpoint or IR keeps its own input size")
    if args.board is not None:
        from .hw.boards import load_board

        load_board(args.board)  # an unknown board fails here, before any evaluation
    if args.out:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UserError(f"--out {out} is a file; choose a folder")
        check_writable(out)


def plot_tags(labels: Sequence[str]) -> list[str]:
    """A distinct file-name tag per evaluated model: its run folder's name (``run/checkpoint.pt`` ->
    ``run``) or file stem, numbered when two models would share one."""
    tags = [Path(label).parent.name or Path(label).stem for label in labels]
    return [f"{i + 1}_{t}" if tags.count(t) > 1 else t for i, t in enumerate(tags)]


def write_plots(out: Path, evaluated: list, results: list[dict], visualize: int, board=None) -> None:
    """Kept-patch PNGs (``--visualize``), the accuracy-vs-GMACs plot and, with ``--board``, the
    accuracy-vs-latency plot, written once every model has been evaluated (an error on a later
    model leaves no plots of the earlier ones)."""
    out.mkdir(parents=True, exist_ok=True)
    tags = plot_tags([r["checkpoint"] for r in results])
    for (sub, data, res), tag in zip(evaluated, tags):
        for i in range(min(visualize, len(data))):
            image, lab = data[i]
            pred = int(res.predictions[i])
            plot_kept_patches(image, res.kept_indices[i], sub.cfg, out / f"kept_{tag}_{i:03d}.png",
                              f"label {int(lab)} pred {pred}")
    pts = [{"label": f"{tag} [{r['backend']}]", "gmacs": r["gmacs"], "accuracy": r["accuracy"]}
           for tag, r in zip(tags, results)]
    plot_accuracy_vs_gmacs(pts, out / "accuracy_vs_gmacs.png", results[0]["gmacs_unpruned"])
    if board:
        for p, r in zip(pts, results):
            p["latency_ms"] = r["latency_ms"]
        plot_accuracy_vs_latency(pts, out / "accuracy_vs_latency.png", board)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_flags(args)
    results, evaluated = [], []
    for sub in load_subjects(args):
        spec = args.dataset or sub.dataset.get("spec") or "digits"
        splits = load_dataset(spec, image_size=sub.cfg.img_size)
        if (splits.in_chans, splits.num_classes) != (sub.cfg.in_chans, sub.cfg.num_classes):
            raise UserError(
                f"{sub.label} expects {sub.cfg.in_chans} channels / {sub.cfg.num_classes} classes but {spec} has "
                f"{splits.in_chans} / {splits.num_classes}; pick the data set the model was trained on"
            )
        split = getattr(splits, args.split)
        if args.max_images is not None and args.max_images > len(split):
            raise UserError(f"--max-images {args.max_images}: the {args.split} split of {spec} holds {len(split)} "
                            f"images; give at most {len(split)}")
        data = split if args.max_images is None else head_subset(split, args.max_images)
        bar = tqdm(total=len(data), desc=f"{Path(sub.label).name} [{sub.backend}]", disable=args.quiet or args.json, unit="img", leave=False)
        res = sub.run(data, args.decision, bar, args.seed)
        bar.close()
        d = result_dict(res, sub.label, spec, args.decision, sub.backend)
        if args.decision == "gumbel":
            d["seed"] = args.seed
        if args.board:
            d.update(latency_dict(sub.latency_table(args.board, args.decision), res))
        if args.per_image:
            d["predictions"] = [int(v) for v in res.predictions]
            d["labels"] = [int(v) for v in res.labels]
            d["kept_indices"] = res.kept_indices
        results.append(d)
        evaluated.append((sub, data, res))
        if not args.json:
            print(format_table(d, sub.cfg.num_patches))
            print()
    if args.out:
        write_plots(Path(args.out), evaluated, results, args.visualize, args.board)
    if args.json:
        json.dump(results[0] if len(results) == 1 else {"results": results}, sys.stdout, indent=1)
        print()
    return 0


if __name__ == "__main__":
    run_cli(main)
