"""A non-editable wheel works outside the source tree.

The wheel is built with the project's own build backend (``pip wheel --no-deps
--no-build-isolation``) from a copy of the checkout's sources (so that the build's ``build/`` and
``*.egg-info`` never land in the checkout other tests are using), installed with ``pip install
--target`` and put on ``PYTHONPATH``; the virtual environment supplies the dependencies.  From a
folder outside the checkout it generates the default design with its RTL and C-simulation
("2/2 bit-exact"), lints the RTL design, and shows the console script's help.  It checks that the
children imported spvit_fpga and rtl_sim from the install, and that build caches went to the
per-user cache folder (``XDG_CACHE_HOME``), not into the installed package.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "spvit_fpga", "rtl", "hls", "rtl_sim", "boards")

pytestmark = pytest.mark.slow


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")
    for name in SOURCES:
        path = REPO / name
        (shutil.copytree(path, src / name, ignore=ignore) if path.is_dir() else shutil.copy2(path, src / name))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist", src])
    wheels = sorted((tmp / "dist").glob("spvit_fpga-*.whl"))
    assert len(wheels) == 1, wheels
    site = tmp / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, wheels[0]])
    work = tmp / "work"
    work.mkdir()
    pythonpath = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != REPO]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *pythonpath]),
           "XDG_CACHE_HOME": str(tmp / "cache"), "OMP_NUM_THREADS": "1"}
    env.pop("SPVIT_RTL_BUILD_DIR", None)
    env.pop("SPVIT_BOARDS_DIR", None)
    return {"site": site, "work": work, "env": env, "cache": tmp / "cache", "wheel": wheels[0]}


def test_the_install_is_imported_not_the_checkout(installed):
    out = _run([sys.executable, "-c", "import spvit_fpga, rtl_sim; print(spvit_fpga.__file__); print(rtl_sim.__file__)"],
               cwd=installed["work"], env=installed["env"]).stdout.split()
    site = installed["site"].resolve()
    assert [Path(p).resolve().parent.parent for p in out] == [site, site], out
    lib = site / "spvit_fpga" / "_lib"
    assert (lib / "rtl" / "spvit_gemm.sv").is_file() and (lib / "hls" / "spvit_common.h").is_file()
    assert (lib / "boards" / "zcu102.json").is_file()


def test_generate_csim_and_lint_from_the_wheel(installed):
    work, env = installed["work"], installed["env"]
    gen = _run([sys.executable, "-m", "spvit_fpga.generate", "--board", "zcu102", "--rtl", "--csim", "--images", "2",
                "--out", "D", "--quiet"], cwd=work, env=env)
    assert "2/2 bit-exact" in gen.stdout
    lint = _run([sys.executable, "-m", "spvit_fpga.simulate", "--design", "D", "--lint"], cwd=work, env=env)
    assert "lint clean: spvit_accel" in lint.stdout
    cache = installed["cache"] / "spvit_fpga"
    assert cache.is_dir() and (cache.stat().st_mode & 0o777) == 0o700
    assert not (installed["site"] / "build").exists()


def test_console_script_lists_the_commands(installed):
    script = installed["site"] / "bin" / "spvit-fpga"
    out = _run([script, "--help"], cwd=installed["work"], env=installed["env"]).stdout
    for command in ("train", "evaluate", "export", "generate", "simulate"):
        assert f"  {command} " in out
    out = _run([script, "generate", "--list-boards"], cwd=installed["work"], env=installed["env"]).stdout
    assert "zcu102" in out
