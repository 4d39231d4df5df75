"""Helpers the training benchmarks share: run a module of the package from the repository root,
and train into a folder unless its checkpoint already exists (so a long benchmark resumes)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sh(*args: str) -> str:
    """``python -m ARGS`` in the repository root (one thread unless OMP_NUM_THREADS says otherwise)."""
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    proc = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(args)}\n{proc.stderr[-3000:]}")
    return proc.stdout


def train(out: Path, *args: str) -> Path:
    """``python -m spvit_fpga.train ARGS --out OUT`` unless OUT/checkpoint.pt exists; its path."""
    ckpt = out / "checkpoint.pt"
    if not ckpt.exists():
        print("train", out, flush=True)
        t0 = time.time()
        sh("spvit_fpga.train", *args, "--out", str(out), "--quiet")
        print(f"  {time.time() - t0:.0f} s", flush=True)
    return ckpt
