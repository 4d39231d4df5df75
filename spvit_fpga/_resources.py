"""Files that ship with the package, found the same way in a wheel install and in a source checkout.

The SystemVerilog library ``rtl/``, the HLS kernel library ``hls/`` and the board files
``boards/`` stay at the repository top, where users read them; a wheel carries them as package
data under ``spvit_fpga/_lib/`` (``pyproject.toml`` maps the folders there).  Each ``*_dir()``
looks first in the installed package, then in the source checkout that holds this package, and
raises a :class:`~spvit_fpga.errors.UserError` naming both places if neither has the files.  The
cocotb testbenches (``rtl_sim``) are a top-level package beside ``spvit_fpga`` in both cases.

Also here: one Jinja2 environment setting for the template folders of both hardware faces, and the
folder for build caches (``build/`` of a checkout, else a per-user cache folder).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import jinja2

from .errors import UserError

__all__ = ["PACKAGE_DIR", "rtl_library_dir", "hls_library_dir", "boards_dir", "rtl_sim_dir", "checkout_dir",
           "build_dir", "template_environment"]

PACKAGE_DIR = Path(__file__).resolve().parent
_INSTALLED = PACKAGE_DIR / "_lib"  # where a wheel puts the libraries (package data)
_CHECKOUT = PACKAGE_DIR.parent  # the repository top of a source checkout (site-packages of a wheel)


def _library_dir(name: str, pattern: str, what: str) -> Path:
    installed, checkout = _INSTALLED / name, _CHECKOUT / name
    for d in (installed, checkout):
        if d.is_dir() and any(d.glob(pattern)):
            return d
    raise UserError(f"{what} is missing: neither {installed} (installed package) nor {checkout} (source checkout) "
                    f"holds {pattern}; reinstall spvit_fpga")


def rtl_library_dir() -> Path:
    """The SystemVerilog kernel library (``rtl/``)."""
    return _library_dir("rtl", "spvit_*.sv", "the SystemVerilog library rtl/")


def hls_library_dir() -> Path:
    """The header-only HLS kernel library (``hls/``)."""
    return _library_dir("hls", "spvit_*.h", "the HLS kernel library hls/")


def boards_dir() -> Path:
    """``$SPVIT_BOARDS_DIR`` if set (your own board files), else the shipped ``boards/``."""
    env = os.environ.get("SPVIT_BOARDS_DIR")
    return Path(env) if env else _library_dir("boards", "*.json", "the board files boards/")


def rtl_sim_dir() -> Path:
    """The ``rtl_sim`` package of cocotb testbenches (beside ``spvit_fpga``; never imported by it).
    The simulator process gets its parent folder on ``PYTHONPATH``."""
    d = _CHECKOUT / "rtl_sim"
    if not (d / "__init__.py").is_file():
        raise UserError(f"the cocotb testbenches rtl_sim/ are missing from {_CHECKOUT}; reinstall spvit_fpga")
    return d


def checkout_dir() -> Path | None:
    """The repository top if this package runs from a source checkout, else None."""
    return _CHECKOUT if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "rtl").is_dir() else None


def build_dir(name: str) -> Path:
    """Folder ``name`` for build caches: ``build/<name>`` of a source checkout; for an installed
    package ``$XDG_CACHE_HOME/spvit_fpga/<name>`` (default ``~/.cache``), the ``spvit_fpga`` folder
    created private (mode 0700).  Not created here."""
    top = checkout_dir()
    if top is not None:
        return top / "build" / name
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spvit_fpga"
    if not base.is_dir():
        base.parent.mkdir(parents=True, exist_ok=True)
        base.mkdir(mode=0o700, exist_ok=True)
    return base / name


@functools.lru_cache(maxsize=None)
def template_environment(directory: str | Path) -> jinja2.Environment:
    """The Jinja2 environment of the templates in ``directory``: undefined names are errors, no
    autoescaping, block tags leave no blank lines, trailing newlines are kept."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
