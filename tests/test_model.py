"""SPViT model: masked vs physical removal, MAC counts, configurations."""
import pytest
import torch

from spvit_fpga.errors import UserError
from spvit_fpga.nn.config import ModelConfig, model_config
from spvit_fpga.nn.evaluation import calibrate_thresholds, evaluate_masked, evaluate_physical
from spvit_fpga.nn.macs import model_macs, ratios_for_budget, unpruned_macs
from spvit_fpga.nn.model import SPViT

TINY = ModelConfig(
    "tiny-test", img_size=8, patch_size=4, in_chans=1, num_classes=3, embed_dim=8, depth=2, num_heads=2,
    mlp_ratio=2.0, selector_blocks=(1,), keep_ratios=(0.5,),
)


def test_mac_count_matches_hand_count():
    # N = 4 patches, C = 8, H = 2 (d = 4), MLP hidden 16, 3 classes, one selector before block 1
    # keeping 2 of 4 tokens.
    embed = 4 * 8 * 1 * 16  # patches x C x (in_chans x 4 x 4)
    head = 8 * 3
    # block 0 on T = 5 tokens: QKV 5*8*24, proj 5*8*8, fc1 5*8*16, fc2 5*16*8, QK^T 5*5*8, AV 5*5*8
    block0 = 960 + 320 + 640 + 640 + 200 + 200
    # selector on 4 tokens: per token head weights 2*1 + 1*2, per head 16 + 8 + 2 + 2 (x2 heads),
    # keep score 2 products -> 62; package token 2 pruned tokens x 8 channels
    selector = 4 * (4 + 2 * 28 + 2) + 2 * 8
    # block 1 on T = 1 cls + 2 kept + 1 package token = 4
    block1 = 768 + 256 + 512 + 512 + 128 + 128
    assert model_macs(TINY, [2]) == embed + head + block0 + selector + block1 == 6064


def test_unpruned_macs_of_deit_small_is_4_6_gmacs():
    assert abs(unpruned_macs(model_config("deit-small")) / 1e9 - 4.6) < 0.01


def test_mac_count_is_differentiable():
    kept = torch.tensor([30.0], requires_grad=True)
    cfg = model_config("micro")
    macs = model_macs(cfg, [kept[0], kept[0] * 0.6, kept[0] * 0.4])
    macs.backward()
    assert kept.grad.item() > 0


def test_ratios_for_budget_meets_budget():
    cfg = model_config("micro")
    target = 0.55 * unpruned_macs(cfg)
    ratios = ratios_for_budget(cfg, (0.8, 0.6, 0.4), target)
    assert abs(model_macs(cfg, [r * cfg.num_patches for r in ratios]) - target) / target < 1e-6
    assert list(ratios) == sorted(ratios, reverse=True)


def test_forward_shapes_and_package_tokens():
    torch.manual_seed(0)
    model = SPViT(model_config("micro")).eval()
    out = model(torch.rand(3, 1, 32, 32))
    assert out.logits.shape == (3, 10)
    assert out.tokens.shape == (3, 1 + 64 + 3, 64)
    assert len(out.stages) == 3 and out.policy.shape == (3, 64)


def test_masked_and_physical_paths_agree_on_random_model(digits):
    torch.manual_seed(0)
    model = SPViT(model_config("micro")).eval()
    calibrate_thresholds(model, digits.val)
    subset = torch.utils.data.Subset(digits.test, range(40))
    subset.images, subset.labels = digits.test.images[:40], digits.test.labels[:40]
    masked = evaluate_masked(model, subset)
    phys = evaluate_physical(model, subset)
    assert (phys.kept == masked.kept).all()
    assert phys.kept.min() < 64, "calibrated thresholds must prune"
    for i in range(5):
        p = model.forward_physical(subset.images[i])
        m = model(subset.images[i : i + 1])
        assert torch.allclose(p.logits, m.logits[0], atol=1e-5)
        masks = [torch.nonzero(s.keep[0]).flatten().tolist() for s in m.stages]
        assert masks == p.kept_indices


def test_physical_sequence_lengths():
    torch.manual_seed(0)
    model = SPViT(model_config("micro")).eval()
    model.tau.fill_(float("inf"))  # prune everything at every stage
    out = model.forward_physical(torch.rand(1, 32, 32))
    assert out.kept_indices == [[], [], []]
    # blocks 0..5, selectors before 1, 3, 5: cls + patches + package tokens
    assert out.token_counts == [65, 2, 2, 3, 3, 4]
    model.tau.fill_(float("-inf"))  # keep everything: package tokens are zero vectors
    out = model.forward_physical(torch.rand(1, 32, 32))
    assert [len(k) for k in out.kept_indices] == [64, 64, 64]
    assert out.token_counts == [65, 66, 66, 67, 67, 68]


def test_topk_mode_keeps_fixed_counts():
    torch.manual_seed(0)
    model = SPViT(model_config("micro")).eval()
    out = model.forward_physical(torch.rand(1, 32, 32), decision="topk")
    assert [len(k) for k in out.kept_indices] == [round(r * 64) for r in model.cfg.keep_ratios]


def test_config_validation_errors():
    with pytest.raises(UserError, match="keep ratios"):
        ModelConfig("x", 32, 4, 1, 10, 64, 6, 2, selector_blocks=(1, 3), keep_ratios=(0.5,))
    with pytest.raises(UserError, match="cumulative"):
        ModelConfig("x", 32, 4, 1, 10, 64, 6, 2, selector_blocks=(1, 3), keep_ratios=(0.5, 0.7))
    with pytest.raises(UserError, match="unknown model"):
        model_config("deit-huge")
    assert ModelConfig.from_dict(model_config("micro").to_dict()) == model_config("micro")
