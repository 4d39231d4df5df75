"""Evaluation and threshold calibration of (soft-pruned) models on a data set split."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .macs import model_macs, unpruned_macs
from .model import SPViT


def iterate_batches(dataset: Dataset, batch_size: int):
    """(images, labels) batches in dataset order."""
    images = getattr(dataset, "images", None)
    labels = getattr(dataset, "labels", None)
    if isinstance(images, torch.Tensor) and isinstance(labels, torch.Tensor):
        for i in range(0, len(images), batch_size):
            yield images[i : i + batch_size], labels[i : i + batch_size]
        return
    yield from DataLoader(dataset, batch_size=batch_size, shuffle=False)


@dataclass
class EvalResult:
    """Per-image predictions and kept-token counts of one model on one split."""

    predictions: np.ndarray  # [M]
    labels: np.ndarray  # [M]
    kept: np.ndarray  # [M, S] patch tokens kept after each stage
    macs: np.ndarray  # [M] MACs per image with the tokens actually kept
    macs_unpruned: int
    kept_indices: list[list[list[int]]] | None = None  # per image, per stage (physical path only)

    @property
    def accuracy(self) -> float:
        return float((self.predictions == self.labels).mean()) if len(self.labels) else float("nan")

    @property
    def images(self) -> int:
        return int(len(self.labels))


@torch.no_grad()
def evaluate_masked(model: SPViT, dataset: Dataset, decision: str | None = None, batch_size: int = 256,
                    generator: torch.Generator | None = None, progress=None) -> EvalResult:
    """Batched evaluation with keep masks (fast; same decisions as physical removal).

    ``decision="gumbel"`` samples the decisions from ``generator``, as the official code evaluates;
    then the kept indices of every image are recorded too (there is no physical path for them)."""
    model.eval()
    preds, labels, kept, indices = [], [], [], []
    for x, y in iterate_batches(dataset, batch_size):
        out = model(x, decision=decision, generator=generator)
        preds.append(out.logits.argmax(-1))
        labels.append(y)
        kept.append(out.kept_counts())
        if decision == "gumbel":
            indices += [[st.keep[b].nonzero().flatten().tolist() for st in out.stages] for b in range(len(x))]
        if progress is not None:
            progress.update(len(x))
    kept_arr = torch.cat(kept).round().long().numpy()
    res = _result(model, torch.cat(preds).numpy(), torch.cat(labels).numpy(), kept_arr)
    res.kept_indices = indices if decision == "gumbel" else None
    return res


@torch.no_grad()
def evaluate_physical(model: SPViT, dataset: Dataset, decision: str | None = None, progress=None) -> EvalResult:
    """One image at a time with pruned tokens physically removed (the hardware semantics)."""
    model.eval()
    preds, labels, kept, indices = [], [], [], []
    for x, y in iterate_batches(dataset, 64):
        for img, lab in zip(x, y):
            out = model.forward_physical(img, decision=decision)
            preds.append(int(out.logits.argmax()))
            labels.append(int(lab))
            kept.append([len(k) for k in out.kept_indices])
            indices.append(out.kept_indices)
            if progress is not None:
                progress.update(1)
    s = model.cfg.num_stages
    kept_arr = np.array(kept, dtype=np.int64).reshape(len(kept), s)
    res = _result(model, np.array(preds), np.array(labels), kept_arr)
    res.kept_indices = indices
    return res


def _result(model: SPViT, preds: np.ndarray, labels: np.ndarray, kept: np.ndarray) -> EvalResult:
    cfg = model.cfg
    macs = np.array([model_macs(cfg, list(row)) for row in kept], dtype=np.float64) if cfg.prunes else (
        np.full(len(preds), float(unpruned_macs(cfg)))
    )
    return EvalResult(preds, labels, kept, macs, unpruned_macs(cfg))


@torch.no_grad()
def calibrate_thresholds(model: SPViT, dataset: Dataset, ratios=None, batch_size: int = 256) -> torch.Tensor:
    """Set ``model.tau`` so that the mean number of kept patch tokens after stage ``s`` is
    ``ratios[s] * N`` on ``dataset`` (stage by stage, each with the earlier thresholds in place).

    The threshold is the K-th largest score among all live tokens of all images, K = round(r N M),
    so tokens scoring at least tau are kept; the rule stays adaptive per image.
    """
    model.eval()
    cfg = model.cfg
    ratios = cfg.keep_ratios if ratios is None else ratios
    n = cfg.num_patches
    for st in range(cfg.num_stages):
        scores = []
        for x, _ in iterate_batches(dataset, batch_size):
            out = model(x, decision="threshold")
            trace = out.stages[st]
            scores.append(trace.score[trace.alive_before > 0])
        pool = torch.cat(scores).sort(descending=True).values
        images = len(dataset)
        k = int(round(ratios[st] * n * images))
        if k <= 0:
            tau = pool[0].item() + 1.0 if len(pool) else 0.0
        elif k >= len(pool):
            tau = pool[-1].item() - 1.0 if len(pool) else 0.0
        else:
            # Midway between the K-th and (K+1)-th score: robust to tiny numeric differences.
            tau = 0.5 * (pool[k - 1].item() + pool[k].item())
        model.tau[st] = tau
    return model.tau.clone()
