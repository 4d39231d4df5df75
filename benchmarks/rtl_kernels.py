"""Build and simulation figures of the RTL kernel library (rtl/ + rtl_sim/ testbenches).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/rtl_kernels.py            # every configuration
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/rtl_kernels.py -k keep    # ids containing "keep"

Every kernel configuration of ``tests/test_rtl_kernels.py`` (``KERNEL_CASES``: same vectors,
same testbench) is built and run through :func:`spvit_fpga.rtl.runner.run` three times, each in a
fresh temporary build folder (``SPVIT_RTL_BUILD_DIR``) of its own:

* **cold**: empty folder: Verilator, the design's C++ and Verilator's run-time library
  (``verilated*.cpp``) are all compiled;
* **objcache**: the build folder of the configuration is deleted but the run-time library's
  object cache (``spvit_fpga/rtl/objcache.py``) is kept: the cost of a new configuration in a
  working tree that has built any kernel before;
* **warm**: the finished build is reused (only the cache check), then simulated.

Per configuration it reports the three build times, the simulated clock cycles of the whole
testbench (all its cocotb tests, including reset and settling cycles; 10 ns clock), the
simulation's wall time (the simulator process: cocotb start-up plus the tests) and simulated
cycles per wall second, and the same rate over the time spent inside the tests only (cocotb's
``results.xml``; without the simulator's start-up); a table goes to stdout and everything to
``benchmarks/results/rtl_kernels.json``.  Configurations run one after another (two cores;
the machine's load is recorded with the results).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spvit_fpga.rtl import runner  # noqa: E402
from rtl_sim.streams import CLOCK_NS  # noqa: E402

_CLK_RE = re.compile(r"\binput\s+logic\s+clk\b")
RESULTS = ROOT / "benchmarks" / "results" / "rtl_kernels.json"


def kernel_cases() -> list:
    """``KERNEL_CASES`` of tests/test_rtl_kernels.py (one list of configurations for both)."""
    spec = importlib.util.spec_from_file_location("_spvit_test_rtl_kernels", ROOT / "tests" / "test_rtl_kernels.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return list(mod.KERNEL_CASES)


def _run_in(build_dir: Path, top: str, test_module: str, build_vectors, kwargs: dict) -> runner.SimResult:
    os.environ[runner.BUILD_DIR_ENV] = str(build_dir)
    params, vec = build_vectors(**kwargs)  # memory files are written under the build folder
    return runner.run(top=top, test_module=test_module, parameters=params, vectors=vec, keep=True)


def _test_wall_seconds(result: runner.SimResult) -> float:
    """Wall time cocotb spent inside the tests (results.xml ``time``; no simulator start-up)."""
    root = ElementTree.parse(result.test_dir / "results.xml").getroot()
    return sum(float(case.get("time", 0.0)) for case in root.iter("testcase"))


def measure(case) -> dict:
    case_id, top, test_module, build_vectors, kwargs = case
    tmp = Path(tempfile.mkdtemp(prefix=f"spvit-bench-{case_id}-"))
    try:
        t0 = time.monotonic()
        cold = _run_in(tmp, top, test_module, build_vectors, kwargs)
        t_cold = time.monotonic() - t0
        assert cold.built, "the cold run did not build"
        shutil.rmtree(cold.build_dir)  # keep tmp/objcache and tmp/mem
        rebuilt = _run_in(tmp, top, test_module, build_vectors, kwargs)
        assert rebuilt.built
        warm = _run_in(tmp, top, test_module, build_vectors, kwargs)
        assert not warm.built, "the warm run rebuilt"
        test_wall = _test_wall_seconds(warm)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # A combinational top (no clk port, e.g. spvit_requant_var) is stepped with timers by its
    # testbench: there are no clock cycles to count, only simulated time.
    clocked = bool(_CLK_RE.search(runner.rtl_file(top).read_text()))
    cycles = round(warm.sim_time_ns / CLOCK_NS) if clocked else None
    rate = (lambda secs: round(cycles / secs) if cycles is not None and secs > 0 else None)
    return {
        "id": case_id,
        "top": top,
        "testbench": test_module,
        "kwargs": {k: repr(v) for k, v in kwargs.items()},
        "tests": warm.tests,
        "build_cold_s": round(cold.build_seconds, 2),
        "build_objcache_s": round(rebuilt.build_seconds, 2),
        "build_warm_s": round(warm.build_seconds, 3),
        "clocked": clocked,
        "sim_time_ns": warm.sim_time_ns,
        "sim_cycles": cycles,
        "sim_wall_s": round(warm.run_seconds, 2),
        "cycles_per_s": rate(warm.run_seconds),
        "test_wall_s": round(test_wall, 3),
        "cycles_per_test_s": rate(test_wall),
        "sim_wall_cold_run_s": round(cold.run_seconds, 2),
        "total_cold_s": round(t_cold, 2),
    }


def table(rows: list) -> str:
    head = f"{'configuration':38s} {'top':20s} {'cold s':>7s} {'objc s':>7s} {'warm s':>7s} " \
           f"{'cycles':>8s} {'sim s':>6s} {'cyc/s':>8s} {'test s':>6s} {'cyc/test s':>10s}"
    lines = [head, "-" * len(head)]
    def num(v, fmt):
        return format(v, fmt) if v is not None else format("-", ">" + fmt.rstrip("d"))

    for r in rows:
        lines.append(
            f"{r['id']:38s} {r['top']:20s} {r['build_cold_s']:7.2f} {r['build_objcache_s']:7.2f} "
            f"{r['build_warm_s']:7.3f} {num(r['sim_cycles'], '8d')} {r['sim_wall_s']:6.2f} {num(r['cycles_per_s'], '8d')} "
            f"{r['test_wall_s']:6.3f} {num(r['cycles_per_test_s'], '10d')}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-k", "--filter", default="", help="only configurations whose id contains this")
    ap.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS.relative_to(ROOT)})")
    args = ap.parse_args(argv)
    cases = [c for c in kernel_cases() if args.filter in c[0]]
    if not cases:
        raise SystemExit(f"no configuration id contains {args.filter!r}")
    tc = runner.configure_environment()
    saved = os.environ.get(runner.BUILD_DIR_ENV)
    rows = []
    t0 = time.monotonic()
    try:
        for case in cases:
            row = measure(case)
            rows.append(row)
            print(f"{row['id']}: cold {row['build_cold_s']} s, objcache {row['build_objcache_s']} s, "
                  f"warm {row['build_warm_s']} s, {row['sim_cycles']} cycles in {row['sim_wall_s']} s",
                  file=sys.stderr, flush=True)
    finally:
        if saved is None:
            os.environ.pop(runner.BUILD_DIR_ENV, None)
        else:
            os.environ[runner.BUILD_DIR_ENV] = saved
    print(table(rows))
    result = {
        "command": "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/rtl_kernels.py"
                   + (f" -k {args.filter}" if args.filter else ""),
        "host": {
            "cpus": os.cpu_count(),
            "loadavg_at_end": list(os.getloadavg()),
            "python": platform.python_version(),
            "verilator": tc.verilator_version,
            "cocotb": tc.cocotb_version,
        },
        "clock_ns": CLOCK_NS,
        "total_s": round(time.monotonic() - t0, 1),
        "kernels": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
