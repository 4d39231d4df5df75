"""``--html``: one self-contained page, parsed back with ``html.parser``: its sections, its images
(PNG data URIs that decode), no web address anywhere, byte-identical when written twice, and
written atomically.
"""
from __future__ import annotations

import base64
import io
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from test_report_cli import write_design
from test_report_samples import COSIM_PASS, TIMING_FAIL, UTIL_ULTRASCALE, VIVADO_XML, write

REPO = Path(__file__).resolve().parents[1]
DESIGN_SECTIONS = ["overview", "resources", "latency", "tokens", "accuracy", "verdicts", "flags", "comparison"]


class Page(HTMLParser):
    """Section ids, their headings, images and every tag name of a page."""

    def __init__(self):
        super().__init__()
        self.sections: list[str] = []
        self.headings: list[str] = []
        self.images: list[dict] = []
        self.tags: set[str] = set()
        self.doctype = ""
        self._in_h2 = False

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.sections.append(a.get("id"))
        elif tag == "img":
            self.images.append(a)
        elif tag == "h2":
            self._in_h2 = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.headings[-1] += data


def render(path: Path, out: Path, *extra) -> str:
    """The command's main() in this process (matplotlib is imported once for all tests)."""
    import contextlib

    from spvit_fpga.report import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        assert main([str(path), "--html", str(out), *extra]) == 0
    assert stdout.getvalue() == "" and f"wrote {out}" in stderr.getvalue()
    return out.read_text()


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def check_self_contained(text: str, page: Page) -> None:
    assert page.doctype.lower() == "doctype html"
    assert "http://" not in text.lower() and "https://" not in text.lower()
    assert not page.tags & {"script", "link", "iframe", "object", "embed"}
    for img in page.images:
        assert img["src"].startswith("data:image/png;base64,")
        png = Image.open(io.BytesIO(base64.b64decode(img["src"].split(",", 1)[1])))
        assert png.format == "PNG" and png.size[0] >= 400 and png.size[1] >= 100
        assert img.get("alt")


def test_design_page(tmp_path):
    design = write_design(tmp_path / "design")
    text = render(design, tmp_path / "report.html")
    page = parse(text)
    check_self_contained(text, page)
    assert page.sections[: len(DESIGN_SECTIONS)] == DESIGN_SECTIONS
    assert any(s.startswith("vendor-solution1-") for s in page.sections)
    assert "vendor-solution1-cosim" in page.sections
    assert len(page.images) >= 5  # resources, latency totals, per layer, RTL units, tokens (+ vendor)
    alts = " | ".join(img["alt"] for img in page.images)
    for words in ("share of the board", "whole-design latency", "latency per layer", "tokens kept"):
        assert words in alts
    for words in ("hand-written test design", "zcu102", "300 MHz", "2/2 bit-exact", "1/2 bit-exact",
                  "loop II conv/COLS/INNER", "LUT (RTL design)", "clock period (Vivado, clk_pl_0)"):
        assert words in text, words
    assert 'class="flagged"' in text


def test_design_without_vendor_reports_says_so(tmp_path):
    design = write_design(tmp_path / "design", vendor=False)
    text = render(design, tmp_path / "report.html")
    page = parse(text)
    assert page.sections == DESIGN_SECTIONS
    assert "No vendor report was found" in text


def test_single_reports_get_the_sections_they_can_fill(tmp_path):
    text = render(write(tmp_path, "conv_csynth.xml", VIVADO_XML), tmp_path / "one.html")
    page = parse(text)
    check_self_contained(text, page)
    assert page.sections == ["overview", "resources", "latency", "loops", "flags"]
    assert len(page.images) == 1 and "COLS/INNER" in text
    for name, sample, section in (("u.rpt", UTIL_ULTRASCALE, "resources"), ("t.rpt", TIMING_FAIL, "timing"),
                                  ("c_cosim.rpt", COSIM_PASS, "cosim")):
        text = render(write(tmp_path, name, sample), tmp_path / f"{name}.html")
        page = parse(text)
        check_self_contained(text, page)
        assert page.sections == [section]


def test_pages_are_deterministic_and_written_atomically(tmp_path):
    design = write_design(tmp_path / "design")
    out = tmp_path / "out"
    out.mkdir()
    first = render(design, out / "a.html")
    (out / "b.html").write_text("an older page")
    second = render(design, out / "b.html")
    assert first == second
    assert sorted(p.name for p in out.iterdir()) == ["a.html", "b.html"]  # no temporary file left behind


def test_html_into_a_missing_folder_is_a_one_line_error(tmp_path):
    res = subprocess.run([sys.executable, "-m", "spvit_fpga.report", str(write(tmp_path, "x.xml", VIVADO_XML)),
                          "--html", str(tmp_path / "no" / "such" / "r.html")], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.startswith("error: ") and len(res.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def generated_design(tmp_path_factory):
    """A real design folder from ``generate`` (no C-simulation, to stay fast)."""
    out = tmp_path_factory.mktemp("gen") / "design"
    res = subprocess.run([sys.executable, "-m", "spvit_fpga.generate", "--board", "zcu102", "--rtl", "--images", "2",
                          "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return out


def test_a_generated_design_folder(generated_design, tmp_path):
    import json

    manifest = json.loads((generated_design / "manifest.json").read_text())
    res = subprocess.run([sys.executable, "-m", "spvit_fpga.report", str(generated_design), "--json"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    j = json.loads(res.stdout)
    assert j["design"]["board"] == manifest["board"]["name"] and j["board"]["name"] == "zcu102"
    assert j["estimate"] is not None and j["vendor"] is None
    c = {e["name"]: e for e in j["comparison"]}
    assert c["design latency (HLS)"]["estimate"] == manifest["estimate"]["kernels"]["total_cycles"]
    assert c["DSP (RTL design)"]["estimate"] == manifest["rtl"]["dsp_estimate"]["total"]
    assert j["estimate"]["target_kept"] == manifest["estimate"]["target_kept"]
    text = render(generated_design, tmp_path / "gen.html")
    page = parse(text)
    check_self_contained(text, page)
    assert page.sections == DESIGN_SECTIONS
