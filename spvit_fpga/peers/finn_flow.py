"""finn-plus's front end on one linear unit: numpy execution against the reference, estimates.

Steps (finn-plus 1.6.1, CPU only; cppsim, rtlsim and IP generation need Vivado):

1. ``qonnx.util.cleanup.cleanup_model``;
2. ``ConvertQONNXtoFINN`` with MultiThreshold conversion up to the unit's widest activation
   (16 bits for the residual stream; FINN's default of 8 leaves 16-bit Quant nodes as QONNX
   nodes that no hardware layer takes);
   then two project passes on the FINN-ONNX graph, both exact rewrites:

   * :func:`integer_inputs`: the graph inputs carry the integers themselves (FINN's usual form
     for a quantised input) instead of a 255- or 65 535-threshold input quantiser;
   * :func:`ties_to_even`: FINN's thresholds sit at the half steps and a value *on* a
     threshold goes up (round half up); this project rounds half to even.  Where a tie can
     occur (the accumulator grid hits the half step) and the value below is even, the threshold
     moves up by half a grid step.  The stock result (without this pass) is measured too;
3. ``Streamline``;
4. hardware layers: ``InferQuantizedMatrixVectorActivation``, ``InferThresholdingLayer``,
   ``InferElementwiseBinaryOperation``; the numpy execution of this graph (FINN's Python model
   of each hardware layer) is what is compared with the reference;
5. ``SpecializeLayers`` for the board's part;
6. ``SetFolding`` with this project's frame interval as its target (the RTL generator's
   balanced folding, :func:`codegen.rtl.choose_options`); then ``exp_cycles_per_layer`` and
   ``res_estimation``.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ._project import FixedFormat, UserError
from .units import LinearUnit, OffGridError, Rows, frames_of, to_int

FINN_DOMAIN = "finn.custom_op.fpgadataflow"


class FinnFlowError(Exception):
    """The graph did not take the expected form; the message says where."""


def require_finn() -> None:
    try:
        import finn  # noqa: F401
        import qonnx  # noqa: F401
    except ImportError as exc:
        raise UserError(f"finn-plus is not installed ({exc}); run `make interop` (finn-plus 1.6.1 beside torch 2.13)") from None


@dataclass
class FinnUnitResult:
    name: str
    exact_images: Optional[bool] = None
    exact_random: Optional[bool] = None
    mismatches: int = 0  # elements differing from the reference (images + random)
    elements: int = 0
    stock_mismatches: int = 0  # without ties_to_even
    ties_moved: int = 0
    unmapped: list[str] = field(default_factory=list)  # nodes left outside FINN's hardware layers
    nodes: list[str] = field(default_factory=list)  # specialised hardware layers
    folding: dict[str, dict[str, int]] = field(default_factory=dict)  # node -> {PE, SIMD}
    cycles: dict[str, int] = field(default_factory=dict)  # exp_cycles_per_layer
    resources: dict[str, dict[str, float]] = field(default_factory=dict)  # res_estimation
    seconds: float = 0.0
    error: Optional[str] = None
    outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # "images" / "random" integers

    @property
    def exact(self) -> bool:
        return bool(self.exact_images and self.exact_random and not self.unmapped and self.error is None)

    @property
    def mvau_cycles(self) -> Optional[int]:
        vals = [c for n, c in self.cycles.items() if n.startswith("MVAU")]
        return max(vals) if vals else None

    @property
    def interval(self) -> Optional[int]:
        return max(self.cycles.values()) if self.cycles else None

    def resource_total(self) -> dict[str, float]:
        tot: dict[str, float] = {}
        for r in self.resources.values():
            for k, v in r.items():
                if isinstance(v, (int, float)):
                    tot[k] = tot.get(k, 0) + v
        return tot


# --------------------------------------------------------------------------------------------
# project passes on the FINN-ONNX graph
# --------------------------------------------------------------------------------------------


def _datatype(fmt: FixedFormat):
    from qonnx.core.datatype import DataType

    return DataType[("INT" if fmt.signed else "UINT") + str(fmt.bits)]


def _scalar(model, name: str) -> Optional[float]:
    v = model.get_initializer(name)
    if v is None or v.size != 1:
        return None
    return float(np.asarray(v).reshape(()))


def integer_inputs(model, formats: dict[str, FixedFormat]):
    """Feed each graph input's integers directly: the chain ``MultiThreshold → Add(min_int) →
    Mul(2**-frac)`` that ConvertQONNXtoFINN makes of an input quantiser is an identity on values
    already on the format's grid, so the input is annotated with the integer datatype and feeds
    the ``Mul`` (the scale, absorbed later by streamlining)."""
    for inp in list(model.graph.input):
        fmt = formats.get(inp.name)
        if fmt is None:
            continue
        mt = model.find_consumer(inp.name)
        if mt is None or mt.op_type != "MultiThreshold":
            raise FinnFlowError(f"input {inp.name} does not feed a MultiThreshold (found {getattr(mt, 'op_type', None)})")
        nxt = model.find_consumer(mt.output[0])
        remove = [mt]
        if nxt is not None and nxt.op_type == "Add":
            if _scalar(model, nxt.input[1]) != float(fmt.min_int):
                raise FinnFlowError(f"input {inp.name}: quantiser offset is not {fmt.min_int}")
            remove.append(nxt)
            nxt = model.find_consumer(nxt.output[0])
        elif fmt.min_int != 0:
            raise FinnFlowError(f"input {inp.name}: signed quantiser without its offset Add")
        if nxt is None or nxt.op_type != "Mul" or _scalar(model, nxt.input[1]) != 2.0**-fmt.frac:
            raise FinnFlowError(f"input {inp.name}: quantiser scale is not 2^-{fmt.frac}")
        nxt.input[0] = inp.name
        for n in remove:
            model.graph.node.remove(n)
        model.set_tensor_datatype(inp.name, _datatype(fmt))
    return model


def _output_thresholds(model):
    """The MultiThreshold producing the graph output (through the offset Add and scale Mul)."""
    node = model.find_producer(model.graph.output[0].name)
    chain = []
    while node is not None and node.op_type in ("Mul", "Add"):
        chain.append(node)
        node = model.find_producer(node.input[0])
    if node is None or node.op_type != "MultiThreshold":
        return None, chain
    return node, chain


def ties_to_even(model, out_fmt: FixedFormat, grid_frac: int) -> int:
    """Make the output MultiThreshold round half to even; returns the thresholds moved.

    Threshold ``k`` (0-based) of a full-range ``out_fmt`` quantiser separates the outputs
    ``v - 1`` and ``v = min_int + k + 1`` and sits at ``(v - 1/2)·2^-f_out``.  Its input lies on
    the grid ``2^-grid_frac``; where the threshold is on that grid a tie is possible and goes to
    ``v`` (``x >= t``).  Round-half-even wants ``v - 1`` when ``v`` is odd: such a threshold moves
    up by half a grid step, which changes exactly the tie and nothing else."""
    mt, _ = _output_thresholds(model)
    if mt is None:
        raise FinnFlowError("no MultiThreshold produces the output")
    t = np.asarray(model.get_initializer(mt.input[1]), dtype=np.float64)
    levels = 2**out_fmt.bits - 1
    if t.shape[-1] != levels:
        raise FinnFlowError(f"output quantiser has {t.shape[-1]} thresholds, expected {levels}")
    v = out_fmt.min_int + 1 + np.arange(levels)
    expected = (v - 0.5) * 2.0**-out_fmt.frac
    if not np.array_equal(t, np.broadcast_to(expected, t.shape)):
        raise FinnFlowError("output thresholds are not at the half steps of the output format")
    on_grid = np.equal(np.floor(expected * 2.0**grid_frac), expected * 2.0**grid_frac)
    move = on_grid & (v % 2 != 0)
    new = t + np.where(move, 2.0 ** -(grid_frac + 1), 0.0)
    if not np.array_equal(new.astype(np.float32).astype(np.float64), new):
        raise FinnFlowError("moved thresholds are not exact in float32")
    model.set_initializer(mt.input[1], new.astype(np.float32))
    return int(move.sum()) * t.shape[0]


# --------------------------------------------------------------------------------------------
# execution
# --------------------------------------------------------------------------------------------


def _execute(model, unit: LinearUnit, rows: Rows, out_frac: int) -> np.ndarray:
    """Run the graph frame by frame on the unit's integer rows; integer outputs [R, N]."""
    from finn.core.onnx_exec import execute_onnx

    names = [i.name for i in model.graph.input]
    outs = []
    for x, r, count in frames_of(rows, unit):
        feed = {names[0]: x.astype(np.float32)}
        if r is not None:
            feed[names[1]] = r.astype(np.float32)
        y = execute_onnx(model, feed)[model.graph.output[0].name]
        outs.append(to_int(np.asarray(y, dtype=np.float64).reshape(unit.rows, -1), out_frac)[:count])
    return np.concatenate(outs)


def _count_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int((a != b).sum()) if a.shape == b.shape else int(max(a.size, b.size))


def run_finn_unit(unit: LinearUnit, qonnx_path: Path, images: Rows, random: Rows, part: str,
                  target_cycles: int, simd_cap: int, save_dir: Optional[Path] = None) -> FinnUnitResult:
    """Steps 1–6 of the module docstring on one exported unit.  With ``save_dir``, the
    streamlined FINN-ONNX graph (after the project passes) and FINN's folding are written there
    as ``streamlined.onnx`` and ``folding.json`` (a FINN ``folding_config_file``)."""
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from finn.transformation.fpgadataflow.convert_to_hw.elementwise_binary_operation import InferElementwiseBinaryOperation
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
        InferQuantizedMatrixVectorActivation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.thresholding import InferThresholdingLayer
    from finn.transformation.fpgadataflow.set_folding import SetFolding
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from finn.transformation.qonnx.quant_act_to_multithreshold import default_filter_function_generator
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.absorb import AbsorbScalarBiasIntoMultiThreshold
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.util.cleanup import cleanup_model

    op = unit.op
    res = FinnUnitResult(unit.name)
    t0 = time.perf_counter()
    try:
        model = cleanup_model(ModelWrapper(str(qonnx_path)))
        widest = max(op.in_fmt.bits, op.out_fmt.bits if op.out_fmt else 0, op.residual_fmt.bits if op.residual_fmt else 0)
        model = model.transform(ConvertQONNXtoFINN(filter_function=default_filter_function_generator(max(8, widest))))
        fmts = dict(zip([i.name for i in model.graph.input], [op.in_fmt] + ([op.residual_fmt] if unit.has_residual_input else [])))
        model = integer_inputs(model, fmts)
        out_frac = op.out_frac
        if op.out_fmt is not None:
            # stock thresholds (round half up), measured on the same rows
            stock = sum(_count_diff(_execute(model, unit, r, out_frac), r.y) for r in (images, random))
            res.stock_mismatches = stock
            grid = max(op.acc_frac, op.residual_fmt.frac if op.residual_fmt is not None else op.acc_frac)
            res.ties_moved = ties_to_even(model, op.out_fmt, grid)
        model = model.transform(AbsorbScalarBiasIntoMultiThreshold())
        model = model.transform(Streamline())
        model = model.transform(InferDataLayouts())
        if save_dir is not None:
            save_dir.mkdir(parents=True, exist_ok=True)
            model.save(str(save_dir / "streamlined.onnx"))
        model = model.transform(InferQuantizedMatrixVectorActivation())
        model = model.transform(InferThresholdingLayer())
        model = model.transform(InferElementwiseBinaryOperation())
        model = model.transform(GiveUniqueNodeNames())
        res.unmapped = [f"{n.op_type}" for n in model.graph.node if not n.domain.startswith(FINN_DOMAIN)]
        got_img = _execute(model, unit, images, out_frac)
        got_rnd = _execute(model, unit, random, out_frac)
        res.outputs = {"images": got_img, "random": got_rnd}
        res.exact_images = bool(np.array_equal(got_img, images.y))
        res.exact_random = bool(np.array_equal(got_rnd, random.y))
        res.mismatches = _count_diff(got_img, images.y) + _count_diff(got_rnd, random.y)
        res.elements = int(images.y.size + random.y.size)
        if op.out_fmt is None:
            res.stock_mismatches = res.mismatches
        model = model.transform(SpecializeLayers(part))
        model = model.transform(SetFolding(target_cycles_per_frame=max(1, target_cycles), mvau_wwidth_max=op.w_fmt.bits * simd_cap,
                                           two_pass_relaxation=True))
        res.nodes = [n.name for n in model.graph.node]
        for n in model.graph.node:
            inst = getCustomOp(n)
            fold = {}
            for attr in ("PE", "SIMD"):
                try:
                    fold[attr] = int(inst.get_nodeattr(attr))
                except Exception:  # the layer has no such attribute
                    pass
            if fold:
                res.folding[n.name] = fold
        if save_dir is not None:
            (save_dir / "folding.json").write_text(json.dumps({"Defaults": {}, **res.folding}, indent=1, sort_keys=True) + "\n")
        res.cycles = {k: int(v) for k, v in model.analysis(exp_cycles_per_layer).items()}
        res.resources = {k: {kk: float(vv) for kk, vv in v.items() if isinstance(vv, (int, float))}
                         for k, v in model.analysis(lambda m: res_estimation(m, part)).items()}
    except FinnFlowError as exc:
        res.error = str(exc)
    except OffGridError as exc:
        res.error = f"numpy execution: {exc}"
    except Exception as exc:  # a FINN step failed: reported per unit, the others go on
        res.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    res.seconds = time.perf_counter() - t0
    return res
