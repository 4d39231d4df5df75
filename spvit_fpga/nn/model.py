"""SPViT: a DeiT-style Vision Transformer with multi-head token selectors and package tokens.

Parameter names follow the DeiT/timm layout (``cls_token``, ``pos_embed``, ``patch_embed.proj``,
``blocks.N.norm1``, ``blocks.N.attn.qkv``, ``blocks.N.attn.proj``, ``blocks.N.mlp.fc1``/``fc2``,
``norm``, ``head``) so pretrained DeiT weights load directly; the selectors live in
``selectors.S`` and their calibrated thresholds in the ``tau`` buffer.

Two forward paths compute the same function:

* :meth:`SPViT.forward` works on a batch with keep *masks*: pruned tokens stay in the tensor but
  are masked out of every attention key set (a token still sees itself, which only affects its
  own, never-used, value). Used in training (Gumbel decisions with straight-through gradients)
  and for fast batched evaluation.
* :meth:`SPViT.forward_physical` works on one image and physically removes pruned tokens: the
  token sequence after a stage is ``[cls, kept patches in order, package tokens]``. This is the
  inference semantics the hardware implements.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .token_select import (
    DECISION_MODES,
    TokenSelector,
    gumbel_keep,
    keep_prob,
    keep_score,
    package_token,
    threshold_keep,
    topk_keep,
)


class PatchEmbed(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.proj = nn.Conv2d(cfg.in_chans, cfg.embed_dim, cfg.patch_size, stride=cfg.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


def masked_softmax(attn: torch.Tensor, key_policy: torch.Tensor) -> torch.Tensor:
    """Softmax over keys where ``key_policy`` [B,T] (0/1, may carry gradients) is 1 or the key is
    the query itself. Multiplying (rather than filling -inf) lets straight-through gradients of
    the keep decisions flow, as in DynamicViT."""
    t = attn.shape[-1]
    eye = torch.eye(t, dtype=attn.dtype, device=attn.device)
    policy = key_policy[:, None, None, :] * (1.0 - eye) + eye
    allowed_max = attn.masked_fill(policy <= 0, float("-inf")).amax(-1, keepdim=True).detach()
    e = torch.exp((attn - allowed_max).clamp(max=0.0)) * policy
    return e / e.sum(-1, keepdim=True)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, key_policy: torch.Tensor | None = None) -> torch.Tensor:
        b, t, c = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        if key_policy is None:
            attn = attn.softmax(-1)
        else:
            attn = masked_softmax(attn, key_policy)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, t, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.embed_dim, eps=cfg.ln_eps)
        self.attn = Attention(cfg.embed_dim, cfg.num_heads)
        self.norm2 = nn.LayerNorm(cfg.embed_dim, eps=cfg.ln_eps)
        self.mlp = Mlp(cfg.embed_dim, cfg.mlp_hidden)

    def forward(self, x: torch.Tensor, key_policy: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), key_policy)
        return x + self.mlp(self.norm2(x))


@dataclass
class StageTrace:
    """What one selector stage saw and decided (masked layout, [B,N] over all patch tokens)."""

    alive_before: torch.Tensor
    keep: torch.Tensor  # alive after this stage (cumulative); may carry straight-through gradients
    prob: torch.Tensor  # keep probability p_j
    score: torch.Tensor  # sum_h w_h (s_keep,h - s_prune,h)


@dataclass
class SPViTOutput:
    logits: torch.Tensor
    tokens: torch.Tensor  # final normalised tokens, [B, 1 + N + stages, C] (masked layout)
    policy: torch.Tensor  # [B, N] patch tokens alive at the end
    stages: list[StageTrace] = field(default_factory=list)

    def kept_counts(self) -> torch.Tensor:
        """[B, S] patch tokens alive after each stage (differentiable under straight-through)."""
        if not self.stages:
            return self.policy.new_zeros(self.policy.shape[0], 0)
        return torch.stack([s.keep.sum(1) for s in self.stages], dim=1)


@dataclass
class PhysicalOutput:
    logits: torch.Tensor  # [num_classes]
    kept_indices: list[list[int]]  # per stage: indices (0..N-1) of the patch tokens kept, in order
    token_counts: list[int]  # sequence length entering each block


class SPViT(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_patches + 1, cfg.embed_dim))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.ln_eps)
        self.head = nn.Linear(cfg.embed_dim, cfg.num_classes)
        self.selectors = nn.ModuleList(
            TokenSelector(cfg.embed_dim, cfg.num_heads, cfg.ln_eps) for _ in cfg.selector_blocks
        )
        # Calibrated per-stage thresholds of the deterministic rule (0 = plain argmax rule).
        self.register_buffer("tau", torch.zeros(cfg.num_stages))
        self.decision = "threshold"
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=self.cfg.pos_init_std, a=-2 * self.cfg.pos_init_std, b=2 * self.cfg.pos_init_std)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def backbone_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if not n.startswith("selectors.")]

    def selector_parameters(self) -> list[nn.Parameter]:
        return list(self.selectors.parameters())

    def topk_count(self, stage: int) -> int:
        return int(round(self.cfg.keep_ratios[stage] * self.cfg.num_patches))

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(images)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        return torch.cat([cls, x], dim=1) + self.pos_embed

    def _decide(self, stage: int, decision: str, w, s, score, alive, generator) -> torch.Tensor:
        if decision == "gumbel":
            return gumbel_keep(w, s, generator) * alive
        if decision == "threshold":
            return threshold_keep(score, self.tau[stage]) * alive
        if decision == "topk":
            return topk_keep(score, alive, self.topk_count(stage))
        raise ValueError(f"decision must be one of {DECISION_MODES}, got {decision!r}")

    def forward(
        self,
        images: torch.Tensor,
        decision: str | None = None,
        generator: torch.Generator | None = None,
    ) -> SPViTOutput:
        """Batched forward with keep masks. ``decision``: gumbel | threshold | topk (default:
        gumbel in training mode, ``self.decision`` in eval mode)."""
        if decision is None:
            decision = "gumbel" if self.training else self.decision
        cfg = self.cfg
        x = self.embed(images)
        b, n = x.shape[0], cfg.num_patches
        alive = x.new_ones(b, n)
        stages: list[StageTrace] = []
        for i, blk in enumerate(self.blocks):
            if len(stages) < cfg.num_stages and cfg.selector_blocks[len(stages)] == i:
                st = len(stages)
                patches = x[:, 1 : 1 + n]
                w, s = self.selectors[st](patches, alive)
                score = keep_score(w, s)
                p = keep_prob(w, s)
                keep = self._decide(st, decision, w, s, score, alive, generator)
                x = torch.cat([x, package_token(patches, alive - keep, p)], dim=1)
                stages.append(StageTrace(alive, keep, p, score))
                alive = keep
            if stages:
                key_policy = torch.cat([alive.new_ones(b, 1), alive, alive.new_ones(b, len(stages))], dim=1)
                x = blk(x, key_policy)
            else:
                x = blk(x)
        x = self.norm(x)
        return SPViTOutput(self.head(x[:, 0]), x, alive, stages)

    @torch.no_grad()
    def forward_physical(self, image: torch.Tensor, decision: str | None = None) -> PhysicalOutput:
        """One image [C,H,W] with pruned tokens physically removed (deterministic decisions)."""
        decision = decision or self.decision
        if decision == "gumbel":
            raise ValueError("physical removal is for deterministic decisions (threshold or topk)")
        cfg = self.cfg
        x = self.embed(image[None])
        idx = torch.arange(cfg.num_patches)
        n_pkg = 0
        kept_indices: list[list[int]] = []
        counts: list[int] = []
        for i, blk in enumerate(self.blocks):
            st = len(kept_indices)
            if st < cfg.num_stages and cfg.selector_blocks[st] == i:
                m = idx.numel()
                patches = x[:, 1 : 1 + m]
                w, s = self.selectors[st](patches)
                score = keep_score(w, s)
                alive = score.new_ones(1, m)
                keep = self._decide(st, decision, w, s, score, alive, None)[0] > 0
                pkg = package_token(patches, (~keep).to(x.dtype)[None], keep_prob(w, s))
                x = torch.cat([x[:, :1], patches[:, keep], x[:, 1 + m :], pkg], dim=1)
                idx = idx[keep]
                kept_indices.append(idx.tolist())
                n_pkg += 1
            counts.append(x.shape[1])
            x = blk(x, x.new_ones(1, x.shape[1]) if kept_indices else None)
        x = self.norm(x)
        return PhysicalOutput(self.head(x[0, 0]), kept_indices, counts)


def build_model(cfg: ModelConfig) -> SPViT:
    return SPViT(cfg)
