"""Shared pieces of the report parsers: reading a file, cell values, and bordered text tables.

Cell values in vendor reports come in many spellings.  ``undef``, ``?``, ``-``, ``NA``, ``N/A``
and empty cells mean "not known" (``None``); ranges are written ``0 ~ 270``; latencies in the
Vitis summary table use ``%.3e`` (``1.477e+06``); times carry a unit (``10.00 ns``, ``0.340 us``,
``13.194 ms``) or none (old reports say the unit in the heading); percentages can read ``~0``.

A bordered table is the ``+----+----+`` / ``| a | b |`` kind that every report here uses.  Its
header may span several lines, with group labels over several columns (``|  Latency (cycles) |``
over ``|   min   |   max   |``); :func:`read_tables` joins each column's labels from top to bottom
into one name (``"latency (cycles) min"``), so parsers find columns by name, never by position.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from spvit_fpga.errors import UserError

UNKNOWN = {"", "undef", "?", "-", "na", "n/a", "none", "inf"}
MAX_REPORT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Span:
    """A range ``lo ~ hi`` (loop trip counts and latencies that depend on the data)."""

    lo: Union[int, float]
    hi: Union[int, float]

    def to_json(self) -> dict:
        return {"min": self.lo, "max": self.hi}


Count = Union[int, float, Span, None]


def count_json(value: Count):
    """A count as JSON: a number, ``{"min", "max"}`` for a range, or null."""
    return value.to_json() if isinstance(value, Span) else value


def low(value: Count):
    return value.lo if isinstance(value, Span) else value


def high(value: Count):
    return value.hi if isinstance(value, Span) else value


def read_text(path: Path, what: str) -> str:
    """The text of a report file; a UserError naming the file when it cannot be a report."""
    try:
        size = path.stat().st_size
        if size > MAX_REPORT_BYTES:
            raise UserError(f"{path}: {size} bytes is too large for a {what}")
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not raw.strip():
        raise UserError(f"{path}: the file is empty, not a {what}")
    if b"\0" in raw[:4096]:
        raise UserError(f"{path}: a binary file, not a {what}")
    return raw.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def _number(text: str) -> Union[int, float, None]:
    t = text.strip().replace(",", "")
    if t.lower() in UNKNOWN:
        return None
    if t.startswith("~"):  # "~0": below the printed precision
        t = t[1:].strip()
    t = t.rstrip("%").strip()
    if re.fullmatch(r"[+-]?\d+", t):
        return int(t)
    if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", t):
        v = float(t)
        return int(v) if "e" in t.lower() and v.is_integer() else v
    return None


def parse_count(text: Optional[str]) -> Count:
    """``"1234"`` -> 1234, ``"2.5"`` -> 2.5, ``"1.477e+06"`` -> 1477000, ``"0 ~ 270"`` ->
    Span(0, 270), and every spelling of "unknown" -> None."""
    if text is None:
        return None
    t = text.strip()
    if "~" in t and not t.startswith("~"):
        lo, _, hi = t.partition("~")
        a, b = _number(lo), _number(hi)
        if a is not None and b is not None:
            return Span(a, b) if a != b else a
        return None
    return _number(t)


def parse_int(text: Optional[str]) -> Optional[int]:
    v = parse_count(text)
    if isinstance(v, Span):
        v = v.hi
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return v if isinstance(v, int) else None


def parse_float(text: Optional[str]) -> Optional[float]:
    v = parse_count(text)
    if isinstance(v, Span):
        v = v.hi
    return float(v) if v is not None else None


_TIME_UNITS = {"ps": 1e-3, "ns": 1.0, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9}


def parse_ns(text: Optional[str], default_unit: str = "ns") -> Optional[float]:
    """A time in ns: ``"7.674 ns"``, ``"0.340 us"``, ``"10.00"`` (in ``default_unit``)."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*([+-]?[\d.]+(?:[eE][+-]?\d+)?)\s*([a-zµ]*)\s*", text)
    if not m:
        return None
    unit = (m.group(2) or default_unit).lower()
    if unit not in _TIME_UNITS:
        return None
    try:
        return round(float(m.group(1)) * _TIME_UNITS[unit], 6)
    except ValueError:
        return None


def leading_int(text: Optional[str]) -> Optional[int]:
    """``"902 (313%)"`` -> 902; ``"-"`` -> None."""
    if text is None:
        return None
    m = re.match(r"\s*([+-]?\d+(?:\.\d+)?)", text)
    if not m:
        return None
    v = float(m.group(1))
    return int(v) if v.is_integer() else None


# ------------------------------------------------------------------------------------------------
# Bordered tables
# ------------------------------------------------------------------------------------------------

_BORDER = re.compile(r"^\s*\+[-=+]*\+\s*$")


@dataclass
class Table:
    """One bordered table: joined column names, data rows as raw cell strings, and where it is."""

    columns: list[str]
    rows: list[list[str]]
    start: int  # line index of the top border
    end: int  # line index after the table
    closed: bool = True  # False when the file ends inside the table (truncated)
    raw_first_cells: list[str] = field(default_factory=list)  # unstripped first cells (indentation)

    def find(self, *words: str, exclude: tuple[str, ...] = ()) -> Optional[int]:
        """Index of the first column whose name holds every word and none of ``exclude``."""
        for i, name in enumerate(self.columns):
            if all(w in name for w in words) and not any(x in name for x in exclude):
                return i
        return None

    def cell(self, row: list[str], index: Optional[int]) -> Optional[str]:
        if index is None or index >= len(row):
            return None
        return row[index]


def _cells_with_spans(line: str, delims: str) -> list[tuple[int, int, str]]:
    """Cells between delimiter characters, with their column spans."""
    line = line.rstrip()
    pos = [i for i, ch in enumerate(line) if ch in delims]
    out = []
    for a, b in zip(pos, pos[1:]):
        out.append((a, b, line[a + 1:b]))
    if pos and pos[-1] < len(line) - 1:  # a row whose closing bar is missing
        out.append((pos[-1], len(line), line[pos[-1] + 1:]))
    return out


def _is_row(line: str) -> bool:
    s = line.strip()
    return s.startswith("|") and s.count("|") >= 2


def read_tables(text: str) -> list[Table]:
    """Every bordered table of a report, in order.  A table that the file ends inside of is
    returned with ``closed=False`` (the parsers report such a file as truncated)."""
    lines = text.split("\n")
    tables: list[Table] = []
    i, n = 0, len(lines)
    while i < n:
        if not _BORDER.match(lines[i]) or i + 1 >= n or not lines[i + 1].strip().startswith(("|", "+")):
            i += 1
            continue
        start = i
        j = i + 1
        header: list[str] = []
        while j < n and not _BORDER.match(lines[j]) and lines[j].strip().startswith(("|", "+")):
            header.append(lines[j])
            j += 1
        rows_lines: list[str] = []
        closed = False
        if j < n and _BORDER.match(lines[j]):
            j += 1
            while j < n:
                if _BORDER.match(lines[j]):
                    j += 1
                    if j < n and _is_row(lines[j]):
                        continue
                    closed = True
                    break
                if _is_row(lines[j]):
                    rows_lines.append(lines[j])
                    j += 1
                    continue
                closed = not rows_lines  # a header with no rows is an empty table
                break
        reference = rows_lines[0] if rows_lines else (header[-1] if header else "")
        columns = _join_header(header, reference)
        spans = [_cells_with_spans(r, "|") for r in rows_lines]
        rows = [[c.strip() for _, _, c in cells] for cells in spans]
        raw_first = [cells[0][2] if cells else "" for cells in spans]
        tables.append(Table(columns, rows, start, j, closed, raw_first))
        i = max(j, i + 1)
    return tables


def _join_header(header: list[str], reference_row: str) -> list[str]:
    """Column names from a possibly multi-line header, column spans taken from the data rows."""
    cols = _cells_with_spans(reference_row, "|") if reference_row else []
    if not cols and header:
        cols = _cells_with_spans(header[-1], "|+")
    names: list[list[str]] = [[] for _ in cols]
    for line in header:
        cells = _cells_with_spans(line, "|+")
        for k, (a, b, _) in enumerate(cols):
            mid = (a + b) / 2
            for ca, cb, text in cells:
                if ca <= mid < cb:
                    label = text.strip()
                    if label and set(label) - set("-="):
                        if not names[k] or names[k][-1] != label.lower():
                            names[k].append(label.lower())
                    break
    return [re.sub(r"\s+", " ", " ".join(parts)).strip() for parts in names]


def header_fields(text: str, keys: dict[str, str]) -> dict[str, Optional[str]]:
    """``* Key: value`` / ``| Key : value`` lines of a report header, by label (case-insensitive)."""
    out: dict[str, Optional[str]] = {k: None for k in keys.values()}
    for line in text.split("\n")[:200]:
        m = re.match(r"^\s*[*|]?\s*([A-Za-z][A-Za-z ]*?)\s*:\s*(.*?)\s*$", line)
        if not m:
            continue
        label = m.group(1).strip().lower()
        if label in keys and out[keys[label]] is None:
            out[keys[label]] = m.group(2)
    return out


def version_of(text: Optional[str]) -> Optional[str]:
    """``"2022.2 (Build 3670227 on ...)"`` or ``"Vivado v.2024.2 (win64) ..."`` -> ``"2022.2"``."""
    if not text:
        return None
    m = re.search(r"(\d{4}\.\d+(?:\.\d+)?)", text)
    return m.group(1) if m else None
