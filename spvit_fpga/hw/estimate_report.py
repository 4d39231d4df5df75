"""The plain column layout every table of the command line uses (:func:`text_table`).

The latency estimate itself (``generate --estimate``) is :mod:`spvit_fpga.builder.estimate`: the
HLS schedule and the RTL overlay engine's cycle model of the generated design.
"""
from __future__ import annotations

from typing import Sequence

__all__ = ["text_table"]


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, two spaces apart, no trailing blanks; the first row is the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
