"""Files that ship with the package, found the same way in a wheel install and in a source checkout.

The SystemVerilog library ``rtl/``, the HLS kernel library ``hls/`` and the board files
``boards/`` stay at the repository top, where users read them; a wheel carries them as package
data under ``spvit_fpga/_lib/`` (``pyproject.toml`` maps the folders there).  Each ``*_dir()``
looks first in the installed package, then in the source checkout that holds this package, and
raises a :class:`~spvit_fpga.errors.UserError` naming both places if neither has the files.  The
cocotb testbenches (``rtl_sim``) are a top-level package beside ``spvit_fpga`` in both cases.

Also here: one Jinja2 environment setting for the template folders of both hardware faces, and the
folders for build caches: one private per-user folder (``~/.cache/spvit_fpga``, mode 0700, owner
checked), never the checkout or a shared temporary folder.
"""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import jinja2

from .errors import UserError

__all__ = ["PACKAGE_DIR", "rtl_library_dir", "hls_library_dir", "boards_dir", "rtl_sim_dir", "checkout_dir",
           "private_dir", "cache_root", "build_dir", "file_sha256", "seal", "is_sealed", "template_environment"]

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


def private_dir(path: Path, what: str = "the build cache") -> Path:
    """``path`` as a folder only this user can enter: created with mode 0700 if absent; an existing
    one must be a folder owned by this user and closed to group and others, else a UserError says
    how to fix it.  Build caches hold programs that are run later, so nobody else may write there."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:  # another process made it first; checked below
            pass
        except OSError as exc:
            raise UserError(f"cannot create {what} folder {path} ({exc.strerror}); set XDG_CACHE_HOME to a "
                            "folder you can write") from None
    st = path.stat()
    if not path.is_dir():
        raise UserError(f"{what} folder {path} is not a folder; remove it or set XDG_CACHE_HOME elsewhere")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise UserError(f"{what} folder {path} belongs to user id {st.st_uid}, not to you ({os.getuid()}): "
                        "a cache others can write may hold programs they placed; set XDG_CACHE_HOME to a folder "
                        "of your own")
    if st.st_mode & 0o077:
        raise UserError(f"{what} folder {path} is open to other users (mode {st.st_mode & 0o777:o}); "
                        f"make it private (chmod 700 {path}) after clearing it (rm -rf {path}), or set "
                        "XDG_CACHE_HOME elsewhere")
    return path


def cache_root() -> Path:
    """The per-user cache folder ``$XDG_CACHE_HOME/spvit_fpga`` (default ``~/.cache/spvit_fpga``),
    private (:func:`private_dir`).  Every build cache lives below it, for a source checkout too."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return private_dir(base / "spvit_fpga")


def build_dir(name: str) -> Path:
    """Folder ``name`` for a build cache, below :func:`cache_root` (the subfolder is not created
    here; the private root is)."""
    return cache_root() / name


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _seal_path(binary: Path) -> Path:
    return binary.with_name(binary.name + ".sha256")


def seal(built: Path, binary: Path) -> None:
    """Record the SHA-256 of ``built`` as the expected content of cached program ``binary`` (written
    before ``built`` is renamed to ``binary``, so a reader never sees a program without its record)."""
    record = _seal_path(binary)
    tmp = record.with_name(f".{record.name}.{os.getpid()}.tmp")
    tmp.write_text(file_sha256(built) + "\n")
    os.replace(tmp, record)


def is_sealed(binary: Path) -> bool:
    """Whether cached program ``binary`` exists and its bytes match the SHA-256 :func:`seal` recorded
    (checked before every run of a cached build)."""
    record = _seal_path(binary)
    if not (binary.is_file() and record.is_file()):
        return False
    return record.read_text().strip() == file_sha256(binary)


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
