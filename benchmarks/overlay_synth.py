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
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from spvit_fpga.rtl.synth import OVERLAY_KEEP_HIERARCHY as KEEP  # noqa: E402
from spvit_fpga.rtl.synth import synth_xilinx, synth_xilinx_hier  # noqa: E402
from spvit_fpga.rtl.timing import MAX_LUT_LEVELS_300MHZ  # noqa: E402

SKIP = {"u_am0", "u_am1", "u_am2", "u_xb", "u_res"}  # block RAMs: no logic between registers
# The GEMM unit above this array side is too big to flatten in YoWASP's 4 GiB; it is argued from
# slices instead (gemm_slices): the whole unit at SLICE_L lanes with every other parameter as built,
# and its L-dependent parts at the real parameters.
SLICE_L = 16


def bram18_from_size(lanes: int, lane_w: int, depth: int) -> int:
    """Block RAM (18 Kib units) of a ``spvit_ov_ram`` from its size: each lane's bytes take 9-bit
    byte-write groups, RAMB18 as 512 x 4, 1K x 2, 2K x 1 groups or 4K/8K/16K x 1/2, 1/4, 1/8 of a
    group; the fewest over these shapes.  Depth <= 64 is LUT RAM (0)."""
    if depth <= 64:
        return 0
    groups = lanes * -(-lane_w // 8)
    best = None
    for d, g in ((512, 4), (1024, 2), (2048, 1), (4096, 0.5), (8192, 0.25), (16384, 0.125)):
        n = -(-depth // d) * (-(-groups // g) if g >= 1 else int(groups / g))
        best = n if best is None else min(best, n)
    return best


def clock_by_rule(levels: int, board_mhz: float) -> float:
    """The clock the 6-LUT-level rule gives a path of ``levels`` LUT levels: the board clock up to
    6 levels, above that 300 MHz x 6 / levels (the rule's 3.33 ns for 6 levels, scaled linearly)."""
    if levels <= MAX_LUT_LEVELS_300MHZ:
        return board_mhz
    return round(min(board_mhz, 300.0 * MAX_LUT_LEVELS_300MHZ / levels), 1)


def gemm_from_slices(slices: dict, p: dict) -> dict | None:
    """A lower bound on the GEMM unit's counts from its slices at the real parameters: adder trees,
    epilogue lanes, corner turner and DSPs times their instance counts (a DSP slice's LUTs and carries
    are its ``hi`` incrementer, which the array leaves unused, so only its DSP and FFs count), plus the
    weight chain (L*L*9 FFs, from the RTL) and the accumulator RAM from its size (T_MAX words of
    L*ACC_W bits, written whole).  Not included: the unit's control, loader and accumulator adders."""
    need = ("spvit_ov_addtree", "spvit_ov_gemm_epi", "spvit_ov_gemm_tr", "spvit_ov_dsp")
    if any(n not in slices or "lut" not in slices[n] for n in need):
        return None
    keys = ("lut", "ff", "dsp", "bram18", "carry", "lutram")
    tot = {k: 0 for k in keys}
    for n in need:
        sl = slices[n]
        for k in keys:
            if n == "spvit_ov_dsp" and k in ("lut", "carry"):
                continue
            tot[k] += sl[k] * sl["instances"]
    tot["ff"] += p["L"] * p["L"] * 9
    width = p["L"] * p["ACC_W"]  # no lane enables: any RAMB18 shape, the fewest
    tot["bram18"] += min(-(-p["T_MAX"] // d) * -(-width // w)
                         for d, w in ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)))
    tot["from"] = "slices x instances + chain + accumulator from its size (lower bound)"
    return tot


def compose(entry: dict, rtl: dict, board: dict) -> dict:
    """Whole-engine totals per distinct module: every unit's flattened counts at its real parameters
    (the GEMM unit's hierarchical count, ``--gemm-hier``, or else the lower bound from its slices),
    plus the five buffers' block RAM from their sizes (:func:`bram18_from_size`).  Units without a
    count yet are listed in ``missing`` (then ``fits`` is None unless a resource is already over).
    Not counted: the top's own wiring (operand muxes between the units and the buffers)."""
    parts, missing = {}, []
    for inst, u in rtl["units"].items():
        if u["module"] == "spvit_ov_ram":
            p = u["parameters"]
            parts[inst] = {"lut": 0, "ff": 0, "dsp": 0, "carry": 0, "lutram": 0,
                           "bram18": bram18_from_size(p["LANES"], p["LANE_W"], p["DEPTH"]), "from": "size"}
            continue
        e = entry["units"].get(inst)
        if e is not None and "slices" in e and "hier" not in e:
            part = gemm_from_slices(e["slices"], u["parameters"])
            if part is None:
                missing.append(inst)
            else:
                parts[inst] = part
            continue
        src = e.get("hier") if e is not None and "slices" in e else e
        if src is None:
            missing.append(inst)
            continue
        parts[inst] = {k: src[k] for k in ("lut", "ff", "dsp", "bram18", "carry", "lutram")}
        parts[inst]["from"] = "yosys (hierarchical)" if src is not e else "yosys"
    total = {k: sum(p[k] for p in parts.values()) for k in ("lut", "ff", "dsp", "bram18", "carry", "lutram")}
    over = [k for k in ("lut", "ff", "dsp", "bram18") if total[k] > board[k]]
    return {"method": "per unit", "parts": parts, "total": total, "board": board, "missing": missing,
            "fits": (not over) if not missing else (False if over else None)}  # None: not known yet


def gemm_slices(p: dict) -> list[tuple[str, str, dict, int]]:
    """(name, module, parameters, instances in the real unit) of the GEMM unit's slices."""
    L, pack = p["L"], p["PACK"]
    return [
        (f"spvit_ov_gemm L={SLICE_L}", "spvit_ov_gemm", {**p, "L": SLICE_L}, 1),
        ("spvit_ov_addtree", "spvit_ov_addtree", {"N": L, "IN_W": 18}, L),
        ("spvit_ov_gemm_epi", "spvit_ov_gemm_epi",
         {"ACC_W": p["ACC_W"], "X_W": p["X_W"], "TBL_BITS": p["TBL_BITS"], "TBL_G": p.get("TBL_G", 8)}, L),
        ("spvit_ov_gemm_tr", "spvit_ov_gemm_tr", {"L": L, "A_W": p["AM_AW"]}, 1),
        ("spvit_ov_dsp", "spvit_ov_dsp", {"PACK": pack, "PACK_SHIFT": p["PACK_SHIFT"], "W_W": 9, "B_W": 9, "PW": 18},
         L * L // pack),
    ]


def _names(netlist: Path, module: str):
    """(bit -> public net names, cell -> (type, src, {port: bits}, {port: direction})) of a Yosys JSON netlist."""
    mod = json.loads(netlist.read_text())["modules"][module]
    names: dict[int, list[str]] = {}
    for n, d in mod.get("netnames", {}).items():
        if d.get("hide_name"):
            continue
        for i, b in enumerate(d["bits"]):
            if isinstance(b, int):
                names.setdefault(b, []).append(n if len(d["bits"]) == 1 else f"{n}[{i}]")
    cells = {c: (d["type"], d.get("attributes", {}).get("src", ""), d.get("connections", {}),
                 d.get("port_directions", {})) for c, d in mod.get("cells", {}).items()}
    return names, cells


def describe(netlist: Path, module: str, path) -> dict:
    """Where a deepest path starts and ends in the source: register net names and ``src`` lines."""
    names, cells = _names(netlist, module)
    end_cell = path.end.split(" (")[0]
    out: dict = {}
    if end_cell in cells:
        typ, src, conns, dirs = cells[end_cell]
        q = [b for p_, bits in conns.items() if dirs.get(p_) == "output" for b in bits if isinstance(b, int)]
        out["end"] = {"type": typ, "src": src, "nets": sorted({n for b in q for n in names.get(b, [])})[:4]}
    if path.cells:
        first = cells.get(path.cells[0])
        drivers = {}
        for c, (typ, src, conns, dirs) in cells.items():
            for p_, bits in conns.items():
                if dirs.get(p_) == "output":
                    for b in bits:
                        if isinstance(b, int):
                            drivers[b] = (typ, src)
        if first:
            ins = [b for p_, bits in first[2].items() if first[3].get(p_) == "input" for b in bits if isinstance(b, int)]
            out["start"] = sorted({n for b in ins for n in names.get(b, [])})[:6]
            out["start_src"] = sorted({drivers[b][1] for b in ins if b in drivers and drivers[b][1]})[:4]
        out["through_src"] = sorted({cells[c][1] for c in path.cells if c in cells and cells[c][1]})[:6]
    return out


def unit_entry(r, seconds: float, netlist: Path | None = None, module: str = "") -> dict:
    """One synthesis run's counts and logic depth for the results file."""
    t = r.timing
    return {
        "lut": r.lut, "ff": r.ff, "dsp": r.dsp, "bram18": r.bram18, "lutram": r.lutram, "srl": r.srl,
        "carry": r.carry, "max_lut_levels": t.max_lut_levels, "max_carry_cells": t.max_carry_cells,
        "worst_path_end": t.worst[0].end if t.worst else None,
        "worst_paths": [{"lut_levels": w.lut_levels, "carry_cells": w.carry_cells, "end": w.end,
                         **(describe(netlist, module, w) if netlist is not None and netlist.is_file() else {}),
                         "cells": list(w.cells)} for w in t.worst[:3]],
        "dsp_fabric_registered": t.dsp_fabric_registered,
        "dsp_unregistered": len(set(t.dsp_without_mreg) | set(t.dsp_without_preg)),
        "dsp_without_mreg": t.dsp_without_mreg[:8], "dsp_without_preg": t.dsp_without_preg[:8],
        "meets_300mhz_rule": t.meets_300mhz_rule, "seconds": round(seconds, 1), "yosys": r.yosys_version,
    }


def print_entry(name: str, mod: str, e: dict) -> None:
    print(f"{name:18s} {mod:20s} LUT {e['lut']:7d} FF {e['ff']:7d} DSP {e['dsp']:5d} BRAM18 {e['bram18']:4d} "
          f"LUT levels {e['max_lut_levels']} carry {e['max_carry_cells']} "
          f"{'ok' if e['meets_300mhz_rule'] else 'OVER'} ({e['seconds']} s)", flush=True)


def unit_sources(design: Path, module: str) -> list[Path]:
    from spvit_fpga.rtl.library import library_order

    lib = design / "rtl" / "lib"
    return [lib / f"{m}.sv" for m in library_order([module])]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("design")
    ap.add_argument("--units", nargs="*", default=None, help="instances to synthesise (default: all but the RAMs)")
    ap.add_argument("--top", action="store_true", help="also the whole engine, flattened")
    ap.add_argument("--hier", action="store_true",
                    help="also the whole engine with the repeated modules kept as hierarchy (counts x instances)")
    ap.add_argument("--keep", nargs="*", default=list(KEEP), help="modules --hier keeps (default: %(default)s)")
    ap.add_argument("--whole-gemm", action="store_true",
                    help=f"flatten the GEMM unit whole even above L={SLICE_L} (needs a native Yosys: SPVIT_YOSYS=yosys)")
    ap.add_argument("--gemm-hier", action="store_true",
                    help="with the GEMM slices: also count the GEMM unit at its real parameters with --keep kept")
    ap.add_argument("--slices-from", default=None,
                    help="reuse the GEMM slices of this results file (same design key) instead of running them")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "overlay_synth.json"))
    ap.add_argument("--record", action="store_true",
                    help="also write the engine totals, the fit and the deepest unit into DESIGN/manifest.json "
                         "(rtl.synth, method 'per unit')")
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
    wanted = [u for u in rtl["units"] if u not in SKIP] if args.units is None else args.units
    for inst in wanted:
        mod, params = rtl["units"][inst]["module"], dict(rtl["units"][inst]["parameters"])
        if mod == "spvit_ov_ctrl":  # its ROM: the design's program
            params["PROG_FILE"] = '"' + str((design / rtl["mem_dir"] / "program.hex").resolve()) + '"'
        if mod == "spvit_ov_gemm" and params["L"] > SLICE_L and not args.whole_gemm:
            slices = {}
            prev = {}
            if args.slices_from:
                prev = json.loads(Path(args.slices_from).read_text()).get(key, {}).get("units", {}).get(inst, {})
                slices = dict(prev.get("slices", {}))
                entry["units"][inst] = {"module": mod, "method": "slices", "slices": slices}
            for name, smod, sparams, n in gemm_slices(params):
                if name in slices:
                    continue
                t0 = time.monotonic()
                work = Path(tempfile.mkdtemp(prefix=f"{smod}-"))
                r = synth_xilinx(unit_sources(design, smod), smod, parameters=sparams, family=family, timing=True,
                                 workdir=work)
                slices[name] = {"module": smod, "parameters": sparams, "instances": n,
                                **unit_entry(r, time.monotonic() - t0, work / "netlist.json", smod)}
                shutil.rmtree(work, ignore_errors=True)
                print_entry(f"{inst}/{name}", smod, slices[name])
                entry["units"][inst] = {"module": mod, "method": "slices", "slices": slices}
                out.write_text(json.dumps(results, indent=1) + "\n")
            if args.gemm_hier:  # its counts at the real parameters, the repeated modules kept as hierarchy
                r = synth_xilinx_hier(unit_sources(design, mod), mod, args.keep, parameters=params, family=family)
                d = r.as_dict()
                d.pop("cells")
                entry["units"][inst]["hier"] = d
                t = r.total
                print(f"{inst} (hierarchical, L={params['L']}): LUT {t.lut} FF {t.ff} DSP {t.dsp} BRAM18 {t.bram18} "
                      f"CARRY {t.carry} LUTRAM {t.lutram} ({t.seconds:.0f} s)", flush=True)
                out.write_text(json.dumps(results, indent=1) + "\n")
            continue
        t0 = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix=f"{mod}-"))
        r = synth_xilinx(unit_sources(design, mod), mod, parameters=params, family=family, timing=True, workdir=work)
        entry["units"][inst] = {"module": mod, **unit_entry(r, time.monotonic() - t0, work / "netlist.json", mod)}
        shutil.rmtree(work, ignore_errors=True)
        print_entry(inst, mod, entry["units"][inst])
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
    if args.hier:
        from spvit_fpga.rtl.sim import design_sources

        r = synth_xilinx_hier(design_sources(design, manifest), rtl["module"], args.keep, family=family,
                              mem_dir=(design / rtl["mem_dir"]).resolve())
        from spvit_fpga.hw.boards import load_board

        res = load_board(manifest["board"]["name"]).resources
        d = r.as_dict()
        d.pop("cells")
        entry["top_hier"] = {**d, "yosys_sum_agrees": r.yosys_total in (None, r.total.cells),
                             "board": {k: res[k] for k in ("lut", "ff", "dsp", "bram18")},
                             "fits": all(getattr(r.total, k) <= res[k] for k in ("lut", "ff", "dsp", "bram18"))}
        t = r.total
        print(f"engine (hierarchical, kept {', '.join(r.kept)}): LUT {t.lut}/{res['lut']} FF {t.ff}/{res['ff']} "
              f"DSP {t.dsp}/{res['dsp']} BRAM18 {t.bram18}/{res['bram18']} LUTRAM {t.lutram} "
              f"{'fits' if entry['top_hier']['fits'] else 'DOES NOT FIT'} ({t.seconds:.0f} s)")
        out.write_text(json.dumps(results, indent=1) + "\n")
    from spvit_fpga.hw.boards import load_board

    res = load_board(manifest["board"]["name"]).resources
    comp = compose(entry, rtl, {k: res[k] for k in ("lut", "ff", "dsp", "bram18")})
    entry["totals_per_unit"] = comp
    t = comp["total"]
    verdict = {True: "fits", False: "DOES NOT FIT", None: "fit not known"}[comp["fits"]]
    print(f"engine (sum per unit + buffers from sizes): LUT {t['lut']}/{res['lut']} FF {t['ff']}/{res['ff']} "
          f"DSP {t['dsp']}/{res['dsp']} BRAM18 {t['bram18']}/{res['bram18']} LUTRAM {t['lutram']} {verdict}"
          + (f" (no counts yet for {', '.join(comp['missing'])})" if comp["missing"] else ""))
    out.write_text(json.dumps(results, indent=1) + "\n")
    flat = [e for u in entry["units"].values() for e in ([u] if "slices" not in u else u["slices"].values())
            if "max_lut_levels" in e]
    worst = max(flat, key=lambda e: e["max_lut_levels"]) if flat else None
    if worst:
        print(f"deepest unit: {worst['module']} with {worst['max_lut_levels']} LUT levels "
              f"(rule of thumb for 300 MHz on UltraScale+: <= {MAX_LUT_LEVELS_300MHZ})")
    if args.record:
        from spvit_fpga.rtl.sim import write_manifest

        manifest["rtl"]["synth"] = {
            "method": "per unit: each unit synth_xilinx'd at its parameters (GEMM from slices), buffers from "
                      "their sizes (benchmarks/overlay_synth.py); Yosys estimates, not Vivado's",
            "total": comp["total"], "board": comp["board"], "fits": comp["fits"], "missing": comp["missing"],
            "deepest_unit": None if worst is None else {"module": worst["module"],
                                                        "lut_levels": worst["max_lut_levels"]},
        }
        write_manifest(design, manifest)
        print(f"recorded in {design / 'manifest.json'} (rtl.synth)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
