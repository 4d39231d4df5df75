"""FINN (finn-plus) and hls4ml on the linear layers of the embedded model, against the reference.

The expected integers come from the golden reference (``run_reference`` intermediates on digits
test images) and from ``intops.int_linear`` on random rows; the tools' outputs are compared with
``assert_array_equal``.  finn-plus and hls4ml are installed by ``make test`` (``make interop``): a
missing one fails here, it never skips.  Project modules are imported through
``spvit_fpga.peers._project`` like the code under test.
"""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from spvit_fpga.peers import units as U
from spvit_fpga.peers._project import MAX_LANES, default_ir_dir, load_board, load_dataset, load_ir

N_IMAGES = 3
FINN_LAYERS = ["patch_embed", "blocks.0.attn.q", "blocks.0.attn.proj", "blocks.1.mlp.fc1", "blocks.5.mlp.fc2", "head"]
HLS4ML_LAYERS = ["patch_embed", "blocks.0.attn.q", "blocks.0.attn.proj"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    ir = load_ir(default_ir_dir())
    units = {u.name: u for u in U.backbone_units(ir)}
    chosen = [units[n] for n in sorted(set(FINN_LAYERS + HLS4ML_LAYERS), key=FINN_LAYERS.index)]
    images = load_dataset("digits", image_size=int(ir.model["img_size"])).test.images[:N_IMAGES]
    ref = U.reference_rows(ir, images, chosen)
    work = tmp_path_factory.mktemp("interop")
    paths = {u.name: U.export_unit(u, work / f"{u.name}.onnx") for u in chosen}
    rnd = {u.name: U.random_rows(u, 2, seed=i) for i, u in enumerate(chosen)}
    return ir, units, ref, rnd, paths, work


def test_tools_are_installed():
    """finn-plus beside brevitas 0.13.4 and torch 2.13.0 (make interop), hls4ml 1.3.0."""
    from importlib.metadata import version

    assert version("finn-plus") == "1.6.1"
    assert version("brevitas") == "0.13.4"
    assert version("torch").split("+")[0] == "2.13.0"
    assert version("hls4ml") == "1.3.0"


def test_backbone_units_cover_every_dense_linear_layer():
    ir = load_ir(default_ir_dir())
    names = [u.name for u in U.backbone_units(ir)]
    depth = int(ir.model["depth"])
    assert len(names) == 2 + 6 * depth  # patch embedding, q k v proj fc1 fc2 per block, head
    assert names[0] == "patch_embed" and names[-1] == "head"
    assert not any(n.startswith("selectors.") for n in names)


def test_reference_rows_hold_the_pruned_token_counts(setup):
    """Rows of a block after a selector stage: fewer than the dense 65 per image."""
    ir, units, ref, *_ = setup
    rows = ref["blocks.5.mlp.fc2"]
    assert len(rows.frames) == N_IMAGES
    assert all(1 <= n < 65 for n in rows.frames)
    assert rows.x.shape == (sum(rows.frames), units["blocks.5.mlp.fc2"].op.in_features)


@pytest.mark.parametrize("name", FINN_LAYERS)
def test_finn_linear_layer_equals_reference(setup, name):
    from spvit_fpga.peers.finn_flow import run_finn_unit

    ir, units, ref, rnd, paths, _ = setup
    u = units[name]
    board = load_board("zcu102")
    r = run_finn_unit(u, paths[name], ref[name], rnd[name], board.part, target_cycles=4096, simd_cap=MAX_LANES)
    assert r.error is None, r.error
    assert r.unmapped == []  # every node is a FINN hardware layer
    np.testing.assert_array_equal(r.outputs["images"], ref[name].y)
    np.testing.assert_array_equal(r.outputs["random"], rnd[name].y)
    assert any(n.startswith("MVAU") for n in r.nodes)
    assert r.mvau_cycles is not None and r.mvau_cycles > 0
    mvau = next(v for k, v in r.folding.items() if k.startswith("MVAU"))
    # FINN's own MVAU cycle formula: rows x (MH / PE) x (MW / SIMD)
    assert r.mvau_cycles == u.rows * (u.op.out_features // mvau["PE"]) * (u.op.in_features // mvau["SIMD"])
    if u.op.out_fmt is not None and u.op.shift > 0:
        assert r.ties_moved > 0  # half steps on the accumulator grid: ties are possible
    if name == "blocks.0.attn.proj":
        # shift 1: every odd accumulator is a tie, FINN's stock thresholds round them all up
        assert u.op.shift == 1 and r.stock_mismatches > len(rnd[name]) // 8


def test_finn_detects_a_changed_weight(setup):
    """The comparison fails when the exported layer differs from the reference by one weight LSB."""
    from spvit_fpga.peers.finn_flow import run_finn_unit

    ir, units, ref, rnd, _, work = setup
    u = units["blocks.0.attn.q"]
    w = np.array(u.op.weight, copy=True)
    w[0, 0] = w[0, 0] + 1 if w[0, 0] < u.op.w_fmt.max_int else w[0, 0] - 1
    bad = replace(u, op=replace(u.op, weight=w))
    path = U.export_unit(bad, work / "bad_q.onnx")
    r = run_finn_unit(bad, path, ref[u.name], rnd[u.name], "xczu9eg-ffvb1156-2-e", 4096, MAX_LANES)
    assert r.error is None
    assert not r.exact and r.mismatches > 0
    assert not np.array_equal(r.outputs["random"], rnd[u.name].y)


def test_finn_ties_to_even_moves_only_odd_levels():
    """Thresholds of an int8 quantiser on a grid one bit finer than the output: every half step
    is on the grid, and exactly the 128 thresholds below odd outputs move, by half a grid step."""
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model
    from onnx import TensorProto, helper

    from spvit_fpga.peers._project import FixedFormat
    from spvit_fpga.peers.finn_flow import ties_to_even

    fmt = FixedFormat(8, 0)
    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("MultiThreshold", ["x", "t"], ["y"], domain="qonnx.custom_op.general", out_dtype="INT8")
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", [inp], [out])))
    t = (np.arange(-127, 128) - 0.5)[None].astype(np.float32)
    model.set_initializer("t", t)
    model.set_tensor_datatype("y", DataType["INT8"])
    moved = ties_to_even(model, fmt, grid_frac=1)
    new = model.get_initializer("t")[0].astype(np.float64)
    v = np.arange(-127, 128)
    assert moved == 128
    np.testing.assert_array_equal(new[v % 2 == 0], t[0][v % 2 == 0])
    np.testing.assert_array_equal(new[v % 2 != 0], t[0][v % 2 != 0] + 0.25)


@pytest.mark.parametrize("name", HLS4ML_LAYERS)
def test_hls4ml_linear_layer_equals_reference(setup, name):
    from spvit_fpga.peers.hls4ml_flow import run_hls4ml_unit

    ir, units, ref, rnd, paths, work = setup
    r = run_hls4ml_unit(units[name], paths[name], ref[name], rnd[name], work / "hls4ml" / name)
    assert r.error is None, r.error
    np.testing.assert_array_equal(r.outputs["images"], ref[name].y)
    np.testing.assert_array_equal(r.outputs["random"], rnd[name].y)


def test_hls4ml_too_narrow_a_type_is_caught(setup):
    """hls4ml with a default precision too narrow for the residual add (fixed<16,6>: 10
    fractional bits, the projection's sum has 14) is reported as not exact."""
    from spvit_fpga.peers.hls4ml_flow import run_hls4ml_unit, wide_precision

    ir, units, ref, rnd, paths, work = setup
    name = "blocks.0.attn.proj"
    assert wide_precision(units[name]) != "fixed<16,6>"
    r = run_hls4ml_unit(units[name], paths[name], ref[name], rnd[name], work / "hls4ml" / "narrow", precision="fixed<16,6>")
    assert not r.exact
    assert r.error is not None or not np.array_equal(r.outputs["random"], rnd[name].y)


def test_cli_json_reports_exact_parts_and_reasons(capfd):
    """``--json``: only JSON on stdout, the linear layer exact in both tools, every other part
    with a reason, the per-layer table beside this project's folding; exit status 0."""
    from spvit_fpga.interop import main

    code = main(["--layers", "head", "--images", "1", "--random-frames", "1", "--json"])
    out = capfd.readouterr().out
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True
    assert doc["required"] == ["linear:head"]
    for tool in ("finn", "hls4ml"):
        assert doc[tool]["bit_exact"] == {"linear:head": True}
        reasons = doc[tool]["not_exact"]
        assert {"gelu", "layernorm", "attention", "token_selector"} <= set(reasons)
        assert all(isinstance(v, str) and v for v in reasons.values())
    assert "MultiThreshold" in doc["finn"]["not_exact"]["gelu"]
    (row,) = doc["layers"]
    assert row["name"] == "head" and row["ours"]["pe"] >= 1 and row["finn"]["mvau_cycles"] > 0
    assert set(row["finn"]["resources"]) == {"LUT", "BRAM_18K", "URAM", "DSP"}


@pytest.mark.parametrize("argv, needle", [
    (["--layers", "nosuchlayer"], "matches no linear layer"),
    (["--board", "nosuchboard"], "unknown board"),
    (["--images", "0"], "--images must be at least 1"),
    (["--ir", "/nonexistent/ir"], "does not exist"),
])
def test_cli_bad_input_is_one_error_line(argv, needle, capsys):
    from spvit_fpga.interop import main
    from spvit_fpga.peers._project import run_cli

    with pytest.raises(SystemExit) as exc:
        run_cli(main, argv)
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
