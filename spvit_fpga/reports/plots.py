"""matplotlib figures of a report, returned as ``data:image/png;base64,...`` URIs.

Figures are drawn on the Agg canvas directly (no pyplot, no global backend switch) and saved
without the "Software" PNG tag, so the same data gives the same bytes.
"""
from __future__ import annotations

import base64
import io
from typing import Optional, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .csynth_records import RESOURCE_KEYS

COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


def _png(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height))
    fig.set_layout_engine("constrained")
    return fig


def resources_plot(series: Sequence[tuple[str, dict]], capacity: dict, capacity_label: str) -> Optional[str]:
    """Horizontal bars: each source's count of each resource as a share of ``capacity``."""
    keys = [k for k in RESOURCE_KEYS if capacity.get(k)]
    series = [(label, vals) for label, vals in series if any(vals.get(k) is not None for k in keys)]
    if not keys or not series:
        return None
    fig = _figure(9, 1.0 + 0.55 * len(keys) * max(1, len(series)) ** 0.6)
    ax = fig.add_subplot()
    height = 0.8 / len(series)
    top = 100.0
    for s, (label, vals) in enumerate(series):
        ys, xs, texts = [], [], []
        for k_i, key in enumerate(keys):
            v = vals.get(key)
            if v is None:
                continue
            pct = 100.0 * v / capacity[key]
            ys.append(k_i - 0.4 + height * (s + 0.5))
            xs.append(pct)
            texts.append(f"{v:,.0f}")
            top = max(top, pct)
        bars = ax.barh(ys, xs, height=height * 0.9, color=COLOURS[s % len(COLOURS)], label=label)
        for bar, text in zip(bars, texts):
            ax.text(bar.get_width() + top * 0.01, bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=7)
    ax.axvline(100.0, color="black", linewidth=1.2, linestyle="--")
    ax.set_yticks(range(len(keys)), [f"{k}\n({capacity[k]:,})" for k in keys])
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.15)
    ax.set_xlabel(f"% of {capacity_label} (dashed line: 100 %)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def totals_plot(bars: Sequence[tuple[str, float, str]]) -> Optional[str]:
    """One bar per whole-design latency figure: (label, cycles, 'estimate' | 'measured')."""
    bars = [b for b in bars if b[1] is not None]
    if not bars:
        return None
    fig = _figure(9, 0.9 + 0.42 * len(bars))
    ax = fig.add_subplot()
    colours = [COLOURS[0] if kind == "estimate" else COLOURS[1] for _, _, kind in bars]
    rects = ax.barh(range(len(bars)), [b[1] for b in bars], color=colours)
    peak = max(b[1] for b in bars)
    for rect, (_, value, _) in zip(rects, bars):
        ax.text(rect.get_width() + peak * 0.01, rect.get_y() + rect.get_height() / 2, f"{value:,.0f}", va="center",
                fontsize=8)
    ax.set_yticks(range(len(bars)), [b[0] for b in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, peak * 1.18)
    ax.set_xlabel("cycles per image (blue: estimate, orange: measured)")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def layers_plot(names: Sequence[str], series: Sequence[tuple[str, Sequence[Optional[float]]]],
                xlabel: str = "cycles") -> Optional[str]:
    """Grouped horizontal bars, one group per layer, one bar per series (missing values left out)."""
    series = [(label, vals) for label, vals in series if any(v is not None for v in vals)]
    if not names or not series:
        return None
    fig = _figure(9, 1.2 + 0.19 * len(names) * max(1.0, len(series) ** 0.5))
    ax = fig.add_subplot()
    height = 0.8 / len(series)
    for s, (label, vals) in enumerate(series):
        ys = [i - 0.4 + height * (s + 0.5) for i, v in enumerate(vals) if v is not None]
        xs = [v for v in vals if v is not None]
        ax.barh(ys, xs, height=height * 0.95, color=COLOURS[s % len(COLOURS)], label=label)
    ax.set_yticks(range(len(names)), list(names), fontsize=7)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def tokens_plot(stages: int, series: Sequence[tuple[str, Sequence[Optional[float]], Optional[Sequence]]],
                dense: Optional[int]) -> Optional[str]:
    """Kept patch tokens per selector stage; series are (label, values, (lows, highs) or None)."""
    series = [s for s in series if any(v is not None for v in s[1])]
    if stages < 1 or not series:
        return None
    fig = _figure(9, 3.4)
    ax = fig.add_subplot()
    width = 0.8 / len(series)
    for s, (label, vals, spread) in enumerate(series):
        xs = [i - 0.4 + width * (s + 0.5) for i in range(stages)]
        ys = [v if v is not None else 0 for v in vals[:stages]]
        yerr = None
        if spread is not None:
            lows, highs = spread
            yerr = [[max(0, y - lo) for y, lo in zip(ys, lows)], [max(0, hi - y) for y, hi in zip(ys, highs)]]
        ax.bar(xs, ys, width=width * 0.9, color=COLOURS[s % len(COLOURS)], label=label, yerr=yerr, capsize=3)
    if dense:
        ax.axhline(dense, color="black", linewidth=1, linestyle="--", label=f"all {dense} patch tokens")
    ax.set_xticks(range(stages), [f"stage {i}" for i in range(stages)])
    ax.set_ylabel("patch tokens kept")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)
