"""Output directories that are never left half-written: fill a temporary sibling, then rename."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .errors import UserError


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def check_writable(path: str | os.PathLike, flag: str = "--out") -> None:
    """Refuse an output folder that cannot be made: one below a regular file, or on a read-only or
    unwritable place.  The nearest existing folder on the way is probed by making (and removing) a
    temporary folder in it, so nothing is left behind and the answer is the file system's."""
    path = Path(path)
    base = _nearest_existing(path)
    if not base.is_dir():
        raise UserError(f"{flag} {path}: {base} is a file, not a folder; choose another {flag}")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".spvit_probe.", dir=base))
    except OSError as exc:
        raise UserError(f"{flag} {path}: cannot write in {base} ({exc.strerror}); choose another {flag}") from None


def check_output_dir(out: Path, force: bool, flag: str = "--out") -> None:
    """Refuse a file, a non-empty directory without ``force``, or a place where the folder (and the
    temporary sibling it is written into) cannot be made."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a directory; choose another {flag}")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UserError(f"{out} is not empty; pass --force to replace it or choose another {flag}")
    check_writable(out.absolute().parent, flag)


def check_output_file(path: str | os.PathLike, flag: str) -> None:
    """Refuse an output file whose folder does not exist (it is not created) or cannot be written,
    or a path that is a folder."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder; give a file name")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise UserError(f"{flag} {path}: the folder {parent} does not exist; create it first or choose another path")
    check_writable(parent, flag)


def write_dir_atomically(out: str | os.PathLike, fill: Callable[[Path], None], force: bool = False) -> Path:
    """Call ``fill(tmp)`` on a fresh temporary directory beside ``out``, then move it to ``out``
    (replacing an existing ``out`` only with ``force``). On any error nothing changes at ``out``."""
    out = Path(out)
    check_output_dir(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        fill(tmp)
        os.chmod(tmp, 0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.rmdir(old)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out
