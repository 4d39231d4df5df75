"""Assemble a generated project (file name -> bytes): the HLS files, optionally the RTL design, and
the manifest that describes both; write it atomically.

:func:`build_project` is deterministic: the same model, board and options give byte-identical files
(no dates, no absolute paths; JSON with fixed key order).  :func:`write_project` renders into a
temporary sibling directory and renames it into place, so an interrupted run never leaves a
half-written project; a non-empty target is only replaced with ``force``.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from .. import __version__
from ..hls import project as hls_project
from ..hls.drc import run_drc
from ..hw import cost_model
from ..hw.vectors import TestVectors
from ..outdir import write_dir_atomically
from .design import Design, estimates

__all__ = ["build_project", "write_project", "manifest", "MANIFEST"]

MANIFEST = "manifest.json"


# --------------------------------------------------------------------------------------------
# manifest
# --------------------------------------------------------------------------------------------


def manifest(d: Design, vectors: TestVectors, files: dict[str, bytes], command: str,
             kept: Optional[Sequence[int]] = None) -> dict[str, Any]:
    ir, plan, board = d.source.ir, d.plan, d.board
    eng = plan.cfg
    weights: dict[str, Any] = {"storage": "ddr", "model_weight_bytes": cost_model.weight_bytes(d.cfg),
                               "ddr_image": "weights.bin", "ddr_bytes": len(files["weights.bin"]),
                               "ddr_sha256": hashlib.sha256(files["weights.bin"]).hexdigest(),
                               "ports": eng.ports, "region_bytes": plan.region_bytes,
                               "param_stream_bytes": plan.program.stream.nbytes}
    prog = plan.program
    return {
        "generator": {"name": "spvit_fpga", "version": __version__, "command": command},
        "model": {
            "name": d.cfg.name, "description": d.source.description, "random_weights": d.source.random_weights,
            "config": d.cfg.to_dict(), "quant": ir.quant, "provenance": ir.provenance,
            "dataset": d.source.dataset_spec, "ops": sum(1 for _ in ir.ops()),
            "decisions": [s.decision for s in ir.selectors], "thresholds": [int(s.tau) for s in ir.selectors],
            "logits_frac": ir.logits_frac,
        },
        "board": {"name": board.name, "part": board.part, "board_part": board.board_part, "family": board.family,
                  "clock_mhz": board.clock_mhz, "clock_period_ns": float(d.clock_period_ns)},
        "interfaces": {
            "pixels": f"AXI-Stream in, {8 * plan.consts['PIX']}-bit words of {plan.consts['PIX']} pixels, "
                      f"{plan.in_words} words per image",
            "results": f"AXI-Stream out, 32-bit words: {d.cfg.num_classes} logits + {d.cfg.num_stages} kept counts",
            "weights": [f"m_axi gmem{i} (ap_uint<{eng.port_bits}>, region {i} of weights.bin)" for i in range(eng.ports)],
            "control": "s_axilite (control): ap_ctrl_hs, interrupt, one 64-bit address a weight port",
        },
        "hls": {
            "architecture": "overlay",
            "engine": eng.to_dict(),
            "program": {"instructions": len(prog.instructions), "instruction_bits": plan.consts["INSTR_BITS"],
                        "stream_beats": prog.stream.beats, "softmax_banks": list(plan.softmax_banks)},
            "buffers": {"activation_bank_words": prog.bank_words, "residual_words": plan.consts["XB_WORDS"],
                        "accumulator_rows": plan.consts["ACC_ROWS"], "result_words": plan.consts["RES_WORDS"]},
            "config": dict(plan.consts),
        },
        "resources": d.resources,
        "weights": weights,
        "estimate": estimates(d, kept),
        "test_vectors": {"images": len(vectors), "source": vectors.source, "labels": vectors.labels.tolist()},
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------


RTL_ARCHITECTURES = ("auto", "dataflow", "overlay")


def _dataflow_rtl(d: Design, kept: Optional[Sequence[int]]) -> tuple[dict[str, bytes], dict[str, Any]]:
    from ..rtl import generator as rtl_gen

    ir = d.source.ir
    rtl_files, entry, net = rtl_gen.build_rtl(ir, d.board, version=__version__)
    k = list(kept) if kept is not None else cost_model.target_kept(d.cfg)
    units = rtl_gen.unit_cycles(net, ir, k)
    entry["architecture_description"] = entry.pop("architecture")
    entry["architecture"] = "dataflow"
    entry["estimate"] = {"kept_tokens": k, "unit_cycles": units,
                         "busiest_unit_cycles": max((u["cycles"] for u in units), default=0),
                         "sum_unit_cycles": sum(u["cycles"] for u in units)}
    return rtl_files, entry


def rtl_design(d: Design, kept: Optional[Sequence[int]] = None, arch: str = "auto", lanes: Optional[int] = None,
               ports: Optional[int] = None) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The RTL files under ``rtl/`` and the manifest's ``rtl`` entry.  ``arch``: ``dataflow`` (one
    unit per IR op, every weight on chip: :mod:`spvit_fpga.rtl.generator`), ``overlay`` (the layer-
    sequential engine, weights streamed from DDR: :mod:`spvit_fpga.rtl.overlay`) or ``auto``: the
    dataflow design where it can be built for the board, the overlay otherwise (the reason is recorded
    as ``rtl.architecture_reason``).  ``lanes`` / ``ports`` size the overlay (default: from the board)."""
    from ..errors import UserError
    from ..rtl.overlay import build_overlay

    if arch not in RTL_ARCHITECTURES:
        raise UserError(f"--rtl-arch must be one of {', '.join(RTL_ARCHITECTURES)}, got {arch!r}")
    reason = None
    if arch in ("auto", "dataflow") and lanes is None and ports is None:
        try:
            return _dataflow_rtl(d, kept)
        except UserError as exc:
            if arch == "dataflow":
                raise
            reason = f"the dataflow design cannot be built for {d.board.name}: {exc}"
    elif arch == "dataflow":
        raise UserError("--rtl-lanes and --rtl-ports size the overlay engine; the dataflow design takes neither")
    od = build_overlay(d.source.ir, d.board, version=__version__, lanes=lanes, ports=ports, kept=kept)
    if reason:
        od.entry["architecture_reason"] = reason
    return od.files, od.entry


def build_project(d: Design, vectors: TestVectors, command: str, kept: Optional[Sequence[int]] = None,
                  rtl: bool = False, rtl_arch: str = "auto", rtl_lanes: Optional[int] = None,
                  rtl_ports: Optional[int] = None) -> dict[str, bytes]:
    """All files of the project (relative path -> content); with ``rtl`` also the RTL design under
    ``rtl/`` (:func:`rtl_design`), named in the manifest's ``rtl`` key."""
    files = hls_project.hls_files(d.plan, d.board, d.cfg, d.source, vectors, command=command,
                                  estimate=estimates(d, kept), version=__version__)
    rtl_entry = None
    if rtl:
        rtl_files, rtl_entry = rtl_design(d, kept, rtl_arch, rtl_lanes, rtl_ports)
        files.update(rtl_files)
    m = manifest(d, vectors, files, command, kept)
    m["hls"]["drc"] = run_drc(files, d.plan).to_json()
    if rtl_entry is not None:
        m["rtl"] = rtl_entry
    files[MANIFEST] = (json.dumps(m, indent=2) + "\n").encode()
    return files


def write_project(files: dict[str, bytes], out: str | os.PathLike, force: bool = False,
                  then: Optional[Callable[[Path], None]] = None) -> Path:
    """Write ``files`` to ``out`` atomically (temporary sibling directory, then rename).  ``then(tmp)``
    runs on the complete project before the rename (the C-simulation): if it fails or is interrupted,
    no project appears at ``out``."""

    def fill(tmp: Path) -> None:
        for rel, data in sorted(files.items()):
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        if then is not None:
            then(tmp)

    return write_dir_atomically(out, fill, force)
