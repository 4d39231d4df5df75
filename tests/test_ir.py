"""The IR: round trip, determinism, validation errors, accumulator widths, the export CLI."""
from __future__ import annotations

import functools
import json
import zipfile

import numpy as np
import pytest
import torch

from quant_models import float_micro, quant_micro, sample_images
from spvit_fpga import export as export_mod
from spvit_fpga.errors import UserError, run_cli
from spvit_fpga.ir import intops as I
from spvit_fpga.ir.graph import IR_JSON, IR_WEIGHTS, SCHEMA_VERSION, load_ir, save_ir
from spvit_fpga.ir.reference import quantize_image, run_reference
from spvit_fpga.nn.checkpoint import save_checkpoint
from spvit_fpga.quant.model import save_quant_checkpoint
from spvit_fpga.quant.to_ir import ir_from_quant_model


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@functools.lru_cache(maxsize=None)
def micro_ir():
    return ir_from_quant_model(quant_micro())


@pytest.fixture(scope="module")
def saved_ir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ir") / "micro"
    save_ir(micro_ir(), d)
    return d


@pytest.fixture(scope="module")
def quant_ckpt(tmp_path_factory):
    p = tmp_path_factory.mktemp("ck") / "checkpoint.pt"
    save_quant_checkpoint(p, quant_micro(), {"spec": "digits", "input_frac_bits": 4})
    return p


def copy_dir(src, dst):
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


# --------------------------------------------------------------------------------------------
# round trip and determinism
# --------------------------------------------------------------------------------------------


def test_round_trip_gives_identical_reference_outputs(saved_ir):
    ir, back = micro_ir(), load_ir(saved_ir)
    assert back.model == ir.model and back.quant == ir.quant and back.input_fmt == ir.input_fmt
    for a, b in zip(ir.ops(), back.ops()):
        assert type(a) is type(b) and a.name == b.name
    assert np.array_equal(back.blocks[2].fc2.weight, ir.blocks[2].fc2.weight)
    assert back.selectors[1].tau == ir.selectors[1].tau
    for img in sample_images(3):
        x = quantize_image(ir, img)
        r1 = run_reference(ir, x, return_intermediates=True)
        r2 = run_reference(back, x, return_intermediates=True)
        assert np.array_equal(r1.logits, r2.logits) and r1.kept_indices == r2.kept_indices
        assert r1.intermediates.keys() == r2.intermediates.keys()
        assert all(np.array_equal(r1.intermediates[k], r2.intermediates[k]) for k in r1.intermediates)


def test_ir_json_is_readable(saved_ir):
    doc = json.loads((saved_ir / IR_JSON).read_text())
    assert doc["schema_version"] == SCHEMA_VERSION
    fc1 = doc["blocks"][0]["fc1"]
    assert fc1["type"] == "LinearOp" and fc1["activation"]["kind"] == "gelu"
    assert fc1["weight"] == {"array": "blocks.0.mlp.fc1.weight", "dtype": "int8", "shape": [256, 64]}
    assert doc["blocks"][1]["selector"]["decision"] in ("threshold", "topk")
    with np.load(saved_ir / IR_WEIGHTS) as npz:
        assert npz["blocks.0.mlp.fc1.weight"].dtype == np.int8


def test_save_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    save_ir(micro_ir(), a)
    save_ir(ir_from_quant_model(quant_micro()), b)
    for name in (IR_JSON, IR_WEIGHTS):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    with zipfile.ZipFile(a / IR_WEIGHTS) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_max_tokens_and_shapes():
    ir = micro_ir()
    n = 64
    assert ir.patch_embed.linear.max_tokens == n and ir.patch_embed.pos.shape == (n, 64)
    assert [b.max_tokens for b in ir.blocks] == [1 + n, 2 + n, 2 + n, 3 + n, 3 + n, 4 + n]
    assert [s.block for s in ir.selectors] == [1, 3, 5]
    assert [s.topk for s in ir.selectors] == [42, 29, 19]
    s = ir.selectors[0]
    assert s.delta.weight.shape == (1, 8) and s.delta.w_fmt.bits == 9 and s.delta.bias_fmt.bits == 33
    assert s.score_bits == I.keep_decision_bits(s.w_fmt, s.sigma.in_fmt, 2)


def test_accumulator_widths_are_proven_bounds():
    """Every linear's acc_bits holds the accumulator for the worst-case input of its actual
    weights (checked by building that input), and fits the 32-bit default."""
    ir = micro_ir()
    linears = [op for op in _linears(ir)]
    assert all(op.acc_bits <= 32 for op in linears if not op.name.endswith("delta"))
    for op in linears:
        lo, hi = op.in_fmt.min_int, op.in_fmt.max_int
        w = torch.tensor(op.weight)
        x_hi = torch.where(w >= 0, torch.tensor(hi), torch.tensor(lo))  # maximises each row
        x_lo = torch.where(w >= 0, torch.tensor(lo), torch.tensor(hi))
        for x in (x_hi, x_lo):
            acc = (x * w).sum(-1) + torch.tensor(op.bias)
            bits = op.acc_bits
            assert int(acc.max()) < 2 ** (bits - 1) and int(acc.min()) >= -(2 ** (bits - 1)), op.name


def _linears(ir):
    out = [ir.patch_embed.linear, ir.head]
    for b in ir.blocks:
        out += [b.attn.q, b.attn.k, b.attn.v, b.attn.proj, b.fc1, b.fc2]
        if b.selector:
            s = b.selector
            out += [s.head_fc1, s.head_fc2, s.in_fc, s.out_fc1, s.out_fc2, s.delta]
    return out


def test_with_thresholds_and_decision():
    ir = micro_ir()
    assert [s.tau for s in ir.with_thresholds([1, 2, 3]).selectors] == [1, 2, 3]
    assert all(s.decision == "topk" for s in ir.with_decision("topk").selectors)
    with pytest.raises(ValueError):
        ir.with_thresholds([1])


# --------------------------------------------------------------------------------------------
# validation errors
# --------------------------------------------------------------------------------------------


def test_missing_files(tmp_path, saved_ir):
    with pytest.raises(UserError, match="does not exist"):
        load_ir(tmp_path / "nope")
    d = copy_dir(saved_ir, tmp_path / "x")
    (d / IR_WEIGHTS).unlink()
    with pytest.raises(UserError, match="weights.npz is missing"):
        load_ir(d)


def _edit_json(d, fn):
    doc = json.loads((d / IR_JSON).read_text())
    fn(doc)
    (d / IR_JSON).write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "case, match",
    [
        ("bad_json", "not valid JSON"),
        ("no_version", "no schema_version"),
        ("version", "schema_version 99"),
        ("missing_field", "missing field blocks.0.fc1.shift|missing field blocks.0.fc1.acc_bits"),
        ("unknown_field", "unknown fields"),
        ("wrong_type", "must be an integer"),
        ("shape", "has shape"),
        ("missing_array", "has no array 'blocks.1.mlp.fc2.bias'"),
        ("table", "gelu table differs"),
        ("range", "values outside"),
        ("npz", "not a readable .npz"),
    ],
)
def test_corrupted_ir_gives_clear_errors(tmp_path, saved_ir, case, match):
    d = copy_dir(saved_ir, tmp_path / case)
    if case == "bad_json":
        (d / IR_JSON).write_text((d / IR_JSON).read_text()[:-200])
    elif case == "no_version":
        _edit_json(d, lambda doc: doc.pop("schema_version"))
    elif case == "version":
        _edit_json(d, lambda doc: doc.update(schema_version=99))
    elif case == "missing_field":
        _edit_json(d, lambda doc: doc["blocks"][0]["fc1"].pop("acc_bits"))
    elif case == "unknown_field":
        _edit_json(d, lambda doc: doc["blocks"][0].update(extra=1))
    elif case == "wrong_type":
        _edit_json(d, lambda doc: doc["blocks"][0]["fc1"].update(in_features="64"))
    elif case in ("shape", "missing_array", "table", "range"):
        with np.load(d / IR_WEIGHTS) as npz:
            arrays = {k: npz[k] for k in npz.files}
        if case == "shape":
            arrays["blocks.0.attn.q.weight"] = arrays["blocks.0.attn.q.weight"][:, :-1]
        elif case == "missing_array":
            del arrays["blocks.1.mlp.fc2.bias"]
        elif case == "table":
            t = arrays["blocks.0.mlp.gelu.table"].copy()
            t[3] += 1
            arrays["blocks.0.mlp.gelu.table"] = t
        else:
            w = arrays["blocks.0.mlp.fc1.weight"].astype(np.int16)
            w[0, 0] = 300
            arrays["blocks.0.mlp.fc1.weight"] = w
            _edit_json(d, lambda doc: doc["blocks"][0]["fc1"]["weight"].update(dtype="int16"))
        np.savez(d / IR_WEIGHTS, **arrays)
    elif case == "npz":
        (d / IR_WEIGHTS).write_bytes(b"not a zip file")
    with pytest.raises(UserError, match=match):
        load_ir(d)


# --------------------------------------------------------------------------------------------
# export CLI
# --------------------------------------------------------------------------------------------


def run_export(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        run_cli(export_mod.main, argv)
    cap = capsys.readouterr()
    return exc.value.code, cap.out, cap.err


def test_export_cli_writes_a_deterministic_ir(tmp_path, quant_ckpt, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_export(["--checkpoint", str(quant_ckpt), "--out", str(a)], capsys)[0] == 0
    assert run_export(["--checkpoint", str(quant_ckpt), "--out", str(b)], capsys)[0] == 0
    assert sorted(p.name for p in a.iterdir()) == [IR_JSON, IR_WEIGHTS]
    for name in (IR_JSON, IR_WEIGHTS):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    ir = load_ir(a)
    assert ir.provenance["checkpoint_name"] == "checkpoint.pt" and ir.dataset["spec"] == "digits"
    ref = run_reference(ir, quantize_image(ir, sample_images(1)[0]))
    out = quant_micro()(sample_images(1))
    assert torch.equal(out.logits[0].double(), torch.tensor(ref.logits, dtype=torch.float64) * 2.0 ** -ir.logits_frac)


def test_export_refuses_float_checkpoint(tmp_path, capsys):
    p = tmp_path / "float.pt"
    save_checkpoint(p, float_micro(), {"spec": "digits"})
    code, _, err = run_export(["--checkpoint", str(p), "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "run QAT first" in err and "--qat --init" in err
    assert not (tmp_path / "o").exists()


def test_export_refuses_non_empty_dir_without_force(tmp_path, quant_ckpt, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    code, _, err = run_export(["--checkpoint", str(quant_ckpt), "--out", str(out)], capsys)
    assert code == 2 and "--force" in err and (out / "keep.txt").exists()
    assert run_export(["--checkpoint", str(quant_ckpt), "--out", str(out), "--force"], capsys)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == [IR_JSON, IR_WEIGHTS]


def test_export_never_leaves_a_half_written_dir(tmp_path, quant_ckpt, monkeypatch):
    def boom(ir, d):
        (d / IR_WEIGHTS).write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_mod, "save_ir", boom)
    out = tmp_path / "o"
    with pytest.raises(RuntimeError):
        export_mod.main(["--checkpoint", str(quant_ckpt), "--out", str(out)])
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_qonnx_dense_backbone_export_executes(tmp_path, quant_ckpt):
    """``export --qonnx``: the dense backbone exports with brevitas and qonnx executes it to the
    same values as the Brevitas module (it approximates, not equals, the integer reference)."""
    # qonnx and onnxoptimizer are dev dependencies: a missing one fails here, it never skips.
    import onnxoptimizer  # noqa: F401
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from spvit_fpga.quant.qonnx_export import DenseBackbone, export_qonnx_backbone

    path = tmp_path / "backbone.onnx"
    export_qonnx_backbone(quant_ckpt, path)
    q = quant_micro()
    patches = q.patches(sample_images(1))[0]
    with torch.no_grad():
        expected = DenseBackbone(q).eval()(patches).numpy()
    mw = ModelWrapper(str(path))
    got = execute_onnx(mw, {mw.graph.input[0].name: patches.numpy()})[mw.graph.output[0].name]
    assert np.array_equal(got, expected)
    assert sum(n.op_type == "Quant" for n in mw.graph.node) > 100
