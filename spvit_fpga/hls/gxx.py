"""C-simulation harness: compile HLS C++ with g++ against Xilinx's open-source ``ap_types`` and run it.

Used by the kernel tests (``tests/test_hls_kernels.py``) and by the generated projects'
end-to-end C-simulation (:mod:`spvit_fpga.hls.csim`).  Three pieces:

* **Tool discovery** -- :func:`ap_types_include_dir` (the headers ship in the ``hls4ml`` wheel),
  :func:`gxx_path`; both raise :class:`~spvit_fpga.errors.UserError` naming the fix.
* **Cached builds** -- :func:`compile_cpp` compiles one translation unit with
  ``g++ -std=c++14 -O2 -I hls -isystem <ap_types>``; the binary is keyed by a SHA-256 of the
  compiler, the flags, the source and every header under the include directories (by content, not
  by path), and kept in a private build folder (``$SPVIT_FPGA_BUILD_DIR`` or ``csim/`` of the
  per-user cache, mode 0700, owner checked).  The binary's own SHA-256 is recorded beside it and
  checked before a cached binary is returned (a mismatch rebuilds it).  :func:`compile_many` builds
  several sources in parallel.
* **Running** -- :func:`run_binary` runs ``prog <dir>`` with every input array written to
  ``<dir>/<name>.i64`` (raw little-endian int64, :func:`spvit_fpga.hw.vectors.write_array`) and
  reads the outputs back the same way.  The C++ side of this protocol is ``hls/spvit_tb_io.h``.

The ap_types headers warn a lot under ``-Wall``; they are included with ``-isystem`` and no
``-Werror`` is ever used.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

from .._resources import build_dir, hls_library_dir, is_sealed, private_dir, seal
from ..errors import UserError
from ..hw.vectors import ARRAY_SUFFIX, read_array, write_array

__all__ = [
    "HlsSimError",
    "ap_types_include_dir",
    "gxx_path",
    "gxx_version",
    "default_build_dir",
    "compile_flags",
    "compile_cpp",
    "compile_many",
    "check_syntax",
    "read_output",
    "run_binary",
]

_HEADER_SUFFIXES = (".h", ".hpp", ".hh", ".inc")
_AP_TYPES_ENV = "SPVIT_AP_TYPES_DIR"
_CXX_ENV = "SPVIT_CXX"
_BUILD_DIR_ENV = "SPVIT_FPGA_BUILD_DIR"


class HlsSimError(RuntimeError):
    """A C++ build or C-simulation run failed (message carries the compiler/program output)."""


# ----------------------------------------------------------------------------------------------
# Tool discovery
# ----------------------------------------------------------------------------------------------


def ap_types_include_dir() -> Path:
    """Directory holding ``ap_int.h`` / ``ap_fixed.h`` / ``hls_stream.h``.

    ``$SPVIT_AP_TYPES_DIR`` if set, else the copy shipped in the installed ``hls4ml`` package
    (``hls4ml/templates/vivado/ap_types``).
    """
    env = os.environ.get(_AP_TYPES_ENV)
    if env:
        d = Path(env)
        if not (d / "ap_int.h").is_file():
            raise UserError(f"${_AP_TYPES_ENV}={env} does not contain ap_int.h; point it at an ap_types directory")
        return d
    spec = importlib.util.find_spec("hls4ml")
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            d = Path(root) / "templates" / "vivado" / "ap_types"
            if (d / "ap_int.h").is_file():
                return d
    raise UserError(
        "Xilinx ap_types headers (ap_int.h) not found: install hls4ml, whose wheel ships them "
        "(`pip install hls4ml==1.3.0`), or set "
        f"{_AP_TYPES_ENV}=<directory containing ap_int.h>"
    )


def gxx_path() -> str:
    """The C++ compiler: ``$SPVIT_CXX`` if set, else ``g++`` on PATH."""
    name = os.environ.get(_CXX_ENV, "g++")
    path = shutil.which(name)
    if path is None:
        raise UserError(
            f"C++ compiler {name!r} not found on PATH: install g++ (Debian/Ubuntu: "
            f"`apt-get install g++`) or set {_CXX_ENV}=<path to a g++-compatible compiler>"
        )
    return path


@functools.lru_cache(maxsize=None)
def gxx_version(path: Optional[str] = None) -> str:
    """``g++ --version`` first line (part of the build cache key)."""
    path = path or gxx_path()
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else path


def default_build_dir() -> Path:
    """Build cache: ``$SPVIT_FPGA_BUILD_DIR`` or ``csim/`` of the private per-user cache folder
    (:func:`spvit_fpga._resources.cache_root`); either is private (mode 0700, owned by this user)."""
    env = os.environ.get(_BUILD_DIR_ENV)
    return private_dir(Path(env), f"${_BUILD_DIR_ENV}") if env else build_dir("csim")


# ----------------------------------------------------------------------------------------------
# Building
# ----------------------------------------------------------------------------------------------


def compile_flags(
    include_dirs: Iterable[os.PathLike | str] = (),
    *,
    std: str = "c++14",
    opt: str = "-O2",
    defines: Optional[Mapping[str, object]] = None,
    extra_flags: Sequence[str] = (),
) -> list[str]:
    """The g++ flags used by :func:`compile_cpp` (``-I hls``, user includes, ``-isystem ap_types``)."""
    flags = [f"-std={std}", opt, "-I", str(hls_library_dir())]
    for d in include_dirs:
        flags += ["-I", str(d)]
    flags += ["-isystem", str(ap_types_include_dir())]
    for key, value in sorted((defines or {}).items()):
        flags.append(f"-D{key}" if value is None else f"-D{key}={value}")
    flags += list(extra_flags)
    return flags


_DIR_FLAGS = ("-I", "-isystem", "-iquote")


def _hash_headers(h: "hashlib._Hash", directory: Path, recursive: bool = True) -> None:
    if not directory.is_dir():
        return
    for p in sorted(directory.rglob("*") if recursive else directory.glob("*")):
        if p.is_file() and p.suffix in _HEADER_SUFFIXES:
            h.update(str(p.relative_to(directory)).encode())
            h.update(b"\0")
            h.update(p.read_bytes())
            h.update(b"\0")


def _build_key(compiler: str, flags: Sequence[str], source_text: bytes, source_dir: Path) -> str:
    """SHA-256 of what decides the program: compiler and version, flags, source text and the
    headers by content.  Folder paths are not part of it (an include folder counts by the headers
    below it, the source's folder by the headers beside it), so the same sources in another folder
    (a project rendered in a temporary folder, another checkout) reuse the build."""
    h = hashlib.sha256()
    h.update(compiler.encode() + b"\0" + gxx_version(compiler).encode() + b"\0")
    dirs = []
    for i, f in enumerate(flags):
        if i > 0 and flags[i - 1] in _DIR_FLAGS:
            dirs.append(Path(f))
            h.update(b"<dir>\0")
        else:
            h.update(f.encode() + b"\0")
    h.update(source_text)
    h.update(b"\1")
    _hash_headers(h, source_dir, recursive=False)  # not recursive: a source may sit in a large folder
    for d in dirs:
        h.update(b"\1")
        _hash_headers(h, d)
    return h.hexdigest()


def compile_cpp(
    source: os.PathLike | str,
    *,
    include_dirs: Iterable[os.PathLike | str] = (),
    defines: Optional[Mapping[str, object]] = None,
    extra_flags: Sequence[str] = (),
    std: str = "c++14",
    opt: str = "-O2",
    build_dir: Optional[os.PathLike | str] = None,
    timeout: float = 600.0,
) -> Path:
    """Compile one C++ source file into an executable; return its path (cached by content hash).

    The cache key covers the compiler and its version, all flags, the source text, the headers
    in the source's directory and every header below the include directories (``hls/``, ``ap_types``,
    ``include_dirs``), so an edited header triggers a rebuild.  Concurrent builds of the same key
    are safe (write to a temporary name, then rename).
    """
    src = Path(source).resolve()
    if not src.is_file():
        raise UserError(f"C++ source {src} does not exist")
    compiler = gxx_path()
    flags = compile_flags(include_dirs, std=std, opt=opt, defines=defines, extra_flags=extra_flags)
    key = _build_key(compiler, flags, src.read_bytes(), src.parent)
    out_dir = Path(build_dir) if build_dir is not None else default_build_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = out_dir / f"{src.stem}-{key[:20]}"
    if is_sealed(binary):
        return binary
    if binary.exists():
        print(f"NOTE: the cached build {binary} does not match its recorded SHA-256; building it again",
              file=sys.stderr)
    tmp = out_dir / f".{binary.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    cmd = [compiler, *flags, str(src), "-o", str(tmp)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        tmp.unlink(missing_ok=True)
        raise HlsSimError(f"g++ timed out after {timeout:.0f} s compiling {src}") from exc
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise HlsSimError(
            f"g++ failed ({proc.returncode}) compiling {src}\n$ {' '.join(cmd)}\n{_tail(proc.stderr)}"
        )
    seal(tmp, binary)
    os.replace(tmp, binary)
    return binary


def compile_many(
    sources: Sequence[os.PathLike | str], *, jobs: Optional[int] = None, **kwargs
) -> list[Path]:
    """:func:`compile_cpp` for several sources in parallel (``jobs`` defaults to the CPU count)."""
    jobs = max(1, min(len(sources) or 1, jobs or os.cpu_count() or 1))
    if jobs == 1:
        return [compile_cpp(s, **kwargs) for s in sources]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda s: compile_cpp(s, **kwargs), sources))


def check_syntax(
    source: os.PathLike | str,
    *,
    include_dirs: Iterable[os.PathLike | str] = (),
    std: str = "c++14",
    extra_flags: Sequence[str] = (),
    build_dir: Optional[os.PathLike | str] = None,
    timeout: float = 600.0,
) -> str:
    """``g++ -fsyntax-only`` on one source (templates are instantiated, static_asserts checked).

    Returns the compiler's diagnostics (warnings); raises :class:`HlsSimError` on errors.  Used to
    check the kernels under other language levels (``std="c++11"`` for Vivado HLS 2020.x front ends)
    and with extra warnings, without building a binary.  A successful check is cached like a build
    (same key; the diagnostics are stored in the build directory).
    """
    src = Path(source).resolve()
    if not src.is_file():
        raise UserError(f"C++ source {src} does not exist")
    compiler = gxx_path()
    flags = compile_flags(include_dirs, std=std, opt="-O0", extra_flags=[*extra_flags, "-fsyntax-only"])
    key = _build_key(compiler, flags, src.read_bytes(), src.parent)
    out_dir = Path(build_dir) if build_dir is not None else default_build_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = out_dir / f"{src.stem}-{key[:20]}.syntax"
    if stamp.is_file():
        return stamp.read_text()
    cmd = [compiler, *flags, str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise HlsSimError(f"g++ -fsyntax-only failed on {src}\n$ {' '.join(cmd)}\n{_tail(proc.stderr)}")
    tmp = out_dir / f".{stamp.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.write_text(proc.stderr)
    os.replace(tmp, stamp)
    return proc.stderr


# ----------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------


def read_output(directory: os.PathLike | str, name: str) -> np.ndarray:
    """Output array ``name`` a C-simulation program wrote into ``directory`` (HlsSimError if it did not)."""
    path = Path(directory) / f"{name}{ARRAY_SUFFIX}"
    if not path.is_file():
        raise HlsSimError(f"the C-simulation did not write output {name!r} ({path})")
    return read_array(directory, name)


def run_binary(
    binary: os.PathLike | str,
    inputs: Mapping[str, object],
    outputs: Optional[Sequence[str]] = None,
    *,
    timeout: float = 600.0,
    workdir: Optional[os.PathLike | str] = None,
) -> dict[str, np.ndarray]:
    """Run ``binary <dir>`` with ``inputs`` as ``<dir>/<name>.i64`` files; return its outputs.

    ``outputs``: names to read back (each must have been written); None reads every ``.i64``
    file the program wrote.  Arrays come back flattened (int64); reshaping is the caller's job.
    ``workdir``: keep the files there (for debugging) instead of a temporary directory.
    """
    if workdir is not None:
        d = Path(workdir)
        d.mkdir(parents=True, exist_ok=True)
        return _run_in(Path(binary), d, inputs, outputs, timeout)
    with tempfile.TemporaryDirectory(prefix="spvit_csim_") as tmp:
        return _run_in(Path(binary), Path(tmp), inputs, outputs, timeout)


def _run_in(binary: Path, d: Path, inputs, outputs, timeout: float) -> dict[str, np.ndarray]:
    for name, value in inputs.items():
        write_array(d, name, value)
    try:
        proc = subprocess.run(
            [str(binary), str(d)], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise HlsSimError(f"{binary.name} timed out after {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise HlsSimError(
            f"{binary.name} exited with status {proc.returncode}\n"
            f"stdout:\n{_tail(proc.stdout)}\nstderr:\n{_tail(proc.stderr)}"
        )
    if outputs is None:
        outputs = sorted(
            p.name[: -len(ARRAY_SUFFIX)]
            for p in d.glob(f"*{ARRAY_SUFFIX}")
            if p.name[: -len(ARRAY_SUFFIX)] not in inputs
        )
    return {name: read_output(d, name) for name in outputs}


def _tail(text: str, lines: int = 40) -> str:
    parts = (text or "").rstrip().splitlines()
    if len(parts) > lines:
        parts = [f"... ({len(parts) - lines} lines omitted)"] + parts[-lines:]
    return "\n".join(parts)
