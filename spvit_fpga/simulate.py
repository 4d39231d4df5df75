"""``python -m spvit_fpga.simulate``: lint or simulate the RTL design of a generated project.

    python -m spvit_fpga.simulate --design DIR --lint
    python -m spvit_fpga.simulate --design DIR --rtl [--images N] [--json] [--waves]
    python -m spvit_fpga.simulate --design DIR --synth
    python -m spvit_fpga.simulate --design DIR --hls-rtl [VERILOG_DIR] [--images N]

``DIR`` is a project written by ``python -m spvit_fpga.generate --board NAME --rtl``.  ``--lint`` runs
``verilator --lint-only -Wall`` on the generated top and every library file it uses, with the same
Verilator the tests use, and exits non-zero on any warning.  ``--rtl`` builds the design with
Verilator and runs the end-to-end cocotb testbench (``rtl_sim/tb_accel.py``): weights from an AXI RAM
model, the project's test images in over AXI-Stream, logits and kept-token counts out, compared
exactly with the golden reference; it prints "N/N bit-exact" and the cycles per image, writes
``DIR/rtl_sim.json`` and records the measured cycles in ``DIR/manifest.json`` (``rtl.simulation``)
beside the generator's estimates.  ``--json`` prints one JSON object (``images``, ``bit_exact``,
``cycles_per_image``, ...).  ``--waves`` keeps a VCD (``dump.vcd`` in the run folder it names).
``--synth`` runs Yosys ``synth_xilinx`` on the top (:mod:`spvit_fpga.synth`; slow: about 20
minutes and 4 GB for the micro model) and records its cell counts (LUT, FF, DSP48E2, BRAM) in
``manifest.json`` under ``rtl.synth``.  ``--hls-rtl`` runs ``rtl_sim/tb_hls_top.py`` on the RTL
that Vitis/Vivado HLS exported from the project's HLS design (default: the Verilog that
``run_hls.tcl`` leaves in ``DIR/spvit_hls_prj/solution1/impl/verilog``); without vendor tools
there is none, and it says so.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from .errors import UserError, run_cli

REPO = Path(__file__).resolve().parent.parent
WEIGHTS_BASE = 0x0010_0000  # byte address of weights.bin in the simulated DDR
CYCLES_PER_WORD_LIMIT = 64


def _rtl_sim():
    """The repository's ``rtl_sim`` package (runner, testbenches)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    try:
        from rtl_sim import runner  # noqa: F401
    except ImportError as exc:
        raise UserError(f"rtl_sim is not importable ({exc}): run from a source checkout with the dev extras "
                        "(pip install -e '.[dev]')") from None
    return runner


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m spvit_fpga.simulate", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--design", required=True, metavar="DIR", help="project written by generate --rtl")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--rtl", action="store_true", help="end-to-end RTL simulation of the test images")
    mode.add_argument("--lint", action="store_true", help="verilator --lint-only -Wall on the design")
    mode.add_argument("--synth", action="store_true", help="Yosys synth_xilinx on the top; counts into the manifest")
    mode.add_argument("--hls-rtl", nargs="?", const="", default=None, metavar="VERILOG_DIR",
                      help="simulate the RTL exported by Vitis/Vivado HLS from this project's HLS design")
    p.add_argument("--images", type=int, default=None, metavar="N", help="simulate the first N test images (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    p.add_argument("--stream", action="store_true", help="send the images back to back (throughput) instead of one "
                                                         "at a time (latency)")
    p.add_argument("--waves", action="store_true", help="keep a VCD of the run")
    p.add_argument("--seed", type=int, default=0, help="seed of the random idle / back-pressure cycles")
    p.add_argument("--no-manifest", action="store_true", help="do not write the measured cycles into manifest.json")
    return p


HLS_EXPORT_DIRS = ("spvit_hls_prj/solution1/impl/verilog", "spvit_hls_prj/solution1/syn/verilog")


def hls_export_sources(design: Path, verilog_dir: str) -> list[Path]:
    """The Verilog files Vitis/Vivado HLS exported for the project's top (UserError if none)."""
    dirs = [Path(verilog_dir)] if verilog_dir else [design / d for d in HLS_EXPORT_DIRS]
    for d in dirs:
        files = sorted(d.glob("*.v")) if d.is_dir() else []
        if files:
            return files
    raise UserError(f"no RTL exported by Vitis/Vivado HLS in {' or '.join(str(d) for d in dirs)}: run "
                    f"`vitis_hls -f run_hls.tcl` (export step) in {design} on a machine with the vendor tools, "
                    "or pass the folder of the exported Verilog")


def simulate_hls_export(design: Path, manifest: dict[str, Any], verilog_dir: str, n_images: Optional[int],
                        seed: int = 0) -> dict[str, Any]:
    runner = _rtl_sim()
    sources = hls_export_sources(design, verilog_dir)
    vec = _vectors(design)
    n = vec["images"].shape[0] if n_images is None else min(n_images, vec["images"].shape[0])
    weights = design / "weights.bin"
    with tempfile.TemporaryDirectory(prefix="spvit_hls_rtl_") as tmp:
        res_path = Path(tmp) / "results.json"
        payload = {"images": vec["images"][:n].tolist(), "logits": vec["logits"][:n].tolist(),
                   "kept": vec["kept"][:n].tolist(), "weights": str(weights.resolve()) if weights.is_file() else None,
                   "base": WEIGHTS_BASE, "num_classes": int(manifest["model"]["config"]["num_classes"]),
                   "stages": int(vec["kept"].shape[1]), "max_cycles": 10_000_000, "seed": seed}
        err = None
        try:
            runner.run(top=manifest.get("hls_top", "spvit_top"), test_module="rtl_sim.tb_hls_top", sources=sources,
                       vectors=payload, extra_env={"SPVIT_TB_RESULTS": str(res_path)})
        except runner.RTLSimError as exc:
            err = exc
        if not res_path.is_file():
            raise UserError(f"the simulation of the exported RTL produced no results:\n{err}")
        per = json.loads(res_path.read_text())["images"]
    return {"images": len(per), "bit_exact": sum(1 for r in per if r["logits_equal"] and r["kept_equal"]),
            "per_image": per}


def load_design(design: Path) -> dict[str, Any]:
    mpath = design / "manifest.json"
    if not mpath.is_file():
        raise UserError(f"{design} is not a generated project (no manifest.json); create one with "
                        "python -m spvit_fpga.generate --board zcu102 --rtl --out DIR")
    manifest = json.loads(mpath.read_text())
    if "rtl" not in manifest:
        raise UserError(f"{design} has no RTL design (manifest key rtl): regenerate it with --rtl")
    rtl = manifest["rtl"]
    for key in ("top", "filelist", "weights", "mem_dir"):
        if not (design / rtl[key]).exists():
            raise UserError(f"{design / rtl[key]} is missing: the project is incomplete, regenerate it")
    return manifest


def design_sources(design: Path, manifest: dict[str, Any]) -> list[Path]:
    rtl = manifest["rtl"]
    base = design / rtl["filelist_base"]
    lines = [ln.strip() for ln in (design / rtl["filelist"]).read_text().splitlines() if ln.strip()]
    srcs = [base / ln for ln in lines]
    missing = [str(s) for s in srcs if not s.is_file()]
    if missing:
        raise UserError(f"files of the file list are missing: {', '.join(missing[:5])}")
    return srcs


def _vectors(design: Path) -> dict[str, np.ndarray]:
    from .hw.vectors import read_vectors

    v = read_vectors(design)
    return {"images": v.images, "logits": v.logits, "kept": v.kept, "labels": v.labels}


def mem_dir_for_build(design: Path, manifest: dict[str, Any]) -> Path:
    """A content-addressed copy of the design's ``$readmemh`` folder under the RTL build root.

    The folder's absolute path is compiled into the simulator (``MEM_DIR``); a path that depends
    only on the contents lets the same design in another directory reuse the cached build."""
    import hashlib
    import shutil

    runner = _rtl_sim()
    src = design / manifest["rtl"]["mem_dir"]
    files = sorted(p for p in src.iterdir() if p.is_file())
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    dst = runner.build_root() / "mem" / f"design_{h.hexdigest()[:16]}"
    if not dst.is_dir():
        tmp = dst.with_name(dst.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp)
        try:
            os.replace(tmp, dst)
        except OSError:  # another process made it first
            shutil.rmtree(tmp, ignore_errors=True)
    return dst


def lint_design(design: Path, manifest: dict[str, Any]) -> list[str]:
    runner = _rtl_sim()
    rtl = manifest["rtl"]
    mem = (design / rtl["mem_dir"]).resolve()
    return runner.lint(design_sources(design, manifest), rtl["module"],
                       parameters={"MEM_DIR": runner.sv_string(mem)}, check=False)


def simulate_design(design: Path, manifest: dict[str, Any], n_images: Optional[int], *, waves: bool = False,
                    seed: int = 0, stream: bool = False) -> dict[str, Any]:
    runner = _rtl_sim()
    rtl = manifest["rtl"]
    vec = _vectors(design)
    avail = vec["images"].shape[0]
    n = avail if n_images is None else n_images
    if n < 1:
        raise UserError(f"--images must be at least 1, got {n}")
    if n > avail:
        raise UserError(f"the design holds {avail} test images; regenerate it with --images {n}")
    cfg = manifest["model"]["config"]
    probes = [u["stream"] for u in rtl.get("gemm_units", [])]
    words = int(np.prod(vec["images"].shape[1:]))
    max_cycles = int(rtl.get("estimate", {}).get("sum_unit_cycles", 0)) * 4 + words * CYCLES_PER_WORD_LIMIT + 200_000
    with tempfile.TemporaryDirectory(prefix="spvit_rtl_") as tmp:
        res_path = Path(tmp) / "results.json"
        payload = {
            "images": vec["images"][:n].tolist(), "logits": vec["logits"][:n].tolist(), "kept": vec["kept"][:n].tolist(),
            "weights": str((design / rtl["weights"]).resolve()), "base": WEIGHTS_BASE,
            "num_classes": int(cfg["num_classes"]), "stages": int(vec["kept"].shape[1]), "probes": probes,
            "max_cycles": max_cycles, "idle": 0.1, "stall": 0.2, "seed": seed, "stream": stream,
        }
        mem = mem_dir_for_build(design, manifest)
        t0 = time.monotonic()
        err: Optional[Exception] = None
        sim = None
        try:
            sim = runner.run(top=rtl["module"], test_module="rtl_sim.tb_accel", sources=design_sources(design, manifest),
                             parameters={"MEM_DIR": runner.sv_string(mem)}, vectors=payload,
                             extra_env={"SPVIT_TB_RESULTS": str(res_path)}, build_args=["-DSPVIT_PROBES", "--public-depth", "1"],
                             waves=waves, seed=seed)
        except runner.RTLSimError as exc:
            err = exc
        wall = time.monotonic() - t0
        if not res_path.is_file():
            raise UserError(f"the RTL simulation produced no results:\n{err}")
        tb = json.loads(res_path.read_text())
    per = tb["images"]
    cycles = [int(r["cycles"]) for r in per]
    exact = sum(1 for r in per if r["logits_equal"] and r["kept_equal"])
    out = {
        "images": len(per), "bit_exact": exact, "cycles_per_image": cycles, "stream": stream,
        "interval_cycles": [int(r["interval"]) for r in per],
        "mean_cycles": float(np.mean(cycles)) if cycles else 0.0,
        "clock_mhz": manifest["board"]["clock_mhz"],
        "latency_ms": [round(c / (manifest["board"]["clock_mhz"] * 1e3), 6) for c in cycles],
        "load_cycles": tb["load_cycles"],
        "build_seconds": round(sim.build_seconds, 2) if sim else None,
        "sim_seconds": round(sim.run_seconds, 2) if sim else round(wall, 2),
        "simulated_cycles": int(sim.sim_time_ns // 10) if sim else None,
        "per_image": per,
    }
    if sim and sim.run_seconds > 0:
        out["cycles_per_second"] = round(out["simulated_cycles"] / sim.run_seconds, 1)
    if waves and sim is not None:
        out["waves"] = str(sim.test_dir / "dump.vcd")
    return out


def record(design: Path, manifest: dict[str, Any], result: dict[str, Any]) -> None:
    """``DIR/rtl_sim.json`` and ``manifest.rtl.simulation`` (measured beside the estimate)."""
    (design / "rtl_sim.json").write_text(json.dumps(result, indent=2) + "\n")
    est = manifest["rtl"].get("estimate", {})
    sim = {k: result[k] for k in ("images", "bit_exact", "stream", "cycles_per_image", "interval_cycles", "mean_cycles",
                                  "load_cycles")}
    if est.get("sum_unit_cycles"):
        sim["mean_over_sum_unit_cycles"] = round(result["mean_cycles"] / est["sum_unit_cycles"], 4)
        sim["mean_over_busiest_unit_cycles"] = round(result["mean_cycles"] / max(1, est["busiest_unit_cycles"]), 4)
    manifest["rtl"]["simulation"] = sim
    tmp = design / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, design / "manifest.json")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    design = Path(args.design)
    if not design.is_dir():
        raise UserError(f"--design {design}: no such directory")
    if args.hls_rtl is not None:
        mpath = design / "manifest.json"
        if not mpath.is_file():
            raise UserError(f"{design} is not a generated project (no manifest.json)")
        res = simulate_hls_export(design, json.loads(mpath.read_text()), args.hls_rtl, args.images, args.seed)
        print(json.dumps(res) if args.json else f"{res['bit_exact']}/{res['images']} bit-exact (HLS-exported RTL)")
        return 0 if res["bit_exact"] == res["images"] else 1
    manifest = load_design(design)
    if args.synth:
        from .synth import format_counts, synth_xilinx

        rtl = manifest["rtl"]
        family = "xc7" if manifest["board"].get("family") == "zynq7000" else "xcup"
        print(f"Yosys synth_xilinx -family {family} on {rtl['module']} (slow for whole models) ...", file=sys.stderr)
        res = synth_xilinx(design_sources(design, manifest), rtl["module"], family=family,
                           mem_dir=(design / rtl["mem_dir"]).resolve())
        counts = res.as_dict()
        counts["family"] = family
        manifest["rtl"]["synth"] = counts
        tmp = design / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(tmp, design / "manifest.json")
        print(json.dumps(counts) if args.json else format_counts(res))
        return 0
    if args.lint:
        diags = lint_design(design, manifest)
        if args.json:
            print(json.dumps({"lint_clean": not diags, "warnings": diags}))
        else:
            print("\n".join(diags) if diags else f"lint clean: {manifest['rtl']['module']} "
                                                  f"({len(design_sources(design, manifest))} files, verilator -Wall)")
        return 1 if diags else 0
    result = simulate_design(design, manifest, args.images, waves=args.waves, seed=args.seed, stream=args.stream)
    if not args.no_manifest:
        record(design, manifest, result)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "per_image"} | {"per_image": result["per_image"]}))
    else:
        for r in result["per_image"]:
            flag = "ok" if r["logits_equal"] and r["kept_equal"] else "MISMATCH"
            print(f"image {r['index']:3d}: {r['cycles']:8d} cycles  kept {r['kept']}  {flag}")
        mhz = result["clock_mhz"]
        print(f"weights loaded in {result['load_cycles']} cycles; mean {result['mean_cycles']:.0f} cycles per image "
              f"= {result['mean_cycles'] / (mhz * 1e3):.3f} ms at {mhz:g} MHz"
              + (" (latency, images one at a time)" if not result["stream"] else " (latency, images back to back)"))
        if result["stream"] and len(result["interval_cycles"]) > 1:
            iv = result["interval_cycles"][1:]
            print(f"throughput: one result every {np.mean(iv):.0f} cycles = {mhz * 1e6 / np.mean(iv):.0f} images/s")
        print(f"{result['bit_exact']}/{result['images']} bit-exact")
    return 0 if result["bit_exact"] == result["images"] else 1


if __name__ == "__main__":
    run_cli(main)
