"""Model configurations: the DeiT family and the CPU-sized ``micro`` model.

A :class:`ModelConfig` fully describes an SPViT model's architecture, including where the
token selectors sit and the keep ratio each selector stage aims at. It is stored in every
checkpoint so a model can be rebuilt from the file alone.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, replace
from typing import Any

from ..errors import UserError


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a (soft-pruned) DeiT-style ViT."""

    name: str
    img_size: int
    patch_size: int
    in_chans: int
    num_classes: int
    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float = 4.0
    # Block indices (0-based) that get a token selector in front of them; empty = unpruned.
    selector_blocks: tuple[int, ...] = ()
    # Cumulative keep ratio per selector stage, relative to the patch tokens (class token excluded).
    keep_ratios: tuple[float, ...] = ()
    ln_eps: float = 1e-6
    # Initial std of the position embedding. DeiT uses 0.02; the micro model's tokens carry one
    # pixel each, so position has to dominate from the start (measured: 0.02 -> 44 % val after
    # 15 epochs on digits, 1.0 -> 90 %).
    pos_init_std: float = 0.02

    def __post_init__(self) -> None:
        object.__setattr__(self, "selector_blocks", tuple(int(b) for b in self.selector_blocks))
        object.__setattr__(self, "keep_ratios", tuple(float(r) for r in self.keep_ratios))
        self.validate()

    # --- derived sizes -------------------------------------------------------------------
    @property
    def grid(self) -> int:
        return self.img_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid * self.grid

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def mlp_hidden(self) -> int:
        return int(self.embed_dim * self.mlp_ratio)

    @property
    def num_stages(self) -> int:
        return len(self.selector_blocks)

    @property
    def prunes(self) -> bool:
        return self.num_stages > 0

    def validate(self) -> None:
        if self.img_size % self.patch_size:
            raise UserError(f"image size {self.img_size} is not a multiple of patch size {self.patch_size}")
        if self.embed_dim % self.num_heads:
            raise UserError(f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")
        if self.head_dim % 4:
            raise UserError(f"head dimension {self.head_dim} must be a multiple of 4 for the token selector")
        if len(self.keep_ratios) != len(self.selector_blocks):
            raise UserError(
                f"{len(self.selector_blocks)} selector blocks but {len(self.keep_ratios)} keep ratios; give one ratio per stage"
            )
        if list(self.selector_blocks) != sorted(set(self.selector_blocks)):
            raise UserError(f"selector blocks {self.selector_blocks} must be strictly increasing")
        if any(b < 0 or b >= self.depth for b in self.selector_blocks):
            raise UserError(f"selector blocks {self.selector_blocks} must lie in 0..{self.depth - 1}")
        prev = 1.0
        for r in self.keep_ratios:
            if not 0.0 <= r <= prev:
                raise UserError(f"keep ratios {self.keep_ratios} must be cumulative: non-increasing within [0, 1]")
            prev = r

    # --- variants ------------------------------------------------------------------------
    def unpruned(self) -> "ModelConfig":
        return replace(self, selector_blocks=(), keep_ratios=())

    def with_data(self, in_chans: int, num_classes: int, img_size: int | None = None) -> "ModelConfig":
        return replace(self, in_chans=in_chans, num_classes=num_classes, img_size=img_size or self.img_size)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["selector_blocks"] = list(self.selector_blocks)
        d["keep_ratios"] = list(self.keep_ratios)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        if not isinstance(d, dict):
            raise UserError(f"the model config is a {type(d).__name__}, not a dict of fields")
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise UserError(f"model config has unknown fields {sorted(unknown)}; was it written by a newer spvit_fpga?")
        fields = cls.__dataclass_fields__
        required = [f for f in fields if fields[f].default is MISSING]
        missing = [f for f in required if f not in d]
        if missing:
            raise UserError(f"model config lacks the fields {missing}")
        bad = [f"{k}={v!r}" for k, v in d.items() if not _field_value_ok(k, v)]
        if bad:
            raise UserError(f"model config has values of the wrong type: {', '.join(bad)}")
        return cls(**d)


def _field_value_ok(name: str, value: Any) -> bool:
    """Whether ``value`` has the type of field ``name`` (ints for sizes, lists of ints/numbers)."""
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_num(v: Any) -> bool:
        return (is_int(v) or isinstance(v, float)) and math.isfinite(v)

    if name == "name":
        return isinstance(value, str)
    if name == "selector_blocks":
        return isinstance(value, (list, tuple)) and all(is_int(v) for v in value)
    if name == "keep_ratios":
        return isinstance(value, (list, tuple)) and all(is_num(v) for v in value)
    if name in ("mlp_ratio", "ln_eps", "pos_init_std"):
        return is_num(value) and value > 0
    return is_int(value) and value > 0


# Official SPViT placement for 12-block DeiTs: selectors before blocks 3, 6, 9 with cumulative
# keep ratios 0.617, 0.369, 0.137 of the 196 patch tokens.
_DEIT_SELECTORS = dict(selector_blocks=(3, 6, 9), keep_ratios=(0.617, 0.369, 0.137))

MODELS: dict[str, ModelConfig] = {
    "deit-tiny": ModelConfig("deit-tiny", 224, 16, 3, 1000, 192, 12, 3, **_DEIT_SELECTORS),
    "deit-small": ModelConfig("deit-small", 224, 16, 3, 1000, 384, 12, 6, **_DEIT_SELECTORS),
    "deit-base": ModelConfig("deit-base", 224, 16, 3, 1000, 768, 12, 12, **_DEIT_SELECTORS),
    # CPU-sized model for the embedded digits data set: 8x8 grid of 4x4 patches = 64 patch tokens.
    "micro": ModelConfig(
        "micro", 32, 4, 1, 10, 64, 6, 2, selector_blocks=(1, 3, 5), keep_ratios=(0.65, 0.45, 0.3),
        pos_init_std=1.0,
    ),
}


def model_config(name: str) -> ModelConfig:
    """The named model's configuration (with its default selector placement)."""
    try:
        return MODELS[name]
    except KeyError:
        raise UserError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}") from None
