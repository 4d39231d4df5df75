"""Where the IR of a generated design comes from.

* :func:`default_model_ir`   the embedded default model (``spvit_fpga/default_model/``) -- the one
                             function to change when the default model changes;
* :func:`checkpoint_ir`      a checkpoint: quantised (export) or float (post-training quantisation);
* :func:`ir_directory`       an exported IR directory (``python -m spvit_fpga.export``);
* :func:`random_weights_ir`  an architecture-only design (DeiT-T/S/B or micro) with random weights;
* :func:`config_ir`          the IR of any model config with random weights (what the cost model needs).

Each returns a :class:`ModelSource`: the IR, a one-line description, the data set the model was
trained on (if known) and notes the CLI prints.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch

from ..errors import UserError
from ..ir.graph import IR, load_ir
from ..nn import defaults
from ..nn.config import ModelConfig, model_config
from ..quant.to_ir import export_ir, ir_from_quant_model

__all__ = ["ModelSource", "default_model_ir", "checkpoint_ir", "ir_directory", "random_weights_ir",
           "synthetic_images", "truncate_config", "test_images", "config_ir"]

DEFAULT_DIR = defaults.DEFAULT_DIR
DEFAULT_IR_DIR = getattr(defaults, "DEFAULT_IR_DIR", DEFAULT_DIR / "ir")  # export of the default checkpoint
CALIBRATION_IMAGES = 24  # images that calibrate the activation formats of a post-training quantisation
RANDOM_SEED = 0
SYNTHETIC_SEED = 2  # noise images of the test vectors of a random-weights design


@dataclass
class ModelSource:
    ir: IR
    description: str
    dataset_spec: Optional[str]  # data set the model was trained on (None: unknown)
    random_weights: bool = False
    notes: list[str] = field(default_factory=list)


def _dataset_spec(ir: IR, fallback: Optional[dict] = None) -> Optional[str]:
    for d in (ir.dataset, fallback or {}):
        spec = d.get("spec") or d.get("name")
        if spec:
            return str(spec)
    return None


def _post_training_quantize(model, dataset_spec: str, image_size: int):
    """QuantSPViT of a float model, formats and thresholds calibrated on training images."""
    from ..nn.data import load_dataset
    from ..quant.model import QuantConfig, quantize_model

    ds = load_dataset(dataset_spec, image_size=image_size)
    images = ds.train.images[:CALIBRATION_IMAGES] if hasattr(ds.train, "images") else \
        torch.stack([ds.train[i][0] for i in range(min(CALIBRATION_IMAGES, len(ds.train)))])
    return quantize_model(model, images, QuantConfig(input_frac_bits=ds.input_frac_bits))


def checkpoint_ir(path: str | Path) -> ModelSource:
    """The IR of a checkpoint.  A quantised (QAT) checkpoint is exported as is; a float checkpoint
    is quantised after training (formats and thresholds calibrated on its training data)."""
    from ..nn.checkpoint import load_checkpoint

    path = Path(path)
    ck = load_checkpoint(path)
    if ck.is_quantized:
        ir = export_ir(path)
        return ModelSource(ir, f"checkpoint {path.name} (quantised)", _dataset_spec(ir, ck.dataset))
    spec = (ck.dataset or {}).get("spec") or (ck.dataset or {}).get("name")
    if not spec:
        raise UserError(f"{path} is a float checkpoint without a data set record; run QAT first "
                        f"(python -m spvit_fpga.train --qat --init {path} --out DIR)")
    q = _post_training_quantize(ck.build_float_model(), str(spec), ck.config.img_size)
    ir = ir_from_quant_model(q, dataset=ck.dataset, provenance={"checkpoint_name": path.name, "quantization": "post-training"})
    return ModelSource(ir, f"checkpoint {path.name} (float, post-training quantised)", str(spec),
                       notes=[f"{path.name} is a float checkpoint: quantised after training "
                              f"({CALIBRATION_IMAGES} calibration images); QAT gives better accuracy"])


def ir_directory(path: str | Path) -> ModelSource:
    ir = load_ir(path)
    return ModelSource(ir, f"IR {Path(path).name}", _dataset_spec(ir))


def default_model_ir() -> ModelSource:
    """The embedded default model: its exported IR (``default_model/ir/``), else its checkpoint
    (``default_model/checkpoint.pt``); while neither ships, a calibrated micro model built exactly like
    the test suite's (random init, seed 0, formats and thresholds calibrated on 24 digits images)."""
    if (DEFAULT_IR_DIR / "ir.json").is_file():
        src = ir_directory(DEFAULT_IR_DIR)
        return dataclasses.replace(src, description="embedded default model (micro, QAT, digits)",
                                   dataset_spec=src.dataset_spec or "digits")
    if (DEFAULT_DIR / "checkpoint.pt").is_file():
        src = checkpoint_ir(DEFAULT_DIR / "checkpoint.pt")
        return dataclasses.replace(src, description=f"embedded default model ({src.description})")
    return _untrained_micro()


def _untrained_micro() -> ModelSource:
    from ..nn.data import load_dataset
    from ..nn.model import SPViT
    from ..quant.model import QuantConfig, quantize_model

    cfg = model_config("micro").with_data(1, 10)
    torch.manual_seed(RANDOM_SEED)
    model = SPViT(cfg).eval()
    ds = load_dataset("digits")
    q = quantize_model(model, ds.train.images[:CALIBRATION_IMAGES], QuantConfig(input_frac_bits=4))
    ir = ir_from_quant_model(q, dataset={"name": "digits", "spec": "digits"},
                             provenance={"source": "untrained micro model (embedded default missing)"})
    return ModelSource(ir, "micro model, untrained (seed 0), calibrated on digits", "digits",
                       notes=[f"the embedded default model ({DEFAULT_DIR}) is missing: using an untrained micro "
                              "model calibrated on 24 digits images (bit-exactness holds; accuracy is chance level)"])


def truncate_config(cfg: ModelConfig, depth: int) -> ModelConfig:
    """The first ``depth`` blocks of ``cfg`` with the selectors that sit in front of them."""
    if not 1 <= depth <= cfg.depth:
        raise UserError(f"--depth must be in 1..{cfg.depth} for {cfg.name}, got {depth}")
    keep = [i for i, b in enumerate(cfg.selector_blocks) if b < depth]
    return dataclasses.replace(cfg, depth=depth, selector_blocks=tuple(cfg.selector_blocks[i] for i in keep),
                               keep_ratios=tuple(cfg.keep_ratios[i] for i in keep))


def synthetic_images(cfg: ModelConfig, n: int, frac_bits: int, seed: int) -> torch.Tensor:
    """``n`` uniform-noise images [n, C, H, W] on the input grid (values k / 2**frac_bits)."""
    g = torch.Generator().manual_seed(seed)
    hi = 1 << frac_bits
    return torch.randint(0, hi, (n, cfg.in_chans, cfg.img_size, cfg.img_size), generator=g).to(torch.float32) / hi


def config_ir(cfg: ModelConfig, input_frac_bits: Optional[int] = None, seed: int = RANDOM_SEED,
              calib_images: int = 4) -> IR:
    """The IR of ``cfg`` with random float weights (``seed``), formats and thresholds calibrated on
    ``calib_images`` synthetic images (input pixels at ``2**-input_frac_bits``; default 4 for one
    channel, 8 otherwise).  Everything the hardware's shape depends on (sizes, bit widths, table
    sizes) is the config's and the default quantisation's; the values are meaningless."""
    from ..nn.model import SPViT
    from ..quant.model import QuantConfig, quantize_model

    frac = input_frac_bits if input_frac_bits is not None else (4 if cfg.in_chans == 1 else 8)
    torch.manual_seed(seed)
    model = SPViT(cfg).eval()
    calib = synthetic_images(cfg, calib_images, frac, seed + 1)
    q = quantize_model(model, calib, QuantConfig(input_frac_bits=frac))
    return ir_from_quant_model(q, dataset={}, provenance={"source": f"random weights (seed {seed})"})


def random_weights_ir(name: str, depth: Optional[int] = None, selector_blocks: Optional[tuple[int, ...]] = None,
                      seed: int = RANDOM_SEED, in_chans: Optional[int] = None) -> ModelSource:
    """An architecture-only design: ``name``'s config (optionally its first ``depth`` blocks, or
    other ``selector_blocks``), random float weights (seed), formats and thresholds calibrated on
    synthetic images.  Bit-exact like any other model; meaningless as a classifier."""
    cfg = model_config(name)
    if in_chans is not None:
        if in_chans < 1:
            raise UserError(f"--in-chans must be at least 1, got {in_chans}")
        cfg = dataclasses.replace(cfg, in_chans=int(in_chans))
    if depth is not None:
        cfg = truncate_config(cfg, depth)
    if selector_blocks is not None:
        ratios = tuple(cfg.keep_ratios[: len(selector_blocks)]) if len(cfg.keep_ratios) >= len(selector_blocks) \
            else tuple(0.6 ** (i + 1) for i in range(len(selector_blocks)))
        cfg = dataclasses.replace(cfg, selector_blocks=tuple(selector_blocks), keep_ratios=ratios)
    ir = config_ir(cfg, seed=seed)
    what = f"{cfg.name}" + (f" (first {cfg.depth} blocks)" if depth is not None else "")
    return ModelSource(ir, f"{what}, RANDOM WEIGHTS (seed {seed})", None, random_weights=True,
                       notes=["RANDOM WEIGHTS: architecture-only design; the weights are random (formats calibrated "
                              "on noise images) -- the design is bit-exact but does not classify anything"])


def test_images(src: ModelSource, cfg: ModelConfig, spec: Optional[str], n: int, exact: bool = False):
    """The images of a design's test vectors: the first ``n`` of the test split of ``spec`` (default:
    the data set the model was trained on), or noise images for a random-weights design; fewer when
    the split is smaller, unless ``exact`` (the user asked for ``n``: a UserError then).
    Returns (images [n,C,H,W], labels or None, description)."""
    from ..nn.data import load_dataset

    ir = src.ir
    spec = spec or src.dataset_spec
    if spec is None:
        if src.random_weights:
            return synthetic_images(cfg, n, ir.input_fmt.frac, SYNTHETIC_SEED), None, f"synthetic noise images (seed {SYNTHETIC_SEED})"
        raise UserError("the model does not record the data set it was trained on; pass --dataset")
    ds = load_dataset(spec, image_size=cfg.img_size)
    if ds.in_chans != cfg.in_chans:
        raise UserError(f"data set {spec} has {ds.in_chans} channels, the model takes {cfg.in_chans}")
    if ds.input_frac_bits != ir.input_fmt.frac:
        raise UserError(f"data set {spec} has pixels at 2^-{ds.input_frac_bits}, the model's input format is {ir.input_fmt}")
    test = ds.test
    if n > len(test) and exact:
        raise UserError(f"--images {n}: the test split of {spec} holds {len(test)} images; give at most {len(test)}")
    n = min(n, len(test))
    if hasattr(test, "images") and hasattr(test, "labels"):
        return test.images[:n], test.labels[:n].tolist(), f"{spec} test split, first {n}"
    items = [test[i] for i in range(n)]
    return torch.stack([x for x, _ in items]), [int(y) for _, y in items], f"{spec} test split, first {n}"
