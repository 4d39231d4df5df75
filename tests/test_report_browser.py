"""The ``--html`` page in a real browser: headless Chromium screenshots it, and the plots must be
drawn (coloured bars in several separate figures), not blank or broken images.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it under CI).  Without it the test
fails when ``CI=true`` and is skipped elsewhere, naming the package.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from test_report_cli import write_design

WIDTH, HEIGHT = 1280, 4200


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return exe
    if os.environ.get("CI") == "true":
        pytest.fail("headless Chromium is missing under CI: .ci/run should have installed Debian's chromium package")
    pytest.skip("headless Chromium not found: install Debian's chromium package (apt-get install -y chromium)")


def screenshot(page: Path, png: Path, profile: Path) -> Image.Image:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}",
           page.resolve().as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 0 and png.is_file(), res.stderr[-2000:]
    return Image.open(png).convert("RGB")


BAR = 24  # a plot bar is a solid run of at least this many coloured pixels; a coloured word is not


def coloured_rows(img: Image.Image) -> list[int]:
    """Per screen row, the coloured pixels (saturated: plot bars; text and tables are grey) that lie
    in solid horizontal runs of at least BAR pixels."""
    a = np.asarray(img, dtype=np.int16)
    mask = (a.max(axis=2) - a.min(axis=2)) > 60
    cs = np.concatenate([np.zeros((mask.shape[0], 1), dtype=np.int32), np.cumsum(mask, axis=1, dtype=np.int32)], axis=1)
    solid = (cs[:, BAR:] - cs[:, :-BAR]) == BAR  # windows of BAR coloured pixels in a row
    return [int(n) for n in solid.sum(axis=1)]


def bands(counts: list[int], gap: int = 40) -> list[tuple[int, int]]:
    """Vertical stretches of rows that hold bars, split where a long run of rows has none."""
    out: list[tuple[int, int]] = []
    for y, n in enumerate(counts):
        if n == 0:
            continue
        if out and y - out[-1][1] <= gap:
            out[-1] = (out[-1][0], y)
        else:
            out.append((y, y))
    return [b for b in out if b[1] - b[0] >= 20]


def test_plots_are_drawn_in_a_real_browser(tmp_path):
    from spvit_fpga.report import main

    page = tmp_path / "report.html"
    with contextlib.redirect_stderr(io.StringIO()):
        assert main([str(write_design(tmp_path / "design", vendor=False)), "--html", str(page)]) == 0
    img = screenshot(page, tmp_path / "shot.png", tmp_path / "profile")
    assert img.size == (WIDTH, HEIGHT)
    counts = coloured_rows(img)
    figures = bands(counts)
    # resources, whole-design latency, latency per layer, RTL units, tokens kept: five separate plots
    assert len(figures) >= 4, figures
    assert sum(counts) > 50000
    # and the blank control: the same page without its images shows no such bands
    blank = tmp_path / "blank.html"
    text = page.read_text()
    start = text.index('src="data:image/png;base64,')
    while start >= 0:
        end = text.index('"', start + 5)
        text = text[:start] + 'src=""' + text[end + 1:]
        start = text.find('src="data:image/png;base64,')
    blank.write_text(text)
    assert bands(coloured_rows(screenshot(blank, tmp_path / "blank.png", tmp_path / "profile2"))) == []
