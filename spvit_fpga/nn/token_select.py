"""SPViT multi-head token selector and package token (float, trainable face of ``token_select``).

Per selector stage, on the patch tokens that are still alive (class token and earlier package
tokens excluded):

* head weights ``w_h``: the mean of each head's channel slice -> Linear(H, H/2) -> GELU ->
  Linear(H/2, H) -> Sigmoid (an SE-style head importance per token);
* per head (one MLP shared by all heads): LayerNorm(d) -> Linear(d, d) -> GELU; the first d/2
  channels are the local feature, the mean of the last d/2 channels over the live tokens is the
  global feature; [local, global] -> Linear(d, d/2) -> GELU -> Linear(d/2, d/4) -> GELU ->
  Linear(d/4, 2) gives the logits (s_keep, s_prune) of each head.

Decisions: hard Gumbel-softmax of the weighted log-softmax in training (straight-through);
at inference a deterministic rule ``sum_h w_h (s_keep,h - s_prune,h) >= tau`` (the argmax of the
weighted log-softmax when tau = 0) or a fixed top-k per image.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DECISION_MODES = ("gumbel", "threshold", "topk")


class TokenSelector(nn.Module):
    """Scores patch tokens; returns head weights ``w`` [B,N,H] and logits ``s`` [B,N,H,2]."""

    def __init__(self, dim: int, num_heads: int, ln_eps: float = 1e-6) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = d = dim // num_heads
        hidden = max(1, num_heads // 2)
        self.head_fc1 = nn.Linear(num_heads, hidden)
        self.head_fc2 = nn.Linear(hidden, num_heads)
        self.norm = nn.LayerNorm(d, eps=ln_eps)
        self.in_fc = nn.Linear(d, d)
        self.out_fc1 = nn.Linear(d, d // 2)
        self.out_fc2 = nn.Linear(d // 2, d // 4)
        self.out_fc3 = nn.Linear(d // 4, 2)

    def head_weights(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        means = x.view(b, n, self.num_heads, self.head_dim).mean(-1)
        return torch.sigmoid(self.head_fc2(F.gelu(self.head_fc1(means))))

    def forward(self, x: torch.Tensor, alive: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` [B,N,C] patch tokens, ``alive`` [B,N] in {0,1} (None: all alive)."""
        b, n, _ = x.shape
        w = self.head_weights(x)
        f = F.gelu(self.in_fc(self.norm(x.view(b, n, self.num_heads, self.head_dim))))
        half = self.head_dim // 2
        local, glob = f[..., :half], f[..., half:]
        if alive is None:
            glob = glob.mean(1, keepdim=True)
        else:
            a = alive[:, :, None, None]
            count = alive.sum(1)[:, None, None, None]
            # Mean over live tokens; zero when no token is alive.
            glob = (glob * a).sum(1, keepdim=True) / count.clamp(min=1)
        z = torch.cat([local, glob.expand(-1, n, -1, -1)], dim=-1)
        s = self.out_fc3(F.gelu(self.out_fc2(F.gelu(self.out_fc1(z)))))
        return w, s


def keep_score(w: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Deterministic score ``sum_h w_h (s_keep,h - s_prune,h)`` [B,N]; keep iff >= tau."""
    return (w * (s[..., 0] - s[..., 1])).sum(-1)


def weighted_log_probs(w: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``sum_h w_h log_softmax(s_h) / sum_h w_h`` [B,N,2] (index 0 = keep)."""
    return (w[..., None] * F.log_softmax(s, dim=-1)).sum(-2) / w.sum(-1, keepdim=True)


def keep_prob(w: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Keep probability ``p = sum_h w_h softmax(s_h)_keep / sum_h w_h`` [B,N]."""
    return (w * F.softmax(s, dim=-1)[..., 0]).sum(-1) / w.sum(-1)


def gumbel_keep(w: torch.Tensor, s: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Hard Gumbel-softmax keep decision in {0,1} with straight-through gradient [B,N]."""
    logp = weighted_log_probs(w, s)
    u = torch.rand(logp.shape, generator=generator, dtype=logp.dtype, device=logp.device)
    g = -torch.log(-torch.log(u.clamp(1e-10, 1.0 - 1e-7)))
    soft = F.softmax(logp + g, dim=-1)
    hard = F.one_hot(soft.argmax(-1), 2).to(soft.dtype)
    return (hard - soft.detach() + soft)[..., 0]


def threshold_keep(score: torch.Tensor, tau: float | torch.Tensor) -> torch.Tensor:
    return (score >= tau).to(score.dtype)


def topk_keep(score: torch.Tensor, alive: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` best-scoring live tokens of each image (all live ones if fewer)."""
    masked = score.masked_fill(alive <= 0, float("-inf"))
    k = min(k, score.shape[1])
    keep = torch.zeros_like(score)
    if k > 0:
        idx = masked.topk(k, dim=1).indices
        keep.scatter_(1, idx, 1.0)
    return keep * (alive > 0).to(score.dtype)


def package_token(x: torch.Tensor, pruned: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Normalised package token ``sum_j p_j x_j / sum_j p_j`` over the pruned tokens [B,1,C].

    ``pruned`` [B,N] marks the tokens pruned at this stage (may carry gradients), ``p`` [B,N]
    their keep probabilities. When nothing is pruned (or all weights are zero) the package
    token is all zeros.
    """
    weight = pruned * p
    total = weight.sum(1)[:, None, None]
    num = (weight[:, :, None] * x).sum(1, keepdim=True)
    return torch.where(total > 0, num / total.clamp(min=torch.finfo(x.dtype).tiny), torch.zeros_like(num))
