"""QuantSPViT (fake-quant SPViT): formats, masked vs physical agreement, float mode, QAT
gradients, checkpoints, and the intops / qat_ops extensions it relies on."""
from __future__ import annotations

from fractions import Fraction

import pytest
import torch

from quant_models import digits, float_micro, fresh_quant_micro, micro_cfg, quant_micro, sample_images
from spvit_fpga.errors import UserError
from spvit_fpga.ir import intops as I
from spvit_fpga.ir.intops import FixedFormat
from spvit_fpga.nn.checkpoint import save_checkpoint
from spvit_fpga.nn.evaluation import calibrate_thresholds, evaluate_masked, evaluate_physical
from spvit_fpga.quant import qat_ops as Q
from spvit_fpga.quant.model import (
    QuantConfig,
    QuantSPViT,
    activation_points,
    fit_format,
    is_quant_checkpoint,
    load_quant_checkpoint,
    quantize_model,
    saturation_report,
    save_quant_checkpoint,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Small integer tensors: one thread is much faster than two on a loaded machine.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# --------------------------------------------------------------------------------------------
# configuration and formats
# --------------------------------------------------------------------------------------------


def test_quant_config_round_trip_and_validation():
    q = QuantConfig(input_frac_bits=4, residual_bits=8, prob_bits=10)
    assert QuantConfig.from_dict(q.to_dict()) == q
    assert q.input_fmt == FixedFormat(8, 4, False)
    with pytest.raises(UserError, match="unknown fields"):
        QuantConfig.from_dict({**q.to_dict(), "bogus": 1})
    with pytest.raises(UserError, match="act_bits"):
        QuantConfig(act_bits=12)
    with pytest.raises(UserError, match="input_frac_bits"):
        QuantConfig().input_fmt


def test_fit_format_never_saturates_the_maximum():
    assert fit_format(1.0, 8) == FixedFormat(8, 6)  # covering() would give frac 7 and clip 1.0 to 127/128
    assert fit_format(0.9, 8) == FixedFormat(8, 7)
    assert fit_format(0.999, 8) == FixedFormat(8, 6)  # 0.999 * 128 rounds to 128
    assert fit_format(3.0, 16) == FixedFormat(16, 13)
    assert fit_format(0.0, 8) == FixedFormat(8, 7)
    for m in (0.01, 0.3, 1.0, 5.5, 100.0):
        f = fit_format(m, 8)
        assert round(m * 2**f.frac) <= f.max_int < round(m * 2 ** (f.frac + 1))


def test_calibrated_formats_cover_every_activation_point():
    q = quant_micro()
    pts = activation_points(q.cfg)
    assert list(q.formats) == list(pts)
    for name, kind in pts.items():
        assert q.formats[name].bits == (16 if kind == "residual" else 8)
    with pytest.raises(UserError, match="do not fit"):
        q.set_formats({k: v for k, v in list(q.formats.items())[1:]})


def test_calibration_rejects_off_grid_images():
    imgs = digits().train.images[:4] + 1.0 / 64  # not multiples of 1/16
    with pytest.raises(UserError, match="input_frac_bits"):
        quantize_model(float_micro(), imgs, QuantConfig(input_frac_bits=4))


# --------------------------------------------------------------------------------------------
# forward passes
# --------------------------------------------------------------------------------------------


def test_float_mode_is_the_float_model():
    """Calibration statistics come from the float model: the float mode of QuantSPViT gives
    the float SPViT's logits and decisions."""
    q = quant_micro()
    f = float_micro()
    f.tau.copy_(q.tau)
    try:
        for img in sample_images(3):
            a, b = q.float_forward_physical(img), f.forward_physical(img)
            assert torch.allclose(a.logits, b.logits, atol=1e-5)
            assert a.kept_indices == b.kept_indices
    finally:
        f.tau.zero_()


@pytest.mark.parametrize("decision", ["threshold", "topk"])
def test_masked_and_physical_forward_agree_exactly(decision):
    q = quant_micro()
    x = sample_images(6)
    out = q(x, decision=decision)
    assert out.logits.dtype == torch.float32
    for i in range(len(x)):
        ph = q.forward_physical(x[i], decision=decision)
        assert torch.equal(ph.logits, out.logits[i])
        masked_kept = [torch.nonzero(s.keep[i] > 0.5).flatten().tolist() for s in out.stages]
        assert masked_kept == ph.kept_indices
    if decision == "topk":
        assert [len(k) for k in ph.kept_indices] == [q.topk_count(s) for s in range(q.cfg.num_stages)]


def test_masked_forward_values_are_on_the_integer_grid():
    q = quant_micro()
    out = q(sample_images(4))
    f = q.logits_frac()
    ints = out.logits.double() * 2.0**f
    assert torch.equal(ints, ints.round())
    tok = out.tokens.double() * 2.0 ** q.formats["norm"].frac
    assert torch.equal(tok, tok.round())


def test_threshold_scores_and_tau_units():
    """Stage scores are the real value of the integer keep score; the integer rule is
    z >= ceil(tau * 2**frac), i.e. exactly score >= tau."""
    q = fresh_quant_micro()
    out = q(sample_images(4), decision="threshold")
    for st, tr in enumerate(out.stages):
        kept = tr.keep > 0.5
        live = tr.alive_before > 0.5
        assert torch.equal(kept, (tr.score >= q.tau[st]) & live)
    # a tau between two representable scores: same decisions as the ceil'd integer threshold
    s00 = out.stages[0].score[0, 0]
    q.tau[0] = torch.nextafter(s00, torch.tensor(float("inf")))  # just above a representable score
    out2 = q(sample_images(4), decision="threshold")
    assert not bool(out2.stages[0].keep[0, 0] > 0.5)


def test_calibrate_thresholds_meets_keep_ratios_on_quant_model():
    from quant_models import _ImageSubset

    q = fresh_quant_micro()
    q.tau.zero_()
    val = _ImageSubset(digits().val, 40)
    tau = calibrate_thresholds(q, val)
    res = evaluate_masked(q, val, "threshold")
    n = q.cfg.num_patches
    for st, r in enumerate(q.cfg.keep_ratios):
        assert abs(res.kept[:, st].mean() / n - r) < 0.02, (st, res.kept[:, st].mean() / n, r)
    assert torch.equal(tau, q.tau)


def test_evaluation_helpers_run_on_quant_model():
    q = quant_micro()
    from quant_models import _ImageSubset

    sub = _ImageSubset(digits().test, 8)
    a = evaluate_masked(q, sub)
    b = evaluate_physical(q, sub)
    assert (a.predictions == b.predictions).all() and (a.kept == b.kept).all()


def test_saturation_report():
    rep = saturation_report(quant_micro(), sample_images(2))
    assert set(rep) <= set(activation_points(micro_cfg()))
    assert all(0.0 <= v <= 1.0 for v in rep.values())
    assert rep["blocks.0.norm1"] < 0.05


# --------------------------------------------------------------------------------------------
# QAT training
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["gumbel", "threshold"])
def test_qat_gradients_flow_and_loss_decreases(decision):
    q = fresh_quant_micro()
    q.train()
    x, y = digits().train.images[:16], digits().train.labels[:16]
    opt = torch.optim.AdamW(q.parameters(), lr=3e-3, weight_decay=0.0)
    losses = []
    for step in range(4):
        g = torch.Generator().manual_seed(step)
        out = q(x, decision=decision, generator=g)
        loss = torch.nn.functional.cross_entropy(out.logits, y)
        if decision == "gumbel":
            loss = loss + ((out.kept_counts() / q.cfg.num_patches - 0.5) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        if step == 0:
            grads = {n: p.grad for n, p in q.named_parameters()}
            for name in ("patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "blocks.5.mlp.fc2.weight", "head.weight", "norm.weight", "pos_embed"):
                assert grads[name] is not None and grads[name].abs().sum() > 0, name
            if decision == "gumbel":
                sel = [n for n in grads if n.startswith("selectors.")]
                assert any(grads[n] is not None and grads[n].abs().sum() > 0 for n in sel)
            assert all(torch.isfinite(g_).all() for g_ in grads.values() if g_ is not None)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses


# --------------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------------


def test_quant_checkpoint_round_trip(tmp_path):
    q = quant_micro()
    path = tmp_path / "q.pt"
    save_quant_checkpoint(path, q, {"spec": "digits", "input_frac_bits": 4}, note="x")
    assert is_quant_checkpoint(path)
    r, dataset, meta = load_quant_checkpoint(path)
    assert isinstance(r, QuantSPViT) and dataset["spec"] == "digits" and meta["note"] == "x"
    assert r.formats == q.formats and r.qcfg == q.qcfg and torch.equal(r.tau, q.tau)
    x = sample_images(3)
    assert torch.equal(r(x).logits, q(x).logits)


def test_float_checkpoint_is_refused_with_qat_hint(tmp_path):
    path = tmp_path / "f.pt"
    save_checkpoint(path, float_micro(), {"spec": "digits"})
    assert not is_quant_checkpoint(path)
    with pytest.raises(UserError, match=r"run QAT first: python -m spvit_fpga\.train --qat --init"):
        load_quant_checkpoint(path)


def test_float_checkpoint_weights_load_into_quant_model():
    q = QuantSPViT(micro_cfg(), QuantConfig(input_frac_bits=4))
    q.load_state_dict(float_micro().state_dict())  # same parameter names
    assert set(q.state_dict()) == set(float_micro().state_dict())
    with pytest.raises(RuntimeError, match="not calibrated"):
        q(sample_images(1))


# --------------------------------------------------------------------------------------------
# intops / qat_ops extensions used by the model
# --------------------------------------------------------------------------------------------


def test_int_softmax_mask_equals_removed_entries():
    g = torch.Generator().manual_seed(0)
    fmt = FixedFormat(8, 4)
    x = torch.randint(-128, 128, (5, 9), generator=g)
    mask = torch.rand(5, 9, generator=g) > 0.4
    mask[:, 0] = True
    p = I.int_softmax(x, in_fmt=fmt, mask=mask)
    for r in range(5):
        sub = I.int_softmax(x[r][mask[r]], in_fmt=fmt)
        assert torch.equal(p[r][mask[r]], sub)
        assert (p[r][~mask[r]] == 0).all()
    assert (I.int_softmax(x, in_fmt=fmt, mask=torch.zeros(5, 9, dtype=torch.bool)) == 0).all()


def test_int_linear_negative_residual_align():
    g = torch.Generator().manual_seed(2)
    x = torch.randint(-128, 128, (4, 6), generator=g)
    w = torch.randint(-128, 128, (3, 6), generator=g)
    b = torch.randint(-1000, 1000, (3,), generator=g)
    r = torch.randint(-30000, 30000, (4, 3), generator=g)
    # acc frac 9, residual frac 12 (align -3), output frac 11 (shift -2 relative to acc)
    of = FixedFormat(16, 11)
    y = I.int_linear(x, w, b, shift=9 - 11, out_fmt=of, residual=r, residual_align=9 - 12)
    acc = x @ w.T + b
    for i in range(4):
        for j in range(3):
            exact = Fraction(int(acc[i, j]), 2**9) + Fraction(int(r[i, j]), 2**12)
            v = exact * 2**11
            fl = v.numerator // v.denominator
            rem = v - fl
            q = fl + (1 if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2) else 0)
            assert int(y[i, j]) == max(of.min_int, min(of.max_int, q))


def test_topk_decision_ties_and_compaction():
    z = torch.tensor([5, 7, 5, 7, 1, 5])
    keep = I.topk_decision(z, 3)
    assert keep.tolist() == [True, True, False, True, False, False]  # 7, 7, then the first 5
    live = torch.tensor([False, True, True, True, True, True])
    keep = I.topk_decision(z, 3, live)
    assert keep.tolist() == [False, True, True, True, False, False]
    # compacted stream (live tokens only) gives the same decisions
    assert I.topk_decision(z[live], 3).tolist() == keep[live].tolist()
    assert I.topk_decision(z, 0).sum() == 0 and I.topk_decision(z, 99).all()
    assert I.topk_decision(torch.zeros(0, dtype=torch.int64), 2).numel() == 0


def test_keep_decision_threshold_is_ceil():
    wf, df = FixedFormat(8, 8, False), FixedFormat(8, 4)
    w = torch.tensor([[1.0, 0.0]])
    d = torch.tensor([[1.0, 0.0]])  # z = 256 * 16 = 4096 at frac 12, score 1.0
    assert Q.q_keep_decision(w * 255 / 256, d, 255 / 256 - 2**-13, w_fmt=wf, delta_fmt=df).item()
    assert not Q.q_keep_decision(w * 255 / 256, d, 255 / 256 + 2**-13, w_fmt=wf, delta_fmt=df).item()
    assert Q.tau_to_int(torch.tensor(2.5), 0).item() == 3 and Q.tau_to_int(-2.5, 0).item() == -2
    assert Q.tau_to_int(float("inf"), 4).item() == 2**62


def test_q_softmax_mask_gradient_reaches_the_mask():
    fmt = FixedFormat(8, 4)
    x = (torch.randint(-40, 40, (2, 5)).float() / 16).requires_grad_(True)
    m = torch.tensor([[1.0, 1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 1.0, 1.0, 1.0]], requires_grad=True)
    p = Q.q_softmax(x, in_fmt=fmt, mask=m)
    ref = I.int_softmax(fmt.to_int(x.detach()), in_fmt=fmt, mask=m.detach() > 0.5)
    assert torch.equal(p.detach(), ref.float() / 256)
    (p * torch.arange(5.0)).sum().backward()
    assert m.grad is not None and m.grad.abs().sum() > 0 and x.grad.abs().sum() > 0
