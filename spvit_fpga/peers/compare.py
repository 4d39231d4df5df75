"""FINN and hls4ml on every linear unit of a model, beside this project's reference and estimates.

:func:`run_interop` exports each unit (:mod:`.units`), runs finn-plus (:mod:`.finn_flow`) and
hls4ml (:mod:`.hls4ml_flow`) on it, compares their integers with the golden reference on real
images and random rows, and builds the report: per tool ``bit_exact`` (each part claimed exact ->
true) and ``not_exact`` (every other part -> the reason: a measured difference, a refusal, or a
part neither tool has a bit-exact layer for), and a per-layer table of cycles and resources
beside this project's RTL folding and overlay cost model.  The linear layers are the required
parts: :attr:`InteropReport.ok` is true when all of them are exact in both tools.
"""
from __future__ import annotations

import os
import sys
import tempfile
import warnings
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Optional

import torch

from ._project import IR, Board, ModelConfig, MAX_LANES, choose_options, choose_parallelism, layer_costs
from .finn_flow import FinnUnitResult, require_finn, run_finn_unit
from .hls4ml_flow import Hls4mlUnitResult, require_hls4ml, run_hls4ml_unit
from .units import LinearUnit, backbone_units, export_unit, random_rows, reference_rows, select_units, unsupported_reason

RESOURCE_KEYS = ("LUT", "BRAM_18K", "URAM", "DSP")

# Parts of the model that neither tool has a bit-exact layer for (read from their sources,
# finn-plus 1.6.1 and hls4ml 1.3.0; docs/interop.md).  Not exported: nothing to measure.
FINN_REFUSED = {
    "gelu": "not exported: the int8 GELU is a 256-entry table that is not monotonic (minimum near -0.75), "
            "which FINN's MultiThreshold (a monotonic staircase) cannot express; finn-plus's GELU layer "
            "(PWPolyF) evaluates a float32 piecewise polynomial instead",
    "layernorm": "not exported: finn-plus's LayerNorm layer computes float torch layer_norm (no integer "
                 "sums, no rsqrt table), so its output differs from the integer LayerNorm wherever the "
                 "float result rounds differently",
    "attention": "not exported: ScaledDotProductAttention / HWSoftmax compute a float exp/sum softmax, not "
                 "the 256-entry exp table and the rounded integer division of this project",
    "token_selector": "not exported: the number of tokens kept depends on the image, which a static-shape "
                      "ONNX graph cannot express (the QONNX export is the dense backbone)",
}
HLS4ML_REFUSED = {
    "gelu": "not exported: hls4ml has no table activation with this project's GELU table; its own "
            "activation tables use their own size and input range",
    "layernorm": "not exported: hls4ml's LayerNorm uses its own 1/sqrt table and fixed-point types, not "
                 "the integer sums and rsqrt table of this project",
    "attention": "not exported: hls4ml's softmax uses its own exp and inverse tables, with known accuracy "
                 "issues (hls4ml #1443, #1512, #885); its multi-head attention is experimental",
    "token_selector": FINN_REFUSED["token_selector"],
}


@dataclass
class UnitReport:
    unit: LinearUnit
    ours: dict[str, Any]
    finn: Optional[FinnUnitResult] = None
    hls4ml: Optional[Hls4mlUnitResult] = None
    unsupported: Optional[str] = None


@dataclass
class InteropReport:
    model: str
    board: str
    part: str
    images: int
    random_frames: int
    target_cycles: int
    units: list[UnitReport] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    work_dir: str = ""

    # --- verdicts ------------------------------------------------------------------------
    def _tool(self, tool: str) -> tuple[dict[str, bool], dict[str, str]]:
        exact: dict[str, bool] = {}
        not_exact: dict[str, str] = {}
        stock = [0, 0, 0]  # mismatching elements, elements, layers affected (FINN's stock thresholds)
        for u in self.units:
            key = f"linear:{u.unit.name}"
            r = u.finn if tool == "finn" else u.hls4ml
            if u.unsupported:
                not_exact[key] = f"not exported: {u.unsupported}"
            elif r is None:
                not_exact[key] = "not run"
            elif r.exact:
                exact[key] = True
            else:
                not_exact[key] = _unit_reason(r)
            if tool == "finn" and isinstance(r, FinnUnitResult) and r.error is None:
                stock[0] += r.stock_mismatches
                stock[1] += r.elements
                stock[2] += int(r.stock_mismatches > 0)
        if tool == "finn" and stock[0]:
            not_exact["linear:stock_thresholds"] = (
                f"ConvertQONNXtoFINN's thresholds round half up (a value on a threshold goes up): {stock[0]} of "
                f"{stock[1]} elements differ by one LSB in {stock[2]} layers; exact after the ties-to-even pass")
        not_exact.update(FINN_REFUSED if tool == "finn" else HLS4ML_REFUSED)
        return exact, not_exact

    @property
    def required(self) -> list[str]:
        return [f"linear:{u.unit.name}" for u in self.units]

    @property
    def ok(self) -> bool:
        finn_exact, _ = self._tool("finn")
        hls_exact, _ = self._tool("hls4ml")
        return all(finn_exact.get(k) and hls_exact.get(k) for k in self.required)

    # --- output ------------------------------------------------------------------------------
    def layer_rows(self) -> list[dict[str, Any]]:
        rows = []
        for u in self.units:
            op = u.unit.op
            row: dict[str, Any] = {
                "name": u.unit.name, "rows": u.unit.rows, "in_features": op.in_features, "out_features": op.out_features,
                "ours": u.ours,
            }
            if u.finn is not None:
                f = u.finn
                mvau = next((v for k, v in f.folding.items() if k.startswith("MVAU")), {})
                tot = f.resource_total()
                row["finn"] = {
                    "exact": f.exact, "mismatches": f.mismatches, "elements": f.elements,
                    "stock_mismatches": f.stock_mismatches, "ties_moved": f.ties_moved, "error": f.error,
                    "pe": mvau.get("PE"), "simd": mvau.get("SIMD"), "mvau_cycles": f.mvau_cycles, "interval": f.interval,
                    "layers": f.nodes, "cycles": f.cycles,
                    "resources": {k: tot.get(k, 0) for k in RESOURCE_KEYS}, "seconds": round(f.seconds, 2),
                }
            if u.hls4ml is not None:
                h = u.hls4ml
                row["hls4ml"] = {"exact": h.exact, "mismatches": h.mismatches, "elements": h.elements, "precision": h.precision,
                                 "error": h.error, "compile_seconds": round(h.compile_seconds, 2)}
            rows.append(row)
        return rows

    def to_json(self) -> dict[str, Any]:
        finn_exact, finn_not = self._tool("finn")
        hls_exact, hls_not = self._tool("hls4ml")
        return {
            "model": self.model, "board": self.board, "part": self.part, "images": self.images,
            "random_frames": self.random_frames, "folding_target_cycles": self.target_cycles, "versions": self.versions,
            "required": self.required, "ok": self.ok,
            "finn": {"bit_exact": finn_exact, "not_exact": finn_not},
            "hls4ml": {"bit_exact": hls_exact, "not_exact": hls_not},
            "layers": self.layer_rows(), "work_dir": self.work_dir,
        }

    def summary_table(self) -> str:
        head = ("layer", "PE×SIMD ours/FINN", "cycles RTL/FINN", "overlay", "FINN LUT", "FINN BRAM18", "FINN DSP", "FINN", "hls4ml")
        lines = []
        for r in self.layer_rows():
            o, f, h = r["ours"], r.get("finn", {}), r.get("hls4ml", {})
            res = f.get("resources", {})
            lines.append((
                r["name"], f"{o['pe']}×{o['simd']} / {f.get('pe')}×{f.get('simd')}",
                f"{o['rtl_cycles']} / {f.get('mvau_cycles')}", f"{o['overlay_cycles']} ({o['overlay_layer']})",
                f"{res.get('LUT', 0):.0f}", f"{res.get('BRAM_18K', 0):.0f}", f"{res.get('DSP', 0):.0f}",
                _verdict(f), _verdict(h),
            ))
        widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        out = [fmt.format(*head), fmt.format(*("-" * w for w in widths))] + [fmt.format(*ln) for ln in lines]
        finn_exact, finn_not = self._tool("finn")
        hls_exact, hls_not = self._tool("hls4ml")
        out.append("")
        out.append(f"FINN:   {len(finn_exact)}/{len(self.required)} linear layers bit-exact; not exact: {', '.join(sorted(finn_not))}")
        out.append(f"hls4ml: {len(hls_exact)}/{len(self.required)} linear layers bit-exact; not exact: {', '.join(sorted(hls_not))}")
        out.append(f"required parts (linear layers) exact in both: {'yes' if self.ok else 'NO'}")
        return "\n".join(out)


def _unit_reason(r: FinnUnitResult | Hls4mlUnitResult) -> str:
    if r.error:
        return f"failed: {r.error}"
    if getattr(r, "unmapped", None):
        return f"nodes left outside the hardware layers: {', '.join(r.unmapped)}"  # type: ignore[union-attr]
    return f"measured: {r.mismatches} of {r.elements} elements differ from the reference"


def _verdict(d: dict[str, Any]) -> str:
    if not d:
        return "-"
    if d.get("error"):
        return "error"
    return "exact" if d.get("exact") else f"{d.get('mismatches')} diff"


@contextmanager
def tool_output_to(log: Path) -> Iterator[None]:
    """Send everything the tools print (Python and their g++ subprocesses) to ``log``, so that
    standard output holds only this program's report."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "a") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            # Python-level streams too: they need not write through descriptors 1 and 2
            with redirect_stdout(f), redirect_stderr(f), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def our_estimates(ir: IR, board: Board, units: list[LinearUnit]) -> tuple[int, dict[str, dict[str, Any]]]:
    """Frame interval of this project's balanced RTL folding and, per unit, its PE/SIMD, RTL
    cycles per frame and DSPs (one per MAC lane), and the overlay cost model's layer cycles."""
    opt = choose_options(ir, board)
    cfg = ModelConfig.from_dict(ir.model)
    overlay = {c.name: c.cycles for c in layer_costs(cfg, board, choose_parallelism(cfg, board))}
    ours = {}
    for u in units:
        op = u.op
        pe, simd = opt.fold(op)
        ours[u.name] = {
            "pe": pe, "simd": simd, "dsp": pe * simd,
            # the RTL GEMM unit's busy cycles for a frame (codegen.rtl.unit_cycles)
            "rtl_cycles": u.rows * (op.out_features // pe) * (op.in_features // simd),
            "overlay_layer": u.cost_key, "overlay_cycles": overlay.get(u.cost_key),
        }
    return opt.target_cycles, ours


def run_interop(ir: IR, board: Board, images: torch.Tensor, *, layers: Optional[list[str]] = None, random_frames: int = 2,
                seed: int = 0, work_dir: Optional[Path] = None, finn: bool = True, hls4ml: bool = True,
                progress: bool = True) -> InteropReport:
    """Export every selected linear unit, run the tools, compare, and report."""
    from tqdm import tqdm

    if finn:
        require_finn()
    if hls4ml:
        require_hls4ml()
    units = select_units(backbone_units(ir), layers)
    work = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="spvit_interop_"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "tools.log"
    target, ours = our_estimates(ir, board, units)
    report = InteropReport(
        model=str(ir.model.get("name", "")), board=board.name, part=board.part, images=int(images.shape[0]),
        random_frames=random_frames, target_cycles=target, work_dir=str(work),
        versions={d: _version(d) for d in ("finn-plus", "hls4ml", "qonnx", "brevitas", "torch")},
    )
    with tqdm(total=int(images.shape[0]), desc="reference", unit="img", disable=not progress, file=sys.stderr) as bar:
        ref = reference_rows(ir, images, units, progress=bar)
    steps = len(units) * (int(finn) + int(hls4ml))
    with tqdm(total=steps, desc="FINN/hls4ml", unit="layer", disable=not progress, file=sys.stderr) as bar:
        for i, u in enumerate(units):
            ur = UnitReport(u, ours[u.name], unsupported=unsupported_reason(u))
            report.units.append(ur)
            if ur.unsupported:
                bar.update(int(finn) + int(hls4ml))
                continue
            path = work / "qonnx" / f"{u.name}.onnx"
            with tool_output_to(log):
                export_unit(u, path)
            rnd = random_rows(u, random_frames, seed + i)
            if finn:
                bar.set_postfix_str(f"FINN {u.name}")
                with tool_output_to(log):
                    ur.finn = run_finn_unit(u, path, ref[u.name], rnd, board.part, target, MAX_LANES, save_dir=work / "finn" / u.name)
                bar.update(1)
            if hls4ml:
                bar.set_postfix_str(f"hls4ml {u.name}")
                with tool_output_to(log):
                    ur.hls4ml = run_hls4ml_unit(u, path, ref[u.name], rnd, work / "hls4ml" / u.name)
                bar.update(1)
    return report
