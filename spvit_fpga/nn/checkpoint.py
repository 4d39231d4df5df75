"""Project checkpoints (model config + weights + provenance) and pretrained DeiT loading."""
from __future__ import annotations

import math
import os
import pickle
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from ..errors import UserError
from .config import ModelConfig
from .model import SPViT

CHECKPOINT_FORMAT = "spvit_fpga.checkpoint"
CHECKPOINT_VERSION = 1


@dataclass
class Checkpoint:
    config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    dataset: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    quant: dict[str, Any] | None = None  # frozen formats of a quantised (QAT) checkpoint

    @property
    def is_quantized(self) -> bool:
        return self.quant is not None

    def build_float_model(self) -> SPViT:
        """The float SPViT with the same weights (for a quantised checkpoint: without quantisation).

        The model a quantised checkpoint describes (a ``QuantSPViT``) is built by
        :func:`spvit_fpga.quant.build_model`: quantisation comes after the float model in the
        flow, so this module does not import it."""
        model = SPViT(self.config)
        model.load_state_dict(self.state_dict)
        model.eval()
        return model


_UNSAFE_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")
_BAD_OPERAND = re.compile(r"Unsupported operand (\d+)")


def load_torch_file(path: Path, what: str = "PyTorch checkpoint") -> Any:
    """``torch.load`` of a file without running code from it (``weights_only=True``: tensors and
    plain containers only).  A file that names any other object, or is not a torch file, raises a
    one-line UserError."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = _UNSAFE_GLOBAL.search(str(exc))
        operand = _BAD_OPERAND.search(str(exc))
        if operand and not unsafe:  # bytes no pickle writer produces: not a torch.save file at all
            raise UserError(f"{path} is not a readable {what}: it is not a file torch.save wrote (unknown pickle opcode "
                            f"{operand.group(1)}); give a checkpoint file") from None
        if unsafe or "Weights only load failed" in str(exc):
            name = unsafe.group(1) if unsafe else "an object that is not plain data"
            raise UserError(f"{path} is not a readable {what}: it holds {name}, and loading it could run code; "
                            "spvit_fpga loads only tensors and plain data -- use a file written by spvit_fpga "
                            "(or a plain state_dict)") from None
        raise UserError(f"{path} is not a readable {what} ({_first_line(exc)})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError) as exc:
        raise UserError(f"{path} is not a readable {what} ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _torch_load(path: Path) -> Any:
    """A checkpoint file (or the ``checkpoint.pt`` of a run folder), loaded safely."""
    if not path.exists():
        raise UserError(f"checkpoint {path} does not exist; check the path")
    if path.is_dir():
        if (path / "checkpoint.pt").exists():
            path = path / "checkpoint.pt"
        else:
            raise UserError(f"{path} is a directory without checkpoint.pt; give the checkpoint file")
    return load_torch_file(path)


def save_checkpoint(
    path: str | os.PathLike, model: SPViT, dataset: dict | None = None, *, sections: dict | None = None, **meta: Any
) -> None:
    """Write atomically (temporary file + rename) so an interrupted run never leaves half a file.

    ``sections`` adds top-level entries (e.g. ``{"quant": ...}`` for a quantised model)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": model.cfg.to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "dataset": dataset or {},
        "meta": meta,
        **(sections or {}),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint`, with clear errors for anything else."""
    path = Path(path)
    obj = _torch_load(path)
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        if isinstance(obj, dict) and ("model" in obj or "pos_embed" in obj):
            raise UserError(
                f"{path} looks like a DeiT/timm weight file, not an spvit_fpga checkpoint; pass it with --pretrained"
            )
        raise UserError(f"{path} is not an spvit_fpga checkpoint (no '{CHECKPOINT_FORMAT}' header)")
    if obj.get("version") != CHECKPOINT_VERSION:
        raise UserError(
            f"{path} has checkpoint version {obj.get('version')}, this spvit_fpga reads version {CHECKPOINT_VERSION}"
        )
    for key, kind in (("config", dict), ("state_dict", dict), ("dataset", dict), ("meta", dict)):
        if key in ("config", "state_dict") and key not in obj:
            raise UserError(f"{path} is an incomplete spvit_fpga checkpoint (no '{key}'); "
                            "use the checkpoint.pt a finished training run wrote")
        if key in obj and not isinstance(obj[key], kind):
            raise UserError(f"{path} is a damaged spvit_fpga checkpoint ('{key}' is a {type(obj[key]).__name__})")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj["state_dict"].items()):
        raise UserError(f"{path} is a damaged spvit_fpga checkpoint ('state_dict' is not a dict of tensors)")
    try:
        cfg = ModelConfig.from_dict(obj["config"])
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    ck = Checkpoint(cfg, obj["state_dict"], obj.get("dataset", {}), obj.get("meta", {}), obj.get("quant"))
    check_state_dict(SPViT(cfg).state_dict(), ck.state_dict, str(path))
    return ck


def check_state_dict(expected: dict[str, torch.Tensor], got: dict[str, torch.Tensor], source: str) -> None:
    """Raise a UserError listing missing keys, unexpected keys and shape mismatches."""
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    shapes = [
        f"{k}: file {tuple(got[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(got))
        if tuple(got[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append("missing " + _short(missing))
    if unexpected:
        problems.append("unexpected " + _short(unexpected))
    if shapes:
        problems.append("shape mismatch " + _short(shapes))
    if problems:
        raise UserError(f"{source} does not fit the model: " + "; ".join(problems) + "; check --model and the data set")


def _short(items: list[str], limit: int = 6) -> str:
    head = ", ".join(items[:limit])
    return f"[{head}{', ...' if len(items) > limit else ''}] ({len(items)})"


DEIT_WRAPPER_KEYS = ("model", "state_dict", "model_state")
DDP_PREFIX = "module."
# ImageNet statistics DeiT normalises its inputs with (on pixel / 255)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DISTILLATION_KEYS = ("dist_token", "head_dist.weight", "head_dist.bias")
HEAD_KEYS = ("head.weight", "head.bias")


@dataclass
class PretrainedLoad:
    """What :func:`load_pretrained_deit` changed on the way in (``notes`` are printed by the commands)."""

    notes: list[str] = field(default_factory=list)
    head_replaced: bool = False  # the checkpoint's head had another class count: the model's head is new
    distilled: bool = False  # a distilled DeiT: its distillation token was dropped


def read_deit_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a DeiT/timm weight file: bare, or under ``model`` / ``state_dict`` /
    ``model_state``, with DDP's ``module.`` prefix removed."""
    path = Path(path)
    obj = _torch_load(path)
    if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:
        raise UserError(f"{path} is an spvit_fpga checkpoint; pass it with --init or --checkpoint, not --pretrained")
    if isinstance(obj, dict):
        for key in DEIT_WRAPPER_KEYS:
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"{path} holds no DeiT state_dict (expected a dict of tensors, bare or under 'model' or 'state_dict')")
    if all(k.startswith(DDP_PREFIX) for k in obj):
        obj = {k[len(DDP_PREFIX):]: v for k, v in obj.items()}
    return dict(obj)


def adapt_deit_state(state: dict[str, torch.Tensor], model: SPViT, source: str,
                     allow_new_head: bool = True) -> tuple[dict[str, torch.Tensor], PretrainedLoad]:
    """A DeiT state_dict made to fit ``model``: the distillation token of a distilled DeiT dropped
    (with its position), the patch position embedding interpolated bicubically to the model's grid,
    and, when the class count differs and ``allow_new_head``, the head left out (the model keeps
    its freshly initialised one).  Anything else that does not fit is one :class:`UserError`."""
    cfg = model.cfg
    sd = dict(state)
    info = PretrainedLoad()
    extra = 1
    if "dist_token" in sd:
        extra = 2
        for k in DISTILLATION_KEYS:
            sd.pop(k, None)
        info.distilled = True
        info.notes.append("distilled DeiT: dropped the distillation token (dist_token, its position, head_dist); "
                          "the class token and its head are used (the hardware has one class token)")
    pos = sd.get("pos_embed")
    if isinstance(pos, torch.Tensor) and pos.ndim == 3 and pos.shape[-1] == cfg.embed_dim:
        patches = pos[:, extra:]
        grid = math.isqrt(patches.shape[1])
        if grid * grid != patches.shape[1]:
            raise UserError(f"{source}: pos_embed has {patches.shape[1]} patch positions, not a square grid; "
                            f"is it a ViT/DeiT checkpoint?")
        if grid != cfg.grid:
            patches = _resize_positions(patches, grid, cfg.grid)
            info.notes.append(f"pos_embed: {grid}x{grid} patch positions interpolated bicubically to "
                              f"{cfg.grid}x{cfg.grid} ({cfg.img_size} px input)")
        sd["pos_embed"] = torch.cat([pos[:, :1], patches], dim=1)
    head = sd.get("head.weight")
    if (allow_new_head and isinstance(head, torch.Tensor) and head.ndim == 2 and head.shape[1] == cfg.embed_dim
            and head.shape[0] != cfg.num_classes):
        for k in HEAD_KEYS:
            sd.pop(k, None)
        info.head_replaced = True
        info.notes.append(f"head replaced: the checkpoint classifies {head.shape[0]} classes, the data set has "
                          f"{cfg.num_classes}; the new head starts from random weights")
    expected = {k: v for k, v in model.state_dict().items()
                if not k.startswith("selectors.") and k != "tau" and not (info.head_replaced and k in HEAD_KEYS)}
    check_state_dict(expected, sd, source)
    return sd, info


def _resize_positions(patches: torch.Tensor, old: int, new: int) -> torch.Tensor:
    """[1, old*old, C] position embeddings resampled bicubically to [1, new*new, C]."""
    c = patches.shape[-1]
    grid = patches.reshape(1, old, old, c).permute(0, 3, 1, 2).to(torch.float32)
    grid = torch.nn.functional.interpolate(grid, size=(new, new), mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1).reshape(1, new * new, c).to(patches.dtype)


@torch.no_grad()
def fold_input_normalisation(model: SPViT, mean: Sequence[float], std: Sequence[float], pixel_scale: float) -> None:
    """Make ``model`` take the project's pixels ``x`` where it expected ``((x * pixel_scale) - mean) / std``
    per channel: the patch embedding is linear, so ``W' = W * pixel_scale / std`` and
    ``b' = b - sum W * mean / std`` compute exactly that (patches do not overlap, no padding).  The
    inputs stay the data set's integer pixels over a power of two, the hardware's input contract."""
    proj = model.patch_embed.proj
    if proj.weight.shape[1] != len(mean):
        raise UserError(f"input normalisation has {len(mean)} channels, the model {proj.weight.shape[1]}")
    m = torch.tensor(mean, dtype=torch.float64)
    s = torch.tensor(std, dtype=torch.float64)
    w = proj.weight.to(torch.float64)
    shift = (w * (m / s)[None, :, None, None]).sum(dim=(1, 2, 3))
    proj.bias.copy_((proj.bias.to(torch.float64) - shift).to(proj.bias.dtype))
    proj.weight.copy_((w * (pixel_scale / s)[None, :, None, None]).to(proj.weight.dtype))


def load_pretrained_deit(path: str | os.PathLike, model: SPViT, *, input_frac_bits: int = 8,
                         allow_new_head: bool = True, state: dict[str, torch.Tensor] | None = None) -> PretrainedLoad:
    """Load a DeiT/timm weight file into ``model``'s backbone, the way DeiT fine-tuning starts.

    Accepts the layouts of :func:`read_deit_state`, distilled DeiTs, other input sizes and other
    class counts (:func:`adapt_deit_state`), then folds DeiT's ImageNet normalisation of
    ``pixel / 255`` into the patch embedding for inputs ``pixel / 2**input_frac_bits``
    (:func:`fold_input_normalisation`).  Selectors and thresholds keep their fresh initialisation.
    ``state``: the file's tensors when the caller has read them already (:func:`read_deit_state`).
    """
    sd, info = adapt_deit_state(state if state is not None else read_deit_state(path), model, str(path), allow_new_head)
    if model.cfg.in_chans != len(IMAGENET_MEAN):
        raise UserError(f"{path} takes {model.cfg.in_chans}-channel images, not ImageNet RGB; DeiT fine-tuning "
                        "needs an RGB data set")
    model.load_state_dict(sd, strict=False)
    fold_input_normalisation(model, IMAGENET_MEAN, IMAGENET_STD, 2**input_frac_bits / 255.0)
    info.notes.append("ImageNet mean/std normalisation folded into patch_embed (inputs stay pixel / "
                      f"{2**input_frac_bits})")
    return info
