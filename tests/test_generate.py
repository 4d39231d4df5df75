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
from spvit_fpga.hls.estimate import kernel_costs
from spvit_fpga.hls.plan import design_shape
from spvit_fpga.hw import cost_model
from spvit_fpga.hw import source as models
from spvit_fpga.hw.boards import board_names, load_board
from spvit_fpga.hw.vectors import make_vectors, read_array, write_array
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
                 weights: str = "auto") -> Path:
    """Render and write a project through the Python API (no CLI, no csim)."""
    design = design_for(source, load_board(board), weights)
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
        assert r["estimated_latency_ms"]["cost_model"] > 0
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
    for rel in ("README.md", "manifest.json", "run_hls.tcl", "block_design.tcl", "src/spvit_top.cpp", "src/spvit_top.h",
                "src/spvit_params.h", "src/spvit_glue.h", "src/spvit_axis.h", "tb/spvit_tb.cpp", "tb/csim_main.cpp",
                "tb/vectors/images.i64", "tb/vectors/expected_logits.i64", "tb/vectors/expected_kept.i64",
                "hls/spvit_linear.h", "hls/spvit_token_select.h"):
        assert (out / rel).is_file(), rel
    assert not (out / "weights.bin").exists()  # the micro model's weights are on-chip ROMs
    m = json.loads((out / "manifest.json").read_text())
    board = load_board("zcu102")
    assert m["board"]["part"] == board.part == "xczu9eg-ffvb1156-2-e"
    assert m["board"]["clock_mhz"] == 300
    assert m["model"]["config"] == default_source().ir.model and m["model"]["dataset"] == "digits"
    assert m["weights"]["storage"] == "onchip"
    assert m["generator"]["command"].startswith("python -m spvit_fpga.generate --board zcu102")
    eng = {e["name"]: e for e in m["parallelism"]["engines"]}
    from spvit_fpga.nn.config import ModelConfig

    cfg = ModelConfig.from_dict(m["model"]["config"])
    par = cost_model.choose_parallelism(cfg, board)
    assert (eng["engine_block"]["pe"], eng["engine_block"]["simd"]) == (par.pe, par.simd)
    r = cfg.mlp_hidden // cfg.embed_dim
    # q k v proj + r fc1 + r fc2 tiles per block, the patch embedding's ceil(KP / C) fan-in tiles and
    # the selectors' in_fc, out_fc1, out_fc2 (block-diagonal); no separate patch / selector-MLP engines
    ntp = -(-cfg.in_chans * cfg.patch_size ** 2 // cfg.embed_dim)
    assert eng["engine_block"]["call_sites"] == cfg.depth * (4 + 2 * r) + ntp + 3 * cfg.num_stages
    assert not {"engine_patch", "engine_sel_in", "engine_sel_out1", "engine_sel_out2"} & set(eng)
    dsp = m["resources"]["dsp"]
    assert dsp["total"] <= dsp["board"]
    est = m["estimate"]
    assert est["target_kept"] == cost_model.target_kept(cfg)
    for view in ("cost_model", "kernels"):
        layers = est[view]["layers"]
        assert sum(x["cycles"] for x in layers) == est[view]["total_cycles"]
        assert est[view]["latency_ms"] == pytest.approx(est[view]["total_cycles"] / 300e3)
        assert any(x["name"].startswith("select") for x in layers)
    table = {r["schedule"]: r for r in est["latency_table"]}
    assert table["target"]["cost_model_ms"] < table["dense"]["cost_model_ms"]  # pruning shortens the layers
    assert table["target"]["kernels_ms"] < table["dense"]["kernels_ms"]
    top = (out / "src" / "spvit_top.cpp").read_text()
    for pragma in ("interface axis port = pixels", "interface axis port = results", "s_axilite port = return"):
        assert pragma in top
    assert m["files"]["src/spvit_top.cpp"]  # every file hashed


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


# --------------------------------------------------------------------------------------------
# selector edge cases through the whole design
# --------------------------------------------------------------------------------------------


def _wide_biases(ir):
    """A copy whose biases in one block and one selector need far more bits than the others: the
    shared engines must widen their bias and accumulator types to cover every call."""
    import copy
    import dataclasses

    ir = copy.deepcopy(ir)
    b = ir.blocks[-1]
    rng = np.random.default_rng(0)
    b.fc1 = dataclasses.replace(b.fc1, bias=rng.integers(-(2**24), 2**24, b.fc1.out_features))
    s = ir.selectors[-1]
    s.in_fc = dataclasses.replace(s.in_fc, bias=rng.integers(-(2**20), 2**20, s.in_fc.out_features))
    return ir


@pytest.mark.parametrize("case", ["all_pruned", "none_pruned", "topk", "wide_biases", "unpruned"])
def test_selector_edge_cases_bit_exact(case, tmp_path):
    src = default_source()
    if case == "unpruned":  # no selector at all, on a smaller board (PE 16 x SIMD 32)
        src = models.random_weights_ir("micro", selector_blocks=())
    ir = {"all_pruned": lambda i: i.with_thresholds([10**9] * len(i.selectors)),
          "none_pruned": lambda i: i.with_thresholds([-10**9] * len(i.selectors)),
          "topk": lambda i: i.with_decision("topk"),
          "wide_biases": _wide_biases, "unpruned": lambda i: i}[case](src.ir)
    out = generate_api(tmp_path / case, models.ModelSource(ir, case, "digits"),
                       board="ultra96v2" if case == "unpruned" else "zcu102")
    res = run_csim(out)
    assert res.all_bit_exact, res.per_image
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
    else:
        m = json.loads((out / "manifest.json").read_text())
        eng = {e["name"]: e for e in m["parallelism"]["engines"]}
        # the selector's in_fc runs on the block engine (block-diagonal), whose types cover every call
        assert int(eng["engine_block"]["accumulator"][7:-1]) >= 26 and "engine_sel_in" not in eng


def test_small_engine_fallback_bit_exact(tmp_path, monkeypatch):
    """IRs whose patch embedding or selector MLP formats do not fit the block engine keep the
    separate engine_patch / engine_sel_in/out1/out2 path: bit-exact, and the manifest's kernel
    estimate describes that path."""
    import dataclasses

    from spvit_fpga.hls import plan as plan_mod
    from spvit_fpga.nn.config import ModelConfig

    monkeypatch.setattr(plan_mod._Builder, "_patch_on_block", lambda self, op: None)
    monkeypatch.setattr(plan_mod._Builder, "_selector_fits_block", lambda self, s: False)
    out = generate_api(tmp_path / "fallback", default_source())
    res = run_csim(out)
    assert res.images == 3 and res.all_bit_exact, res.per_image
    m = json.loads((out / "manifest.json").read_text())
    eng = {e["name"] for e in m["parallelism"]["engines"]}
    assert {"engine_patch", "engine_sel_in", "engine_sel_out1", "engine_sel_out2"} <= eng
    cfg = ModelConfig.from_dict(m["model"]["config"])
    b = m["parallelism"]["block_engine"]
    shape = dataclasses.replace(design_shape(cfg, b["pe"], b["simd"]), patch_tiles=0, sel_on_block=False)
    kept = m["estimate"]["kept_tokens"]
    assert m["estimate"]["kernels"]["total_cycles"] == sum(x.cycles for x in kernel_costs(cfg, shape, kept))


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
    assert m["parallelism"]["block_engine"] == {"pe": 64, "simd": 64, "macs_per_cycle": 4096}
    t2 = time.monotonic()
    res = run_csim(out)
    t3 = time.monotonic()
    assert res.all_bit_exact, res.per_image
    kept = res.per_image[0]["kept"][0]
    assert 0 < kept < cfg.num_patches
    print(f"deit-tiny block+selector: IR {t1 - t0:.1f} s, generate {t2 - t1:.1f} s, "
          f"compile {res.compile_seconds:.1f} s, C-sim {res.run_seconds:.2f} s/image, total {t3 - t0:.1f} s, kept {kept}")


@pytest.mark.slow
def test_deit_tiny_random_weights_cli_with_official_selector(tmp_path, capsys):
    """The CLI path: --model deit-tiny --random-weights, first 4 blocks (the first selector sits
    before block 3), weights on chip (auto), C-sim of one synthetic image."""
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
    assert ma["estimate"] == mb["estimate"] and ma["parallelism"] == mb["parallelism"]


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
    calls, err = run_tcl(out / "run_hls.tcl", tmp_path)
    assert err == ""
    names = [c.split()[0] for c in calls]
    assert names == ["open_project", "set_top", "add_files", "add_files", "open_solution", "set_part", "create_clock",
                     "csim_design", "csynth_design", "cosim_design", "export_design", "exit"]
    assert calls[names.index("set_part")] == f"set_part {board.part}"
    assert calls[names.index("create_clock")] == f"create_clock -period {1000 / board.clock_mhz:.3f} -name default"
    assert calls[names.index("set_top")] == "set_top spvit_top"
    assert f"csim_design -argv {{{out} {out}/csim_out}}" in calls
    # step selection
    calls, _ = run_tcl(out / "run_hls.tcl", tmp_path, env={"SPVIT_HLS_STEPS": "csim csynth"})
    assert [c.split()[0] for c in calls][-3:] == ["csim_design", "csynth_design", "exit"]
    # Vitis HLS (XILINX_HLS set) compiles as C++14, Vivado HLS as C++11
    calls, _ = run_tcl(out / "run_hls.tcl", tmp_path, env={"XILINX_HLS": "/opt/x"})
    assert "-std=c++14" in calls[2]

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
    assert any(board.memory["ports"][0] in c for c in calls)  # DMA on the first HP port


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
    with pytest.raises(UserError, match=r"deit-base does not fit pynq-z2 \(.*needs \d+, board has \d+"):
        generate.main(["--board", "pynq-z2", "--model", "deit-base", "--estimate"])
    with pytest.raises(UserError, match=r"does not fit zcu102 .*bram18: needs \d+, board has 1824"):
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
    """The GEMM array uses most of the ZCU102's DSPs; both estimate views are printed."""
    assert generate.main(["--board", "zcu102", "--model", name, "--estimate", "--json"]) == 0
    est = json.loads(capsys.readouterr().out)
    board, cfg = load_board("zcu102"), model_config(name)
    par = cost_model.choose_parallelism(cfg, board)
    assert (par.pe, par.simd) == (64, 64) and not par.weights_onchip
    assert par.macs_per_cycle / board.int8_macs_per_dsp >= 0.8 * board.resources["dsp"]
    kept = cost_model.target_kept(cfg)
    cm_ms = cost_model.latency_ms(cost_model.layer_costs(cfg, board, par, kept), board)
    assert est["kept_tokens"]["per_stage"] == kept and "target keep ratios" in est["kept_tokens"]["source"]
    assert est["sections"]["cost_model"]["latency_ms"] == pytest.approx(cm_ms, rel=1e-12)
    assert cm_ms < 9.15  # below HeatViT's DeiT-S figure on the same board and clock (target accelerator)
    shape = design_shape(cfg, par.pe, par.simd)
    k_ms = sum(x.cycles for x in kernel_costs(cfg, shape, kept)) / 300e3
    assert est["sections"]["kernels"]["latency_ms"] == pytest.approx(k_ms, rel=1e-12)
    dense = sum(x.cycles for x in kernel_costs(cfg, shape, [cfg.num_patches] * 3)) / 300e3
    assert est["sections"]["kernels"]["dense_latency_ms"] == pytest.approx(dense, rel=1e-12)
    assert k_ms < dense  # pruning shortens every later layer


def test_kernel_estimate_attention_and_merge_formulas():
    """The attention part is spvit::attention_cycles (hls/spvit_attention.h, checked by a
    static_assert in tests/hls_drivers/attention_tb.cpp) plus loop entry; the merge is
    token_select_frame's loops at MERGE_LANES channels per cycle."""
    from spvit_fpga.hls import estimate

    lo = estimate.LOOP_OVERHEAD
    # DeiT head: 197 tokens, DH 64, 32 lanes, 8 query rows, 8 exps per cycle: 25 blocks,
    # 26 fused scores/context loops of 197 * 2 cycles, 25 exps loops of 25 cycles
    assert estimate._attention(197, 64, 32, 8, 8) == 26 * (197 * 2 + lo) + 25 * (25 + lo)
    assert estimate._attention(0, 64, 32, 8, 8) == lo
    cfg = model_config("deit-small")
    shape = design_shape(cfg, 64, 64)
    assert (shape.attn_qp, shape.attn_simd, shape.attn_el, shape.merge_lanes) == (8, 32, 8, 16)
    assert shape.patch_tiles == 2 and shape.sel_on_block
    costs = {c.name: c.cycles for c in kernel_costs(cfg, shape, [121, 72, 27])}
    assert costs["block0.attn"] == 6 * estimate._attention(197, 64, 32, 8, 8)
    cb = 384 // 16  # 16 channels per cycle
    assert costs["select1.merge"] == 2 * 121 + cb + (1 + 121 + 1) * cb + cb + 4 * lo


def test_kernel_estimate_uses_the_library_linear_formula():
    """The GEMM part of the kernel estimate is spvit::linear_cycles (hls/spvit_linear.h)."""
    from spvit_fpga.hls import estimate

    # K/SIMD = 3 prefetch, 2 tiles of max(n, 1) * 3 with the next tile's load hidden, the last tile
    assert estimate._linear(192, 192, 64, 64, 100) == 3 * (1 + 2 * 100 + 100) + 4 * estimate.LOOP_OVERHEAD
    cfg = model_config("deit-tiny")
    shape = design_shape(cfg, 64, 64)
    costs = {c.name: c for c in kernel_costs(cfg, shape, [121, 72, 27])}
    assert costs["block0.qkv"].tokens == 197 and costs["block3.qkv"].tokens == 1 + 121 + 1
    assert costs["block11.qkv"].tokens == 1 + 27 + 3


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
    cm = est["sections"]["cost_model"]
    assert cm["total_cycles"] == cm["dense_cycles"]  # nothing pruned: the dense cost
    # the same model's own IR prunes: measured below the dense count, and the text puts the summary first
    own = tmp_path / "own"
    own.mkdir()
    save_ir(ir, own)
    assert generate.main(["--board", "zcu102", "--ir", str(own), "--estimate", "--images", "6", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("micro on zcu102") and lines[1].startswith("kept patch tokens per stage: [")
    assert "measured by the integer reference on digits test split, first 6" in lines[1]
    assert lines[3].split()[0] == "estimate" and lines[4].startswith("cost model (target accelerator)")
    assert lines.index("cost model (target accelerator), per layer:") > 6
