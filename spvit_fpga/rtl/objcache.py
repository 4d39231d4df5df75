"""Object cache for Verilator's run-time library (used as Verilator's ``OBJCACHE`` prefix).

Every Verilator build compiles the same run-time library (``verilated.cpp``,
``verilated_vpi.cpp``, ``verilated_threads.cpp``, ``verilated_dpi.cpp``: ~9 CPU-seconds, most
of a small design's build).  Those files depend only on the wheel's headers and the compiler
flags, not on the design, so their objects are cached by (compiler command, source contents).
Anything else (the design's own C++ and cocotb's ``verilator.cpp``, which includes the design's
``Vtop.h``) is compiled normally.  Run as ``OBJCACHE="<python> <this file>"``; the cache folder
comes from ``SPVIT_OBJCACHE_DIR`` (inside the private build cache) and the cacheable source folder
from ``VERILATOR_ROOT``.  Each entry records its object's SHA-256; an entry whose object no longer
matches is dropped and compiled again, never linked.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path


def _parse(args: list) -> tuple:
    out = src = None
    for i, a in enumerate(args):
        if a == "-o" and i + 1 < len(args):
            out = args[i + 1]
        elif a.endswith((".cpp", ".cc", ".c")) and not a.startswith("-"):
            src = a
    return out, src


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv: list) -> int:
    if not argv:
        return 2
    cache_dir = os.environ.get("SPVIT_OBJCACHE_DIR")
    root = os.environ.get("VERILATOR_ROOT")
    out, src = _parse(argv)
    cacheable = (
        cache_dir
        and root
        and out
        and src
        and "-c" in argv
        and Path(src).resolve().is_relative_to(Path(root).resolve() / "include")
    )
    if not cacheable:
        return subprocess.call(argv)
    h = hashlib.sha256()
    h.update("\0".join(argv).encode())
    h.update(Path(src).read_bytes())
    h.update(root.encode())
    key = h.hexdigest()[:24]
    entry = Path(cache_dir) / f"{Path(out).stem}-{key}"
    obj, dep = Path(out), Path(out).with_suffix(".d")
    if (entry / "obj").is_file():
        data = (entry / "obj").read_bytes()
        sealed = (entry / "sha256").is_file() and (entry / "sha256").read_text().strip() == _sha256(data)
        if sealed:  # an object whose bytes are not the ones recorded is never linked
            obj.write_bytes(data)
            if (entry / "dep").is_file():
                shutil.copyfile(entry / "dep", dep)
            return 0
        shutil.rmtree(entry, ignore_errors=True)
    rc = subprocess.call(argv)
    if rc == 0 and obj.is_file():
        tmp = Path(cache_dir) / f".tmp-{os.getpid()}-{entry.name}"
        tmp.mkdir(parents=True, exist_ok=True)
        data = obj.read_bytes()
        (tmp / "obj").write_bytes(data)
        (tmp / "sha256").write_text(_sha256(data) + "\n")
        if dep.is_file():
            shutil.copyfile(dep, tmp / "dep")
        try:
            tmp.rename(entry)
        except OSError:  # another build stored it first
            shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
