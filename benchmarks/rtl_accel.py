"""Build and simulation figures of the generated dataflow RTL designs (``generate --rtl``).

    OMP_NUM_THREADS=1 python benchmarks/rtl_accel.py                 # micro (embedded default), 10 images
    OMP_NUM_THREADS=1 python benchmarks/rtl_accel.py --deit          # + a DeiT-T block with a selector

For each design: generate it (``--rtl``), build it with Verilator in an empty build folder (cold:
Verilator, the C++ of the design and its run-time library), then run the end-to-end cocotb
testbench twice, images one at a time (latency per image) and back to back (throughput), and
record: build seconds, simulated cycles, simulator seconds, cycles per second, cycles per image,
bit-exact count, and the generator's estimates from the manifest.  Prints a table and writes
``benchmarks/results/rtl_accel.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DESIGNS = {
    "micro": ["--board", "zcu102"],
    "deit-tiny-block": ["--board", "zcu102", "--model", "deit-tiny", "--random-weights", "--depth", "1",
                        "--selector-blocks", "0"],
}


def run(cmd: list[str], env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def bench(name: str, images: int, work: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SPVIT_RTL_BUILD_DIR": str(work / "build")}
    design = work / name
    t0 = time.monotonic()
    run([sys.executable, "-m", "spvit_fpga.generate", *DESIGNS[name], "--rtl", "--out", str(design), "--images",
         str(images), "--quiet"], env)
    gen_s = time.monotonic() - t0
    manifest = json.loads((design / "manifest.json").read_text())
    out = {"design": name, "generate_seconds": round(gen_s, 1), "units": manifest["rtl"]["units"],
           "dsp_estimate": manifest["rtl"]["dsp_estimate"]["total"],
           "bram18_estimate": manifest["rtl"]["bram18_estimate"]["total"],
           "estimate_sum_unit_cycles": manifest["rtl"]["estimate"]["sum_unit_cycles"],
           "estimate_busiest_unit_cycles": manifest["rtl"]["estimate"]["busiest_unit_cycles"]}
    for mode in ("latency", "stream"):
        cmd = [sys.executable, "-m", "spvit_fpga.simulate", "--design", str(design), "--rtl", "--json", "--images",
               str(images)] + (["--stream"] if mode == "stream" else [])
        t0 = time.monotonic()
        proc = run(cmd, env)
        wall = time.monotonic() - t0
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        out[mode] = {k: res.get(k) for k in ("images", "bit_exact", "mean_cycles", "build_seconds", "sim_seconds",
                                             "simulated_cycles", "cycles_per_second", "load_cycles")}
        out[mode]["cycles_per_image"] = res["cycles_per_image"]
        out[mode]["interval_cycles"] = res["interval_cycles"]
        out[mode]["wall_seconds"] = round(wall, 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deit", action="store_true", help="also the DeiT-T block design (slow: several minutes)")
    ap.add_argument("--images", type=int, default=10, help="micro test images (default 10)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "rtl_accel.json"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="rtl_accel_") as tmp:
        rows.append(bench("micro", args.images, Path(tmp)))
        if args.deit:
            rows.append(bench("deit-tiny-block", 1, Path(tmp)))
    hdr = ("design", "units", "DSP est", "BRAM18 est", "build s", "latency cycles", "interval cycles", "sim cycles/s",
           "bit-exact")
    print(" | ".join(hdr))
    for r in rows:
        st = r["stream"]
        iv = st["interval_cycles"][1:]
        print(" | ".join(str(v) for v in (
            r["design"], r["units"], r["dsp_estimate"], r["bram18_estimate"], r["latency"]["build_seconds"],
            round(r["latency"]["mean_cycles"]), round(sum(iv) / len(iv)) if iv else "-",
            r["latency"]["cycles_per_second"], f"{r['latency']['bit_exact']}/{r['latency']['images']}")))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "results": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
