"""hls4ml on one linear unit: ``convert_from_onnx_model`` → ``compile()`` (g++) → ``predict()``.

hls4ml reads the same QONNX file as FINN.  Its Quant nodes become ``ap_fixed`` quantisers with
``AP_RND_CONV`` (round half to even, as here) and ``AP_SAT``; with power-of-two scales this is the
project's ``requantize``.  What remains is the width of the internal types (weights after
de-quantisation, products, accumulator, bias add, residual add): hls4ml infers the matmul's
types from the quantisers but leaves others (the residual add) at the default precision, so the default must hold every intermediate exactly.  :func:`wide_precision`
sizes it from the IR: enough fractional bits for the finest grid of the layer and enough integer
bits for its proven accumulator width.  (Measured: with ``fixed<16,6>`` most outputs of a
residual layer differ.)

hls4ml has no cycle or resource estimate without running Vitis HLS; only its arithmetic is
compared here.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ._project import UserError
from .units import LinearUnit, OffGridError, Rows, to_int, to_real

MARGIN_BITS = 2


def require_hls4ml() -> None:
    try:
        import hls4ml  # noqa: F401
    except ImportError as exc:
        raise UserError(f"hls4ml is not installed ({exc}); run `make install` (hls4ml==1.3.0 is a dev dependency)") from None


@dataclass
class Hls4mlUnitResult:
    name: str
    precision: str = ""
    exact_images: Optional[bool] = None
    exact_random: Optional[bool] = None
    mismatches: int = 0
    elements: int = 0
    compile_seconds: float = 0.0
    seconds: float = 0.0
    error: Optional[str] = None
    outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # "images" / "random" integers

    @property
    def exact(self) -> bool:
        return bool(self.exact_images and self.exact_random and self.error is None)


def wide_precision(unit: LinearUnit) -> str:
    """``fixed<W,I>`` holding every intermediate of the unit exactly."""
    op = unit.op
    fracs = [op.in_fmt.frac, op.w_fmt.frac, op.acc_frac, op.out_frac]
    if op.residual_fmt is not None:
        fracs.append(op.residual_fmt.frac)
    frac = max(fracs) + MARGIN_BITS
    # integer bits: the accumulator's proven width above its binary point (+ the residual's shift)
    align = max(0, -op.residual_align) if op.residual_fmt is not None else 0
    integer = max(op.acc_bits + align - op.acc_frac, 1) + MARGIN_BITS
    return f"fixed<{integer + frac},{integer}>"


def run_hls4ml_unit(unit: LinearUnit, qonnx_path: Path, images: Rows, random: Rows, work: Path,
                    precision: Optional[str] = None) -> Hls4mlUnitResult:
    """Convert, compile and predict one exported unit; ``precision`` overrides :func:`wide_precision`."""
    import hls4ml
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    op = unit.op
    res = Hls4mlUnitResult(unit.name, precision=precision or wide_precision(unit))
    t0 = time.perf_counter()
    try:
        model = cleanup_model(ModelWrapper(str(qonnx_path)))
        model = cleanup_model(model.transform(GemmToMatMul()))
        cfg = hls4ml.utils.config.config_from_onnx_model(model, granularity="name", backend="Vitis", default_precision=res.precision)
        hmodel = hls4ml.converters.convert_from_onnx_model(
            model, output_dir=str(work), io_type="io_parallel", backend="Vitis", hls_config=cfg,
        )
        t1 = time.perf_counter()
        hmodel.compile()
        res.compile_seconds = time.perf_counter() - t1
        got = []
        for rows in (images, random):
            x = np.ascontiguousarray(to_real(rows.x, op.in_fmt, 0))
            feed = [x, np.ascontiguousarray(to_real(rows.residual, op.residual_fmt, 0))] if unit.has_residual_input else x
            y = np.asarray(hmodel.predict(feed), dtype=np.float64).reshape(len(rows), -1)
            got.append(to_int(y, op.out_frac))
        res.outputs = {"images": got[0], "random": got[1]}
        res.exact_images = bool(np.array_equal(got[0], images.y))
        res.exact_random = bool(np.array_equal(got[1], random.y))
        res.mismatches = int((got[0] != images.y).sum() + (got[1] != random.y).sum())
        res.elements = int(images.y.size + random.y.size)
    except OffGridError as exc:
        res.error = f"output off the integer grid: {exc}"
    except Exception as exc:  # an hls4ml step failed: reported per unit
        res.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    res.seconds = time.perf_counter() - t0
    return res
