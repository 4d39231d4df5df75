"""Board facts as data: one JSON file per board in the repository's ``boards/`` folder."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._resources import boards_dir
from ..errors import UserError

BOARD_SCHEMA_VERSION = 1
RESOURCE_KEYS = ("lut", "ff", "bram18", "uram", "dsp")


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    part: str
    board_part: str | None
    family: str
    ps_ip: str | None
    resources: dict[str, int]
    dsp_type: str
    clock_mhz: float
    memory: dict[str, Any]
    platform: str | None = None

    @property
    def int8_macs_per_dsp(self) -> int:
        """DSP48E2 packs two int8 products sharing one operand per DSP; DSP48E1 one."""
        return 2 if self.dsp_type == "DSP48E2" else 1

    @property
    def clock_ns(self) -> float:
        return 1000.0 / self.clock_mhz


def _validate(d: dict[str, Any], path: Path) -> Board:
    def fail(msg: str) -> UserError:
        return UserError(f"board file {path}: {msg}")

    if d.get("schema_version") != BOARD_SCHEMA_VERSION:
        raise fail(f"schema_version must be {BOARD_SCHEMA_VERSION}, found {d.get('schema_version')!r}")
    for key in ("name", "part", "family", "resources", "dsp_type", "clock_mhz", "memory"):
        if key not in d:
            raise fail(f"missing key {key!r}")
    res = d["resources"]
    missing = [k for k in RESOURCE_KEYS if k not in res]
    if missing:
        raise fail(f"resources lack {missing}")
    if any(not isinstance(res[k], int) or res[k] < 0 for k in RESOURCE_KEYS):
        raise fail("resources must be non-negative integers")
    if not float(d["clock_mhz"]) > 0:
        raise fail("clock_mhz must be positive")
    if d["name"] != path.stem:
        raise fail(f"name {d['name']!r} differs from the file name {path.stem!r}")
    return Board(
        name=d["name"], description=d.get("description", ""), part=d["part"], board_part=d.get("board_part"),
        family=d["family"], ps_ip=d.get("ps_ip"), resources={k: int(res[k]) for k in RESOURCE_KEYS},
        dsp_type=d["dsp_type"], clock_mhz=float(d["clock_mhz"]), memory=dict(d["memory"]), platform=d.get("platform"),
    )


def board_names() -> list[str]:
    folder = boards_dir()
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def load_board(name: str) -> Board:
    """The named board, or a UserError listing the known boards."""
    path = boards_dir() / f"{name}.json"
    if not path.exists():
        known = board_names()
        if not known:
            raise UserError(f"no board files found in {boards_dir()}; set SPVIT_BOARDS_DIR to the boards/ folder")
        raise UserError(f"unknown board {name!r}; known boards: {', '.join(known)}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"board file {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return _validate(data, path)
