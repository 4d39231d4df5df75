"""Lint, simulate and synthesise the RTL design of a generated project (``python -m spvit_fpga.simulate``).

:func:`load_design` checks a project written by ``generate --rtl`` and reads its manifest;
:func:`lint_design` runs ``verilator --lint-only -Wall`` on its files; :func:`simulate_design`
builds it with Verilator and runs the end-to-end cocotb testbench ``rtl_sim.tb_accel`` (weights from
an AXI RAM model, the project's test images in, logits and kept counts compared exactly with the
golden reference) and :func:`record` writes the measured cycles beside the estimates;
:func:`synth_design` runs Yosys; :func:`simulate_hls_export` drives the RTL that Vitis/Vivado HLS
exported from the project's HLS design with ``rtl_sim.tb_hls_top``.  The testbenches are passed to
cocotb by name and run in the simulator process, never imported here.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ..errors import UserError
from ..hw.vectors import read_vectors
from . import runner
from .synth import synth_xilinx

__all__ = ["WEIGHTS_BASE", "read_manifest", "check_manifest", "load_design", "design_sources", "lint_design", "simulate_design", "record",
           "synth_design", "hls_export_sources", "simulate_hls_export", "mem_dir_for_build"]

WEIGHTS_BASE = 0x0010_0000  # byte address of weights.bin in the simulated DDR
CYCLES_PER_WORD_LIMIT = 64


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
                        seed: int = 0, progress: bool = False) -> dict[str, Any]:
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
                       vectors=payload, extra_env={"SPVIT_TB_RESULTS": str(res_path)}, progress=progress,
                       progress_total=n)
        except runner.RTLSimError as exc:
            err = exc
        if not res_path.is_file():
            raise UserError(f"the simulation of the exported RTL produced no results:\n{err}")
        per = json.loads(res_path.read_text())["images"]
    return {"images": len(per), "bit_exact": sum(1 for r in per if r["logits_equal"] and r["kept_equal"]),
            "per_image": per}


def read_manifest(design: Path) -> dict[str, Any]:
    """``DIR/manifest.json`` as a dict; a UserError when it is missing or not a JSON object."""
    mpath = design / "manifest.json"
    if not mpath.is_file():
        raise UserError(f"{design} is not a generated project (no manifest.json); create one with "
                        "python -m spvit_fpga.generate --board zcu102 --rtl --out DIR")
    try:
        manifest = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise UserError(f"{mpath} is not valid JSON ({getattr(exc, 'msg', exc)}{where}): the project is damaged, "
                        "regenerate it with python -m spvit_fpga.generate") from None
    if not isinstance(manifest, dict):
        raise UserError(f"{mpath} is not a JSON object: the project is damaged, regenerate it")
    return manifest


# manifest keys each use of a design reads: (dotted key, type)
_COMMON_KEYS = (("model.config.num_classes", int), ("board.clock_mhz", (int, float)), ("rtl.filelist_base", str),
                ("rtl.mem_dir", str), ("rtl.weights", str))
_DATAFLOW_KEYS = (("rtl.top", str), ("rtl.module", str), ("rtl.filelist", str))
_OVERLAY_KEYS = (("rtl.top", str), ("rtl.module", str), ("rtl.filelist", str), ("rtl.sim_module", str),
                 ("rtl.sim_filelist", str), ("rtl.ddr_base", int), ("rtl.program.instructions", int))


def _lookup(manifest: dict[str, Any], dotted: str) -> Any:
    value: Any = manifest
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(dotted)
        value = value[part]
    return value


HLS_EXPORT_KEYS = (("model.config.num_classes", int),)


def check_manifest(design: Path, manifest: dict[str, Any], keys: Optional[Sequence[tuple]] = None) -> None:
    """UserError naming the first of ``keys`` (default: what the RTL flow reads) that the manifest
    lacks or holds with the wrong type (a damaged or hand-edited manifest fails here, not deep inside
    a simulation)."""
    if keys is None:
        keys = _COMMON_KEYS + (_OVERLAY_KEYS if is_overlay(manifest) else _DATAFLOW_KEYS)
    for dotted, kind in keys:
        try:
            value = _lookup(manifest, dotted)
        except KeyError:
            raise UserError(f"{design / 'manifest.json'} lacks {dotted}: the project is damaged or was written by "
                            "another version; regenerate it with --rtl") from None
        if not isinstance(value, kind) or isinstance(value, bool):
            raise UserError(f"{design / 'manifest.json'}: {dotted} is {value!r}, not a "
                            f"{getattr(kind, '__name__', 'number')}; regenerate the project")


def load_design(design: Path) -> dict[str, Any]:
    manifest = read_manifest(design)
    if "rtl" not in manifest:
        raise UserError(f"{design} has no RTL design (manifest key rtl): regenerate it with --rtl")
    check_manifest(design, manifest)
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
    v = read_vectors(design)
    return {"images": v.images, "logits": v.logits, "kept": v.kept, "labels": v.labels}


def mem_dir_for_build(design: Path, manifest: dict[str, Any]) -> Path:
    """A content-addressed copy of the design's ``$readmemh`` folder under the RTL build root.

    The folder's absolute path is compiled into the simulator (``MEM_DIR``); a path that depends
    only on the contents lets the same design in another directory reuse the cached build."""
    src = design / manifest["rtl"]["mem_dir"]
    files = sorted(p for p in src.iterdir() if p.is_file())
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    dst = runner.build_root() / "mem" / f"design_{h.hexdigest()[:16]}"
    if dst.is_dir() and not _same_files(src, dst, files):  # not what its name says: copy it again
        shutil.rmtree(dst)
    if not dst.is_dir():
        tmp = dst.with_name(dst.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp)
        try:
            os.replace(tmp, dst)
        except OSError:  # another process made it first
            shutil.rmtree(tmp, ignore_errors=True)
    return dst


def _same_files(src: Path, dst: Path, files: list[Path]) -> bool:
    """Whether ``dst`` holds exactly the ``files`` of ``src``, byte for byte."""
    if sorted(p.name for p in dst.iterdir()) != [p.name for p in files]:
        return False
    return all((dst / p.name).read_bytes() == p.read_bytes() for p in files)


def lint_design(design: Path, manifest: dict[str, Any]) -> list[str]:
    rtl = manifest["rtl"]
    mem = (design / rtl["mem_dir"]).resolve()
    return runner.lint(design_sources(design, manifest), rtl["module"],
                       parameters={"MEM_DIR": runner.sv_string(mem)}, check=False)


def _content_copy(src: Path, name: str) -> Path:
    """A copy of ``src`` under the build root named by its contents (the simulator compiles the path
    in; a path that depends only on the bytes lets another design folder reuse the cached build)."""
    h = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    dst = runner.build_root() / "mem" / f"{name}_{h}{src.suffix}"
    if not dst.is_file():
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + f".tmp{os.getpid()}")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    return dst


def is_overlay(manifest: dict[str, Any]) -> bool:
    return manifest.get("rtl", {}).get("architecture") == "overlay"


def simulate_overlay(design: Path, manifest: dict[str, Any], n_images: Optional[int], *, waves: bool = False,
                     seed: int = 0, idle: float = 0.1, stall: float = 0.2, pause_ar: int = 0,
                     pause_r: int = 0, progress: bool = False) -> dict[str, Any]:
    """Verilator + cocotb run of an overlay design (``rtl_sim.tb_overlay`` on its simulation harness,
    weights in the SystemVerilog DDR model): per image the logits and kept counts against the
    reference, the cycles, the cycles of every instruction of the program and the DDR bytes."""
    rtl = manifest["rtl"]
    vec = _vectors(design)
    avail = vec["images"].shape[0]
    n = avail if n_images is None else n_images
    if n < 1:
        raise UserError(f"--images must be at least 1, got {n}")
    if n > avail:
        raise UserError(f"the design holds {avail} test images; regenerate it with --images {n}")
    cfg = manifest["model"]["config"]
    base = design / rtl["filelist_base"]
    lines = [ln.strip() for ln in (design / rtl["sim_filelist"]).read_text().splitlines() if ln.strip()]
    sources = [base / ln for ln in lines]
    missing = [str(x) for x in sources if not x.is_file()]
    if missing:
        raise UserError(f"files of the simulation file list are missing: {', '.join(missing[:5])}")
    est = int(rtl.get("estimate", {}).get("cycles", 0))
    words = int(np.prod(vec["images"].shape[1:]))
    max_cycles = 3 * est + 8 * words + 200_000
    mem = mem_dir_for_build(design, manifest)
    weights = _content_copy(design / rtl["weights"], "weights")
    names = [p["name"] for p in rtl.get("estimate", {}).get("per_layer", [])]
    with tempfile.TemporaryDirectory(prefix="spvit_rtl_") as tmp:
        res_path = Path(tmp) / "results.json"
        payload = {
            "images": vec["images"][:n].tolist(), "logits": vec["logits"][:n].tolist(), "kept": vec["kept"][:n].tolist(),
            "base": int(rtl["ddr_base"]), "num_classes": int(cfg["num_classes"]), "stages": int(vec["kept"].shape[1]),
            "instructions": int(rtl["program"]["instructions"]), "max_cycles": max_cycles, "idle": idle,
            "stall": stall, "pause_ar": pause_ar, "pause_r": pause_r, "seed": seed,
        }
        t0 = time.monotonic()
        err: Optional[Exception] = None
        sim = None
        try:
            # program and weights are plusargs, not build parameters: one build runs every program and
            # weight image of this engine (other thresholds, the other keep rule, other weights)
            sim = runner.run(top=rtl["sim_module"], test_module="rtl_sim.tb_overlay", sources=sources,
                             vectors=payload, extra_env={"SPVIT_TB_RESULTS": str(res_path)},
                             build_args=["-DSPVIT_PROBES", "-DSPVIT_SIM", "--public-depth", "1"], waves=waves, seed=seed,
                             plusargs=[f"+SPVIT_PROGRAM={mem / 'program.hex'}", f"+SPVIT_WEIGHTS={weights}"],
                             progress=progress, progress_total=n, public_flat=False)
        except runner.RTLSimError as exc:
            err = exc
        wall = time.monotonic() - t0
        if not res_path.is_file():
            raise UserError(f"the RTL simulation produced no results:\n{err}")
        tb = json.loads(res_path.read_text())
    per = tb["images"]
    for r in per:
        starts = r.pop("instruction_starts", [])
        ends = starts[1:] + [int(r["engine_cycles"])]
        r["per_layer_cycles"] = [{"name": names[i] if i < len(names) else str(i), "cycles": e - s}
                                 for i, (s, e) in enumerate(zip(starts, ends))]
    cycles = [int(r["cycles"]) for r in per]
    exact = sum(1 for r in per if r["logits_equal"] and r["kept_equal"])
    mhz = manifest["board"]["clock_mhz"]
    out = {
        "architecture": "overlay", "images": len(per), "bit_exact": exact, "cycles_per_image": cycles,
        "engine_cycles": [int(r["engine_cycles"]) for r in per],
        "mean_cycles": float(np.mean(cycles)) if cycles else 0.0, "clock_mhz": mhz,
        "latency_ms": [round(c / (mhz * 1e3), 6) for c in cycles],
        "per_layer_cycles": per[0]["per_layer_cycles"] if per else [],
        "ddr_bytes": [int(r["ddr_bytes"]) for r in per],
        "per_image": per,
    }
    return _with_run_figures(out, sim, wall, waves)


def simulate_design(design: Path, manifest: dict[str, Any], n_images: Optional[int], *, waves: bool = False,
                    seed: int = 0, stream: bool = False, progress: bool = False) -> dict[str, Any]:
    if is_overlay(manifest):
        if stream:
            raise UserError("--stream is for the dataflow design (images overlap there); the overlay engine runs "
                            "one image at a time")
        return simulate_overlay(design, manifest, n_images, waves=waves, seed=seed, progress=progress)
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
                             waves=waves, seed=seed, progress=progress, progress_total=n)
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
        "per_image": per,
    }
    return _with_run_figures(out, sim, wall, waves)



def _with_run_figures(out: dict[str, Any], sim, wall: float, waves: bool) -> dict[str, Any]:
    """The simulator's own figures (build and run seconds, simulated cycles and their rate, the
    waveform file) added to a result."""
    out.update({"build_seconds": round(sim.build_seconds, 2) if sim else None,
                "sim_seconds": round(sim.run_seconds, 2) if sim else round(wall, 2),
                "simulated_cycles": int(sim.sim_time_ns // 10) if sim else None})
    if sim and sim.run_seconds > 0:
        out["cycles_per_second"] = round(out["simulated_cycles"] / sim.run_seconds, 1)
    if waves and sim is not None:
        out["waves"] = str(sim.test_dir / "dump.vcd")
    return out

def record(design: Path, manifest: dict[str, Any], result: dict[str, Any]) -> None:
    """``DIR/rtl_sim.json`` and ``manifest.rtl.simulation`` (measured beside the estimate)."""
    (design / "rtl_sim.json").write_text(json.dumps(result, indent=2) + "\n")
    est = manifest["rtl"].get("estimate", {})
    if result.get("architecture") == "overlay":
        sim = {k: result[k] for k in ("images", "bit_exact", "cycles_per_image", "engine_cycles", "mean_cycles",
                                      "ddr_bytes", "per_layer_cycles")}
        if est.get("cycles"):
            sim["mean_over_estimate"] = round(result["mean_cycles"] / est["cycles"], 4)
        manifest["rtl"]["simulation"] = sim
        write_manifest(design, manifest)
        return
    sim = {k: result[k] for k in ("images", "bit_exact", "stream", "cycles_per_image", "interval_cycles", "mean_cycles",
                                  "load_cycles")}
    if est.get("sum_unit_cycles"):
        sim["mean_over_sum_unit_cycles"] = round(result["mean_cycles"] / est["sum_unit_cycles"], 4)
        sim["mean_over_busiest_unit_cycles"] = round(result["mean_cycles"] / max(1, est["busiest_unit_cycles"]), 4)
    manifest["rtl"]["simulation"] = sim
    write_manifest(design, manifest)


def synth_family(manifest: dict[str, Any]) -> str:
    """Yosys ``synth_xilinx -family`` of the design's board."""
    return "xc7" if manifest["board"].get("family") == "zynq7000" else "xcup"


def synth_design(design: Path, manifest: dict[str, Any]):
    """Yosys ``synth_xilinx`` on the design's top; its counts go into ``manifest.rtl.synth``."""
    rtl = manifest["rtl"]
    family = synth_family(manifest)
    res = synth_xilinx(design_sources(design, manifest), rtl["module"], family=family,
                       mem_dir=(design / rtl["mem_dir"]).resolve())
    counts = res.as_dict()
    counts["family"] = family
    manifest["rtl"]["synth"] = counts
    write_manifest(design, manifest)
    return res


def write_manifest(design: Path, manifest: dict[str, Any]) -> None:
    """Replace ``DIR/manifest.json`` atomically."""
    tmp = design / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, design / "manifest.json")
