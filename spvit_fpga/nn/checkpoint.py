"""Project checkpoints (model config + weights + provenance) and pretrained DeiT loading."""
from __future__ import annotations

import os
import pickle
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def load_pretrained_deit(path: str | os.PathLike, model: SPViT) -> None:
    """Load a DeiT/timm ``state_dict`` (bare or wrapped as {"model": ...}) into the backbone.

    Selectors and thresholds keep their fresh initialisation. Any missing or unexpected
    backbone key, or any shape that differs, is reported in one error.
    """
    path = Path(path)
    obj = _torch_load(path)
    if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:
        raise UserError(f"{path} is an spvit_fpga checkpoint; pass it with --init or --checkpoint, not --pretrained")
    if isinstance(obj, dict):
        for key in DEIT_WRAPPER_KEYS:
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"{path} holds no DeiT state_dict (expected a dict of tensors, bare or under 'model')")
    expected = {k: v for k, v in model.state_dict().items() if not k.startswith("selectors.") and k != "tau"}
    check_state_dict(expected, obj, str(path))
    model.load_state_dict(obj, strict=False)
