"""The HLS files of a generated project (relative path -> bytes).

Rendered from the design plan (:mod:`spvit_fpga.hls.plan`) with the templates of
``spvit_fpga/hls/templates`` (:mod:`spvit_fpga.hls.render`): the top function, its configuration
and the layer program (``src/``), the C testbench and the g++ C-simulation driver (``tb/``), the
test vectors as ``.i64`` files (``tb/vectors/``), the kernel library (``hls/``), the host drivers
(``host/``), ``run_hls.tcl``, ``block_design.tcl``, a README and the DDR weight image
``weights.bin``.  Deterministic: no dates, no absolute paths.  The manifest, the design-rule check
and the optional RTL design are added by :mod:`spvit_fpga.builder`.
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
from .plan import HlsPlan

__all__ = ["hls_files", "clock_period_ns", "register_map", "TEMPLATES"]

TEMPLATES = (("spvit_top.h.j2", "src/spvit_top.h"), ("spvit_program.h.j2", "src/spvit_program.h"),
             ("spvit_top.cpp.j2", "src/spvit_top.cpp"), ("spvit_tb.cpp.j2", "tb/spvit_tb.cpp"),
             ("run_hls.tcl.j2", "run_hls.tcl"), ("block_design.tcl.j2", "block_design.tcl"),
             ("spvit_driver.py.j2", "host/spvit_driver.py"), ("spvit_host.c.j2", "host/spvit_host.c"),
             ("spvit_regs.h.j2", "host/spvit_regs.h"), ("README.md.j2", "README.md"))

COSIM_IMAGES = 2
"""Images the opt-in co-simulation runs (``SPVIT_HLS_STEPS="... cosim"``)."""


def clock_period_ns(board: Board) -> str:
    """The board's clock period as the HLS scripts take it (three decimals)."""
    return f"{1000.0 / board.clock_mhz:.3f}"


def register_map(plan: HlsPlan) -> dict[str, int]:
    """AXI-Lite register offsets of the top function (bundle ``control``) as Vitis HLS lays them out
    for ``ap_ctrl_hs`` and 64-bit pointer arguments: 0x00 control, 0x04 GIE, 0x08 IER, 0x0C ISR,
    then per pointer argument its low word, high word and a reserved word (12 bytes).  Not checked
    against a Vitis export here (no vendor tools); the host drivers read it from one place
    (``host/spvit_regs.h``, ``REGS`` in ``host/spvit_driver.py``)."""
    regs = {"CTRL": 0x00, "GIE": 0x04, "IER": 0x08, "ISR": 0x0C}
    for i in range(plan.cfg.ports):
        regs[f"W{i}_LO"] = 0x10 + 12 * i
        regs[f"W{i}_HI"] = 0x14 + 12 * i
    return regs


def _bd_context(board: Board, ports: int) -> dict[str, Any]:
    """Block-design facts of the board's PS: the HP port names (the DMA on the first, the weight
    masters on the first ``ports``, shared with the DMA's port through an interconnect), PS keys."""
    hp = list(board.memory.get("ports") or [])
    wports = hp[:ports]
    if board.family == "zynq_ultrascale_plus":
        def use(p: str) -> str:  # S_AXI_HP<i>_FPD is the PS's S_AXI_GP<i+2>
            return f"PSU__USE__S_AXI_GP{int(p[len('S_AXI_HP')]) + 2}"
        cfg = [("PSU__USE__M_AXI_GP0", "1"), ("PSU__FPGA_PL0_ENABLE", "1"), ("PSU__USE__IRQ0", "1"),
               ("PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ", f"{board.clock_mhz:g}")]
        cfg += [(use(p), "1") for p in sorted(set(wports + hp[:1]))]
        return {"kind": "zynq_mp", "ps_ip": board.ps_ip or "zynq_ultra_ps_e", "ps_automation": '{apply_board_preset "1"}',
                "ps_config": sorted(set(cfg)), "master_port": "M_AXI_HPM0_FPD", "data_port": hp[0], "weight_ports": wports,
                "clk_pin": "pl_clk0", "irq_pin": "pl_ps_irq0"}
    if board.family == "zynq7000":
        cfg = [("PCW_USE_M_AXI_GP0", "1"), ("PCW_USE_FABRIC_INTERRUPT", "1"), ("PCW_IRQ_F2P_INTR", "1"),
               ("PCW_FPGA0_PERIPHERAL_FREQMHZ", f"{board.clock_mhz:g}")]
        cfg += [(f"PCW_USE_{p}", "1") for p in sorted(set(wports + hp[:1]))]
        return {"kind": "zynq7", "ps_ip": board.ps_ip or "processing_system7",
                "ps_automation": '{make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"}',
                "ps_config": sorted(set(cfg)), "master_port": "M_AXI_GP0", "data_port": hp[0], "weight_ports": wports,
                "clk_pin": "FCLK_CLK0", "irq_pin": "IRQ_F2P"}
    return {"kind": "none", "weight_ports": wports}


def _sources_hash(files: dict[str, bytes], names: Sequence[str]) -> str:
    h = hashlib.sha256()
    for n in names:
        h.update(n.encode() + b"\0" + files[n] + b"\0")
    return h.hexdigest()


def hls_files(plan: HlsPlan, board: Board, cfg: ModelConfig, source: ModelSource, vectors: TestVectors, *,
              command: str, estimate: dict[str, Any], version: str) -> dict[str, bytes]:
    """Every HLS file of the project; ``estimate`` is the manifest's estimate entry (the README
    quotes it), ``command`` the recorded command line."""
    ir = source.ir
    ctx = dict(plan=plan, c=plan.consts, board=board, model_name=cfg.name, version=version, cfg=cfg, source=source,
               clock_period_ns=clock_period_ns(board), clock_mhz=f"{board.clock_mhz:g}", command=command,
               n_ops=sum(1 for _ in ir.ops()), logits_frac=ir.logits_frac, estimate=estimate, n_vectors=len(vectors),
               vector_source=vectors.source, bd=_bd_context(board, plan.cfg.ports), regs=register_map(plan),
               cosim_images=min(COSIM_IMAGES, len(vectors)), engine=plan.cfg, dsp=plan.dsp())
    files: dict[str, bytes] = {}
    for template, path in TEMPLATES:
        files[path] = render.render(template, **ctx).encode()
    for name, data in render.static_files().items():
        files[f"src/{name}"] = data
    for name, data in render.kernel_library_files().items():
        files[f"hls/{name}"] = data
    files["tb/csim_main.cpp"] = render.render(
        "csim_main.cpp.j2", version=version,
        sources=_sources_hash(files, ["src/spvit_top.cpp", "src/spvit_program.h", "src/spvit_top.h",
                                      "tb/spvit_tb.cpp"])).encode()
    for name, arr in vector_arrays(vectors).items():
        files[f"tb/vectors/{name}.i64"] = np.ascontiguousarray(arr.astype("<i8").reshape(-1)).tobytes()
    files["weights.bin"] = plan.image
    return files
