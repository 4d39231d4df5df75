"""Latency-aware training on the overlay's latency table, the official schedule and budget forms, and
evaluate's latency and Gumbel protocol."""
import json

import numpy as np
import pytest
import torch

from spvit_fpga.errors import UserError
from spvit_fpga.evaluate import main as eval_main
from spvit_fpga.hw.boards import load_board
from spvit_fpga.hw.overlay.arch import choose_overlay
from spvit_fpga.hw.overlay.cycles import counts_for_kept, program_cycles
from spvit_fpga.hw.overlay.latency import latency_table
from spvit_fpga.hw.overlay.program import compile_program
from spvit_fpga.hw.source import config_ir
from spvit_fpga.nn.checkpoint import load_checkpoint
from spvit_fpga.nn.config import model_config
from spvit_fpga.nn.distributed import DistInfo
from spvit_fpga.nn.training import Trainer, budget_loss, keep_ratio_loss
from spvit_fpga.train import build_parser, main as train_main

FAST = ["--train-subset", "192", "--quiet"]
MICRO = model_config("micro").with_data(1, 10)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An unpruned baseline and a latency-aware SPViT run toward 75 % of its latency on zcu102."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("latency")
    train_main(["--no-prune", "--epochs", "2", "--out", str(root / "base"), *FAST])
    target = round(0.75 * latency_table(MICRO.unpruned(), "zcu102").ms([]), 5)
    train_main(["--init", str(root / "base" / "checkpoint.pt"), "--epochs", "2", "--board", "zcu102",
                "--target-ms", str(target), "--out", str(root / "lat"), *FAST])
    return root, target


def test_keep_ratio_loss_forms():
    kept = torch.tensor([[40.0], [20.0]])  # of 64: 0.625 and 0.3125, mean 0.46875
    assert keep_ratio_loss(kept, 64, [0.46875], "batch").item() == 0.0
    assert keep_ratio_loss(kept, 64, [0.46875], "image").item() == pytest.approx(0.15625**2)
    two = torch.tensor([[32.0, 16.0], [32.0, 8.0]])  # stage means 0.5, 0.1875
    assert keep_ratio_loss(two, 64, [0.25, 0.25], "batch").item() == pytest.approx((0.25**2 + 0.0625**2) / 2)


def test_budget_loss_forms():
    cost = torch.tensor([1.0, 3.0])
    assert budget_loss(cost, 2.0, "batch").item() == 0.0
    assert budget_loss(cost, 2.0, "image").item() == pytest.approx(0.25)
    assert budget_loss(cost, 1.0, "batch").item() == pytest.approx(1.0)


def test_official_schedule_backbone_scale_and_freeze(tmp_path):
    args = build_parser().parse_args(["--model", "micro", "--epochs", "30", "--lr", "5e-4", "--backbone-lr-scale", "0.01",
                                      "--freeze-epochs", "5", "--out", str(tmp_path), "--quiet"])
    tr = Trainer(args, DistInfo())
    lrs = lambda: {g["name"]: g["lr"] for g in tr.optimizer.param_groups}  # noqa: E731
    tr.set_lr(2.0, "gumbel")
    assert lrs()["backbone"] == 0.0 and lrs()["selectors"] == pytest.approx(tr.lr_at(2.0))
    tr.set_lr(10.0, "gumbel")
    assert lrs()["backbone"] == pytest.approx(5e-6) and lrs()["selectors"] == pytest.approx(tr.lr_at(10.0))
    assert tr.lr_at(10.0) > 1e-4  # the selectors' cosine is far above the backbone's cap
    tr.set_lr(29.9, "det")
    assert lrs()["selectors"] == 0.0 and lrs()["backbone"] == pytest.approx(tr.lr_at(29.9))  # cosine below the cap


def test_latency_aware_run_ends_near_target(runs):
    root, target = runs
    ck = load_checkpoint(root / "lat" / "checkpoint.pt")
    s = ck.meta["summary"]
    unpruned = latency_table(MICRO.unpruned(), "zcu102").ms([])
    assert s["board"] == "zcu102" and s["latency_ms_target"] == target
    assert s["latency_ms_unpruned"] == pytest.approx(unpruned)
    assert abs(s["latency_ms"] / target - 1) < 0.05, s["latency_ms"]
    log = json.loads((root / "lat" / "train_log.json").read_text())
    assert log["summary"]["latency_ms"] == s["latency_ms"]
    phases = {e["phase"]: e for e in log["epochs"]}
    assert "train_latency_ms" in phases["gumbel"] and "val_latency_ms" in phases["det"]
    # the learned ratios were rescaled so the latency table at the mean counts is near the target
    table = latency_table(ck.config, "zcu102")
    assert abs(table.ms([r * 64 for r in ck.config.keep_ratios]) / target - 1) < 0.03


def test_evaluate_latency_is_the_cycle_model_per_image(runs, capsys, tmp_path):
    root, _ = runs
    ckpt = str(root / "lat" / "checkpoint.pt")
    eval_main(["--checkpoint", ckpt, "--board", "zcu102", "--json", "--per-image", "--max-images", "40"])
    d = json.loads(capsys.readouterr().out)
    board = load_board("zcu102")
    prog = compile_program(config_ir(MICRO, calib_images=1), choose_overlay(board, MICRO.head_dim))
    ms = np.array([sum(s.cycles for s in program_cycles(prog, counts_for_kept(prog, [len(k) for k in kept])))
                   for kept in d["kept_indices"]]) / (board.clock_mhz * 1e3)
    assert d["latency_ms"] == pytest.approx(ms.mean(), rel=1e-12)
    assert d["latency_ms_p99"] == pytest.approx(np.percentile(ms, 99), rel=1e-12)
    assert len(set(ms)) > 1  # images keep different counts, so their latencies differ
    eval_main(["--checkpoint", ckpt, str(root / "base" / "checkpoint.pt"), "--board", "zcu102", "--max-images", "20",
               "--out", str(tmp_path), "--quiet"])
    assert (tmp_path / "accuracy_vs_latency.png").stat().st_size > 0


def test_gumbel_protocol_is_seeded(runs, capsys):
    root, _ = runs
    ckpt = str(root / "lat" / "checkpoint.pt")
    outs = []
    for seed in (1, 1, 2):
        eval_main(["--checkpoint", ckpt, "--decision", "gumbel", "--seed", str(seed), "--json", "--per-image",
                   "--max-images", "60"])
        outs.append(json.loads(capsys.readouterr().out))
    assert outs[0]["kept_indices"] == outs[1]["kept_indices"] and outs[0]["predictions"] == outs[1]["predictions"]
    assert outs[0]["kept_indices"] != outs[2]["kept_indices"]
    assert outs[0]["decision"] == "gumbel" and outs[0]["seed"] == 1
    with pytest.raises(UserError, match="float model"):  # the embedded model's default is the integer reference
        eval_main(["--decision", "gumbel", "--max-images", "5"])


@pytest.mark.parametrize("args, words", [
    (["--target-ms", "0.1"], "needs --board"),
    (["--target-ms", "0.1", "--board", "zcu102", "--target-gmacs", "0.01"], "give one"),
    (["--board", "nosuchboard"], "nosuchboard"),
    (["--target-ms", "0.001", "--board", "zcu102"], "every token pruned"),
    (["--backbone-lr-scale", "2"], "backbone-lr-scale"),
])
def test_bad_latency_options(tmp_path, args, words):
    with pytest.raises(UserError, match=words):
        train_main([*args, "--epochs", "1", "--out", str(tmp_path / "o"), *FAST])
