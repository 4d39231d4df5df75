"""HLS backend: ``python -m spvit_fpga.generate`` and bit-exact g++ C-simulation of whole designs.

End to end on the embedded default model (20 real digits test images, logits and kept tokens per
stage equal to the golden reference), the selector edge cases (everything / nothing pruned, top-k
rule, wide biases, no selector) through the whole design, a DeiT-Tiny encoder block with a token
selector (random weights, weights streamed from a DDR image) and DeiT-Tiny's first four blocks
through the CLI, the model sources (QAT checkpoint, IR directory, float checkpoint), determinism,
the TCL scripts (parsed and run by tclsh with stub vendor commands, checked for the board's part
and clock) and the CLI's one-line errors.  A missing g++ or tclsh makes these tests fail (never skip).
"""
from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from spvit_fpga import generate
from spvit_fpga.builder.design import design_for
from spvit_fpga.builder.project import build_project, write_project
from spvit_fpga.errors import UserError
from spvit_fpga.hls.csim import compile_project, run_csim
from spvit_fpga.hls import estimate as hls_estimate
from spvit_fpga.hw import cost_model
from spvit_fpga.hw import source as models
from spvit_fpga.hw.boards import board_names, load_board
from spvit_fpga.hw.vectors import ARRAY_SUFFIX, make_vectors, read_array, write_array
from spvit_fpga.nn.config import model_config

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="module")
def _threads():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@functools.lru_cache(maxsize=None)
def default_source() -> models.ModelSource:
    return models.default_model_ir()


@functools.lru_cache(maxsize=None)
def digits_images(n: int):
    from spvit_fpga.nn.data import load_dataset

    test = load_dataset("digits").test
    return test.images[:n], test.labels[:n].tolist()


def generate_api(tmp: Path, source: models.ModelSource, board: str = "zcu102", images=None, labels=None,
                 weights: str = "auto", lanes=None, ports=None) -> Path:
    """Render and write a project through the Python API (no CLI, no csim)."""
    design = design_for(source, load_board(board), weights, lanes=lanes, ports=ports)
    if images is None:
        images, labels = digits_images(3)
    vectors = make_vectors(source.ir, images, labels, "test")
    return write_project(build_project(design, vectors, "test"), tmp, force=True)


# --------------------------------------------------------------------------------------------
# end to end: the acceptance command on the embedded default model
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def micro_project(tmp_path_factory) -> tuple[Path, str, float]:
    out = tmp_path_factory.mktemp("gen") / "micro_zcu102"
    t0 = time.monotonic()
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        code = generate.main(["--board", "zcu102", "--out", str(out), "--csim", "--images", "20", "--quiet"])
    assert code == 0, buf.getvalue()
    return out, buf.getvalue(), time.monotonic() - t0


def test_default_model_csim_20_digits_images_bit_exact(micro_project):
    out, stdout, seconds = micro_project
    assert "20/20 bit-exact" in stdout.splitlines()[-1]
    res = json.loads((out / "csim.json").read_text())
    assert res["images"] == 20 and res["bit_exact"] == 20 and res["all_bit_exact"]
    assert len(res["per_image"]) == 20
    for r in res["per_image"]:
        assert r["logits_equal"] and r["kept_equal"] and r["prediction"] == r["reference_prediction"]
        assert r["kept"] == r["expected_kept"]
        assert r["estimated_latency_ms"]["hls"] > 0 and r["estimated_latency_ms"]["rtl_engine"] > 0
    # real digits test images with their labels, and tokens really pruned at every stage
    labels = [r["label"] for r in res["per_image"]]
    assert labels == digits_images(20)[1]
    n = default_source().ir.patch_embed.grid ** 2
    kept = np.array([r["kept"] for r in res["per_image"]])
    assert kept.shape == (20, len(default_source().ir.selectors)) and (kept <= n).all()
    assert (kept.mean(axis=0) < n).all()  # every stage prunes
    print(f"micro C-sim: {res['summary']}, compile {res['compile_seconds']} s, run {res['run_seconds']} s, total {seconds:.1f} s")


def test_project_layout_manifest_and_interfaces(micro_project):
    out, _stdout, _ = micro_project
    for rel in ("README.md", "manifest.json", "run_hls.tcl", "block_design.tcl", "weights.bin", "src/spvit_top.cpp",
                "src/spvit_top.h", "src/spvit_program.h", "src/spvit_axis.h", "tb/spvit_tb.cpp", "tb/csim_main.cpp",
                "tb/vectors/images.i64", "tb/vectors/expected_logits.i64", "tb/vectors/expected_kept.i64",
                "hls/spvit_ov_gemm.h", "hls/spvit_ov_select.h", "host/spvit_driver.py", "host/spvit_host.c",
                "host/spvit_regs.h"):
        assert (out / rel).is_file(), rel
    m = json.loads((out / "manifest.json").read_text())
    board = load_board("zcu102")
    assert m["board"]["part"] == board.part == "xczu9eg-ffvb1156-2-e"
    assert m["board"]["clock_mhz"] == 300
    assert m["model"]["config"] == default_source().ir.model and m["model"]["dataset"] == "digits"
    assert m["generator"]["command"].startswith("python -m spvit_fpga.generate --board zcu102")
    # the overlay engine, the same one the RTL overlay runs: sizes from the board, the program's words
    from spvit_fpga.hw.overlay.arch import choose_overlay
    from spvit_fpga.hw.overlay.program import compile_program, encode_program

    ir = default_source().ir
    eng = choose_overlay(board, ir.model["embed_dim"] // ir.model["num_heads"])
    assert m["hls"]["architecture"] == "overlay" and m["hls"]["engine"]["lanes"] == eng.lanes
    assert m["hls"]["engine"]["ports"] == 4 and m["hls"]["engine"]["port_bytes"] == 16
    prog = compile_program(ir, eng)
    assert (out / "weights.bin").read_bytes() == prog.stream.ddr_image(eng.ports)
    assert m["weights"]["ddr_bytes"] == (out / "weights.bin").stat().st_size and m["weights"]["ports"] == 4
    rom = (out / "src" / "spvit_program.h").read_text()
    for word in encode_program(prog)[:5]:  # the ROM holds the encoded words, 64 bits a chunk
        assert f"0x{word & (2**64 - 1):016x}ULL" in rom
    dsp = m["resources"]["dsp"]
    assert dsp["array"] == eng.lanes ** 2 // 2 and dsp["total"] <= board.resources["dsp"]
    est = m["estimate"]
    assert est["target_kept"] == [s.topk for s in ir.selectors]
    h = est["kernels"]
    assert sum(x["cycles"] for x in h["layers"]) == h["total_cycles"]
    assert h["latency_ms"] == pytest.approx(h["total_cycles"] / 300e3)
    assert "pipeline depths of each loop (DEPTH)" in est["assumptions"]["assumed_not_calibrated"]
    table = {r["schedule"]: r for r in est["latency_table"]}
    assert table["target"]["hls_ms"] < table["keep all"]["hls_ms"]  # pruning shortens the layers
    assert table["target"]["rtl_engine_ms"] < table["keep all"]["rtl_engine_ms"]
    top = (out / "src" / "spvit_top.cpp").read_text()
    for pragma in ("interface axis port = pixels", "interface axis port = results", "s_axilite port = return",
                   "#pragma HLS dataflow"):
        assert pragma in top
    for i in range(4):
        assert f"m_axi port = w{i} bundle = gmem{i}" in top and f"const wport_t* w{i}" in top
    assert top.count("max_read_burst_length = 256") == 8 and "num_read_outstanding = 4" in top
    assert "typedef ap_uint<128> wport_t;" in (out / "src" / "spvit_top.h").read_text()
    assert m["files"]["src/spvit_top.cpp"]  # every file hashed


def test_engine_is_cxx11_and_warning_clean(micro_project):
    """The whole engine (every unit instantiated by the generated top and testbench) passes C++11
    semantic checks (Vivado HLS 2020.x front ends) with -Wall -Wextra, no warning from hls/ or src/."""
    from spvit_fpga.hls import gxx

    out = micro_project[0]
    flags = ["-Wall", "-Wextra", "-Wno-unknown-pragmas", "-Wno-unused-label", "-DSPVIT_AXIS_SHIM",
             "-iquote", str(out / "src"), "-iquote", str(out / "hls"), "-iquote", str(out / "tb")]
    log = gxx.check_syntax(out / "tb" / "csim_main.cpp", include_dirs=[out / "src", out / "hls", out / "tb"],
                           std="c++11", extra_flags=flags)
    ours = [ln for ln in log.splitlines() if "warning" in ln and ("/hls/" in ln or "/src/" in ln)]
    assert not ours, "\n".join(ours)


def test_loop_trip_counts_match_the_cycle_model(micro_project):
    """Every pipelined loop counts its iterations in the C-simulation (tb writes them per image and
    instruction); the HLS cycle model's trip counts (spvit_fpga/hls/estimate.py) must be equal,
    for the run-time counts each image really had (the functional model's steps)."""
    _check_trips(micro_project[0], default_source(), images=3)


def test_csim_comparison_catches_a_difference(micro_project, tmp_path):
    """The comparison is not vacuous: corrupt one expected logit and one kept count."""
    out, _stdout, _ = micro_project
    copy = tmp_path / "p"
    shutil.copytree(out, copy)
    vec = copy / "tb" / "vectors"
    logits = read_array(vec, "expected_logits")
    logits[3] += 1
    write_array(vec, "expected_logits", logits)
    kept = read_array(vec, "expected_kept")
    kept[-1] += 1
    write_array(vec, "expected_kept", kept)
    res = run_csim(copy, binary=compile_project(out))  # the binary takes the project directory as argument
    assert res.images == 20 and res.bit_exact == 18
    bad = [r for r in res.per_image if not r["bit_exact"]]
    assert not bad[0]["logits_equal"] and not bad[1]["kept_equal"]


def test_csim_unbalanced_stream_is_not_bit_exact(micro_project, tmp_path):
    """An image whose run made an hls::stream warn (a consumer reading more or fewer words than its
    producer wrote: a hang in the synthesised dataflow region) is not bit-exact, even with equal
    outputs.  A stand-in binary replays the real run's outputs and adds the ap_types warnings."""
    out, _stdout, _ = micro_project
    leftover = "WARNING: Hls::stream 'param_stream' contains leftover data, which may result in RTL simulation hanging."
    empty = "WARNING: Hls::stream 'fifo' is read while empty, which may result in RTL simulation hanging."
    lines = []
    for i in range(20):
        lines += [leftover] if i == 2 else []
        lines.append(f"spvit_tb: image {i + 1}/20 bit-exact")
    lines += [empty, "spvit_tb: 20/20 bit-exact"]
    fake = tmp_path / "fake_csim"
    fake.write_text("#!/bin/sh\n"
                    f"cp {out / 'csim_out'}/*{ARRAY_SUFFIX} \"$2\"/\n"
                    f"printf '%s\\n' {' '.join(shlex.quote(x) for x in lines)}\n")
    fake.chmod(0o755)
    copy = tmp_path / "p"
    shutil.copytree(out, copy)
    res = run_csim(copy, binary=fake)
    assert res.images == 20 and res.bit_exact == 18
    bad = [r for r in res.per_image if not r["bit_exact"]]
    assert [r["index"] for r in bad] == [2, 19]
    assert bad[0]["logits_equal"] and bad[0]["kept_equal"] and bad[0]["stream_warnings"] == [leftover]
    assert bad[1]["stream_warnings"] == [empty]
    assert all(r["stream_warnings"] == [] for r in res.per_image if r["bit_exact"])


# --------------------------------------------------------------------------------------------
# selector edge cases through the whole design
# --------------------------------------------------------------------------------------------


def _wide_biases(ir):
    """A copy whose biases in one block and one selector need far more bits than the others (their
    proven accumulator widths recomputed): the engine's accumulator must cover every GEMM."""
    import copy
    import dataclasses

    from spvit_fpga.ir.graph import linear_acc_bits

    ir = copy.deepcopy(ir)
    b = ir.blocks[-1]
    rng = np.random.default_rng(0)
    b.fc1 = dataclasses.replace(b.fc1, bias=rng.integers(-(2**24), 2**24, b.fc1.out_features))
    b.fc1.acc_bits = linear_acc_bits(b.fc1)
    s = ir.selectors[-1]
    s.in_fc = dataclasses.replace(s.in_fc, bias=rng.integers(-(2**20), 2**20, s.in_fc.out_features))
    s.in_fc.acc_bits = linear_acc_bits(s.in_fc)
    return ir


def _check_trips(out: Path, source: models.ModelSource, images: int) -> None:
    from spvit_fpga.builder.design import design_for as _design
    from spvit_fpga.hls.gxx import read_output
    from spvit_fpga.hw.overlay.execute import run_engine
    from spvit_fpga.hw.vectors import read_vectors

    m = json.loads((out / "manifest.json").read_text())
    e = m["hls"]["engine"]
    plan = _design(source, load_board(m["board"]["name"]), lanes=e["lanes"], ports=e["ports"]).plan
    trips = read_output(out / "csim_out", "trips")
    n = len(plan.program.instructions)
    vec = read_vectors(out)
    assert trips.size == n * len(vec)
    for i in range(min(images, len(vec))):
        steps = run_engine(plan.program, vec.images[i].reshape(source.ir.input_shape)).steps
        expect = [hls_estimate.unit_trips(plan, ins, st) for ins, st in zip(plan.program.instructions, steps)]
        got = trips[i * n:(i + 1) * n].tolist()
        bad = [(ins.name, g, x) for ins, g, x in zip(plan.program.instructions, got, expect) if g != x]
        assert not bad, bad[:5]


# every case on another engine geometry: array side L, HP ports (beat bytes), packing, port width
EDGE_CASES = {"all_pruned": ("zcu102", 8, 1), "none_pruned": ("zcu102", 4, 4), "topk": ("zcu102", 32, 1),
              "wide_biases": ("pynq-z2", None, None), "unpruned": ("ultra96v2", None, None)}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_selector_edge_cases_bit_exact(case, tmp_path):
    src = default_source()
    if case == "unpruned":  # no selector at all
        src = models.random_weights_ir("micro", selector_blocks=())
    ir = {"all_pruned": lambda i: i.with_thresholds([10**9] * len(i.selectors)),
          "none_pruned": lambda i: i.with_thresholds([-10**9] * len(i.selectors)),
          "topk": lambda i: i.with_decision("topk"),
          "wide_biases": _wide_biases, "unpruned": lambda i: i}[case](src.ir)
    board, lanes, ports = EDGE_CASES[case]
    source = models.ModelSource(ir, case, "digits")
    out = generate_api(tmp_path / case, source, board=board, lanes=lanes, ports=ports)
    res = run_csim(out)
    assert res.all_bit_exact, res.per_image
    _check_trips(out, source, images=1)
    m = json.loads((out / "manifest.json").read_text())
    if lanes is not None:
        assert (m["hls"]["engine"]["lanes"], m["hls"]["engine"]["ports"]) == (lanes, ports)
    kept = [r["kept"] for r in res.per_image]
    n = ir.patch_embed.grid ** 2
    if case == "unpruned":
        assert kept == [[]] * len(kept) and not ir.selectors
    elif case == "all_pruned":
        assert all(k == [0] * len(ir.selectors) for k in kept)  # later stages see no patch tokens
    elif case == "none_pruned":
        assert all(k == [n] * len(ir.selectors) for k in kept)  # package tokens are zeros
    elif case == "topk":
        assert all(k == [s.topk for s in ir.selectors] for k in kept)
    else:  # pynq-z2: DSP48E1, one multiply a weight; 64-bit HP ports
        assert m["hls"]["engine"]["pack"] == 1 and m["hls"]["engine"]["port_bytes"] == 8
        assert m["hls"]["config"]["ACC_W"] >= 26  # the wide biases widen the accumulator


# --------------------------------------------------------------------------------------------
# DeiT-Tiny: one encoder block with a token selector, random weights, weights in DDR
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_deit_tiny_block_with_selector_ddr_csim_bit_exact(tmp_path):
    t0 = time.monotonic()
    src = models.random_weights_ir("deit-tiny", depth=1, selector_blocks=(0,))
    assert src.random_weights and "RANDOM WEIGHTS" in src.description
    cfg = model_config("deit-tiny")
    assert src.ir.model["embed_dim"] == cfg.embed_dim and src.ir.model["num_heads"] == cfg.num_heads
    assert len(src.ir.blocks) == 1 and src.ir.blocks[0].selector is not None
    t1 = time.monotonic()
    imgs = models.synthetic_images(model_config("deit-tiny"), 1, src.ir.input_fmt.frac, seed=7)
    out = generate_api(tmp_path / "deit", src, images=imgs, labels=None, weights="ddr")
    m = json.loads((out / "manifest.json").read_text())
    assert m["weights"]["storage"] == "ddr" and (out / "weights.bin").stat().st_size == m["weights"]["ddr_bytes"]
    e = m["hls"]["engine"]
    assert (e["lanes"], e["pack"], e["ports"], e["port_bytes"]) == (64, 2, 4, 16)
    assert m["resources"]["dsp"]["array"] == 2048
    t2 = time.monotonic()
    res = run_csim(out)
    t3 = time.monotonic()
    assert res.all_bit_exact, res.per_image
    _check_trips(out, src, images=1)
    # the shape-only IR (what --estimate uses for DeiT) has this calibrated IR's program and stream
    from spvit_fpga.hls.plan import build_plan
    from spvit_fpga.hw.overlay.shapes import shape_ir
    from spvit_fpga.nn.config import ModelConfig

    real = build_plan(src.ir, load_board("zcu102")).program
    shp = build_plan(shape_ir(ModelConfig.from_dict(src.ir.model), default_source().ir), load_board("zcu102")).program
    assert [i.name for i in real.instructions] == [i.name for i in shp.instructions]
    assert [b.beats for b in real.stream.blobs] == [b.beats for b in shp.stream.blobs]
    kept = res.per_image[0]["kept"][0]
    assert 0 < kept < cfg.num_patches
    print(f"deit-tiny block+selector: IR {t1 - t0:.1f} s, generate {t2 - t1:.1f} s, "
          f"compile {res.compile_seconds:.1f} s, C-sim {res.run_seconds:.2f} s/image, total {t3 - t0:.1f} s, kept {kept}")


@pytest.mark.slow
def test_deit_tiny_random_weights_cli_with_official_selector(tmp_path, capsys):
    """The CLI path: --model deit-tiny --random-weights, first 4 blocks (the first selector sits
    before block 3), C-sim of one synthetic image."""
    out = tmp_path / "deit4"
    t0 = time.monotonic()
    code = generate.main(["--board", "zcu102", "--model", "deit-tiny", "--random-weights", "--depth", "4",
                          "--out", str(out), "--csim", "--images", "1", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.out
    assert captured.out.splitlines()[-1] == "1/1 bit-exact"
    assert "RANDOM WEIGHTS" in captured.err
    m = json.loads((out / "manifest.json").read_text())
    assert m["model"]["random_weights"] and m["model"]["config"]["depth"] == 4
    assert m["model"]["config"]["selector_blocks"] == [3]
    assert m["test_vectors"]["source"].startswith("synthetic")
    print(f"deit-tiny 4 blocks + selector via the CLI: {time.monotonic() - t0:.1f} s")


# --------------------------------------------------------------------------------------------
# determinism
# --------------------------------------------------------------------------------------------


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_generation_is_deterministic(tmp_path):
    argv = ["--board", "zcu102", "--images", "3", "--quiet"]
    assert generate.main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert generate.main([*argv, "--out", str(tmp_path / "b")]) == 0
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []


def test_checkpoint_and_ir_sources_give_the_same_design(tmp_path):
    """--checkpoint (a QAT checkpoint, exported on the fly) and --ir (its exported IR directory)
    generate the same hardware: identical sources, parameters and test vectors."""
    from quant_models import quant_micro
    from spvit_fpga.export import write_ir_dir
    from spvit_fpga.nn.data import dataset_fingerprint, load_dataset
    from spvit_fpga.quant.model import save_quant_checkpoint
    from spvit_fpga.quant.to_ir import export_ir

    ckpt = tmp_path / "micro.pt"
    save_quant_checkpoint(ckpt, quant_micro(), dataset_fingerprint(load_dataset("digits")))
    write_ir_dir(export_ir(ckpt), tmp_path / "ir")
    argv = ["--board", "zcu102", "--images", "2", "--quiet"]
    assert generate.main([*argv, "--checkpoint", str(ckpt), "--out", str(tmp_path / "a")]) == 0
    assert generate.main([*argv, "--ir", str(tmp_path / "ir"), "--out", str(tmp_path / "b")]) == 0
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    differ = sorted(k for k in a if a[k] != b.get(k))
    assert differ == ["README.md", "manifest.json"]  # the model's description only
    ma, mb = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in "ab")
    assert ma["model"]["dataset"] == mb["model"]["dataset"] == "digits"
    assert ma["estimate"] == mb["estimate"] and ma["hls"] == mb["hls"]


def test_float_checkpoint_is_quantised_after_training(tmp_path, capsys):
    from quant_models import float_micro
    from spvit_fpga.nn.checkpoint import save_checkpoint
    from spvit_fpga.nn.data import dataset_fingerprint, load_dataset

    ckpt = tmp_path / "float.pt"
    save_checkpoint(ckpt, float_micro(), dataset_fingerprint(load_dataset("digits")))
    out = tmp_path / "p"
    assert generate.main(["--board", "zcu102", "--checkpoint", str(ckpt), "--out", str(out), "--images", "2", "--quiet"]) == 0
    assert "float checkpoint: quantised after training" in capsys.readouterr().err
    m = json.loads((out / "manifest.json").read_text())
    assert "post-training quantised" in m["model"]["description"] and m["model"]["dataset"] == "digits"


# --------------------------------------------------------------------------------------------
# TCL: parsed and executed by tclsh with stub vendor commands
# --------------------------------------------------------------------------------------------

STUB = r"""
set ::calls {}
proc unknown {args} { lappend ::calls $args; return "" }
rename exit __real_exit
proc exit {args} { lappend ::calls [list exit] }
set rc [catch {source [lindex $argv 0]} msg]
foreach c $::calls { puts "CALL $c" }
if {$rc} { puts "ERROR $msg" }
"""


def run_tcl(script: Path, tmp: Path, env: dict | None = None) -> tuple[list[str], str]:
    tclsh = shutil.which("tclsh")
    assert tclsh, "tclsh is needed to check the generated TCL (Debian: apt-get install tcl)"
    stub = tmp / "stub.tcl"
    stub.write_text(STUB)
    proc = subprocess.run([tclsh, str(stub), str(script)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    calls = [ln[5:] for ln in proc.stdout.splitlines() if ln.startswith("CALL ")]
    errors = [ln[6:] for ln in proc.stdout.splitlines() if ln.startswith("ERROR ")]
    return calls, errors[0] if errors else ""


@pytest.mark.parametrize("board_name", ["zcu102", "pynq-z2", "alveo-u250"])
def test_tcl_scripts_run_with_stub_commands(board_name, micro_project, tmp_path):
    board = load_board(board_name)
    if board_name == "zcu102":
        out = micro_project[0]
    else:
        out = generate_api(tmp_path / board_name, default_source(), board_name)
    m = json.loads((out / "manifest.json").read_text())
    ports = m["hls"]["engine"]["ports"]
    calls, err = run_tcl(out / "run_hls.tcl", tmp_path)
    assert err == ""
    names = [c.split()[0] for c in calls]
    # csim and csynth by default; no config_interface without Vitis (Vivado HLS 2020.1 lacks the options)
    assert names == ["open_project", "set_top", "add_files", "add_files", "open_solution", "set_part", "create_clock",
                     "csim_design", "csynth_design", "exit"]
    assert calls[names.index("set_part")] == f"set_part {board.part}"
    assert calls[names.index("create_clock")] == f"create_clock -period {1000 / board.clock_mhz:.3f} -name default"
    assert calls[names.index("set_top")] == "set_top spvit_top"
    assert f"csim_design -argv {{{out} {out}/csim_out}}" in calls
    # cosim and export are opt-in; cosim runs two images
    calls, _ = run_tcl(out / "run_hls.tcl", tmp_path, env={"SPVIT_HLS_STEPS": "csim cosim export"})
    assert [c.split()[0] for c in calls][-4:] == ["csim_design", "cosim_design", "export_design", "exit"]
    assert f"cosim_design -argv {{{out} {out}/csim_out 2}}" in calls
    # Vitis HLS (XILINX_HLS set): C++14, the vivado flow target and the m_axi widening settings
    calls, _ = run_tcl(out / "run_hls.tcl", tmp_path, env={"XILINX_HLS": "/opt/x"})
    assert "-std=c++14" in calls[2]
    assert "open_solution -reset solution1 -flow_target vivado" in calls
    cfg = next(c for c in calls if c.startswith("config_interface"))
    for opt in ("-m_axi_max_widen_bitwidth 512", "-m_axi_alignment_byte_size 64", "-m_axi_max_read_burst_length 256",
                "-m_axi_num_read_outstanding 4"):
        assert opt in cfg

    calls, err = run_tcl(out / "block_design.tcl", tmp_path)
    if board.family == "alveo":
        assert "no processing system" in err and "v++" in (out / "block_design.tcl").read_text()
        return
    assert err == ""
    assert calls[0].startswith(f"create_project spvit_bd {out}/vivado -part {board.part}")
    assert f"set_property board_part {board.board_part} {{}}" in calls
    assert any(c.startswith(f"create_bd_cell -type ip -vlnv xilinx.com:ip:{board.ps_ip}:*") for c in calls)
    ps_cfg = next(c for c in calls if "FREQMHZ" in c)
    assert f"FREQMHZ {board.clock_mhz:g}" in ps_cfg
    assert any("spvit_fpga:hls:spvit_top:1.0" in c for c in calls)
    # one weight master per HP port, each to its own port; the interrupt wired to the PS
    hp = board.memory["ports"]
    for i in range(ports):
        assert any(f"Master /spvit/m_axi_gmem{i} " in c and f"Slave /ps/{hp[i]} " in c for c in calls), i
    assert not any(f"m_axi_gmem{ports}" in c for c in calls)
    irq = "pl_ps_irq0" if board.family == "zynq_ultrascale_plus" else "IRQ_F2P"
    assert "get_bd_pins spvit/interrupt" in calls and f"get_bd_pins ps/{irq}" in calls
    assert any(hp[0] in c and "/dma/M_AXI_MM2S" in c for c in calls)  # DMA on the first HP port


# --------------------------------------------------------------------------------------------
# CLI behaviour and errors
# --------------------------------------------------------------------------------------------


def test_unknown_board_is_a_one_line_error_listing_the_known_boards(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "spvit_fpga.generate", "--board", "zcu999", "--out", str(tmp_path / "x")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown board 'zcu999'")
    assert ", ".join(board_names()) in lines[0]
    assert not (tmp_path / "x").exists()


def test_refuses_a_non_empty_out_without_force(tmp_path):
    out = tmp_path / "proj"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    with pytest.raises(UserError, match="not empty; pass --force"):
        generate.main(["--board", "zcu102", "--out", str(out)])
    assert (out / "keep.txt").read_text() == "user data"
    assert generate.main(["--board", "zcu102", "--out", str(out), "--force", "--images", "2", "--quiet"]) == 0
    assert not (out / "keep.txt").exists() and (out / "manifest.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary directories left


def test_default_out_dir_is_per_model_and_board(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert generate.main(["--board", "zcu104", "--images", "1", "--quiet"]) == 0
    m = json.loads((tmp_path / "hls_micro_zcu104" / "manifest.json").read_text())
    assert m["board"]["part"] == load_board("zcu104").part
    with pytest.raises(UserError, match="not empty; pass --force"):
        generate.main(["--board", "zcu104", "--images", "1", "--quiet"])


def test_cli_argument_errors(tmp_path):
    with pytest.raises(UserError, match="--random-weights"):
        generate.main(["--board", "zcu102", "--model", "deit-tiny", "--out", str(tmp_path / "a")])
    with pytest.raises(UserError, match="--board is required; known boards"):
        generate.main(["--out", str(tmp_path / "a")])
    with pytest.raises(UserError, match="needs 3 counts"):
        generate.main(["--board", "zcu102", "--model", "deit-tiny", "--estimate", "--kept", "100,50"])


def test_model_that_does_not_fit_reports_the_numbers():
    with pytest.raises(UserError, match=r"deit-small does not fit pynq-z2: the HLS engine \(L = \d+\) needs \d+ BRAM18, "
                                        r"the board has 280"):
        generate.main(["--board", "pynq-z2", "--model", "deit-small", "--estimate"])
    with pytest.raises(UserError, match=r"--weights onchip: the HLS engine streams every parameter from DDR"):
        generate.main(["--board", "zcu102", "--model", "deit-small", "--estimate", "--weights", "onchip"])


def test_list_boards(capsys):
    assert generate.main(["--list-boards"]) == 0
    out = capsys.readouterr().out
    for name in board_names():
        assert name in out
    assert "xczu9eg-ffvb1156-2-e" in out


def test_missing_compiler_is_an_error_not_a_skip(micro_project, monkeypatch):
    monkeypatch.setenv("SPVIT_CXX", "no-such-g++")
    monkeypatch.setenv("SPVIT_FPGA_BUILD_DIR", str(micro_project[0] / "nocache"))
    with pytest.raises(UserError, match="not found on PATH"):
        run_csim(micro_project[0])


# --------------------------------------------------------------------------------------------
# estimates and parallelism
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["deit-tiny", "deit-small"])
def test_zcu102_estimates_for_deit(name, capsys):
    """The estimate of the full DeiT on zcu102 (shape-only program, no weights), as JSON: the engine
    uses most of the DSPs, both latency views of the generated design, pruning shortens the image."""
    assert generate.main(["--board", "zcu102", "--model", name, "--estimate", "--json"]) == 0
    est = json.loads(capsys.readouterr().out)
    board, cfg = load_board("zcu102"), model_config(name)
    from spvit_fpga.hw.overlay.shapes import shape_ir

    d = design_for(models.ModelSource(shape_ir(cfg, default_source().ir), name, None), board)
    assert d.plan.lanes == 64 and d.resources["dsp"]["array"] == 2048
    assert d.resources["dsp"]["total"] >= 0.8 * board.resources["dsp"]
    assert d.resources["dsp"]["total"] <= board.resources["dsp"] and d.resources["bram18"]["total"] <= 1824
    kept = cost_model.target_kept(cfg)
    assert est["kept_tokens"]["per_stage"] == kept and "target keep ratios" in est["kept_tokens"]["source"]
    assert est["architecture"]["lanes"] == 64 and est["architecture"]["dsp"] == d.resources["dsp"]["total"]
    s = hls_estimate.hls_summary(d.plan, kept)  # the manifest's figures: the estimate shows the same design
    hls, rtl = est["sections"]["hls"], est["sections"]["rtl_engine"]
    assert hls["total_cycles"] == s["total_cycles"] and rtl["total_cycles"] == s["rtl_engine_cycles"]
    assert [x["cycles"] for x in rtl["layers"]] == [x["rtl_cycles"] for x in s["layers"]]
    assert s["latency_ms"] < 9.15  # below HeatViT's DeiT-S figure on the same board and clock
    dense = hls_estimate.hls_summary(d.plan, [cfg.num_patches] * 3)
    assert s["latency_ms"] < dense["latency_ms"]  # pruning shortens every later layer
    assert hls["dense_cycles"] == dense["total_cycles"] and rtl["dense_cycles"] == dense["rtl_engine_cycles"]
    assert abs(hls["total_cycles"] / rtl["total_cycles"] - 1) < 0.05  # two schedules of one program


def test_estimate_measures_the_kept_tokens_of_a_trained_model(tmp_path, capsys):
    """A model whose thresholds keep every token: --estimate reports 64 of 64 (measured by the
    integer reference), not the 0.65/0.45/0.30 targets of its config; summary first, --json."""
    from spvit_fpga.hw.source import default_model_ir
    from spvit_fpga.ir.graph import save_ir

    ir = default_model_ir().ir
    keeps_all = tmp_path / "keeps_all"
    keeps_all.mkdir()
    save_ir(ir.with_thresholds([-(2**40)] * len(ir.selectors)), keeps_all)
    assert generate.main(["--board", "zcu102", "--ir", str(keeps_all), "--estimate", "--images", "6", "--json",
                          "--quiet"]) == 0
    est = json.loads(capsys.readouterr().out)
    kept = est["kept_tokens"]
    assert kept["per_stage"] == [64, 64, 64] and kept["min"] == [64, 64, 64] and kept["images"] == 6
    assert kept["source"].startswith("measured by the integer reference")
    for sec in est["sections"].values():
        assert sec["total_cycles"] == sec["dense_cycles"]  # nothing pruned: the dense cost
    # the same model's own IR prunes: measured below the dense count, and the text puts the summary first
    own = tmp_path / "own"
    own.mkdir()
    save_ir(ir, own)
    assert generate.main(["--board", "zcu102", "--ir", str(own), "--estimate", "--images", "6", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("micro on zcu102") and lines[1].startswith("kept patch tokens per stage: [")
    assert "measured by the integer reference on digits test split, first 6" in lines[1]
    assert lines[4].split()[0] == "estimate" and lines[5].startswith("HLS design (schedule of hls/)")
    assert lines[6].startswith("RTL overlay engine (cycle model)")
    table = next(i for i, x in enumerate(lines) if x.startswith("instruction "))
    assert table > 8 and lines[table].split()[3:] == ["HLS", "HLS", "stall", "RTL", "model"]
    measured = [int(x) for x in lines[1].split("[")[1].split("]")[0].split(",")]
    assert measured[-1] < 64
