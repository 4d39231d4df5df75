"""Plots: which patches each selector stage kept, and accuracy against GMACs or latency."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from matplotlib.patches import Patch  # noqa: E402

from .config import ModelConfig  # noqa: E402

PRUNED_RGB = (0.85, 0.1, 0.1)  # shade of pruned patches


def _display_image(image: torch.Tensor) -> np.ndarray:
    img = image.detach().cpu().numpy()
    img = np.transpose(img, (1, 2, 0))
    img = (img - img.min()) / max(1e-12, float(img.max() - img.min()))
    return img[:, :, 0] if img.shape[2] == 1 else img


def plot_kept_patches(
    image: torch.Tensor, kept_indices: Sequence[Sequence[int]], cfg: ModelConfig, path: Path, title: str = ""
) -> None:
    """Original image plus one panel per stage; pruned patches are shaded red."""
    img = _display_image(image)
    rgb = np.stack([img] * 3, -1) if img.ndim == 2 else img
    stages = len(kept_indices)
    fig, axes = plt.subplots(1, stages + 1, figsize=(2.2 * (stages + 1), 2.9))
    axes = np.atleast_1d(axes)
    axes[0].imshow(rgb, interpolation="nearest")
    axes[0].set_title(title or "input", fontsize=8)
    p, g = cfg.patch_size, cfg.grid
    for s, kept in enumerate(kept_indices):
        shade = rgb.copy()
        mask = np.zeros(g * g, dtype=bool)
        mask[list(kept)] = True
        for t in np.flatnonzero(~mask):
            r, c = divmod(int(t), g)
            shade[r * p : (r + 1) * p, c * p : (c + 1) * p] = 0.35 * shade[r * p : (r + 1) * p, c * p : (c + 1) * p] + 0.65 * np.array(PRUNED_RGB)
        axes[s + 1].imshow(shade, interpolation="nearest")
        axes[s + 1].set_title(f"stage {s + 1}: {len(kept)}/{g * g} kept", fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if stages:
        fig.legend(handles=[Patch(facecolor=PRUNED_RGB, label="pruned (merged into the package token)"),
                            Patch(facecolor="white", edgecolor="grey", label="kept")],
                   loc="lower center", ncol=2, fontsize=7, frameon=False)
        fig.tight_layout(rect=(0, 0.1, 1, 1))
    else:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def accuracy_axis_limits(accuracies: Sequence[float], margin: float = 5.0) -> tuple[float, float]:
    """y range (percent) of the accuracy plot: the points with ``margin`` points around them, never
    below 0 % or above 100 % (matplotlib would centre a single point on a range that reaches below 0)."""
    lo, hi = 100 * min(accuracies), 100 * max(accuracies)
    return max(0.0, lo - margin), min(100.0, hi + margin)


def plot_accuracy_vs_gmacs(points: Sequence[dict], path: Path, unpruned_gmacs: float | None = None) -> None:
    """Accuracy (%) against mean GMACs per image, one marker per model, named in the legend."""
    _plot_accuracy_vs(points, path, "gmacs", "GMACs per image (tokens actually kept)", unpruned_gmacs, "unpruned cost")


def plot_accuracy_vs_latency(points: Sequence[dict], path: Path, board: str) -> None:
    """Accuracy (%) against the mean latency per image on ``board`` (``latency_ms``), one marker per model."""
    _plot_accuracy_vs(points, path, "latency_ms", f"latency per image on {board} (ms, tokens actually kept)")


def _plot_accuracy_vs(points: Sequence[dict], path: Path, key: str, xlabel: str, ref: float | None = None,
                      ref_label: str = "") -> None:
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    markers = "osD^vP*Xh<>"
    for i, pt in enumerate(points):
        ax.scatter(pt[key], 100 * pt["accuracy"], s=36, marker=markers[i % len(markers)], label=pt["label"], zorder=3)
    xmax = max([pt[key] for pt in points] + [ref or 0.0])
    if ref:
        ax.axvline(ref, color="grey", ls="--", lw=0.8, label=ref_label)
    ax.set_xlim(0.0, 1.1 * xmax if xmax > 0 else 1.0)
    ax.set_ylim(*accuracy_axis_limits([pt["accuracy"] for pt in points]))
    ax.legend(fontsize=7, loc="best")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
