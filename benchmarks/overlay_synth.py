"""Yosys ``synth_xilinx`` of an overlay design, unit by unit: cells and register-to-register logic depth.

    python benchmarks/overlay_synth.py DESIGN [--units u_gemm u_ln ...] [--top]

``DESIGN`` is a folder written by ``generate --rtl --rtl-arch overlay``; its manifest lists every
unit instance with the parameters the top gives it (``rtl.units``).  Each unit is synthesised on its
own with those parameters (``-family xcup``, or ``xc7`` for a Zynq-7000 board), its mapped netlist is
analysed by :mod:`spvit_fpga.rtl.timing` (LUT levels and carry cells of the deepest register-to-
register paths, DSPs whose registers are in the fabric), and the results go to
``benchmarks/results/overlay_synth.json`` keyed by the design's model and board.  ``--top`` also
synthesises the whole engine (slow; the cell counts that go into the manifest with
``simulate --synth``).  Yosys' counts are estimates, not Vivado's; the logic depth is a structural
argument, not a timing report (``docs/overlay.md``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from spvit_fpga.rtl.synth import synth_xilinx  # noqa: E402
from spvit_fpga.rtl.timing import MAX_LUT_LEVELS_300MHZ  # noqa: E402

SKIP = {"u_am0", "u_am1", "u_am2", "u_xb", "u_res"}  # block RAMs: no logic between registers


def unit_sources(design: Path, module: str) -> list[Path]:
    from spvit_fpga.rtl.library import library_order

    lib = design / "rtl" / "lib"
    return [lib / f"{m}.sv" for m in library_order([module])]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("design")
    ap.add_argument("--units", nargs="*", default=None, help="instances to synthesise (default: all but the RAMs)")
    ap.add_argument("--top", action="store_true", help="also the whole engine")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "overlay_synth.json"))
    args = ap.parse_args()
    design = Path(args.design)
    manifest = json.loads((design / "manifest.json").read_text())
    rtl = manifest["rtl"]
    if rtl.get("architecture") != "overlay":
        raise SystemExit(f"error: {design} is not an overlay design (generate --rtl --rtl-arch overlay)")
    family = "xc7" if manifest["board"].get("family") == "zynq7000" else "xcup"
    key = f"{manifest['model']['name']}@{manifest['board']['name']} L={rtl['engine']['lanes']}"
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    entry = results.setdefault(key, {"units": {}})
    wanted = args.units or [u for u in rtl["units"] if u not in SKIP]
    for inst in wanted:
        mod, params = rtl["units"][inst]["module"], dict(rtl["units"][inst]["parameters"])
        if mod == "spvit_ov_ctrl":  # its ROM: the design's program
            params["PROG_FILE"] = '"' + str((design / rtl["mem_dir"] / "program.hex").resolve()) + '"'
        t0 = time.monotonic()
        r = synth_xilinx(unit_sources(design, mod), mod, parameters=params, family=family, timing=True)
        t = r.timing
        entry["units"][inst] = {
            "module": mod, "lut": r.lut, "ff": r.ff, "dsp": r.dsp, "bram18": r.bram18, "lutram": r.lutram,
            "carry": r.carry, "max_lut_levels": t.max_lut_levels, "max_carry_cells": t.max_carry_cells,
            "worst_path_end": t.worst[0].end if t.worst else None,
            "dsp_fabric_registered": t.dsp_fabric_registered,
            "dsp_unregistered": len(set(t.dsp_without_mreg) | set(t.dsp_without_preg)),
            "meets_300mhz_rule": t.meets_300mhz_rule, "seconds": round(time.monotonic() - t0, 1),
            "yosys": r.yosys_version,
        }
        e = entry["units"][inst]
        print(f"{inst:10s} {mod:20s} LUT {e['lut']:7d} FF {e['ff']:7d} DSP {e['dsp']:5d} BRAM18 {e['bram18']:4d} "
              f"LUT levels {e['max_lut_levels']} carry {e['max_carry_cells']} "
              f"{'ok' if e['meets_300mhz_rule'] else 'OVER'} ({e['seconds']} s)", flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1) + "\n")
    if args.top:
        from spvit_fpga.rtl.sim import design_sources

        t0 = time.monotonic()
        r = synth_xilinx(design_sources(design, manifest), rtl["module"], family=family,
                         mem_dir=(design / rtl["mem_dir"]).resolve())
        entry["top"] = {**{k: v for k, v in r.as_dict().items() if k != "cells"}, "seconds": round(time.monotonic() - t0, 1)}
        print(f"top: {entry['top']}")
        out.write_text(json.dumps(results, indent=1) + "\n")
    units = entry["units"]
    worst = max(units.values(), key=lambda e: e["max_lut_levels"]) if units else None
    if worst:
        print(f"deepest unit: {worst['module']} with {worst['max_lut_levels']} LUT levels "
              f"(rule of thumb for 300 MHz on UltraScale+: <= {MAX_LUT_LEVELS_300MHZ})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
