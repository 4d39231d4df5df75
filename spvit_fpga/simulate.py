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
``--synth`` runs Yosys ``synth_xilinx`` on the top (:mod:`spvit_fpga.rtl.synth`; slow: about 20
minutes and 4 GB for the micro model) and records its cell counts (LUT, FF, DSP48E2, BRAM) in
``manifest.json`` under ``rtl.synth``.  ``--hls-rtl`` runs ``rtl_sim/tb_hls_top.py`` on the RTL
that Vitis/Vivado HLS exported from the project's HLS design (default: the Verilog that
``run_hls.tcl`` leaves in ``DIR/spvit_hls_prj/solution1/impl/verilog``); without vendor tools
there is none, and it says so.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import ArgumentParser, UserError, positive_int, run_cli, ticking
from .rtl.sim import (HLS_EXPORT_KEYS, check_manifest, design_sources, lint_design, load_design, read_manifest, record,
                      simulate_design, simulate_hls_export, synth_design, synth_family)
from .rtl.synth import format_counts


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m spvit_fpga.simulate", description=__doc__.splitlines()[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--design", required=True, metavar="DIR", help="project written by generate --rtl")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--rtl", action="store_true", help="end-to-end RTL simulation of the test images")
    mode.add_argument("--lint", action="store_true", help="verilator --lint-only -Wall on the design")
    mode.add_argument("--synth", action="store_true", help="Yosys synth_xilinx on the top; counts into the manifest")
    mode.add_argument("--hls-rtl", nargs="?", const="", default=None, metavar="VERILOG_DIR",
                      help="simulate the RTL exported by Vitis/Vivado HLS from this project's HLS design")
    p.add_argument("--images", type=positive_int, default=None, metavar="N",
                   help="simulate the first N test images (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    p.add_argument("--stream", action="store_true", help="send the images back to back (throughput) instead of one "
                                                         "at a time (latency)")
    p.add_argument("--waves", action="store_true", help="keep a VCD of the run")
    p.add_argument("--seed", type=int, default=None, help="seed of the random idle / back-pressure cycles (default 0)")
    p.add_argument("--no-manifest", action="store_true", help="do not write the measured cycles into manifest.json")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


# the flags each mode reads besides --design and --json (any other is refused, not ignored)
MODE_FLAGS = {"rtl": ("images", "stream", "waves", "seed", "no_manifest", "quiet"),
              "hls_rtl": ("images", "seed", "quiet"), "lint": (), "synth": ("quiet",)}


def check_flags(args: argparse.Namespace) -> None:
    mode = next(m for m in ("rtl", "lint", "synth") if getattr(args, m)) if args.hls_rtl is None else "hls_rtl"
    given = [f for f in ("images", "stream", "waves", "seed", "no_manifest", "quiet")
             if getattr(args, f) not in (None, False) and f not in MODE_FLAGS[mode]]
    if given:
        flags = ", ".join("--" + f.replace("_", "-") for f in given)
        raise UserError(f"{flags} {'does' if len(given) == 1 else 'do'} nothing with --{mode.replace('_', '-')}; "
                        f"drop {'it' if len(given) == 1 else 'them'}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_flags(args)
    seed = args.seed or 0
    design = Path(args.design)
    if not design.is_dir():
        what = "is a file, not a folder" if design.exists() else "does not exist"
        raise UserError(f"--design {design} {what}; give the folder python -m spvit_fpga.generate --out wrote")
    if args.hls_rtl is not None:
        manifest = read_manifest(design)
        check_manifest(design, manifest, HLS_EXPORT_KEYS)
        res = simulate_hls_export(design, manifest, args.hls_rtl, args.images, seed,
                                  progress=not (args.quiet or args.json))
        print(json.dumps(res) if args.json else f"{res['bit_exact']}/{res['images']} bit-exact (HLS-exported RTL)")
        return 0 if res["bit_exact"] == res["images"] else 1
    manifest = load_design(design)
    if args.synth:
        family = synth_family(manifest)
        print(f"Yosys synth_xilinx -family {family} on {manifest['rtl']['module']} (slow for whole models) ...",
              file=sys.stderr)
        with ticking("Yosys synth_xilinx", disable=args.quiet or args.json):
            res = synth_design(design, manifest)
        print(json.dumps(manifest["rtl"]["synth"]) if args.json else format_counts(res))
        return 0
    if args.lint:
        diags = lint_design(design, manifest)
        if args.json:
            print(json.dumps({"lint_clean": not diags, "warnings": diags}))
        else:
            print("\n".join(diags) if diags else f"lint clean: {manifest['rtl']['module']} "
                                                  f"({len(design_sources(design, manifest))} files, verilator -Wall)")
        return 1 if diags else 0
    result = simulate_design(design, manifest, args.images, waves=args.waves, seed=seed, stream=args.stream,
                             progress=not (args.quiet or args.json))
    if not args.no_manifest:
        record(design, manifest, result)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "per_image"} | {"per_image": result["per_image"]}))
    else:
        for r in result["per_image"]:
            flag = "ok" if r["logits_equal"] and r["kept_equal"] else "MISMATCH"
            print(f"image {r['index']:3d}: {r['cycles']:8d} cycles  kept {r['kept']}  {flag}")
        mhz = result["clock_mhz"]
        if result.get("architecture") == "overlay":
            print(f"mean {result['mean_cycles']:.0f} cycles per image = {result['mean_cycles'] / (mhz * 1e3):.3f} ms at "
                  f"{mhz:g} MHz (ap_start to the last result word); {np.mean(result['ddr_bytes']) / 1e6:.2f} MB read from "
                  f"DDR per image; the cycles of each instruction are in rtl_sim.json (per_layer_cycles)")
            print(f"{result['bit_exact']}/{result['images']} bit-exact")
            return 0 if result["bit_exact"] == result["images"] else 1
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
