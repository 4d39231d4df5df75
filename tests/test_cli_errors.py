"""Bad input on every command: one ``error:`` line naming the problem and the fix, exit status 2, no
traceback, and no output left behind (or the earlier output unchanged).

The table runs each case through the commands' real entry point (``run_cli(main, argv)``, the
function ``python -m spvit_fpga.COMMAND`` calls) in this process; a few cases also run as
``python -m`` subprocesses to show the entry point is the same, ``--debug`` shows the traceback,
and an interrupted ``generate --csim`` ends its g++ and leaves no project.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from spvit_fpga import evaluate, export, generate, simulate, train
from spvit_fpga.errors import descendants, run_cli
from spvit_fpga.nn.defaults import default_checkpoint
from spvit_fpga.nn.training import RESUME_KEYS, run_flags

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {"train": train.main, "evaluate": evaluate.main, "export": export.main, "generate": generate.main,
            "simulate": simulate.main}


class _Payload:
    """Unpickling this calls ``open(path, "w")``: a file whose loading would write a file."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _saved_run(out: Path, **changes) -> None:
    """A ``last.pt`` as an interrupted run leaves it: every key a resume reads, and the run's flags
    (the parser's defaults with ``changes``)."""
    out.mkdir(parents=True, exist_ok=True)
    args = train.build_parser().parse_args(["--out", str(out)])
    args.model, args.calib_images = "micro", train.CALIB_IMAGES  # as train.main completes them
    for k, v in changes.items():
        setattr(args, k, v)
    torch.save({**{k: 0 for k in RESUME_KEYS}, "args": run_flags(args)}, out / "last.pt")


def _write_design(d: Path, manifest_text: str) -> None:
    d.mkdir(parents=True)
    (d / "manifest.json").write_text(manifest_text)


# Each case: (id, command, argv builder (tmp -> argv), words the error line must hold,
#             set-up (tmp -> None) or None, paths (relative to tmp) that must not exist afterwards)
CASES = [
    ("train-batch-size-0", "train", lambda t: ["--batch-size", "0", "--out", f"{t}/o"],
     ["--batch-size", "at least 1"], None, ["o"]),
    ("train-lr-negative", "train", lambda t: ["--lr", "-1", "--out", f"{t}/o"], ["--lr", "above 0"], None, ["o"]),
    ("train-lr-nan", "train", lambda t: ["--lr", "nan", "--out", f"{t}/o"], ["--lr", "'nan'"], None, ["o"]),
    ("train-out-below-a-file", "train", lambda t: ["--out", f"{t}/f/o"], ["is a file, not a folder"],
     lambda t: (t / "f").write_text("x"), []),
    ("train-out-unwritable", "train", lambda t: ["--out", "/proc/self/spvit_out"], ["cannot write in", "--out"],
     None, []),
    ("train-out-not-empty", "train", lambda t: ["--out", f"{t}/o"], ["not empty", "--resume", "--force"],
     lambda t: (t / "o").mkdir() or (t / "o" / "checkpoint.pt").write_text("earlier run"), []),
    ("train-resume-and-force", "train", lambda t: ["--resume", "--force", "--out", f"{t}/o"], ["give one of them"],
     None, ["o"]),
    ("train-resume-changed-flags", "train", lambda t: ["--resume", "--lr", "0.01", "--epochs", "3", "--out", f"{t}/o"],
     ["flags differ", "--lr 0.01 (saved run: 0.001)", "--epochs 3 (saved run: 60)", "--force"],
     lambda t: _saved_run(t / "o"), []),
    ("train-resume-crafted-last-pt", "train", lambda t: ["--resume", "--out", f"{t}/o"],
     ["last.pt", "io.open", "could run code"],
     lambda t: (t / "o").mkdir() or torch.save({"config": {}, "x": _Payload(t / "payload_ran")}, t / "o" / "last.pt"),
     ["payload_ran"]),
    ("train-init-and-model", "train", lambda t: ["--init", str(default_checkpoint()), "--model", "deit-tiny",
                                                 "--out", f"{t}/o"], ["--model is taken from the --init"], None, ["o"]),
    ("train-budget-and-ratios", "train", lambda t: ["--target-gmacs", "0.01", "--keep-ratios", "0.5,0.3,0.2",
                                                    "--out", f"{t}/o"], ["not both"], None, ["o"]),
    ("train-budget-above-unpruned", "train", lambda t: ["--target-gmacs", "1", "--out", f"{t}/o", "--quiet"],
     ["--target-gmacs 1 is outside", "0.02248 GMACs (unpruned)"], None, ["o"]),
    ("train-no-prune-det-epochs", "train", lambda t: ["--no-prune", "--det-epochs", "2", "--out", f"{t}/o"],
     ["--no-prune has none"], None, ["o"]),
    ("train-calib-images-without-qat", "train", lambda t: ["--calib-images", "10", "--out", f"{t}/o"],
     ["--calib-images", "add --qat"], None, ["o"]),
    ("train-init-without-config", "train", lambda t: ["--init", f"{t}/c.pt", "--out", f"{t}/o", "--quiet"],
     ["incomplete spvit_fpga checkpoint (no 'config')"],
     lambda t: torch.save({"format": "spvit_fpga.checkpoint", "version": 1, "state_dict": {}}, t / "c.pt"), ["o"]),
    ("evaluate-model-without-pretrained", "evaluate", lambda t: ["--model", "deit-tiny"], ["add --pretrained"],
     None, []),
    ("evaluate-checkpoint-and-ir", "evaluate", lambda t: ["--checkpoint", "a.pt", "--ir", "d"],
     ["--ir: not allowed with argument --checkpoint"], None, []),
    ("evaluate-visualize-negative", "evaluate", lambda t: ["--visualize", "-1", "--out", f"{t}/p"],
     ["--visualize", "at least 0"], None, ["p"]),
    ("evaluate-out-below-a-file", "evaluate", lambda t: ["--visualize", "2", "--out", f"{t}/f/p"],
     ["is a file, not a folder"], lambda t: (t / "f").write_text("x"), []),
    ("evaluate-checkpoint-not-a-torch-file", "evaluate", lambda t: ["--checkpoint", f"{t}/notes.txt"],
     ["not a file torch.save wrote", "give a checkpoint file"], lambda t: (t / "notes.txt").write_text("x\n"), []),
    ("evaluate-per-image-without-json", "evaluate", lambda t: ["--per-image"], ["add --json"], None, []),
    ("export-qonnx-folder-missing", "export", lambda t: ["--out", f"{t}/ir", "--qonnx", f"{t}/no/dir/m.onnx"],
     ["--qonnx", "does not exist; create it first"], None, ["ir", "no"]),
    ("generate-too-many-images", "generate", lambda t: ["--board", "zcu102", "--images", "100000", "--out", f"{t}/g",
                                                        "--quiet"], ["--images 100000", "holds 540 images"], None, ["g"]),
    ("generate-estimate-with-out", "generate", lambda t: ["--board", "zcu102", "--estimate", "--out", f"{t}/g"],
     ["writes nothing; drop --out"], None, ["g"]),
    ("generate-json-without-estimate", "generate", lambda t: ["--board", "zcu102", "--json", "--out", f"{t}/g"],
     ["add --estimate"], None, ["g"]),
    ("generate-kept-and-images-to-measure", "generate", lambda t: ["--board", "zcu102", "--estimate", "--kept", "9,6,3",
                                                                  "--dataset", "digits"],
     ["--kept gives the kept tokens", "drop --dataset or --kept"], None, []),
    ("generate-list-boards-and-board", "generate", lambda t: ["--list-boards", "--board", "zcu102"],
     ["--list-boards only lists", "drop --board"], None, []),
    ("generate-seed-without-random-weights", "generate", lambda t: ["--board", "zcu102", "--seed", "3",
                                                                    "--out", f"{t}/g"], ["--seed"], None, ["g"]),
    ("simulate-manifest-not-json", "simulate", lambda t: ["--design", f"{t}/d", "--rtl"],
     ["manifest.json is not valid JSON", "regenerate"], lambda t: _write_design(t / "d", "{not json"), []),
    ("simulate-manifest-missing-key", "simulate", lambda t: ["--design", f"{t}/d", "--lint"],
     ["lacks model.config.num_classes"], lambda t: _write_design(t / "d", json.dumps({"rtl": {}})), []),
    ("simulate-design-is-a-file", "simulate", lambda t: ["--design", f"{t}/d", "--lint"],
     ["is a file, not a folder", "generate --out"], lambda t: (t / "d").write_text("x"), []),
    ("simulate-images-with-lint", "simulate", lambda t: ["--design", f"{t}/d", "--lint", "--images", "3"],
     ["--images does nothing with --lint"], lambda t: _write_design(t / "d", "{}"), []),
]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("command, argv, words, setup, absent", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_error_line_exit_2_and_no_output(tmp_path, capsys, command, argv, words, setup, absent):
    if setup is not None:
        setup(tmp_path)
    before = _snapshot(tmp_path)
    with pytest.raises(SystemExit) as info:
        run_cli(COMMANDS[command], argv(tmp_path))
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], (w, lines[0])
    for rel in absent:
        assert not (tmp_path / rel).exists(), rel
    assert _snapshot(tmp_path) == before  # nothing written, nothing changed
    assert not [p for p in tmp_path.rglob(".*") if p.name.startswith((".spvit_probe", ".o.", ".g.", ".ir."))]


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=timeout)


def test_the_module_entry_point_behaves_the_same(tmp_path):
    _write_design(tmp_path / "d", "[1, 2")
    proc = _run("spvit_fpga", "simulate", "--design", str(tmp_path / "d"), "--rtl")  # also the console script's path
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1
    assert "is not valid JSON" in proc.stderr and "Traceback" not in proc.stderr


def test_debug_shows_the_traceback(tmp_path):
    from spvit_fpga.errors import UserError

    _write_design(tmp_path / "d", "[1, 2")
    with pytest.raises(UserError, match="is not valid JSON"):  # raised through run_cli: Python prints the traceback
        run_cli(simulate.main, ["--design", str(tmp_path / "d"), "--rtl", "--debug"])


@pytest.mark.parametrize("name", ["train", "evaluate", "export", "generate", "simulate", "report", "interop"])
def test_every_command_has_one_line_errors_and_debug(name, capsys):
    import importlib

    module = importlib.import_module(f"spvit_fpga.{name}")
    assert "--debug" in module.build_parser().format_help()
    with pytest.raises(SystemExit) as info:
        run_cli(module.main, ["--no-such-flag"])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and err.startswith("error: ") and err.endswith("--help lists the options)") and "\n" not in err


def test_interrupted_csim_ends_gxx_and_leaves_no_project(tmp_path):
    """SIGTERM while g++ compiles the C-simulation: g++ (and its cc1plus) end with the command, and
    no project appears at --out (the C-simulation runs before the project is moved into place)."""
    out = tmp_path / "proj"
    env = dict(os.environ, OMP_NUM_THREADS="1", SPVIT_FPGA_BUILD_DIR=str(tmp_path / "cold"))  # g++ really runs
    proc = subprocess.Popen([sys.executable, "-m", "spvit_fpga.generate", "--board", "zcu102", "--out", str(out),
                             "--csim", "--images", "1"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    compilers: list[int] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and not compilers:
        for pid in descendants(proc.pid):
            try:
                name = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            if name in ("g++", "cc1plus"):
                compilers.append(pid)
        time.sleep(0.1)
    assert compilers, f"g++ never started: {proc.poll()} {proc.stderr.read() if proc.poll() is not None else ''}"
    tree = descendants(proc.pid)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().endswith("interrupted"), err
    assert "compiling the C-simulation with g++: 00:" in err, err  # the compile's progress line
    time.sleep(0.2)
    alive = [pid for pid in tree if Path(f"/proc/{pid}").exists()
             and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    assert not alive, f"child processes still running: {alive}"
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".proj.")]


def test_resume_refusal_needs_no_training(tmp_path):
    """The flags check compares against the saved flags only (a SimpleNamespace stands in for argparse)."""
    from spvit_fpga.nn.training import check_resume_flags
    from spvit_fpga.errors import UserError

    with pytest.raises(UserError, match=r"--seed 1 \(saved run: 0\)"):
        check_resume_flags({"seed": 0, "lr": 0.1}, SimpleNamespace(seed=1, lr=0.1, quiet=True, out="o"), Path("o/last.pt"))
    check_resume_flags({"seed": 0}, SimpleNamespace(seed=0, quiet=False, stop_after=3, out="x"), Path("o/last.pt"))
