"""Test vectors of a generated project: integer images and what the golden reference expects.

The vectors live in ``<project>/tb/vectors`` as raw little-endian int64 files, one array a file
(``<name>.i64``, :func:`write_array` / :func:`read_array`; the protocol of ``hls/spvit_tb_io.h``,
also used by the g++ kernel harness and by the RTL simulation): ``meta`` = ``[images, input words,
classes, stages]``, ``images``
(``[images][C*H*W]`` in ``C x H x W`` raster order = the AXI-Stream order), ``labels``,
``expected_logits`` (``[images][classes]``, accumulator integers) and ``expected_kept``
(``[images][stages]``, patch tokens kept after each selector stage).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from ..errors import UserError
from ..ir.graph import IR
from ..ir.reference import quantize_image, run_reference

__all__ = ["ARRAY_SUFFIX", "TestVectors", "make_vectors", "vector_arrays", "read_vectors", "write_array", "read_array"]

ARRAY_SUFFIX = ".i64"


@dataclass
class TestVectors:
    images: np.ndarray  # [B, C*H*W] int64
    labels: np.ndarray  # [B] (-1: unknown)
    logits: np.ndarray  # [B, classes]
    kept: np.ndarray  # [B, stages]
    source: str  # where the images come from (data set spec or "synthetic")

    def __len__(self) -> int:
        return int(self.images.shape[0])


def make_vectors(ir: IR, images: torch.Tensor, labels: Optional[Sequence[int]] = None, source: str = "",
                 progress=None) -> TestVectors:
    """Run the reference on float images [B,C,H,W] (quantised with the IR's input format)."""
    ints, logits, kept = [], [], []
    for img in images:
        q = quantize_image(ir, img)
        out = run_reference(ir, q)
        ints.append(q.reshape(-1).numpy().astype(np.int64))
        logits.append(out.logits.astype(np.int64))
        kept.append([len(k) for k in out.kept_indices])
        if progress is not None:
            progress.update(1)
    b, s = len(ints), len(ir.selectors)
    lab = np.full(b, -1, dtype=np.int64) if labels is None else np.asarray(list(labels), dtype=np.int64)
    return TestVectors(
        images=np.stack(ints) if ints else np.zeros((0, int(np.prod(ir.input_shape))), np.int64),
        labels=lab,
        logits=np.stack(logits) if logits else np.zeros((0, ir.num_classes), np.int64),
        kept=np.asarray(kept, dtype=np.int64).reshape(b, s),
        source=source,
    )


def vector_arrays(v: TestVectors) -> dict[str, np.ndarray]:
    """Name -> int64 array of the files in ``tb/vectors``."""
    return {
        "meta": np.array([len(v), v.images.shape[1], v.logits.shape[1], v.kept.shape[1]], dtype=np.int64),
        "images": v.images,
        "labels": v.labels,
        "expected_logits": v.logits,
        "expected_kept": v.kept,
    }


def read_vectors(project) -> TestVectors:
    """The test vectors of a generated project (``<project>/tb/vectors``), as written by
    :func:`vector_arrays`."""
    d = Path(project) / "tb" / "vectors"
    if not (d / "meta.i64").is_file():
        raise UserError(f"{project} has no test vectors ({d}): regenerate it with python -m spvit_fpga.generate")
    b, words, classes, stages = (int(v) for v in read_array(d, "meta")[:4])
    return TestVectors(
        images=read_array(d, "images").reshape(b, words),
        labels=read_array(d, "labels").reshape(b),
        logits=read_array(d, "expected_logits").reshape(b, classes),
        kept=read_array(d, "expected_kept").reshape(b, stages),
        source="",
    )


# --------------------------------------------------------------------------------------------
# array files
# --------------------------------------------------------------------------------------------


def _as_int64(name: str, value) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int64)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"input {name!r} must be an integer array, got {arr.dtype}")
    if arr.dtype == np.uint64 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"input {name!r} has values beyond int64")
    return np.ascontiguousarray(arr.astype("<i8", copy=False).reshape(-1))


def write_array(directory: os.PathLike | str, name: str, value) -> Path:
    """Write an integer array as ``<directory>/<name>.i64`` (flattened, little-endian int64)."""
    path = Path(directory) / f"{name}{ARRAY_SUFFIX}"
    _as_int64(name, value).tofile(path)
    return path


def read_array(directory: os.PathLike | str, name: str) -> np.ndarray:
    """Read ``<directory>/<name>.i64`` as a 1-D int64 array (FileNotFoundError if it is missing)."""
    path = Path(directory) / f"{name}{ARRAY_SUFFIX}"
    if not path.is_file():
        raise FileNotFoundError(f"no array {name!r}: {path} does not exist")
    return np.fromfile(path, dtype="<i8").astype(np.int64)
