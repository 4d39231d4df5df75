"""A DeiT-T checkpoint in the timm layout (random tensors, 1 000 classes) fine-tuned as SPViT on a
small 10-class ImageFolder at 64 px, then QAT and export: the exported IR's integer reference equals
the fake-quant model on the test images (logits and kept tokens)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from spvit_fpga.export import main as export_main
from spvit_fpga.ir.graph import load_ir
from spvit_fpga.ir.reference import quantize_image, run_reference
from spvit_fpga.nn.checkpoint import load_checkpoint
from spvit_fpga.nn.data import load_dataset
from spvit_fpga.quant.model import build_model
from spvit_fpga.train import main as train_main

DIM, DEPTH, HEADS, CLASSES_1K = 192, 12, 3, 1000


def timm_deit_tiny(seed: int = 0) -> dict[str, torch.Tensor]:
    """DeiT-T's key layout and shapes (224 px, 16-px patches), weights at DeiT's init scale."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, std=0.02):
        return torch.randn(*shape, generator=g) * std

    c, h = DIM, 4 * DIM
    sd = {"cls_token": r(1, 1, c), "pos_embed": r(1, 197, c), "patch_embed.proj.weight": r(c, 3, 16, 16),
          "patch_embed.proj.bias": r(c), "norm.weight": 1 + r(c), "norm.bias": r(c),
          "head.weight": r(CLASSES_1K, c), "head.bias": r(CLASSES_1K)}
    for i in range(DEPTH):
        p = f"blocks.{i}."
        sd.update({p + "norm1.weight": 1 + r(c), p + "norm1.bias": r(c), p + "attn.qkv.weight": r(3 * c, c),
                   p + "attn.qkv.bias": r(3 * c), p + "attn.proj.weight": r(c, c), p + "attn.proj.bias": r(c),
                   p + "norm2.weight": 1 + r(c), p + "norm2.bias": r(c), p + "mlp.fc1.weight": r(h, c),
                   p + "mlp.fc1.bias": r(h), p + "mlp.fc2.weight": r(c, h), p + "mlp.fc2.bias": r(c)})
    return sd


def image_folder(root, train: int = 4, test: int = 2, size: int = 40) -> None:
    """10 classes, each a colour with noise."""
    rng = np.random.default_rng(0)
    for k in range(10):
        colour = rng.integers(0, 256, 3)
        for split, n in (("train", train), ("val", test)):
            d = root / split / f"class{k}"
            d.mkdir(parents=True)
            for i in range(n):
                img = np.clip(colour + rng.normal(0, 40, (size, size, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(d / f"{i}.png")


@pytest.mark.slow
def test_timm_deit_tiny_finetunes_quantises_and_exports_bit_exact(tmp_path, capsys):
    torch.set_num_threads(1)
    deit = tmp_path / "deit_tiny_patch16_224.pth"
    sd = timm_deit_tiny()
    torch.save({"model": sd}, deit)
    data = tmp_path / "data"
    image_folder(data)
    spec = f"imagefolder:{data}"

    spvit = tmp_path / "spvit"
    train_main(["--model", "deit-tiny", "--pretrained", str(deit), "--dataset", spec, "--img-size", "64",
                "--epochs", "1", "--batch-size", "12", "--out", str(spvit), "--quiet"])
    err = capsys.readouterr().err
    assert "head replaced" in err and "14x14" in err and "4x4" in err and "folded into patch_embed" in err
    ck = load_checkpoint(spvit / "checkpoint.pt")
    cfg = ck.config
    assert (cfg.img_size, cfg.num_patches, cfg.num_classes, cfg.selector_blocks) == (64, 16, 10, (3, 6, 9))
    # the backbone stayed frozen in the first epoch (the default with --pretrained) ...
    assert torch.equal(ck.state_dict["blocks.5.mlp.fc1.weight"], sd["blocks.5.mlp.fc1.weight"])
    # ... while the new head and the selectors learned; the dense teacher distilled tokens only
    log = ck.meta["summary"]
    assert log["prunes"] and ck.state_dict["head.weight"].shape == (10, DIM)
    import json

    epochs = json.loads((spvit / "train_log.json").read_text())["epochs"]
    assert "mse" in epochs[0] and "kl" not in epochs[0]

    qat = tmp_path / "qat"
    train_main(["--qat", "--init", str(spvit / "checkpoint.pt"), "--epochs", "1", "--batch-size", "12",
                "--calib-images", "24", "--out", str(qat), "--quiet"])
    ir_dir = tmp_path / "ir"
    export_main(["--checkpoint", str(qat / "checkpoint.pt"), "--out", str(ir_dir)])
    ir = load_ir(ir_dir)
    q = build_model(load_checkpoint(qat / "checkpoint.pt"))
    test = load_dataset(spec, image_size=64).test
    pruned = 0
    for i in range(len(test)):
        x, _ = test[i]
        ref = run_reference(ir, quantize_image(ir, x))
        fq = q.forward_physical(x)
        assert torch.equal(fq.logits.double(), torch.tensor(ref.logits, dtype=torch.float64) * 2.0 ** -ir.logits_frac), i
        assert fq.kept_indices == ref.kept_indices, i
        pruned += sum(16 - len(k) for k in ref.kept_indices)
    assert len(test) == 20 and pruned > 0  # the selectors really removed tokens
