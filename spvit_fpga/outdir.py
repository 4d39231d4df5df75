"""Output directories that are never left half-written: fill a temporary sibling, then rename."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .errors import UserError


def check_output_dir(out: Path, force: bool) -> None:
    """Refuse a file, or a non-empty directory without ``force``."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a directory; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UserError(f"{out} is not empty; pass --force to replace it or choose another --out")


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
