"""Whole DeiT-T and DeiT-S on the overlay engine, measured cycle by cycle in RTL simulation.

    OMP_NUM_THREADS=1 python benchmarks/deit_rtl.py                       # DeiT-T and DeiT-S on zcu102
    OMP_NUM_THREADS=1 python benchmarks/deit_rtl.py --models deit-tiny    # one model

For each model: a random-weights design (``generate --model M --random-weights --rtl --rtl-arch
overlay``: weights are random, formats and thresholds calibrated on noise images; the hardware
does not care what the weights mean), one synthetic test image, and three selector cases:

* ``topk``: SPViT's keep ratios (0.617 / 0.369 / 0.137 of the 196 patch tokens: 121 / 72 / 27)
  under the top-k rule;
* ``threshold``: the threshold rule with the design's calibrated thresholds (what it keeps on this
  image is whatever the image gives);
* ``keep_all``: nothing pruned (the threshold below every score).

Each case is simulated with Verilator + cocotb (the engine reads the weight image from the DDR
model; one build serves the three cases: only the program differs) and compared exactly with the
golden reference; the cycle model (``spvit_fpga/hw/overlay/cycles.py``) gives the estimate of every
instruction for the kept counts the simulation measured.  Writes
``benchmarks/results/deit_rtl.json`` and ``deit_rtl.png`` (cycles by layer kind and block), and
prints a summary table.  ``ms`` is at the clock the timing argument supports (``--clock-mhz``,
default the board's; ``docs/overlay.md`` argues it from the Yosys netlist).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from spvit_fpga.builder.design import design_for  # noqa: E402
from spvit_fpga.builder.project import build_project, write_project  # noqa: E402
from spvit_fpga.hw import source  # noqa: E402
from spvit_fpga.hw.boards import load_board  # noqa: E402
from spvit_fpga.hw.overlay.cycles import counts_for_kept, program_cycles  # noqa: E402
from spvit_fpga.hw.vectors import make_vectors  # noqa: E402
from spvit_fpga.nn.config import ModelConfig  # noqa: E402
from spvit_fpga.rtl.overlay import build_overlay  # noqa: E402
from spvit_fpga.rtl.sim import load_design, simulate_overlay  # noqa: E402

CASES = ("topk", "threshold", "keep_all")


def _case_ir(ir, case: str):
    if case == "topk":
        return ir.with_decision("topk")
    if case == "keep_all":  # the smallest score a stage can give: every token passes
        return ir.with_decision("threshold").with_thresholds([-(1 << (s.score_bits - 1)) for s in ir.selectors])
    return ir.with_decision("threshold")


def _block_of(name: str) -> str:
    parts = name.split(".")
    if parts[0] == "blocks":
        return f"block {parts[1]}"
    if parts[0] == "selectors":
        return f"selector {parts[1]}"
    return "embed/head"


def run_case(model: str, board, src, case: str, work: Path, clock_mhz: float) -> dict:
    ir = _case_ir(src.ir, case)
    s2 = dataclasses.replace(src, ir=ir)
    cfg = ModelConfig.from_dict(ir.model)
    design = design_for(s2, board)
    images, labels, desc = source.test_images(s2, cfg, None, 1)
    vectors = make_vectors(ir, images, labels, desc)
    files = build_project(design, vectors, f"benchmarks/deit_rtl.py {model} {case}", rtl=True, rtl_arch="overlay")
    out = write_project(files, work / f"{model}_{case}", force=True)
    manifest = load_design(out)
    t0 = time.monotonic()
    res = simulate_overlay(out, manifest, 1, idle=0.0, stall=0.0)
    wall = time.monotonic() - t0
    r = res["per_image"][0]
    cycles = int(r["engine_cycles"])
    eng = manifest["rtl"]["engine"]
    ddr_rate = r["ddr_bytes"] / max(1, cycles)
    run = {
        "model": model, "board": board.name, "case": case, "cycles": cycles,
        "ms": round(cycles / (clock_mhz * 1e3), 4), "clock_mhz": clock_mhz, "bit_exact": bool(res["bit_exact"] == 1),
        "kept": r["kept"],
        "dsp": manifest["rtl"]["resources"]["dsp"]["total"], "bram18": manifest["rtl"]["resources"]["bram18"]["total"],
        "lanes": eng["lanes"], "ports": eng["ports"],
        "ddr_bytes": int(r["ddr_bytes"]), "ddr_share": round(ddr_rate / eng["ddr_bytes_per_cycle"], 4),
        "sim_seconds": round(res["sim_seconds"], 1), "build_seconds": res["build_seconds"],
        "wall_seconds": round(wall, 1), "cycles_per_second": res.get("cycles_per_second"),
        "per_layer": [{"name": m["name"], "cycles": m["cycles"]} for m in r["per_layer_cycles"]],
    }
    return score(run, ir, board)


def score(run: dict, ir, board) -> dict:
    """The cycle model's figure for every instruction of ``run`` at the kept counts the simulation
    measured, with its errors against the simulated cycles (tolerance: 2 % or 15 cycles a layer)."""
    od = build_overlay(ir, board, version="bench")  # the same program the design holds
    est = program_cycles(od.program, counts_for_kept(od.program, run["kept"]))
    if [e.name for e in est] != [p["name"] for p in run["per_layer"]]:
        raise SystemExit(f"error: {run['model']} {run['case']}: the program differs from the simulated one")
    for e, p in zip(est, run["per_layer"]):
        p["op"], p["estimate"] = e.op, e.cycles
    per_layer = run["per_layer"]
    errors = [abs(p["estimate"] - p["cycles"]) / max(1, p["cycles"]) for p in per_layer]
    off = [p for p in per_layer if abs(p["estimate"] - p["cycles"]) > max(15, 0.02 * p["cycles"])]
    total = sum(e.cycles for e in est)
    order = list(run)
    run.update({"estimate_cycles": total, "estimate_error_total": round(abs(total - run["cycles"]) / run["cycles"], 5),
                "estimate_error_per_layer_max": round(max(errors), 5), "layers_outside_tolerance": len(off)})
    keys = order[:order.index("kept") + 1] + ["estimate_cycles", "estimate_error_total",
                                                "estimate_error_per_layer_max", "layers_outside_tolerance"]
    return {k: run[k] for k in keys + [k for k in order if k not in keys]}


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({r["model"] for r in runs})
    fig, axes = plt.subplots(len(models), 1, figsize=(12, 4.2 * len(models)), squeeze=False)
    for ax, model in zip(axes[:, 0], models):
        for i, case in enumerate(CASES):
            rr = [r for r in runs if r["model"] == model and r["case"] == case]
            if not rr:
                continue
            per = defaultdict(int)
            for p in rr[0]["per_layer"]:
                per[_block_of(p["name"])] += p["cycles"]
            keys = list(per)
            xs = [k + (i - 1) * 0.27 for k in range(len(keys))]
            ax.bar(xs, [per[k] / 1e3 for k in keys], width=0.27, label=f"{case} ({rr[0]['ms']:.2f} ms)")
            ax.set_xticks(range(len(keys)))
            ax.set_xticklabels(keys, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("kilocycles (RTL simulation)")
        ax.set_title(f"{model} on the overlay engine, cycles per block")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["deit-tiny", "deit-small"])
    ap.add_argument("--board", default="zcu102")
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    ap.add_argument("--clock-mhz", type=float, default=None, help="clock for ms (default: the board's)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "deit_rtl.json"))
    ap.add_argument("--work", default=None, help="folder for the designs (default: a temporary one)")
    ap.add_argument("--rescore", action="store_true",
                    help="no simulation: recompute the cycle model's figures of the runs in --out (after a change "
                         "to spvit_fpga/hw/overlay/cycles.py; the simulated cycles stay as measured)")
    args = ap.parse_args()
    board = load_board(args.board)
    clock = args.clock_mhz or board.clock_mhz
    out = Path(args.out)
    runs: list[dict] = []
    if args.rescore:
        runs = json.loads(out.read_text())["runs"]
        srcs: dict = {}
        for i, r in enumerate(runs):
            if r["model"] not in srcs:
                srcs[r["model"]] = source.random_weights_ir(r["model"], seed=0)
            runs[i] = score(r, _case_ir(srcs[r["model"]].ir, r["case"]), load_board(r["board"]))
        out.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
        summary(runs, out)
        return 0
    if out.is_file():  # keep the other models' runs
        runs = [r for r in json.loads(out.read_text()).get("runs", []) if r["model"] not in args.models]
    with tempfile.TemporaryDirectory(prefix="deit_rtl_") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        for model in args.models:
            t0 = time.monotonic()
            src = source.random_weights_ir(model, seed=0)
            print(f"{model}: random-weights IR in {time.monotonic() - t0:.0f} s", flush=True)
            for case in args.cases:
                r = run_case(model, board, src, case, work, clock)
                runs.append(r)
                print(f"  {case:10s} {r['cycles']:9d} cycles = {r['ms']:.3f} ms  kept {r['kept']}  exact {r['bit_exact']}  "
                      f"estimate {r['estimate_cycles']} ({100 * r['estimate_error_total']:.2f} %, worst layer "
                      f"{100 * r['estimate_error_per_layer_max']:.2f} %)  sim {r['sim_seconds']} s", flush=True)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
    summary(runs, out)
    return 0


def summary(runs: list[dict], out: Path) -> None:
    plot(runs, out.with_suffix(".png"))
    print()
    print(f"{'model':11s} {'case':10s} {'cycles':>9s} {'ms':>7s} {'exact':>5s} {'est err':>8s} {'worst':>7s} {'out':>4s} {'DSP':>5s} {'DDR MB':>7s} "
          f"{'DDR share':>9s}")
    for r in runs:
        print(f"{r['model']:11s} {r['case']:10s} {r['cycles']:9d} {r['ms']:7.3f} {str(r['bit_exact']):>5s} "
              f"{100 * r['estimate_error_total']:7.2f}% {100 * r['estimate_error_per_layer_max']:6.2f}% "
              f"{r['layers_outside_tolerance']:4d} {r['dsp']:5d} {r['ddr_bytes'] / 1e6:7.2f} {r['ddr_share']:9.2f}")
    for model in sorted({r["model"] for r in runs}):
        rr = {r["case"]: r for r in runs if r["model"] == model}
        if "topk" in rr and "keep_all" in rr:
            print(f"{model}: pruning speedup keep_all / topk = {rr['keep_all']['cycles'] / rr['topk']['cycles']:.3f}")
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    raise SystemExit(main())
