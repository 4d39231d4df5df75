"""The one place where the reports reach board data (``boards/*.json``).

Board loading lives in ``spvit_fpga.boards`` today and moves to ``spvit_fpga.hw.boards``; only the
import below changes then.
"""
from __future__ import annotations

from typing import Optional

from spvit_fpga.hw.boards import board_names, load_board  # moves to spvit_fpga.hw.boards
from spvit_fpga.errors import UserError

# report resource name -> key in a board file's "resources"
BOARD_KEYS = {"LUT": "lut", "FF": "ff", "BRAM_18K": "bram18", "URAM": "uram", "DSP": "dsp"}


def _squash(part: str) -> str:
    return "".join(ch for ch in part.lower() if ch.isalnum())


def board_summary(name: str) -> dict:
    """Name, part, clock and resources of the named board (a UserError for an unknown name)."""
    b = load_board(name)
    return {
        "name": b.name, "part": b.part, "clock_mhz": b.clock_mhz,
        "resources": {key: int(b.resources[bk]) for key, bk in BOARD_KEYS.items()},
    }


def board_for_part(part: Optional[str]) -> Optional[dict]:
    """The board whose part equals ``part`` (dashes and case ignored), or None."""
    if not part:
        return None
    want = _squash(part)
    for name in board_names():
        try:
            summary = board_summary(name)
        except UserError:  # a broken board file is not this command's business
            continue
        if _squash(summary["part"]) == want:
            return summary
    return None
