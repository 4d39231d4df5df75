"""The SPViT token selector: shapes, masks, decision rules and the package token."""

import torch

from spvit_fpga.nn.token_select import (
    TokenSelector,
    gumbel_keep,
    keep_prob,
    keep_score,
    package_token,
    threshold_keep,
    topk_keep,
    weighted_log_probs,
)


def test_selector_shapes_and_head_weights_range():
    torch.manual_seed(0)
    sel = TokenSelector(dim=48, num_heads=3)
    x = torch.randn(2, 10, 48)
    w, s = sel(x)
    assert w.shape == (2, 10, 3) and s.shape == (2, 10, 3, 2)
    assert torch.all((w > 0) & (w < 1))


def test_global_feature_uses_only_live_tokens():
    """Changing a dead token must not change any live token's logits."""
    torch.manual_seed(1)
    sel = TokenSelector(dim=32, num_heads=2).eval()
    x = torch.randn(1, 6, 32)
    alive = torch.tensor([[1.0, 1.0, 0.0, 1.0, 0.0, 1.0]])
    _, s1 = sel(x, alive)
    x2 = x.clone()
    x2[0, 2] += 3.0 * torch.randn(32)
    _, s2 = sel(x2, alive)
    live = alive[0] > 0
    assert torch.allclose(s1[0, live], s2[0, live])
    # With all tokens alive the change does propagate through the global mean.
    _, s3 = sel(x)
    _, s4 = sel(x2)
    assert not torch.allclose(s3[0, 0], s4[0, 0])


def test_global_feature_of_no_live_tokens_is_zero_mean():
    sel = TokenSelector(dim=32, num_heads=2).eval()
    x = torch.randn(1, 4, 32)
    _, s = sel(x, torch.zeros(1, 4))
    assert torch.isfinite(s).all()


def test_inference_rule_equals_argmax_of_weighted_log_softmax():
    torch.manual_seed(2)
    w = torch.rand(4, 50, 3) + 0.01
    s = torch.randn(4, 50, 3, 2) * 3
    logp = weighted_log_probs(w, s)
    argmax_keep = logp.argmax(-1) == 0
    rule_keep = threshold_keep(keep_score(w, s), 0.0) > 0
    # log sigma(d) - log sigma(-d) = d: the weighted log-odds equal the score divided by sum w.
    log_odds = logp[..., 0] - logp[..., 1]
    assert torch.allclose(log_odds * w.sum(-1), keep_score(w, s), atol=1e-5)
    assert torch.equal(argmax_keep, rule_keep)


def test_keep_prob_is_weighted_softmax():
    w = torch.tensor([[[0.25, 0.75]]])
    s = torch.tensor([[[[2.0, 0.0], [0.0, 1.0]]]])
    expected = (0.25 * torch.sigmoid(torch.tensor(2.0)) + 0.75 * torch.sigmoid(torch.tensor(-1.0))) / 1.0
    assert torch.allclose(keep_prob(w, s), expected.reshape(1, 1))


def test_gumbel_keep_is_hard_with_straight_through_gradient():
    torch.manual_seed(3)
    w = torch.rand(2, 30, 2, requires_grad=True)
    s = torch.randn(2, 30, 2, 2, requires_grad=True)
    k = gumbel_keep(w, s, torch.Generator().manual_seed(0))
    assert set(k.detach().unique().tolist()) <= {0.0, 1.0}
    k.sum().backward()
    assert s.grad is not None and s.grad.abs().sum() > 0


def test_topk_keeps_best_live_tokens():
    score = torch.tensor([[5.0, 1.0, 4.0, 3.0, 9.0]])
    alive = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0]])
    keep = topk_keep(score, alive, 2)
    assert keep.tolist() == [[1.0, 0.0, 1.0, 0.0, 0.0]]
    assert topk_keep(score, alive, 10).tolist() == [[1.0, 1.0, 1.0, 1.0, 0.0]]


def test_package_token_is_normalised_weighted_average_of_pruned():
    x = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [10.0, 10.0]]])
    pruned = torch.tensor([[1.0, 1.0, 0.0]])
    p = torch.tensor([[0.25, 0.75, 0.9]])
    pkg = package_token(x, pruned, p)
    assert torch.allclose(pkg, torch.tensor([[[0.25 * 1 + 0.75 * 3, 0.75 * 2]]]))


def test_package_token_nothing_pruned_is_zero():
    x = torch.randn(2, 5, 4)
    pkg = package_token(x, torch.zeros(2, 5), torch.rand(2, 5))
    assert torch.equal(pkg, torch.zeros(2, 1, 4))


def test_package_token_all_pruned_averages_everything():
    torch.manual_seed(4)
    x = torch.randn(1, 7, 3)
    p = torch.rand(1, 7) + 0.1
    pkg = package_token(x, torch.ones(1, 7), p)
    expected = (p[0, :, None] * x[0]).sum(0) / p.sum()
    assert torch.allclose(pkg[0, 0], expected, atol=1e-6)
