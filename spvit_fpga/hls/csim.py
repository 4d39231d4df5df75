"""g++ C-simulation of a generated project and its bit-exact comparison with the reference.

``tb/csim_main.cpp`` (top function + testbench in one translation unit) is compiled with
:func:`spvit_fpga.hls.gxx.compile_cpp` against the open-source ap_types headers
(``-DSPVIT_AXIS_SHIM``: they lack ``ap_axi_sdata.h``), with the project's own copy of the kernel
library first on the include path.  The binary runs every test vector through the top function;
its outputs are compared here with the reference's, and ``csim.json`` records the result.

An image is bit-exact only if its outputs are equal *and* no ``hls::stream`` of the design warned
while it ran: the ap_types streams print ``WARNING: Hls::stream ... read while empty`` or ``...
contains leftover data`` when a consumer reads more, or fewer, words than its producer wrote.  In
C-simulation that costs nothing visible (a default word is returned, the rest is dropped); in the
dataflow region of the synthesised design (fetch -> merge -> engine) it is a hang.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import UserError
from ..hw.vectors import ARRAY_SUFFIX, read_vectors
from . import gxx

__all__ = ["CsimResult", "compile_project", "run_csim", "CSIM_JSON"]

CSIM_JSON = "csim.json"
OUT_DIR = "csim_out"
STREAM_WARNING = "WARNING: Hls::stream"
IMAGE_LINE = "spvit_tb: image "


@dataclass
class CsimResult:
    images: int
    bit_exact: int
    per_image: list[dict]
    compile_seconds: float
    run_seconds: float
    binary: str
    extra: dict = field(default_factory=dict)

    @property
    def all_bit_exact(self) -> bool:
        return self.images > 0 and self.bit_exact == self.images

    def to_json(self) -> dict:
        preds = [r for r in self.per_image if r["label"] >= 0]
        return {
            "images": self.images,
            "bit_exact": self.bit_exact,
            "all_bit_exact": self.all_bit_exact,
            "summary": f"{self.bit_exact}/{self.images} bit-exact",
            "accuracy": (sum(r["prediction"] == r["label"] for r in preds) / len(preds)) if preds else None,
            "compile_seconds": round(self.compile_seconds, 3),
            "run_seconds": round(self.run_seconds, 3),
            "seconds_per_image": round(self.run_seconds / self.images, 4) if self.images else None,
            "compiler": gxx.gxx_version(),
            **self.extra,
            "per_image": self.per_image,
        }


def compile_project(project: Path) -> Path:
    """Build ``tb/csim_main.cpp`` of ``project`` (cached by content); return the binary."""
    src = project / "tb" / "csim_main.cpp"
    if not src.is_file():
        raise UserError(f"{project} is not a generated HLS project (no tb/csim_main.cpp); generate it first")
    inc = [project / "src", project / "hls", project / "tb"]
    quote = [f for d in inc for f in ("-iquote", str(d))]
    return gxx.compile_cpp(src, include_dirs=inc, defines={"SPVIT_AXIS_SHIM": None}, extra_flags=quote)


def _run(binary: Path, project: Path, out_dir: Path, n_images: int, progress, timeout: Optional[float]) -> str:
    cmd = [str(binary), str(project), str(out_dir)]
    start = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=project) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if progress is not None and line.startswith(IMAGE_LINE):
                progress.update(1)
            if timeout is not None and time.monotonic() - start > timeout:
                proc.kill()
                raise gxx.HlsSimError(f"C-simulation timed out after {timeout:.0f} s")
        err = proc.stderr.read()
        code = proc.wait()
    if code not in (0, 1):  # 1: the testbench ran and found a mismatch (compared below)
        tail = "\n".join(lines[-20:])
        raise gxx.HlsSimError(f"C-simulation binary exited with status {code}\nstdout:\n{tail}\nstderr:\n{err[-4000:]}")
    return "\n".join(lines)


def stream_warnings(stdout: str, n_images: int) -> list[list[str]]:
    """The ``hls::stream`` warnings of every image: those printed before the testbench's line for
    image i belong to image i (the streams of the top function are destroyed when its call returns);
    any printed after the last image's line belong to the last image."""
    out: list[list[str]] = [[] for _ in range(n_images)]
    pending: list[str] = []
    i = 0
    for line in stdout.splitlines():
        if line.startswith(STREAM_WARNING):
            pending.append(line.strip())
        elif line.startswith(IMAGE_LINE) and i < n_images:
            out[i] += pending
            pending, i = [], i + 1
    if pending and n_images:
        out[max(0, i - 1)] += pending
    return out


def run_csim(project: str | os.PathLike, *, binary: Optional[Path] = None, compile_seconds: Optional[float] = None,
             progress=None, latency: Optional[Callable[[list[int]], dict]] = None,
             timeout: Optional[float] = None) -> CsimResult:
    """Compile (unless ``binary`` is given) and run the C-simulation of a generated project; compare
    with the test vectors and write ``<project>/csim.json``.  ``latency(kept)`` adds per-image
    latency estimates; ``progress`` (a tqdm) advances once per image."""
    project = Path(project).resolve()
    vec = read_vectors(project)
    n, classes, stages = len(vec), vec.logits.shape[1], vec.kept.shape[1]
    t0 = time.monotonic()
    if binary is None:
        binary = compile_project(project)
    t1 = time.monotonic()
    if compile_seconds is None:
        compile_seconds = t1 - t0
    out_dir = project / OUT_DIR
    out_dir.mkdir(exist_ok=True)
    for stale in out_dir.glob(f"*{ARRAY_SUFFIX}"):
        stale.unlink()
    stdout = _run(binary, project, out_dir, n, progress, timeout)
    warnings = stream_warnings(stdout, n)
    t2 = time.monotonic()
    logits = gxx.read_output(out_dir, "logits").reshape(n, classes)
    kept = gxx.read_output(out_dir, "kept").reshape(n, stages)
    exp_logits, exp_kept, labels = vec.logits, vec.kept, vec.labels
    per_image = []
    for i in range(n):
        le = bool(np.array_equal(logits[i], exp_logits[i]))
        ke = bool(np.array_equal(kept[i], exp_kept[i]))
        rec = {"index": i, "label": int(labels[i]), "bit_exact": le and ke and not warnings[i],
               "logits_equal": le, "kept_equal": ke, "stream_warnings": warnings[i],
               "prediction": int(np.argmax(logits[i])), "reference_prediction": int(np.argmax(exp_logits[i])),
               "kept": kept[i].tolist(), "expected_kept": exp_kept[i].tolist()}
        if not le:
            rec["logits"], rec["expected_logits"] = logits[i].tolist(), exp_logits[i].tolist()
        if latency is not None:
            rec["estimated_latency_ms"] = latency(kept[i].tolist())
        per_image.append(rec)
    res = CsimResult(images=n, bit_exact=sum(r["bit_exact"] for r in per_image), per_image=per_image,
                     compile_seconds=compile_seconds, run_seconds=t2 - t1, binary=binary.name)
    tmp = project / f".{CSIM_JSON}.tmp"
    tmp.write_text(json.dumps(res.to_json(), indent=2) + "\n")
    os.replace(tmp, project / CSIM_JSON)
    return res
