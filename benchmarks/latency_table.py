"""How exact the overlay latency table is: the table against the full cycle model at random
kept-token vectors, for several models, input sizes and boards (docs/token_selector.md).

    python benchmarks/latency_table.py [--vectors 50]

Writes benchmarks/results/latency_table.json and prints one row per case: build time, the
largest relative and absolute difference, and how many vectors differ at all.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spvit_fpga.hw.boards import load_board  # noqa: E402
from spvit_fpga.hw.overlay.arch import choose_overlay  # noqa: E402
from spvit_fpga.hw.overlay.cycles import counts_for_kept, program_cycles  # noqa: E402
from spvit_fpga.hw.overlay.latency import table_from_ir  # noqa: E402
from spvit_fpga.hw.overlay.program import compile_program  # noqa: E402
from spvit_fpga.hw.source import config_ir  # noqa: E402
from spvit_fpga.nn.config import model_config  # noqa: E402

CASES = [("micro", None, b) for b in ("zcu102", "ultra96v2", "pynq-z2")] + [
    ("deit-tiny", 64, "zcu102"), ("deit-tiny", 224, "zcu102"), ("deit-small", 64, "zcu102"),
    ("deit-small", 224, "zcu102")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vectors", type=int, default=50)
    args = p.parse_args()
    rows = []
    irs = {}
    for name, size, board_name in CASES:
        cfg = model_config(name)
        cfg = cfg.with_data(1, 10) if name == "micro" else dataclasses.replace(cfg, img_size=size or cfg.img_size)
        if cfg not in irs:
            irs[cfg] = config_ir(cfg, calib_images=1)
        ir, board = irs[cfg], load_board(board_name)
        t0 = time.time()
        table = table_from_ir(ir, board)
        build = time.time() - t0
        prog = compile_program(ir, choose_overlay(board, cfg.head_dim))
        rng = random.Random(0)
        worst_rel = worst_abs = differ = 0
        for _ in range(args.vectors):
            kept = [rng.randint(0, cfg.num_patches)]
            while len(kept) < cfg.num_stages:
                kept.append(rng.randint(0, kept[-1]))
            full = sum(s.cycles for s in program_cycles(prog, counts_for_kept(prog, kept)))
            diff = table.cycles(kept) - full
            differ += diff != 0
            worst_abs = max(worst_abs, abs(diff))
            worst_rel = max(worst_rel, abs(diff) / full)
        row = {"model": cfg.name, "img_size": cfg.img_size, "board": board_name, "lanes": table.lanes,
               "dense_ms": table.dense_ms, "table_seconds": round(build, 1), "vectors": args.vectors,
               "vectors_differing": differ, "max_abs_cycles": worst_abs, "max_rel": worst_rel}
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = ROOT / "benchmarks" / "results" / "latency_table.json"
    out.write_text(json.dumps({"command": f"python benchmarks/latency_table.py --vectors {args.vectors}",
                               "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
