"""Multiply-accumulate counts of an SPViT model as a function of the tokens it keeps.

Counted: every multiply of a matrix product (patch embedding, QKV, QK^T, A.V, projection, MLP,
classifier), the token selectors (head-weight MLP, per-head MLPs, the keep score's H products)
and the package token's weighted sum. Not counted: LayerNorm, softmax, GELU, additions and
means (a few percent at most). All functions accept plain numbers or torch tensors, so the same
formula gives the differentiable MAC count used by computation-aware training.
"""
from __future__ import annotations

from typing import Callable, Sequence

from .config import ModelConfig


def block_macs(tokens, dim: int, mlp_hidden: int):
    """One encoder block on ``tokens`` tokens: QKV + projection (4TC^2), MLP (2TCh), QK^T and A.V (2T^2C)."""
    return 4 * tokens * dim * dim + 2 * tokens * dim * mlp_hidden + 2 * tokens * tokens * dim


def selector_macs(tokens, pruned, dim: int, num_heads: int):
    """One selector stage scoring ``tokens`` live patch tokens, of which ``pruned`` are merged."""
    d = dim // num_heads
    hidden = max(1, num_heads // 2)
    head_weights = 2 * num_heads * hidden
    per_head = d * d + d * (d // 2) + (d // 2) * (d // 4) + (d // 4) * 2
    per_token = head_weights + num_heads * per_head + num_heads  # + keep score products
    return tokens * per_token + pruned * dim  # + package token weighted sum


def embed_macs(cfg: ModelConfig) -> int:
    return cfg.num_patches * cfg.embed_dim * cfg.in_chans * cfg.patch_size * cfg.patch_size


def head_macs(cfg: ModelConfig) -> int:
    return cfg.embed_dim * cfg.num_classes


def model_macs(cfg: ModelConfig, kept: Sequence | None = None):
    """MACs of one image; ``kept[s]`` = patch tokens alive after selector stage ``s``.

    ``kept=None`` means nothing is pruned; for an unpruned config (no stages) it is ignored.
    """
    n = cfg.num_patches
    if kept is None:
        kept = [n] * cfg.num_stages
    if len(kept) != cfg.num_stages:
        raise ValueError(f"need {cfg.num_stages} kept-token counts, got {len(kept)}")
    total = embed_macs(cfg) + head_macs(cfg)
    alive = n
    stage = 0
    for i in range(cfg.depth):
        if stage < cfg.num_stages and cfg.selector_blocks[stage] == i:
            total = total + selector_macs(alive, alive - kept[stage], cfg.embed_dim, cfg.num_heads)
            alive = kept[stage]
            stage += 1
        tokens = 1 + alive + stage  # class token + live patches + package tokens
        total = total + block_macs(tokens, cfg.embed_dim, cfg.mlp_hidden)
    return total


def unpruned_macs(cfg: ModelConfig) -> int:
    return model_macs(cfg.unpruned())


def ratios_for_budget(
    cfg: ModelConfig, profile: Sequence[float], target: float, cost: Callable[[list[float]], float] | None = None
) -> tuple[float, ...]:
    """Scale a keep-ratio profile (cumulative, per stage) so the model costs ``target``.

    ``cost`` maps kept-token counts per stage to the cost (default: MACs, :func:`model_macs`; a
    latency table's ``ms`` for latency-aware training); it must grow with the counts.  Bisection on
    a common factor; ratios stay within [0, 1] and non-increasing. Raises ValueError when even
    pruning everything cannot reach the budget.
    """
    n = cfg.num_patches
    cost = cost or (lambda kept: float(model_macs(cfg, kept)))

    def at(alpha: float) -> float:
        return float(cost([r * n for r in _scaled(profile, alpha)]))

    if at(0.0) > target:
        raise ValueError(f"budget {target:.4g} is below the cost with every token pruned ({at(0.0):.4g})")
    lo, hi = 0.0, 1.0 / max(min(profile), 1e-6)
    if at(hi) <= target:
        return _scaled(profile, hi)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if at(mid) <= target:
            lo = mid
        else:
            hi = mid
    return _scaled(profile, lo)


def _scaled(profile: Sequence[float], alpha: float) -> tuple[float, ...]:
    out, prev = [], 1.0
    for r in profile:
        prev = min(prev, max(0.0, min(1.0, r * alpha)))
        out.append(prev)
    return tuple(out)
