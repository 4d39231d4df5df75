"""The QAT model runs on Brevitas layers (spvit_fpga.quant.brevitas_layers) and they are bit-exact.

* structure: every linear op of QuantSPViT is a Brevitas ``QuantLinear`` / ``QuantConv2d`` with
  the fixed-point quantizers, every activation point has a ``QuantIdentity``, no float
  ``nn.Linear`` is left but the fused ``qkv`` parameter holder, the state_dict is unchanged;
* use: every Brevitas module runs in a forward pass, and changing one of their quantizers
  changes the model's output (the forward cannot bypass them);
* exactness: the layers equal ``intops`` integers times the scale on random and extreme inputs
  (accumulators beyond float32's 2**24, saturating biases and outputs, ties), their traced
  integers are the project's formats, and the whole model equals the integer reference;
* gradients: straight-through, equal to the qat_ops surrogate, and they reach every weight,
  including the three row blocks of the fused qkv through the derived Q / K / V layers.
"""
from __future__ import annotations

import pytest
import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from brevitas.quant import Int8WeightPerTensorFixedPoint
from hypothesis import given, settings
from hypothesis import strategies as st
from quant_models import digits, fresh_quant_micro, quant_micro, sample_images
from torch import nn

from spvit_fpga.ir import intops as I
from spvit_fpga.ir.intops import FixedFormat
from spvit_fpga.quant import qat_ops as Q
from spvit_fpga.quant.brevitas_layers import (
    ConstPowerOfTwoScaling,
    DerivedFixedPointLinear,
    FixedPointConv2d,
    FixedPointIdentity,
    FixedPointLinear,
    FixedPointWeightQuant,
    PowerOfTwoFitScaling,
    fit_format,
    quant_format,
    quant_ints,
)
from spvit_fpga.quant.model import activation_points, param_format

PROP = settings(max_examples=30, deadline=None)
SEEDS = st.integers(0, 2**31 - 1)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def linear_ops(cfg) -> list[str]:
    names = ["patch_embed"]
    for i in range(cfg.depth):
        names += [f"blocks.{i}.attn.{n}" for n in ("q", "k", "v", "proj")] + [f"blocks.{i}.mlp.fc1", f"blocks.{i}.mlp.fc2"]
    for s in range(cfg.num_stages):
        names += [f"selectors.{s}.{n}" for n in ("head_fc1", "head_fc2", "in_fc", "out_fc1", "out_fc2", "out_fc3")]
    return names + ["head"]


def brevitas_modules(model: nn.Module) -> dict[str, nn.Module]:
    return {n: m for n, m in model.named_modules() if isinstance(m, (QuantLinear, QuantConv2d, QuantIdentity))}


def sub_module(m: nn.Module, cls: type) -> nn.Module:
    found = [s for s in m.modules() if isinstance(s, cls)]
    assert len(found) == 1, (type(m).__name__, cls.__name__, len(found))
    return found[0]


# --------------------------------------------------------------------------------------------
# structure and use
# --------------------------------------------------------------------------------------------


def test_model_layers_are_brevitas_with_fixed_point_quantizers():
    q = quant_micro()
    cfg = q.cfg
    # the only float layers left hold the fused qkv parameter (its rows feed the derived Q/K/V)
    plain = [n for n, m in q.named_modules() if type(m) in (nn.Linear, nn.Conv2d)]
    assert plain == [f"blocks.{i}.attn.qkv" for i in range(cfg.depth)]
    ops = linear_ops(cfg)
    assert len(ops) == 1 + 6 * cfg.depth + 6 * cfg.num_stages + 1
    for name in ops:
        m = q.linear_module(name)
        assert isinstance(m, FixedPointConv2d if name == "patch_embed" else FixedPointLinear), name
        assert issubclass(m.weight_quant.quant_injector, FixedPointWeightQuant), name
        assert sub_module(m.weight_quant, PowerOfTwoFitScaling).bits == q.qcfg.weight_bits
        assert m.bias_quant.is_quant_enabled and m.bias_quant.requires_input_scale
    for i in range(cfg.depth):
        attn = q.blocks[i].attn
        for j, n in enumerate("qkv"):
            d = getattr(attn, n)
            assert isinstance(d, DerivedFixedPointLinear) and d.rows == (j * cfg.embed_dim, (j + 1) * cfg.embed_dim)
            assert list(d.parameters()) == [] and d.state_dict() == {}
        assert attn.q.factor == attn.scale and attn.k.factor is None and attn.v.factor is None
        # the plain layers hold the model's Parameter objects (one optimiser entry each)
        assert q.blocks[i].mlp.fc1.weight is dict(q.named_parameters())[f"blocks.{i}.mlp.fc1.weight"]
    # one QuantIdentity per activation point (plus the input pixels), with its frozen format
    pts = activation_points(cfg)
    assert set(q.act_quant) == {"input"} | {p.replace(".", "_") for p in pts}
    for p in pts:
        a = q.act_quant[p.replace(".", "_")]
        assert isinstance(a, QuantIdentity) and a.fmt == q.formats[p]
        assert sub_module(a, ConstPowerOfTwoScaling).frac == q.formats[p].frac
    assert q.act_quant["input"].fmt == q.input_fmt
    # Brevitas adds nothing to the state_dict
    assert not any(".act_quant" in k or "_quant." in k for k in q.state_dict())


@pytest.mark.parametrize("physical", [False, True])
def test_every_brevitas_module_runs_in_the_forward(physical):
    q = quant_micro()
    mods = brevitas_modules(q)
    assert len(mods) > 100
    calls = {n: 0 for n in mods}
    handles = [m.register_forward_hook(lambda m_, i_, o_, n=n: calls.__setitem__(n, calls[n] + 1)) for n, m in mods.items()]
    try:
        with torch.no_grad():
            if physical:
                q.forward_physical(sample_images(1)[0], decision="topk")
            else:
                q(sample_images(2), decision="threshold")
    finally:
        for h in handles:
            h.remove()
    assert [n for n, c in calls.items() if c == 0] == []


def test_changing_a_brevitas_quantizer_changes_the_output():
    """The forward really goes through the Brevitas modules: perturb the weight quantizer of a
    derived layer (Q), of plain layers (fc2, the classifier) or an activation quantizer, and the
    activation that layer produces changes (and the logits, for fc2 / head); restore it and
    every activation is back, bit for bit."""
    q = fresh_quant_micro()
    x = sample_images(4)

    def run() -> dict[str, torch.Tensor]:
        acts: dict[str, torch.Tensor] = {}
        q._hook = lambda name, y, fmt: acts.setdefault(name, y.detach().clone())
        try:
            with torch.no_grad():
                acts["logits"] = q(x, decision="topk").logits
        finally:
            q._hook = None
        return acts

    ref = run()
    cases = [
        (sub_module(q.blocks[0].attn.q.weight_quant, PowerOfTwoFitScaling), "bits", 3, ["blocks.0.attn.q"]),
        (sub_module(q.blocks[1].mlp.fc2.weight_quant, PowerOfTwoFitScaling), "bits", 3, ["blocks.1.mlp.fc2", "logits"]),
        (sub_module(q.head.weight_quant, PowerOfTwoFitScaling), "bits", 3, ["logits"]),
        (sub_module(q.act_quant["blocks_0_attn_proj"], ConstPowerOfTwoScaling), "frac", None, ["blocks.0.attn.proj", "logits"]),
    ]
    for mod, attr, value, changed in cases:
        old = getattr(mod, attr)
        setattr(mod, attr, old - 2 if value is None else value)
        try:
            acts = run()
        finally:
            setattr(mod, attr, old)
        for name in changed:
            assert not torch.equal(acts[name], ref[name]), (name, attr)
    acts = run()
    assert acts.keys() == ref.keys() and all(torch.equal(acts[k], ref[k]) for k in ref)


# --------------------------------------------------------------------------------------------
# exactness of the layers
# --------------------------------------------------------------------------------------------


def _ints(fmt: FixedFormat, shape, g: torch.Generator, mode: str) -> torch.Tensor:
    if mode == "extremes":
        pick = torch.randint(0, 2, shape, generator=g).bool()
        return torch.where(pick, torch.tensor(fmt.max_int), torch.tensor(fmt.min_int))
    if mode == "max":
        return torch.full(shape, fmt.max_int, dtype=torch.int64)
    return torch.randint(fmt.min_int, fmt.max_int + 1, shape, generator=g, dtype=torch.int64)


@PROP
@given(
    SEEDS,
    st.sampled_from(["random", "extremes", "max"]),
    st.sampled_from([1, 7, 64, 2048]),
    st.sampled_from([None, 1.0, 0.999, 127.75 / 128, 0.5, 3e-3]),
    st.sampled_from([(8, 5), (10, 6), (8, -2)]),
    st.sampled_from([None, (8, 3), (8, 9), (16, 8), (16, 20)]),
    st.booleans(),
    st.sampled_from([16, 32]),
)
def test_fixed_point_linear_equals_int_linear(seed, mode, fan_in, wmax, in_bf, out_bf, with_res, bias_bits):
    """FixedPointLinear (+ fused residual) + FixedPointIdentity == intops.int_linear exactly, and
    its gradients are those of the qat_ops surrogate (Q.q_linear)."""
    g = torch.Generator().manual_seed(seed)
    n_out, rows = 5, 3
    in_fmt = FixedFormat(*in_bf)
    out_fmt = None if out_bf is None else FixedFormat(*out_bf)
    w = torch.randn(n_out, fan_in, generator=g) * 0.2
    if wmax is not None:  # a maximum on a radix-point boundary (fit_format's edge cases)
        w = w / w.abs().max() * wmax
    b = torch.randn(n_out, generator=g) * (1e4 if mode == "extremes" else 1.0)  # saturates int16 biases
    xi = _ints(in_fmt, (rows, fan_in), g, mode)
    res_fmt = FixedFormat(16, 9)
    with_res = with_res and out_fmt is not None
    ri = _ints(res_fmt, (rows, n_out), g, "random")
    # --- Brevitas
    lin = FixedPointLinear(fan_in, n_out, weight_bits=8, bias_bits=bias_bits)
    with torch.no_grad():
        lin.weight.copy_(w)
        lin.bias.copy_(b)
    x = (xi.float() * 2.0**-in_fmt.frac).requires_grad_(True)
    r = (ri.float() * 2.0**-res_fmt.frac).requires_grad_(True)
    acc = lin(FixedPointIdentity(in_fmt)(x))
    assert acc.dtype == torch.float64
    if with_res:
        acc = acc + r.double()
    y = acc if out_fmt is None else FixedPointIdentity(out_fmt, return_quant_tensor=False)(acc)
    # --- integers
    w_fmt = fit_format(float(w.abs().max()), 8)
    acc_frac = in_fmt.frac + w_fmt.frac
    b_fmt = FixedFormat(bias_bits, acc_frac)
    out_frac = acc_frac if out_fmt is None else out_fmt.frac
    yi = I.int_linear(
        xi, w_fmt.to_int(w), b_fmt.to_int(b), shift=acc_frac - out_frac, out_fmt=out_fmt,
        residual=ri if with_res else None, residual_align=acc_frac - res_fmt.frac,
    )
    assert torch.equal(y.detach(), yi.double() * 2.0**-out_frac)
    qw = lin.quant_weight()
    assert quant_format(qw) == w_fmt and torch.equal(quant_ints(qw), w_fmt.to_int(w))
    # --- gradients: Brevitas' STE == the qat_ops surrogate (away from the half-LSB band
    # beyond the output range, where the two clamp before / after rounding)
    if out_fmt is not None:
        z = acc.detach() * 2.0**out_fmt.frac
        band = ((z > out_fmt.max_int) & (z.round() <= out_fmt.max_int)) | ((z < out_fmt.min_int) & (z.round() >= out_fmt.min_int))
        if band.any():
            return
    gw = torch.randn(y.shape, generator=g, dtype=torch.float64)
    (y * gw).sum().backward()
    x2, w2, b2, r2 = (t.detach().clone().requires_grad_(True) for t in (x, w, b, r))
    y2 = Q.q_linear(x2.double(), w2.double(), b2.double(), in_fmt=in_fmt, w_fmt=w_fmt, out_fmt=out_fmt, bias_bits=bias_bits,
                    residual=r2.double() if with_res else None, residual_fmt=res_fmt if with_res else None)
    assert torch.equal(y2.detach(), y.detach())
    (y2 * gw).sum().backward()
    for a, e in ((x, x2), (lin.weight, w2), (lin.bias, b2)) + (((r, r2),) if with_res else ()):
        assert torch.allclose(a.grad.double(), e.grad.double(), rtol=1e-6, atol=1e-9)


def test_float64_accumulator_is_needed_and_exact():
    """Non-vacuity of the float64 product: here a float32 linear is wrong, the layer is exact."""
    g = torch.Generator().manual_seed(3)
    k = 4096
    in_fmt = FixedFormat(10, 0)
    xi = torch.randint(400, 512, (4, k), generator=g)
    w = torch.rand(3, k, generator=g) * 0.9 + 0.1
    lin = FixedPointLinear(k, 3, bias=False, weight_bits=8)
    with torch.no_grad():
        lin.weight.copy_(w)
    w_fmt = fit_format(float(w.abs().max()), 8)
    exact = I.int_linear(xi, w_fmt.to_int(w), None, shift=0, out_fmt=None).double() * 2.0 ** -w_fmt.frac
    assert exact.abs().max() * 2.0**w_fmt.frac > 2**24  # beyond float32's exact integers
    x = FixedPointIdentity(in_fmt)(xi.float())
    assert torch.equal(lin(x), exact)
    f32 = torch.nn.functional.linear(xi.float(), w_fmt.to_float(w_fmt.to_int(w)))
    assert not torch.equal(f32.double(), exact)


@PROP
@given(SEEDS, st.integers(2, 16), st.integers(-6, 20), st.booleans(), st.sampled_from([torch.float32, torch.float64]))
def test_fixed_point_identity_is_round_half_even_and_saturate(seed, bits, frac, signed, dtype):
    fmt = FixedFormat(bits, frac, signed)
    g = torch.Generator().manual_seed(seed)
    k = torch.randint(fmt.min_int - 5, fmt.max_int + 6, (200,), generator=g).to(dtype)
    ties = (k + 0.5) * fmt.scale  # exactly half an LSB: ties to even
    noise = (k + torch.rand(200, generator=g, dtype=dtype) - 0.5) * fmt.scale
    x = torch.cat([ties, noise, torch.tensor([fmt.min_value, fmt.max_value, 0.0], dtype=dtype)])
    y = FixedPointIdentity(fmt, return_quant_tensor=False)(x)
    assert y.dtype == dtype
    assert torch.equal(y.double(), fmt.to_int(x).double() * fmt.scale)


def test_weight_quantizer_keeps_the_maximum_where_stock_brevitas_clips_it():
    """Non-vacuity of the custom radix-point rule: stock Int8WeightPerTensorFixedPoint picks
    2**ceil(log2 max)/128, which saturates a maximum of 1.0 (and 0.999) to 127/128; ours is
    fit_format (one frac less), the rule of the IR."""
    for m in (1.0, 0.999, 0.5, 0.3):
        w = torch.tensor([[m, -m / 3, 0.01, -m]])
        ours = FixedPointLinear(4, 1, bias=False)
        stock = QuantLinear(4, 1, bias=False, weight_quant=Int8WeightPerTensorFixedPoint)
        with torch.no_grad():
            ours.weight.copy_(w)
            stock.weight.copy_(w)
        qo = ours.quant_weight()
        assert quant_format(qo) == fit_format(m, 8) == param_format(w, 8)
        assert torch.equal(quant_ints(qo), param_format(w, 8).to_int(w))
        if m in (1.0, 0.999):
            assert float(stock.quant_weight().value.detach().abs().max()) < m - 1 / 512  # clipped
            assert float(qo.value.detach().abs().max()) == pytest.approx(m, abs=1 / 128)


def test_derived_layer_quantises_its_rows_and_sends_gradients_to_the_source():
    torch.manual_seed(0)
    src = nn.Linear(8, 24)
    with torch.no_grad():
        src.weight[16:] *= 20.0  # the V block is much larger: one fused format would crush Q/K
    q = DerivedFixedPointLinear(src, (0, 8), 0.5)
    v = DerivedFixedPointLinear(src, (16, 24))
    assert torch.equal(q.weight, src.weight[:8] * 0.5) and torch.equal(v.bias, src.bias[16:])
    fq, fv = quant_format(q.quant_weight()), quant_format(v.quant_weight())
    assert fq == param_format(src.weight[:8] * 0.5, 8) and fv == param_format(src.weight[16:], 8)
    assert fq.frac > param_format(src.weight, 8).frac  # its own, finer format
    x = FixedPointIdentity(FixedFormat(8, 5))(torch.randn(3, 8))
    (q(x).sum() + 2 * v(x).sum()).backward()
    gw = src.weight.grad
    assert gw[:8].abs().sum() > 0 and gw[16:].abs().sum() > 0 and gw[8:16].abs().sum() == 0
    assert torch.equal(src.bias.grad, torch.cat([torch.full((8,), 3 * 0.5), torch.zeros(8), torch.full((8,), 6.0)]))


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------


def test_traced_integers_are_the_ir_formats_of_the_parameters():
    """What the Brevitas quantizers hand to the IR is the project's rule, computed
    independently: param_format of each (derived) weight, biases at the accumulator frac."""
    q = quant_micro()
    tr = q.trace_ops()
    acc = q.qcfg.acc_bits
    for name in linear_ops(q.cfg):
        w, b = q.linear_params(name)
        wf = param_format(w, q.qcfg.weight_bits)
        key = name.replace("out_fc3", "delta")
        rec = tr[key]
        bf = FixedFormat(acc, rec["in_fmt"].frac + wf.frac)
        wi, bi = wf.to_int(w.detach()), bf.to_int(b.detach())
        if name.endswith("out_fc3"):
            wi, bi = (wi[0] - wi[1])[None], (bi[0] - bi[1])[None]
            wf, bf = FixedFormat(wf.bits + 1, wf.frac), FixedFormat(acc + 1, bf.frac)
        assert rec["w_fmt"] == wf and rec["b_fmt"] == bf, name
        assert torch.equal(rec["weight"], wi) and torch.equal(rec["bias"], bi), name


def test_quant_model_equals_the_integer_reference():
    """Logits (integers x scale) and kept tokens of the Brevitas fake-quant forward equal the
    integer reference run on the exported IR, image by image."""
    from spvit_fpga.ir.reference import quantize_image, run_reference
    from spvit_fpga.quant.to_ir import ir_from_quant_model

    q = quant_micro()
    ir = ir_from_quant_model(q)
    f = q.logits_frac()
    for img in digits().test.images[:6]:
        ph = q.forward_physical(img)
        ref = run_reference(ir, quantize_image(ir, img))
        assert torch.equal(ph.logits.double() * 2.0**f, torch.from_numpy(ref.logits).double())
        assert ph.kept_indices == ref.kept_indices


def test_qat_gradients_reach_every_weight_through_brevitas():
    q = fresh_quant_micro()
    q.train()
    x, y = digits().train.images[:8], digits().train.labels[:8]
    out = q(x, decision="gumbel", generator=torch.Generator().manual_seed(0))
    loss = torch.nn.functional.cross_entropy(out.logits, y)
    loss = loss + sum(((s.prob - 0.5) ** 2).mean() for s in out.stages)
    loss.backward()
    c = q.cfg.embed_dim
    for i in range(q.cfg.depth):
        g = q.blocks[i].attn.qkv.weight.grad
        assert all(g[j * c : (j + 1) * c].abs().sum() > 0 for j in range(3)), i
    for name in linear_ops(q.cfg):
        w = q.linear_module(name)
        w = q.blocks[int(name.split(".")[1])].attn.qkv.weight if isinstance(w, DerivedFixedPointLinear) else w.weight
        assert w.grad is not None and bool(torch.isfinite(w.grad).all()) and w.grad.abs().sum() > 0, name
