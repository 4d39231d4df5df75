"""The integer reference against the fake-quant model: exact logits, kept tokens, edge cases,
intermediates."""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from quant_models import digits, fresh_quant_micro, quant_micro, sample_images
from spvit_fpga.errors import UserError
from spvit_fpga.ir import intops as I
from spvit_fpga.ir.reference import predict, quantize_image, run_reference
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


def as_real(logits_int: np.ndarray, frac: int) -> torch.Tensor:
    return torch.tensor(logits_int, dtype=torch.float64) * 2.0 ** (-frac)


@pytest.mark.parametrize("decision", ["threshold", "topk"])
def test_fake_quant_equals_integer_reference(decision):
    """The acceptance test of the integer contract: QuantSPViT's logits are exactly the
    reference integers times 2**-frac, batched (masked) and per image (physical), with the
    same kept tokens at every stage."""
    q, ir = quant_micro(), micro_ir()
    assert ir.logits_frac == q.logits_frac()
    x = sample_images(6)
    out = q(x, decision=decision)
    for i in range(len(x)):
        ref = run_reference(ir, quantize_image(ir, x[i]), decision=decision)
        assert torch.equal(out.logits[i].double(), as_real(ref.logits, ir.logits_frac))
        ph = q.forward_physical(x[i], decision=decision)
        assert ref.kept_indices == ph.kept_indices
        assert ref.token_counts == ph.token_counts
        assert [torch.nonzero(s.keep[i] > 0.5).flatten().tolist() for s in out.stages] == ref.kept_indices
    assert any(len(k) < q.cfg.num_patches for k in ref.kept_indices)  # tokens were really pruned


def test_quantize_image_gives_the_pixels():
    ir = micro_ir()
    d = digits()
    img = d.test.images[0]
    q = quantize_image(ir, img)
    assert q.dtype == torch.int64 and torch.equal(q, (img * 16).round().long())
    assert int(q.min()) >= 0 and int(q.max()) <= 16
    assert torch.equal(quantize_image(ir, img.numpy()), q)


@pytest.mark.parametrize("which", ["all_pruned", "none_pruned"])
def test_extreme_thresholds(which):
    """tau = +big prunes everything at the first stage (later stages see no patch tokens);
    tau = -big prunes nothing (package tokens are all zeros)."""
    q = fresh_quant_micro()
    big = 1e6 if which == "all_pruned" else -1e6
    q.tau.fill_(big)
    ir = ir_from_quant_model(q)
    n, s = q.cfg.num_patches, q.cfg.num_stages
    for img in sample_images(2):
        ref = run_reference(ir, quantize_image(ir, img), return_intermediates=True)
        ph = q.forward_physical(img)
        assert torch.equal(ph.logits.double(), as_real(ref.logits, ir.logits_frac))
        assert ref.kept_indices == ph.kept_indices
        if which == "all_pruned":
            assert ref.kept_indices == [[]] * s
            assert ref.token_counts[-1] == 1 + s  # class token + one package token per stage
            assert ref.intermediates["selectors.1.in"].shape == (0, q.cfg.embed_dim)
            assert not ref.intermediates["selectors.1.package"].any()  # nothing left to prune
            # the first package token is the keep-probability-weighted mean of all patches
            x0 = torch.tensor(ref.intermediates["selectors.0.in"])
            p0 = torch.tensor(ref.intermediates["selectors.0.keep_prob"])
            assert torch.equal(torch.tensor(ref.intermediates["selectors.0.package"]), I.int_package_token(x0, p0))
        else:
            assert ref.kept_indices == [list(range(n))] * s
            assert ref.token_counts[-1] == 1 + n + s
            for st in range(s):
                assert not ref.intermediates[f"selectors.{st}.package"].any()
    x = sample_images(2)
    out = q(x)
    for i in range(2):
        ref = run_reference(ir, quantize_image(ir, x[i]))
        assert torch.equal(out.logits[i].double(), as_real(ref.logits, ir.logits_frac))


def test_intermediates_names_shapes_and_consistency():
    ir = micro_ir()
    cfg = quant_micro().cfg
    ref = run_reference(ir, quantize_image(ir, sample_images(1)[0]), return_intermediates=True)
    im = ref.intermediates
    c, h, n = cfg.embed_dim, cfg.num_heads, cfg.num_patches
    assert im["input"].shape == (1, 32, 32)
    assert im["patch_embed.patches"].shape == (n, 16)
    assert im["embed"].shape == (1 + n, c)
    for i, t in enumerate(ref.token_counts):
        assert im[f"blocks.{i}.in"].shape == (t, c)
        assert im[f"blocks.{i}.attn.scores"].shape == (h, t, t)
        p = im[f"blocks.{i}.attn.softmax"]
        assert p.shape == (h, t, t) and p.min() >= 0 and p.max() <= 255
        assert np.abs(p.sum(-1) - 256).max() <= (t + 1) // 2 + 1  # docs §4.3 sum bound
        assert im[f"blocks.{i}.mlp.gelu"].shape == (t, cfg.mlp_hidden)
        assert im[f"blocks.{i}.mlp.fc2"].shape == (t, c)
        if i + 1 < cfg.depth:
            nxt = im[f"blocks.{i + 1}.in"]
            # the next block's input is this block's output after selection
            if ref.token_counts[i + 1] == t:
                assert np.array_equal(nxt, im[f"blocks.{i}.mlp.fc2"])
    for st, kept in enumerate(ref.kept_indices):
        pre = f"selectors.{st}."
        live = im[pre + "in"].shape[0]
        assert im[pre + "keep"].shape == (live,) and int(im[pre + "keep"].sum()) == len(kept)
        assert im[pre + "delta"].shape == (live, h)
        assert im[pre + "head_w"].shape == (live, h)
        assert im[pre + "global"].shape == (h, cfg.head_dim // 2)
        assert np.array_equal(im[pre + "score"], (im[pre + "head_w"] * im[pre + "delta"]).sum(-1))
    assert np.array_equal(im["logits"], ref.logits)
    assert im["norm"].shape == (c,)


def test_reference_rejects_bad_images():
    ir = micro_ir()
    with pytest.raises(UserError, match="quantize_image"):
        run_reference(ir, sample_images(1)[0])
    with pytest.raises(UserError, match="shape"):
        run_reference(ir, torch.zeros(1, 16, 16, dtype=torch.int64))
    with pytest.raises(UserError, match="input format"):
        run_reference(ir, torch.full((1, 32, 32), 300, dtype=torch.int64))


def test_predict_matches_batched_fake_quant():
    q, ir = quant_micro(), micro_ir()
    x = sample_images(4)
    preds, kept = predict(ir, x)
    out = q(x)
    assert preds.tolist() == out.logits.argmax(-1).tolist()
    assert [len(k) for k in kept[0]] == out.kept_counts()[0].long().tolist()


def test_evaluate_reference_matches_fake_quant_evaluation():
    from quant_models import _ImageSubset
    from spvit_fpga.ir.reference import evaluate_reference
    from spvit_fpga.nn.evaluation import evaluate_physical

    sub = _ImageSubset(digits().test, 5)
    a = evaluate_reference(micro_ir(), sub)
    b = evaluate_physical(quant_micro(), sub)
    assert (a.predictions == b.predictions).all() and (a.kept == b.kept).all()
    assert np.allclose(a.macs, b.macs) and a.kept_indices == b.kept_indices


@pytest.mark.parametrize(
    "widths",
    [dict(residual_bits=8, prob_bits=10), dict(act_bits=6, weight_bits=6, selector_prob_bits=10, calib_percentile=99.0)],
)
def test_other_bit_widths_stay_exact(widths):
    from quant_models import float_micro
    from spvit_fpga.quant.model import QuantConfig, quantize_model

    q = quantize_model(float_micro(1), digits().train.images[:8], QuantConfig(input_frac_bits=4, **widths))
    ir = ir_from_quant_model(q)
    x = sample_images(3)
    out = q(x)
    for i in range(len(x)):
        ref = run_reference(ir, quantize_image(ir, x[i]))
        assert torch.equal(out.logits[i].double(), as_real(ref.logits, ir.logits_frac))
        assert [torch.nonzero(s.keep[i] > 0.5).flatten().tolist() for s in out.stages] == ref.kept_indices
