"""The overlay RTL design of a model: the layer-sequential engine (``docs/overlay.md``).

:func:`build_overlay` compiles the IR into the engine's layer program and param stream
(:mod:`spvit_fpga.hw.overlay`), renders the engine top (``templates/spvit_overlay.sv.j2``) and its
simulation harness (``templates/spvit_overlay_sim.sv.j2``, with the DDR model), copies the library
modules it uses, and writes ``mem/program.hex`` and the DDR image ``weights.bin``.  Every size comes
from the board file and the model; the manifest entry records them with the cost model's cycles.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ..errors import UserError
from ..hw.overlay.arch import OverlayConfig, choose_overlay, dsp_estimate
from ..hw.overlay.cycles import counts_for_kept, program_cycles
from ..hw.overlay.program import (Gemm, LayerNorm, Program, Select, Softmax, compile_program, encode_program,
                                  field_layout, INSTR_BITS)
from ..ir.graph import IR
from .._resources import rtl_library_dir, template_environment
from .library import library_order

__all__ = ["OVERLAY_TOP", "DDR_BASE", "build_overlay", "overlay_resources"]

OVERLAY_TOP = "spvit_overlay"
DDR_BASE = 0x1000_0000
"""Byte address of ``weights.bin`` in the simulated DDR (any 4 KiB-aligned address works)."""
PIX_BYTES = 16
CNT_W = 12
UNITS = ("spvit_ov_axil", "spvit_ov_ctrl", "spvit_ov_fetch", "spvit_ov_ram", "spvit_ov_loadxb", "spvit_ov_pixels",
         "spvit_ov_gemm", "spvit_ov_layernorm", "spvit_ov_softmax", "spvit_ov_selector", "spvit_ov_results")
SIM_UNITS = ("spvit_ov_ddr_model",)


def _clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(max(2, n))))


def _ratio(x: float) -> tuple[int, int]:
    den = 1000
    num = int(round(x * den))
    g = math.gcd(num, den)
    return num // g, den // g


def _layernorm_params(prog: Program, L: int) -> dict[str, int]:
    lns = [i for i in prog.instructions if isinstance(i, LayerNorm)]
    ms = {i.params.mant_bits for i in lns}
    tws = {i.params.table_bits for i in lns}
    if len(ms) != 1 or len(tws) != 1:
        raise UserError("the overlay's LayerNorm unit needs one rsqrt mantissa width and table width for the "
                        f"whole model, found mantissa bits {sorted(ms)} and table bits {sorted(tws)}")
    m = ms.pop()
    sh = []
    for i in lns:
        p = i.params
        kmin = math.ceil((1 - m) / 2)
        kmax = math.ceil((p.var_bits - m) / 2)
        sh += [p.rsqrt_shift + kmin - p.norm_fmt.frac, p.rsqrt_shift + kmax - p.norm_fmt.frac]
    return {"p_max": max(i.channels // L for i in lns), "sum_w": max(i.params.sum_bits for i in lns),
            "dev_w": max(i.params.dev_bits for i in lns), "var_w": max(i.params.var_bits for i in lns),
            "m": m, "t_w": tws.pop(), "norm_w": max(i.params.norm_fmt.bits for i in lns),
            "sh_min": min(sh), "sh_max": max(sh), "osh_min": min(i.out_shift for i in lns),
            "osh_max": max(i.out_shift for i in lns)}


def _selector_params(prog: Program) -> dict[str, int]:
    from ..hw.overlay.program import HeadMean, TokenMean

    ups = [i.out_fmt.frac - i.in_frac for i in prog.instructions if isinstance(i, (HeadMean, TokenMean))]
    sels = [i for i in prog.instructions if isinstance(i, Select)]
    ups += [i.p_fmt.frac - i.sig_fmt.frac for i in sels]
    d_bits = {i.delta_fmt.bits for i in sels}
    if len(d_bits) > 1:
        raise UserError(f"the overlay's selector unit needs one delta width, found {sorted(d_bits)}")
    up_max = max([u for u in ups if u > 0], default=0)
    dn_max = max([-u for u in ups if u < 0], default=0)
    z_w = max([i.score_bits + 1 for i in sels] + [17])  # + 1: the clamped tau may be z_max + 1
    return {"up_max": up_max, "dn_max": dn_max, "up_w": _clog2(max(up_max, dn_max) + 1) + 1, "z_w": z_w,
            "d_bits": d_bits.pop() if d_bits else 8}


def overlay_resources(prog: Program) -> dict[str, Any]:
    """DSP slices and block RAM (18 Kib) of the engine, counted from its buffers and units."""
    cfg, L = prog.cfg, prog.cfg.lanes

    def bram18(words: int, bits: int) -> int:
        # 512 x 36 or 1024 x 18 ... tiles: width-bound columns times depth-bound rows
        if words <= 0:
            return 0
        if words * bits <= 64 * 64:  # small: distributed RAM
            return 0
        cols = math.ceil(bits / 36) if words > 1024 else math.ceil(bits / 18) if words > 512 else math.ceil(bits / 36)
        depth = 512 if words <= 512 else 1024 if bits <= 18 else 512
        return cols * math.ceil(words / depth)

    banks = [bram18(w, L * 8) for w in prog.bank_words]
    xb = bram18(prog.xb_rows * prog.embed_dim // L, L * prog.x_fmt.bits)
    rows = max(i.rows.max({"T": prog.t_max, "N": prog.n_max}) for i in prog.instructions if isinstance(i, Gemm))
    acc = bram18(rows, L * 32)
    fifo = cfg.ports * bram18(cfg.fifo_beats, cfg.port_bits)
    dsp = dsp_estimate(L, cfg.pack)
    total = sum(banks) + xb + acc + fifo
    return {"dsp": dsp, "bram18": {"activation_banks": banks, "residual": xb, "accumulator": acc,
                                   "port_fifos": fifo, "total": total}}


@dataclass
class OverlayDesign:
    files: dict[str, bytes]
    entry: dict[str, Any]
    program: Program


TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def render(template: str, **context: Any) -> str:
    return template_environment(TEMPLATE_DIR).get_template(template).render(**context)


def build_overlay(ir: IR, board, *, version: str, render_fn: Callable[..., str] = render, lanes: Optional[int] = None,
                  ports: Optional[int] = None, kept: Optional[Sequence[int]] = None) -> OverlayDesign:
    """All files of the overlay design under ``rtl/`` and the manifest's ``rtl`` entry."""
    m = ir.model
    head_dim = int(m["embed_dim"]) // int(m["num_heads"])
    cfg: OverlayConfig = choose_overlay(board, head_dim, lanes=lanes, ports=ports)
    prog = compile_program(ir, cfg)
    L = cfg.lanes
    res = overlay_resources(prog)
    if res["dsp"]["total"] > board.resources["dsp"] or res["bram18"]["total"] > board.resources["bram18"]:
        raise UserError(f"the overlay engine for {m['name']} needs {res['dsp']['total']} DSP and "
                        f"{res['bram18']['total']} BRAM18; {board.name} has {board.resources['dsp']} and "
                        f"{board.resources['bram18']}")
    words = encode_program(prog)
    hexw = -(-INSTR_BITS // 4)
    program_hex = "".join(f"{w:0{hexw}x}\n" for w in words)
    image = prog.stream.ddr_image(cfg.ports)
    F = {name: (lsb, bits) for name, lsb, bits, _ in field_layout()}
    gemms = [i for i in prog.instructions if isinstance(i, Gemm)]
    maxima = {"T": prog.t_max, "N": prog.n_max}
    gemm_rows = max(i.rows.max(maxima) for i in gemms)
    am_aw = _clog2(max(prog.bank_words))
    xb_words = prog.xb_rows * prog.embed_dim // L
    xb_aw = _clog2(xb_words)
    rs_words = -(-ir.num_classes // L)
    rs_aw = _clog2(rs_words)
    sms = [i for i in prog.instructions if isinstance(i, Softmax)]
    budget_num, budget_den = _ratio(cfg.ddr_bytes_per_cycle)
    c, h, w = ir.input_shape
    ctx = dict(
        top=OVERLAY_TOP, model_name=m["name"], board=board, clock_mhz=f"{board.clock_mhz:g}", version=version,
        L=L, pack=cfg.pack, pack_shift=cfg.pack_shift, sb=cfg.stream_bytes, ports=cfg.ports, port_bytes=cfg.port_bytes,
        port_bits=cfg.port_bits, max_burst=cfg.max_burst, outstanding=cfg.outstanding, fifo_beats=cfg.fifo_beats,
        x_w=prog.x_fmt.bits, iw=INSTR_BITS, am_aw=am_aw, xb_aw=xb_aw, rs_aw=rs_aw, cnt_w=CNT_W,
        stages=prog.stages, stages_w=max(1, prog.stages), n_instr=len(words), pc_w=_clog2(len(words)),
        n_patch=prog.n_max, t_max=prog.t_max, F=F, region_bytes=prog.stream.region_bytes(cfg.ports),
        stream_beats=prog.stream.beats, bank_words=[max(1, b) for b in prog.bank_words], xb_words=xb_words,
        rs_words=rs_words, in_chans=c, img_h=h, img_w=w, patch=ir.patch_embed.patch_size, pix_bytes=PIX_BYTES,
        acc_w=max(prog.acc_bits, 2), gemm_rows=gemm_rows, tbl_bits=8, gemm_da_w=max(am_aw, xb_aw, rs_aw),
        ln=_layernorm_params(prog, L), sm_lanes=cfg.sm_lanes, exp_depth=max(i.table_entries for i in sms) if sms else 256,
        pf_max=max(i.prob_fmt.frac for i in sms) if sms else 8, sel=_selector_params(prog),
        heads=int(m["num_heads"]), head_dim=head_dim, dpl=prog.embed_dim // L, num_classes=ir.num_classes,
        logits_frac=ir.logits_frac, ddr_base=DDR_BASE, ddr_mem_bytes=len(image), ddr_latency=cfg.ddr_latency,
        budget_num=budget_num, budget_den=budget_den, ddr_bytes_per_cycle=cfg.ddr_bytes_per_cycle,
        ddr_note=f"{board.memory.get('peak_gbytes_per_s')} GB/s peak x 0.8 at {board.clock_mhz:g} MHz",
    )
    ln, sel = ctx["ln"], ctx["sel"]
    units: dict[str, tuple[str, dict[str, int]]] = {
        "u_axil": ("spvit_ov_axil", {"ADDR_W": 40, "AXIL_AW": 6}),
        "u_ctrl": ("spvit_ov_ctrl", {"IW": INSTR_BITS, "PROG_LEN": len(words), "L": L, "CNT_W": CNT_W,
                                     "N_PATCH": prog.n_max, "STAGES": max(1, prog.stages), "NUNITS": 11,
                                     "STAGE_LSB": F["stage"][0], "PC_W": ctx["pc_w"]}),
        "u_fetch": ("spvit_ov_fetch", {"NP": cfg.ports, "PB": cfg.port_bytes, "ADDR_W": 40, "BEATS_W": 32,
                                       "MAX_BURST": cfg.max_burst, "OUTSTANDING": cfg.outstanding,
                                       "FIFO_BEATS": cfg.fifo_beats, "ID_W": 1}),
        **{f"u_am{b}": ("spvit_ov_ram", {"LANES": L, "LANE_W": 8, "DEPTH": ctx["bank_words"][b], "AW": am_aw})
           for b in range(3)},
        "u_xb": ("spvit_ov_ram", {"LANES": L, "LANE_W": ctx["x_w"], "DEPTH": xb_words, "AW": xb_aw}),
        "u_res": ("spvit_ov_ram", {"LANES": L, "LANE_W": 32, "DEPTH": rs_words, "AW": rs_aw}),
        "u_loadxb": ("spvit_ov_loadxb", {"L": L, "X_W": ctx["x_w"], "SB": cfg.stream_bytes, "XAW": xb_aw,
                                         "CNT_W": CNT_W + 8}),
        "u_pixels": ("spvit_ov_pixels", {"L": L, "C": c, "IMG_H": h, "IMG_W": w, "P": ctx["patch"],
                                         "PIX_BYTES": PIX_BYTES, "AW": am_aw}),
        "u_gemm": ("spvit_ov_gemm", {"L": L, "PACK": cfg.pack, "PACK_SHIFT": cfg.pack_shift, "SB": cfg.stream_bytes,
                                     "ACC_W": ctx["acc_w"], "X_W": ctx["x_w"], "T_MAX": gemm_rows, "AM_AW": am_aw,
                                     "XB_AW": xb_aw, "RS_AW": rs_aw, "CNT_W": CNT_W, "TBL_BITS": 8}),
        "u_ln": ("spvit_ov_layernorm", {"L": L, "X_W": ctx["x_w"], "SB": cfg.stream_bytes, "P_MAX": ln["p_max"],
                                        "SUM_W": ln["sum_w"], "DEV_W": ln["dev_w"], "VAR_W": ln["var_w"], "M": ln["m"],
                                        "T_W": ln["t_w"], "NORM_W": ln["norm_w"], "SH_MIN": ln["sh_min"],
                                        "SH_MAX": ln["sh_max"], "OSH_MIN": ln["osh_min"], "OSH_MAX": ln["osh_max"],
                                        "ROW_W": CNT_W, "H_W": 5, "XB_AW": xb_aw, "AM_AW": am_aw}),
        "u_sm": ("spvit_ov_softmax", {"L": L, "SB": cfg.stream_bytes, "SM": cfg.sm_lanes, "T_MAX": prog.t_max,
                                      "EXP_DEPTH": ctx["exp_depth"], "PF_MAX": ctx["pf_max"], "ROW_W": CNT_W,
                                      "AM_AW": am_aw}),
        "u_sel": ("spvit_ov_selector", {"L": L, "X_W": ctx["x_w"], "SB": cfg.stream_bytes, "N_MAX": prog.n_max,
                                        "T_MAX": prog.t_max, "H_MAX": ctx["heads"], "DH_MAX": head_dim,
                                        "DPL_MAX": ctx["dpl"], "Z_W": sel["z_w"], "UP_MAX": sel["up_max"],
                                        "DN_MAX": sel["dn_max"], "XB_AW": xb_aw, "AM_AW": am_aw, "DIV_STEPS": 2}),
        "u_results": ("spvit_ov_results", {"L": L, "NC": ir.num_classes, "LOGIT_W": 32, "S": prog.stages,
                                           "CNT_W": CNT_W, "RA_W": rs_aw}),
    }
    ctx["P"] = {inst: ", ".join(f".{k}({v})" for k, v in params.items()) for inst, (_, params) in units.items()}
    modules = library_order(list(UNITS))
    sim_modules = [s for s in library_order(list(UNITS) + list(SIM_UNITS)) if s not in modules]
    lib = rtl_library_dir()
    files: dict[str, bytes] = {}
    for mod in modules + sim_modules:
        files[f"rtl/lib/{mod}.sv"] = (lib / f"{mod}.sv").read_bytes()
    files[f"rtl/{OVERLAY_TOP}.sv"] = render_fn("spvit_overlay.sv.j2", **ctx).encode()
    files[f"rtl/sim/{OVERLAY_TOP}_sim.sv"] = render_fn("spvit_overlay_sim.sv.j2", **ctx).encode()
    files["rtl/mem/program.hex"] = program_hex.encode()
    files["rtl/weights.bin"] = image
    files["rtl/filelist.f"] = ("".join(f"lib/{x}.sv\n" for x in modules) + f"{OVERLAY_TOP}.sv\n").encode()
    files["rtl/filelist_sim.f"] = ("".join(f"lib/{x}.sv\n" for x in modules + sim_modules)
                                   + f"{OVERLAY_TOP}.sv\nsim/{OVERLAY_TOP}_sim.sv\n").encode()
    target = list(kept) if kept is not None else [int(s.topk) for s in ir.selectors]
    cyc = program_cycles(prog, counts_for_kept(prog, target))
    total = sum(s.cycles for s in cyc)
    entry = {
        "architecture": "overlay",
        "top": f"rtl/{OVERLAY_TOP}.sv",
        "module": OVERLAY_TOP,
        "sim_module": f"{OVERLAY_TOP}_sim",
        "filelist": "rtl/filelist.f",
        "sim_filelist": "rtl/filelist_sim.f",
        "filelist_base": "rtl",
        "mem_dir": "rtl/mem",
        "weights": "rtl/weights.bin",
        "ddr_base": DDR_BASE,
        "engine": cfg.to_dict(),
        "program": {"instructions": len(words), "instruction_bits": INSTR_BITS,
                    "ops": dict(sorted(Counter(i.op for i in prog.instructions).items())),
                    "stream_beats": prog.stream.beats, "weight_image_bytes": len(image),
                    "region_bytes": prog.stream.region_bytes(cfg.ports)},
        "units": {inst: {"module": mod, "parameters": params} for inst, (mod, params) in units.items()},
        "buffers": {"activation_bank_words": prog.bank_words, "residual_words": xb_words, "result_words": rs_words,
                    "accumulator_rows": gemm_rows, "tensors": {t.name: [t.bank, t.base, t.rows, t.stride]
                                                                 for t in prog.tensors.values()}},
        "resources": res,
        "estimate": {"kept_tokens": target, "cycles": total, "ms": round(total / (board.clock_mhz * 1e3), 6),
                     "clock_mhz": board.clock_mhz,
                     "per_layer": [{"name": s.name, "op": s.op, "cycles": s.cycles} for s in cyc]},
        "interfaces": {
            "control": "s_axi_control (AXI4-Lite, ap_ctrl_hs at 0x00, weights base 0x10/0x14, status 0x18, cycles 0x1C), interrupt",
            "weights": f"m_axi_gmem0..{cfg.ports - 1} (AXI4 read, {cfg.port_bits}-bit, weights.bin regions of "
                       f"{prog.stream.region_bytes(cfg.ports)} bytes)",
            "pixels": f"s_axis_pixels: {PIX_BYTES} pixels a beat, {c * h * w} per image",
            "results": f"m_axis_results: 32-bit words, {ir.num_classes} logits + {prog.stages} kept counts",
        },
    }
    return OverlayDesign(files, entry, prog)
