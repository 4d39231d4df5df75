"""Reproduce the README's digits figures: unpruned and SPViT micro models over several seeds.

    python benchmarks/digits_recipe.py --seeds 0 1 2 --out runs/digits

For every seed it runs (skipping steps whose checkpoint already exists)

    python -m spvit_fpga.train --no-prune --epochs 100 --seed S --out OUT/unpruned_sS
    python -m spvit_fpga.train --init OUT/unpruned_sS/checkpoint.pt --epochs 40 --lr 5e-4 --ratio-loss image --seed S --out OUT/spvit_sS
    python -m spvit_fpga.train --qat --init OUT/spvit_sS/checkpoint.pt --epochs 4 --lr 1e-4 --seed S --out OUT/qat_sS

then ``python -m spvit_fpga.evaluate --json --per-image`` on the test split (float for the first
two, fake-quant and the integer reference for the third), and writes OUT/results.json,
OUT/results.md (the tables quoted in README) and OUT/accuracy_vs_gmacs.png.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _runs import sh, train  # noqa: E402  (benchmarks/ is the script's folder)

UNPRUNED_ARGS = ["--no-prune", "--epochs", "100"]
SPVIT_ARGS = ["--epochs", "40", "--lr", "5e-4", "--ratio-loss", "image"]  # the form its figures were measured with
QAT_ARGS = ["--qat", "--epochs", "4", "--lr", "1e-4"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="runs/digits")
    args = p.parse_args()
    out = Path(args.out)
    rows = []
    for seed in args.seeds:
        base = train(out / f"unpruned_s{seed}", *UNPRUNED_ARGS, "--seed", str(seed))
        spvit = train(out / f"spvit_s{seed}", "--init", str(base), *SPVIT_ARGS, "--seed", str(seed))
        qat = train(out / f"qat_s{seed}", "--init", str(spvit), *QAT_ARGS, "--seed", str(seed))
        for kind, ckpt, backend in (
            ("unpruned", base, "float"), ("spvit", spvit, "float"), ("qat", qat, "fakequant"), ("qat", qat, "integer")
        ):
            print("evaluate", ckpt, backend, flush=True)
            d = json.loads(sh("spvit_fpga.evaluate", "--checkpoint", str(ckpt), "--backend", backend, "--json", "--per-image", "--quiet"))
            d.update(kind=kind, seed=seed)
            rows.append(d)
    (out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    table = summary_tables(rows, args.seeds)
    (out / "results.md").write_text(table + "\n")
    print(table)
    sh("spvit_fpga.evaluate", "--checkpoint", *[str(out / f"{k}_s{s}" / "checkpoint.pt") for s in args.seeds for k in ("unpruned", "spvit")],
       "--out", str(out), "--json", "--quiet")


def summary_tables(rows: list[dict], seeds: list[int]) -> str:
    lines = [
        "| model | backend | seed | test accuracy | GMACs/image | fewer MACs | tokens kept per stage (mean of 64) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        kept = ", ".join(f"{k:.1f}" for k in r["tokens_kept"]) or "-"
        lines.append(
            f"| {r['kind']} | {r['backend']} | {r['seed']} | {100 * r['accuracy']:.2f} % | {r['gmacs']:.5f} | "
            f"{100 * r['mac_reduction']:.1f} % | {kept} |"
        )
    groups = [("unpruned", "float"), ("spvit", "float"), ("qat", "fakequant"), ("qat", "integer")]
    lines += ["", "| model | backend | seeds | mean accuracy | min accuracy | mean fewer MACs |", "|---|---|---|---|---|---|"]
    for kind, backend in groups:
        sel = [r for r in rows if r["kind"] == kind and r["backend"] == backend]
        if not sel:
            continue
        acc = [r["accuracy"] for r in sel]
        red = [r["mac_reduction"] for r in sel]
        lines.append(
            f"| {kind} | {backend} | {len(sel)} | {100 * sum(acc) / len(acc):.2f} % | {100 * min(acc):.2f} % | {100 * sum(red) / len(red):.1f} % |"
        )
    lines += ["", "| seed | integer vs fake-quant: same prediction | same kept-token sets | integer vs float SPViT: same prediction |", "|---|---|---|---|"]
    for seed in seeds:
        by = {(r["kind"], r["backend"]): r for r in rows if r["seed"] == seed}
        i, f, s = by.get(("qat", "integer")), by.get(("qat", "fakequant")), by.get(("spvit", "float"))
        if not (i and f and s):
            continue
        n = len(i["predictions"])
        same_pred = sum(a == b for a, b in zip(i["predictions"], f["predictions"])) / n
        same_kept = sum(a == b for a, b in zip(i["kept_indices"], f["kept_indices"])) / n
        same_float = sum(a == b for a, b in zip(i["predictions"], s["predictions"])) / n
        lines.append(f"| {seed} | {100 * same_pred:.2f} % | {100 * same_kept:.2f} % | {100 * same_float:.2f} % |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
