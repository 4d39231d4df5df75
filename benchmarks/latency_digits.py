"""Latency-aware SPViT on digits: train toward a fraction of the unpruned model's latency on a board's
overlay engine, then measure where the runs end (README "Latency-aware training").

    python benchmarks/latency_digits.py --seeds 0 1 2 --out runs/latency_digits

For every seed S, with X = FRACTION x the unpruned micro model's latency on BOARD (the overlay
latency table, ``spvit_fpga.hw.overlay.latency``), it runs (skipping steps whose checkpoint exists)

    python -m spvit_fpga.train --no-prune --epochs 100 --seed S --out OUT/unpruned_sS
    python -m spvit_fpga.train --init OUT/unpruned_sS/checkpoint.pt --epochs 40 --lr 5e-4 --board BOARD --target-ms X --seed S --out OUT/latency_sS
    python -m spvit_fpga.train --qat --init OUT/latency_sS/checkpoint.pt --epochs 4 --lr 1e-4 --board BOARD --seed S --out OUT/qat_sS

then ``python -m spvit_fpga.evaluate --board BOARD --json`` on the test split: the unpruned model,
the latency-aware model under the hardware's threshold rule and under the official Gumbel protocol
(``--decision gumbel --seed S``), and the QAT model on the integer reference (``--no-qat`` leaves the
QAT step out; the record says so).  Writes benchmarks/results/latency_digits.json and .md (the tables
quoted in README) and OUT/accuracy_vs_latency.png (every evaluated model, threshold rule).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _runs import sh, train  # noqa: E402  (benchmarks/ is the script's folder)

from spvit_fpga.hw.overlay.latency import latency_table  # noqa: E402
from spvit_fpga.nn.config import model_config  # noqa: E402
from spvit_fpga.nn.viz import plot_accuracy_vs_latency  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
UNPRUNED_ARGS = ["--no-prune", "--epochs", "100"]
SPVIT_ARGS = ["--epochs", "40", "--lr", "5e-4"]
QAT_ARGS = ["--qat", "--epochs", "4", "--lr", "1e-4"]


def evaluate(ckpt: Path, board: str, *args: str) -> dict:
    """``evaluate --json`` of ``ckpt``, kept beside it (``eval_*.json``) and reused while the checkpoint is
    older, so a resumed benchmark does not evaluate twice."""
    cache = ckpt.parent / ("eval_" + "_".join([board, *(a.strip("-") for a in args)]) + ".json")
    if cache.exists() and cache.stat().st_mtime > ckpt.stat().st_mtime:
        return json.loads(cache.read_text())
    out = sh("spvit_fpga.evaluate", "--checkpoint", str(ckpt), "--board", board, "--json", "--quiet", *args)
    cache.write_text(out)
    return json.loads(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="runs/latency_digits")
    p.add_argument("--board", default="zcu102")
    p.add_argument("--fraction", type=float, default=0.7, help="target latency as a fraction of the unpruned model's")
    p.add_argument("--no-qat", action="store_true", help="leave out the QAT step and its integer evaluation")
    args = p.parse_args()
    out = Path(args.out)
    cfg = model_config("micro").with_data(1, 10)
    unpruned_ms = latency_table(cfg.unpruned(), args.board).ms([])
    target = round(args.fraction * unpruned_ms, 6)
    rows = []
    for seed in args.seeds:
        s = ["--seed", str(seed)]
        base = train(out / f"unpruned_s{seed}", *UNPRUNED_ARGS, *s)
        lat = train(out / f"latency_s{seed}", "--init", str(base), *SPVIT_ARGS, "--board", args.board,
                    "--target-ms", str(target), *s)
        runs = [("unpruned", base, []), ("latency-aware", lat, []),
                ("latency-aware", lat, ["--decision", "gumbel", "--seed", str(seed)])]
        if not args.no_qat:
            qat = train(out / f"qat_s{seed}", "--init", str(lat), *QAT_ARGS, "--board", args.board, *s)
            runs.append(("latency-aware QAT", qat, ["--backend", "integer"]))
        for kind, ckpt, extra in runs:
            print("evaluate", ckpt, *extra, flush=True)
            d = evaluate(ckpt, args.board, *extra)
            d.update(kind=kind, seed=seed)
            rows.append(d)
    record = {"board": args.board, "fraction": args.fraction, "unpruned_ms": unpruned_ms, "target_ms": target,
              "qat": not args.no_qat,
              "command": " ".join(["python benchmarks/latency_digits.py", "--seeds", *map(str, args.seeds),
                                   "--board", args.board, "--fraction", str(args.fraction)]
                                  + (["--no-qat"] if args.no_qat else [])),
              "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latency_digits.json").write_text(json.dumps(record, indent=1) + "\n")
    table = tables(record)
    (RESULTS / "latency_digits.md").write_text(table + "\n")
    print(table)
    points = [{"label": f"{r['kind']} s{r['seed']}", "accuracy": r["accuracy"], "latency_ms": r["latency_ms"]}
              for r in rows if r["decision"] == "threshold"]
    plot_accuracy_vs_latency(points, out / "accuracy_vs_latency.png", args.board)


def tables(record: dict) -> str:
    target = record["target_ms"]
    lines = [f"Target: {record['fraction']:.0%} of the unpruned model's {record['unpruned_ms']:.4f} ms on "
             f"{record['board']} = {target:.4f} ms per image.", "",
             "| model | backend | decision | seed | test accuracy | latency (mean) | vs target | latency p99 | "
             "tokens kept per stage (mean of 64) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in record["rows"]:
        kept = ", ".join(f"{k:.1f}" for k in r["tokens_kept"]) or "-"
        dev = f"{100 * (r['latency_ms'] / target - 1):+.1f} %" if r["kind"] != "unpruned" else "-"
        lines.append(f"| {r['kind']} | {r['backend']} | {r['decision']} | {r['seed']} | {100 * r['accuracy']:.2f} % | "
                     f"{r['latency_ms']:.4f} ms | {dev} | {r['latency_ms_p99']:.4f} ms | {kept} |")
    lines += ["", "| model | backend | decision | seeds | mean accuracy | min accuracy | mean latency | "
                  "largest distance from target |", "|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list] = {}
    for r in record["rows"]:
        groups.setdefault((r["kind"], r["backend"], r["decision"]), []).append(r)
    for (kind, backend, decision), sel in groups.items():
        acc = [r["accuracy"] for r in sel]
        ms = [r["latency_ms"] for r in sel]
        far = "-" if kind == "unpruned" else f"{100 * max(abs(m / target - 1) for m in ms):.1f} %"
        lines.append(f"| {kind} | {backend} | {decision} | {len(sel)} | {100 * sum(acc) / len(acc):.2f} % | "
                     f"{100 * min(acc):.2f} % | {sum(ms) / len(ms):.4f} ms | {far} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
