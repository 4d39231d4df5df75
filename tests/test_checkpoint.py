"""Checkpoints: project format round trip and DeiT/timm state_dict loading with clear errors."""
import pytest
import torch

from spvit_fpga.errors import UserError
from spvit_fpga.nn.checkpoint import load_checkpoint, load_pretrained_deit, save_checkpoint
from spvit_fpga.nn.config import ModelConfig, model_config
from spvit_fpga.nn.model import SPViT

SMALL = ModelConfig("deit-test", 32, 8, 3, 5, 32, 2, 2, selector_blocks=(1,), keep_ratios=(0.5,))

DEIT_KEYS = {
    "cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias", "norm.weight", "norm.bias",
    "head.weight", "head.bias",
}


def deit_state(cfg: ModelConfig) -> dict:
    """A state_dict in the DeiT/timm key layout written independently of SPViT's code."""
    c, h = cfg.embed_dim, cfg.mlp_hidden
    sd = {
        "cls_token": torch.randn(1, 1, c),
        "pos_embed": torch.randn(1, cfg.num_patches + 1, c),
        "patch_embed.proj.weight": torch.randn(c, cfg.in_chans, cfg.patch_size, cfg.patch_size),
        "patch_embed.proj.bias": torch.randn(c),
        "norm.weight": torch.randn(c), "norm.bias": torch.randn(c),
        "head.weight": torch.randn(cfg.num_classes, c), "head.bias": torch.randn(cfg.num_classes),
    }
    for i in range(cfg.depth):
        p = f"blocks.{i}."
        sd.update({
            p + "norm1.weight": torch.randn(c), p + "norm1.bias": torch.randn(c),
            p + "attn.qkv.weight": torch.randn(3 * c, c), p + "attn.qkv.bias": torch.randn(3 * c),
            p + "attn.proj.weight": torch.randn(c, c), p + "attn.proj.bias": torch.randn(c),
            p + "norm2.weight": torch.randn(c), p + "norm2.bias": torch.randn(c),
            p + "mlp.fc1.weight": torch.randn(h, c), p + "mlp.fc1.bias": torch.randn(h),
            p + "mlp.fc2.weight": torch.randn(c, h), p + "mlp.fc2.bias": torch.randn(c),
        })
    return sd


@pytest.mark.parametrize("wrap", [False, True])
def test_pretrained_deit_loads_bare_and_wrapped(tmp_path, wrap):
    sd = deit_state(SMALL)
    path = tmp_path / "deit.pth"
    torch.save({"model": sd} if wrap else sd, path)
    model = SPViT(SMALL)
    before = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("selectors.")}
    load_pretrained_deit(path, model)
    state = model.state_dict()
    for k, v in sd.items():
        if not k.startswith("patch_embed."):  # the input normalisation is folded in there
            assert torch.equal(state[k], v), k
    for k, v in before.items():  # selectors start fresh
        assert torch.equal(state[k], v)


def test_pretrained_deit_shape_mismatch_is_listed(tmp_path):
    """A new class count, input size or distillation token is adapted; other misfits stay errors."""
    sd = deit_state(SMALL)
    sd["blocks.0.attn.qkv.weight"] = torch.randn(7, SMALL.embed_dim)
    del sd["blocks.1.mlp.fc2.bias"]
    sd["blocks.0.ls1.gamma"] = torch.randn(SMALL.embed_dim)
    path = tmp_path / "bad.pth"
    torch.save(sd, path)
    with pytest.raises(UserError) as exc:
        load_pretrained_deit(path, SPViT(SMALL))
    msg = str(exc.value)
    assert "blocks.0.attn.qkv.weight" in msg and "(7, 32)" in msg
    assert "blocks.1.mlp.fc2.bias" in msg and "missing" in msg
    assert "blocks.0.ls1.gamma" in msg and "unexpected" in msg


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a readable"):
        load_checkpoint(bad)
    with pytest.raises(UserError, match="not a readable"):
        load_pretrained_deit(bad, SPViT(SMALL))


def test_project_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = SPViT(model_config("micro"))
    model.tau.copy_(torch.tensor([0.5, -1.0, 2.0]))
    save_checkpoint(tmp_path / "c.pt", model, {"spec": "digits"}, note="x")
    ck = load_checkpoint(tmp_path / "c.pt")
    assert ck.config == model.cfg and ck.dataset == {"spec": "digits"} and ck.meta["note"] == "x"
    rebuilt = ck.build_float_model()
    for k, v in model.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[k], v)
    # The directory holding checkpoint.pt is accepted too.
    assert load_checkpoint(tmp_path / "c.pt").config == load_checkpoint(tmp_path / "c.pt").config


def test_deit_file_given_as_checkpoint_says_use_pretrained(tmp_path):
    path = tmp_path / "deit.pth"
    torch.save({"model": deit_state(SMALL)}, path)
    with pytest.raises(UserError, match="--pretrained"):
        load_checkpoint(path)


def test_checkpoint_with_wrong_shapes_is_reported(tmp_path):
    model = SPViT(model_config("micro"))
    save_checkpoint(tmp_path / "c.pt", model)
    obj = torch.load(tmp_path / "c.pt", weights_only=True)
    obj["state_dict"]["head.weight"] = torch.zeros(3, 64)
    torch.save(obj, tmp_path / "c.pt")
    with pytest.raises(UserError, match="head.weight"):
        load_checkpoint(tmp_path / "c.pt")


class _Payload:
    """Unpickling this calls ``open(path, "w")``: a file that writes a file when it is loaded."""

    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_no_loader_runs_a_pickled_payload(tmp_path):
    """Every loader of a file a user did not write in this run refuses a crafted torch.save file
    before its payload runs (the --resume path is in test_cli_errors.py)."""
    from types import SimpleNamespace

    from spvit_fpga.nn.training import read_resume_state
    from spvit_fpga.quant.model import is_quant_checkpoint

    marker = tmp_path / "payload_ran"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "spvit_fpga.checkpoint", "version": 1, "config": {}, "state_dict": {},
                "model": _Payload(marker)}, evil)
    loaders = {
        "checkpoint": lambda: load_checkpoint(evil),
        "pretrained": lambda: load_pretrained_deit(evil, SPViT(SMALL)),
        "quant": lambda: is_quant_checkpoint(evil),
        "resume": lambda: read_resume_state(evil, SimpleNamespace(out=str(tmp_path))),
    }
    for name, load in loaders.items():
        with pytest.raises(UserError, match="holds io.open, and loading it could run code") as info:
            load()
        assert "Traceback" not in str(info.value) and "weights_only" not in str(info.value), name
        assert not marker.exists(), name


def test_incomplete_and_damaged_checkpoints_are_named(tmp_path):
    good = tmp_path / "good.pt"
    save_checkpoint(good, SPViT(SMALL), {"spec": "x"})
    obj = torch.load(good, weights_only=True)
    cases = {
        "no config": ({k: v for k, v in obj.items() if k != "config"}, "incomplete spvit_fpga checkpoint (no 'config')"),
        "no state_dict": ({k: v for k, v in obj.items() if k != "state_dict"}, "(no 'state_dict')"),
        "config list": ({**obj, "config": [1, 2]}, "'config' is a list"),
        "config field missing": ({**obj, "config": {k: v for k, v in obj["config"].items() if k != "depth"}},
                                 "lacks the fields ['depth']"),
        "config wrong type": ({**obj, "config": {**obj["config"], "depth": "two"}}, "depth='two'"),
        "state_dict of lists": ({**obj, "state_dict": {"a": [1]}}, "not a dict of tensors"),
    }
    for name, (payload, words) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.pt"
        torch.save(payload, path)
        with pytest.raises(UserError) as info:
            load_checkpoint(path)
        assert words in str(info.value) and str(path) in str(info.value), (name, str(info.value))
