"""evaluate's plots: one file per model even when two checkpoints share a file name, a legend that
names every model, and an accuracy axis that stays within 0..100 % for a single point."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from spvit_fpga.evaluate import plot_tags
from spvit_fpga.nn import viz
from spvit_fpga.nn.config import ModelConfig


def _kept_figures(monkeypatch) -> list:
    """Figures the plot functions close, kept for inspection (they are closed after saving)."""
    figures: list = []
    monkeypatch.setattr(viz.plt, "close", figures.append)
    return figures


def test_two_run_checkpoints_get_distinct_file_tags():
    tags = plot_tags(["a/run/checkpoint.pt", "b/run/checkpoint.pt", "other.pt", "c/base/checkpoint.pt"])
    assert len(set(tags)) == 4
    assert tags[2] == "other" and tags[3] == "base" and all("run" in t for t in tags[:2])


def test_single_point_accuracy_plot_has_a_legend_and_no_negative_accuracy(tmp_path, monkeypatch):
    figures = _kept_figures(monkeypatch)
    viz.plot_accuracy_vs_gmacs([{"label": "run [float]", "gmacs": 0.01, "accuracy": 0.02}], tmp_path / "a.png", 0.02)
    (ax,) = figures[0].axes
    lo, hi = ax.get_ylim()
    assert 0 <= lo < 2 < hi <= 100
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["run [float]", "unpruned cost"]
    assert (tmp_path / "a.png").stat().st_size > 0
    plt.close(figures[0])


def test_kept_patch_plot_explains_its_shading(tmp_path, monkeypatch):
    figures = _kept_figures(monkeypatch)
    cfg = ModelConfig(name="t", img_size=32, patch_size=8, in_chans=1, num_classes=10, embed_dim=16, depth=2,
                      num_heads=2, selector_blocks=(1,), keep_ratios=(0.5,))
    viz.plot_kept_patches(torch.rand(1, 32, 32), [list(range(8))], cfg, tmp_path / "k.png", "label 3 pred 3")
    texts = [t.get_text() for legend in figures[0].legends for t in legend.get_texts()]
    assert any("pruned" in t for t in texts) and "kept" in texts
    plt.close(figures[0])
