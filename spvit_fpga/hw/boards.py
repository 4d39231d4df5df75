"""Board facts as data: one JSON file per board in the repository's ``boards/`` folder, or a board file of
the same layout given by its path; every file is validated against ``board.schema.json`` (JSON Schema)."""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._resources import boards_dir
from ..errors import UserError

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


SCHEMA_PATH = Path(__file__).with_name("board.schema.json")


@functools.lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _where(error) -> str:
    """The field an error is about, as a dotted path (``resources.dsp``, ``memory.ports[0]``)."""
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def board_problems(data: Any) -> list[str]:
    """Every way ``data`` breaks the board schema (``board.schema.json``), one line each, naming the
    field; empty when the board is valid."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"{_where(e)}: {e.message}" for e in errors]


def _validate(d: Any, path: Path, name_from_file: bool) -> Board:
    problems = board_problems(d)
    if name_from_file and not problems and d["name"] != path.stem:
        problems.append(f"name: {d['name']!r} differs from the file name {path.stem!r}")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise UserError(f"board file {path} is not valid: {'; '.join(problems[:3])}{more}; "
                        f"see docs/boards.md for the fields")
    res = d["resources"]
    return Board(
        name=d["name"], description=d.get("description", ""), part=d["part"], board_part=d.get("board_part"),
        family=d["family"], ps_ip=d.get("ps_ip"), resources={k: int(res[k]) for k in RESOURCE_KEYS},
        dsp_type=d["dsp_type"], clock_mhz=float(d["clock_mhz"]), memory=dict(d["memory"]), platform=d.get("platform"),
    )


def board_names() -> list[str]:
    folder = boards_dir()
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def is_board_path(spec: str) -> bool:
    """Whether ``--board`` names a file (ends in ``.json`` or holds a folder separator) rather than a
    board of the shipped ``boards/`` folder."""
    return spec.endswith(".json") or os.sep in spec or (os.altsep is not None and os.altsep in spec)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"board file {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"board file {path} cannot be read ({exc}); check the path") from None


def load_board(spec: str) -> Board:
    """A board by name (``boards/<name>.json``) or by the path of a board file of the same layout
    (validated against ``board.schema.json``); a UserError naming the field or the known boards."""
    if is_board_path(spec):
        path = Path(spec)
        if not path.is_file():
            raise UserError(f"board file {path} does not exist; give a board name ({', '.join(board_names())}) "
                            "or the path of a board file (docs/boards.md)")
        return _validate(_read(path), path, name_from_file=False)
    path = boards_dir() / f"{spec}.json"
    if not path.exists():
        known = board_names()
        if not known:
            raise UserError(f"no board files found in {boards_dir()}; set SPVIT_BOARDS_DIR to the boards/ folder")
        raise UserError(f"unknown board {spec!r}; known boards: {', '.join(known)} (or give the path of a board "
                        "file, see docs/boards.md)")
    return _validate(_read(path), path, name_from_file=True)
