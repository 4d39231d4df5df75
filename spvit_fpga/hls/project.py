"""The HLS files of a generated project (relative path -> bytes).

Rendered from the design plan (:mod:`spvit_fpga.hls.plan`) with the templates of
``spvit_fpga/hls/templates`` (:mod:`spvit_fpga.hls.render`): the top function and its headers
(``src/``), the C testbench and the g++ C-simulation driver (``tb/``), the test vectors as ``.i64``
files (``tb/vectors/``), the kernel library (``hls/``), ``run_hls.tcl``, ``block_design.tcl``, a
README and, for weights in DDR, ``weights.bin``.  Deterministic: no dates, no absolute paths.  The
manifest and the optional RTL design are added by :mod:`spvit_fpga.builder`.
"""
from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np

from ..hw.boards import Board
from ..hw.source import ModelSource
from ..hw.vectors import TestVectors, vector_arrays
from ..nn.config import ModelConfig
from . import render
from .plan import DesignPlan

__all__ = ["hls_files", "clock_period_ns"]

TEMPLATES = (("spvit_top.h.j2", "src/spvit_top.h"), ("spvit_params.h.j2", "src/spvit_params.h"),
             ("spvit_top.cpp.j2", "src/spvit_top.cpp"), ("spvit_tb.cpp.j2", "tb/spvit_tb.cpp"),
             ("run_hls.tcl.j2", "run_hls.tcl"), ("block_design.tcl.j2", "block_design.tcl"),
             ("README.md.j2", "README.md"))


def clock_period_ns(board: Board) -> str:
    """The board's clock period as the HLS scripts take it (three decimals)."""
    return f"{1000.0 / board.clock_mhz:.3f}"


def _bd_context(board: Board, weights_in_ddr: bool) -> dict[str, Any]:
    """Block-design facts of the board's PS (port names and PS configuration keys)."""
    ports = list(board.memory.get("ports") or [])
    if board.family == "zynq_ultrascale_plus":
        def use(p: str) -> str:  # S_AXI_HP<i>_FPD is the PS's S_AXI_GP<i+2>
            return f"PSU__USE__S_AXI_GP{int(p[len('S_AXI_HP')]) + 2}"
        data, wport = ports[0], ports[1] if len(ports) > 1 else ports[0]
        cfg = [("PSU__USE__M_AXI_GP0", "1"), (use(data), "1"), ("PSU__FPGA_PL0_ENABLE", "1"),
               ("PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ", f"{board.clock_mhz:g}")]
        if weights_in_ddr:
            cfg.append((use(wport), "1"))
        return {"kind": "zynq_mp", "ps_ip": board.ps_ip or "zynq_ultra_ps_e", "ps_automation": '{apply_board_preset "1"}',
                "ps_config": sorted(set(cfg)), "master_port": "M_AXI_HPM0_FPD", "data_port": data, "weight_port": wport,
                "clk_pin": "pl_clk0"}
    if board.family == "zynq7000":
        data, wport = ports[0], ports[1] if len(ports) > 1 else ports[0]
        cfg = [("PCW_USE_M_AXI_GP0", "1"), (f"PCW_USE_{data}", "1"), ("PCW_FPGA0_PERIPHERAL_FREQMHZ", f"{board.clock_mhz:g}")]
        if weights_in_ddr:
            cfg.append((f"PCW_USE_{wport}", "1"))
        return {"kind": "zynq7", "ps_ip": board.ps_ip or "processing_system7",
                "ps_automation": '{make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"}',
                "ps_config": sorted(set(cfg)), "master_port": "M_AXI_GP0", "data_port": data, "weight_port": wport,
                "clk_pin": "FCLK_CLK0"}
    return {"kind": "none"}


def _sources_hash(files: dict[str, bytes], names: Sequence[str]) -> str:
    h = hashlib.sha256()
    for n in names:
        h.update(n.encode() + b"\0" + files[n] + b"\0")
    return h.hexdigest()


def hls_files(plan: DesignPlan, board: Board, cfg: ModelConfig, source: ModelSource, vectors: TestVectors, *,
              command: str, estimate: dict[str, Any], version: str) -> dict[str, bytes]:
    """Every HLS file of the project; ``estimate`` is the manifest's estimate entry (the README
    quotes it), ``command`` the recorded command line."""
    ir = source.ir
    ctx = dict(plan=plan, board=board, model_name=cfg.name, version=version, cfg=cfg, source=source,
               clock_period_ns=clock_period_ns(board), clock_mhz=f"{board.clock_mhz:g}", command=command,
               n_ops=sum(1 for _ in ir.ops()), logits_frac=ir.logits_frac, estimate=estimate, n_vectors=len(vectors),
               vector_source=vectors.source, bd=_bd_context(board, plan.weights_in_ddr))
    files: dict[str, bytes] = {}
    for template, path in TEMPLATES:
        files[path] = render.render(template, **ctx).encode()
    for name, data in render.static_files().items():
        files[f"src/{name}"] = data
    for name, data in render.kernel_library_files().items():
        files[f"hls/{name}"] = data
    files["tb/csim_main.cpp"] = render.render(
        "csim_main.cpp.j2", version=version,
        sources=_sources_hash(files, ["src/spvit_top.cpp", "tb/spvit_tb.cpp"])).encode()
    for name, arr in vector_arrays(vectors).items():
        files[f"tb/vectors/{name}.i64"] = np.ascontiguousarray(arr.astype("<i8").reshape(-1)).tobytes()
    if plan.weights_in_ddr and plan.weight_image is not None:
        files["weights.bin"] = plan.weight_image.to_bytes()
    return files
