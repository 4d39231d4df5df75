"""The train and evaluate command lines: checkpoints, distillation, resume, DDP and bad input."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from spvit_fpga.nn.checkpoint import load_checkpoint
from spvit_fpga.quant.model import build_model
from spvit_fpga.train import main as train_main

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--train-subset", "192"]  # smoke runs: the code paths, not the accuracy


def run(module: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout
    )


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("baseline")
    train_main(["--no-prune", "--epochs", "2", "--out", str(out), "--quiet", *FAST])
    return out / "checkpoint.pt"


def test_unpruned_training_writes_checkpoint(baseline):
    ck = load_checkpoint(baseline)
    assert not ck.config.prunes
    assert ck.dataset["spec"] == "digits" and ck.config.in_chans == 1 and ck.config.num_classes == 10
    log = json.loads((baseline.parent / "train_log.json").read_text())
    assert len(log["epochs"]) == 2


def test_spvit_finetune_from_unpruned_distils_and_calibrates(baseline, tmp_path):
    train_main(["--init", str(baseline), "--epochs", "2", "--out", str(tmp_path), "--quiet", *FAST])
    ck = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ck.config.prunes and ck.config.selector_blocks == (1, 3, 5)
    log = json.loads((tmp_path / "train_log.json").read_text())
    phases = [e["phase"] for e in log["epochs"]]
    assert phases == ["gumbel", "det"]
    assert "kl" in log["epochs"][0] and "mse" in log["epochs"][0]
    # Thresholds were calibrated: the model prunes on the validation split.
    model = build_model(ck)
    from spvit_fpga.nn.data import load_dataset
    from spvit_fpga.nn.evaluation import evaluate_masked

    res = evaluate_masked(model, load_dataset("digits").val)
    assert res.images == 126
    assert res.kept.mean(0)[0] < 64 and (res.kept.mean(0) > 0).all()


def test_computation_aware_training_meets_budget(baseline, tmp_path):
    from spvit_fpga.nn.config import model_config
    from spvit_fpga.nn.macs import model_macs, unpruned_macs

    target = 0.5 * unpruned_macs(model_config("micro")) / 1e9
    train_main(["--init", str(baseline), "--epochs", "2", "--target-gmacs", str(target), "--out", str(tmp_path), "--quiet", *FAST])
    ck = load_checkpoint(tmp_path / "checkpoint.pt")
    cost = model_macs(ck.config, [r * 64 for r in ck.config.keep_ratios]) / 1e9
    assert abs(cost - target) / target < 1e-3


def test_resume_continues_exactly(tmp_path):
    full, split = tmp_path / "full", tmp_path / "split"
    common = ["--epochs", "3", "--det-epochs", "1", "--seed", "3", "--quiet", *FAST]
    train_main([*common, "--out", str(full)])
    train_main([*common, "--out", str(split), "--stop-after", "1"])
    assert not (split / "checkpoint.pt").exists()
    train_main([*common, "--out", str(split), "--resume"])
    a = load_checkpoint(full / "checkpoint.pt").state_dict
    b = load_checkpoint(split / "checkpoint.pt").state_dict
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_ddp_two_processes(tmp_path):
    proc = run(
        "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517", "-m", "spvit_fpga.train",
        "--epochs", "1", "--no-prune", "--out", str(tmp_path), "--quiet", *FAST,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    ck = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ck.meta["summary"]["epochs"] == 1


@pytest.mark.parametrize(
    "args, words",
    [
        (["--model", "vit-huge"], ["unknown model", "micro"]),
        (["--dataset", "mnist"], ["unknown data set", "digits"]),
        (["--dataset", "cifar10:/no/such/dir"], ["does not exist"]),
        (["--init", "/no/such/ckpt.pt"], ["does not exist"]),
        (["--pretrained", "/no/such/deit.pth"], ["does not exist"]),
        (["--no-prune", "--target-gmacs", "0.01"], ["--no-prune"]),
    ],
)
def test_train_bad_input_is_one_line_exit_2(tmp_path, args, words):
    proc = run("spvit_fpga.train", *args, "--epochs", "1", "--out", str(tmp_path / "o"), "--quiet")
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "Traceback" not in err and len(err.splitlines()) == 1, err
    for w in words:
        assert w in err


def test_evaluate_json_keys_and_bad_input(baseline, tmp_path):
    proc = run("spvit_fpga.evaluate", "--checkpoint", str(baseline), "--json", "--max-images", "50")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    for key in ("accuracy", "gmacs", "gmacs_unpruned", "tokens_kept", "images"):
        assert key in d
    assert d["images"] == 50 and d["gmacs"] == pytest.approx(d["gmacs_unpruned"])
    proc = run("spvit_fpga.evaluate", "--checkpoint", str(tmp_path / "missing.pt"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "does not exist" in proc.stderr


def test_evaluate_visualize_and_accuracy_plot(baseline, tmp_path):
    from spvit_fpga.evaluate import main as eval_main

    pruned = tmp_path / "pruned"
    train_main(["--init", str(baseline), "--epochs", "2", "--out", str(pruned), "--quiet", *FAST])
    out = tmp_path / "plots"
    eval_main(["--checkpoint", str(baseline), str(pruned / "checkpoint.pt"), "--max-images", "30", "--visualize", "2", "--out", str(out), "--quiet"])
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "accuracy_vs_gmacs.png" in pngs
    assert sum(n.startswith("kept_pruned_") for n in pngs) == 2


def test_qat_cli_and_backends_agree(baseline, tmp_path):

    spvit, qat = tmp_path / "spvit", tmp_path / "qat"
    train_main(["--init", str(baseline), "--epochs", "2", "--out", str(spvit), "--quiet", *FAST])
    train_main(["--qat", "--init", str(spvit / "checkpoint.pt"), "--epochs", "1", "--calib-images", "64", "--out", str(qat), "--quiet", *FAST])
    ck = load_checkpoint(qat / "checkpoint.pt")
    assert ck.is_quantized and ck.meta["summary"]["qat"]
    outs = {}
    for backend in ("fakequant", "integer"):
        proc = run("spvit_fpga.evaluate", "--checkpoint", str(qat / "checkpoint.pt"), "--backend", backend, "--json", "--per-image", "--max-images", "25")
        assert proc.returncode == 0, proc.stderr
        outs[backend] = json.loads(proc.stdout)
        assert outs[backend]["backend"] == backend
    # The fake-quant model computes exactly the integer reference's numbers.
    assert outs["fakequant"]["predictions"] == outs["integer"]["predictions"]
    assert outs["fakequant"]["kept_indices"] == outs["integer"]["kept_indices"]
    # A float checkpoint has no integer face yet: one line that says to run QAT.
    proc = run("spvit_fpga.evaluate", "--checkpoint", str(spvit / "checkpoint.pt"), "--backend", "integer")
    assert proc.returncode == 2 and "--qat" in proc.stderr and "Traceback" not in proc.stderr
