"""The embedded default model: a QAT-trained micro SPViT on digits and its exported IR."""
import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spvit_fpga.nn.checkpoint import load_checkpoint
from spvit_fpga.nn.defaults import DEFAULT_CHECKPOINT, DEFAULT_IR_DIR
from spvit_fpga.nn.evaluation import evaluate_masked, evaluate_physical
from spvit_fpga.quant.model import build_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def default_ck():
    return load_checkpoint(DEFAULT_CHECKPOINT)


def test_default_is_quantised_pruned_micro_on_digits(default_ck):
    assert default_ck.is_quantized and default_ck.config.name == "micro" and default_ck.config.prunes
    assert default_ck.dataset["spec"] == "digits"


def test_masked_batch_equals_physical_removal_on_digits_test(default_ck, digits):
    """Batched masked evaluation gives exactly the predictions and kept counts of per-image
    physical removal, for the trained float model and its fake-quant twin."""
    for model in (default_ck.build_float_model(), build_model(default_ck)):
        masked = evaluate_masked(model, digits.test)
        phys = evaluate_physical(model, digits.test)
        np.testing.assert_array_equal(masked.predictions, phys.predictions)
        np.testing.assert_array_equal(masked.kept, phys.kept)
        assert (phys.kept < 64).all(axis=0).any()


def test_shipped_ir_is_the_export_of_the_shipped_checkpoint(tmp_path):
    out = tmp_path / "ir"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "spvit_fpga.export", "--checkpoint", str(DEFAULT_CHECKPOINT), "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("ir.json", "weights.npz"):
        assert filecmp.cmp(out / name, DEFAULT_IR_DIR / name, shallow=False), name


def test_evaluate_integer_backend_runs_on_default_without_arguments():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "spvit_fpga.evaluate", "--backend", "integer", "--json", "--max-images", "20"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["backend"] == "integer" and d["images"] == 20 and len(d["tokens_kept"]) == 3


def test_default_integer_reference_meets_the_accuracy_floor(default_ck, digits):
    """Issue floor on the whole digits test split: integer accuracy >= 95 %, >= 35 % fewer MACs,
    and the fake-quant model agrees with the integer reference on every image."""
    from spvit_fpga.ir.graph import load_ir
    from spvit_fpga.ir.reference import evaluate_reference

    ref = evaluate_reference(load_ir(DEFAULT_IR_DIR), digits.test)
    fq = evaluate_physical(build_model(default_ck), digits.test)
    assert ref.images == 540
    assert ref.accuracy >= 0.95
    assert 1.0 - ref.macs.mean() / ref.macs_unpruned >= 0.35
    np.testing.assert_array_equal(ref.predictions, fq.predictions)
    assert ref.kept_indices == fq.kept_indices
