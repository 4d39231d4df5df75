"""DeiT fine-tuning starts: checkpoint layouts, normalisation folding, new heads, other input sizes,
distilled DeiTs, and DeiT's resize-256 / centre-crop-224 evaluation view."""
import numpy as np
import pytest
import torch
from PIL import Image

from spvit_fpga.errors import UserError
from spvit_fpga.nn.checkpoint import load_pretrained_deit
from spvit_fpga.nn.config import ModelConfig
from spvit_fpga.nn.data import load_dataset
from spvit_fpga.nn.model import SPViT
from test_checkpoint import deit_state

# a DeiT-like model: 32 px, 8-px patches (4x4 grid), 2 blocks, 5 classes, RGB
SMALL = ModelConfig("deit-test", 32, 8, 3, 5, 32, 2, 2)
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet, on pixel / 255


def save(tmp_path, obj, name="deit.pth"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_folded_normalisation_keeps_the_logits(tmp_path):
    """DeiT on (pixel/255 - mean)/std equals the loaded model on the project's pixel/256."""
    torch.manual_seed(0)
    sd = deit_state(SMALL)
    reference = SPViT(SMALL).eval()
    reference.load_state_dict(sd, strict=False)
    folded = SPViT(SMALL).eval()
    load_pretrained_deit(save(tmp_path, sd), folded, input_frac_bits=8)
    pixels = torch.randint(0, 256, (4, 3, 32, 32)).to(torch.float64)
    deit_input = (pixels / 255 - torch.tensor(MEAN, dtype=torch.float64)[:, None, None]) / torch.tensor(STD, dtype=torch.float64)[:, None, None]
    with torch.no_grad():
        want = reference.double()(deit_input).logits
        got = folded.double()(pixels / 256).logits
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-5)  # the folded weights are float32
    assert not torch.allclose(reference(pixels / 256).logits, want)  # without the fold it differs


@pytest.mark.parametrize("layout", ["state_dict", "module", "model+module"])
def test_wrapper_and_ddp_prefix_variants_load(tmp_path, layout):
    sd = deit_state(SMALL)
    prefixed = {f"module.{k}": v for k, v in sd.items()}
    obj = {"state_dict": sd, "epoch": 3} if layout == "state_dict" else prefixed if layout == "module" else {"model": prefixed}
    model = SPViT(SMALL)
    info = load_pretrained_deit(save(tmp_path, obj), model)
    state = model.state_dict()
    assert torch.equal(state["blocks.1.mlp.fc2.weight"], sd["blocks.1.mlp.fc2.weight"])
    assert torch.equal(state["head.weight"], sd["head.weight"])
    assert not info.head_replaced and not info.distilled


def test_distilled_deit_drops_its_distillation_token(tmp_path):
    sd = deit_state(SMALL)
    c, n = SMALL.embed_dim, SMALL.num_patches
    sd["dist_token"] = torch.randn(1, 1, c)
    sd["pos_embed"] = torch.randn(1, n + 2, c)  # class, distillation, patches
    sd["head_dist.weight"] = torch.randn(SMALL.num_classes, c)
    sd["head_dist.bias"] = torch.randn(SMALL.num_classes)
    model = SPViT(SMALL)
    info = load_pretrained_deit(save(tmp_path, {"model": sd}), model)
    assert info.distilled and any("distillation token" in note for note in info.notes)
    pos = model.state_dict()["pos_embed"]
    assert torch.equal(pos[:, 0], sd["pos_embed"][:, 0]) and torch.equal(pos[:, 1:], sd["pos_embed"][:, 2:])
    assert torch.equal(model.state_dict()["head.weight"], sd["head.weight"])
    assert torch.equal(model.state_dict()["cls_token"], sd["cls_token"])


def test_other_class_count_gets_a_new_head(tmp_path):
    sd = deit_state(ModelConfig("deit-1k", 32, 8, 3, 1000, 32, 2, 2))
    model = SPViT(SMALL)
    fresh = model.state_dict()["head.weight"].clone()
    path = save(tmp_path, sd)
    info = load_pretrained_deit(path, model)
    assert info.head_replaced and any("1000 classes" in note and "5" in note for note in info.notes)
    assert torch.equal(model.state_dict()["head.weight"], fresh)
    assert torch.equal(model.state_dict()["blocks.0.attn.qkv.weight"], sd["blocks.0.attn.qkv.weight"])
    with pytest.raises(UserError, match=r"head.weight: file \(1000, 32\) vs model \(5, 32\)"):
        load_pretrained_deit(path, SPViT(SMALL), allow_new_head=False)


def test_other_input_size_interpolates_positions(tmp_path):
    sd = deit_state(SMALL)  # 4x4 grid
    sd["pos_embed"][:, 1:] = 0.25  # a constant embedding stays constant under bicubic resampling
    big = ModelConfig("deit-test", 64, 8, 3, 5, 32, 2, 2)  # 8x8 grid
    model = SPViT(big)
    info = load_pretrained_deit(save(tmp_path, sd), model)
    pos = model.state_dict()["pos_embed"]
    assert pos.shape == (1, 65, 32) and any("4x4" in n and "8x8" in n for n in info.notes)
    assert torch.equal(pos[:, 0], sd["pos_embed"][:, 0])
    assert torch.allclose(pos[:, 1:], torch.full_like(pos[:, 1:], 0.25), atol=1e-6)
    # a ramp along the grid keeps its order after resampling
    sd["pos_embed"][:, 1:] = torch.arange(16, dtype=torch.float32).repeat_interleave(32).reshape(1, 16, 32)
    load_pretrained_deit(save(tmp_path, sd, "ramp.pth"), model)
    rows = model.state_dict()["pos_embed"][0, 1:, 0].reshape(8, 8)
    assert (rows[1:, 0] > rows[:-1, 0]).all() and (rows[0, 1:] > rows[0, :-1]).all()


def test_grey_model_is_refused(tmp_path):
    grey = ModelConfig("deit-test", 32, 8, 1, 5, 32, 2, 2)
    sd = deit_state(grey)
    with pytest.raises(UserError, match="RGB"):
        load_pretrained_deit(save(tmp_path, sd), SPViT(grey))


def _folder(root, image: Image.Image) -> None:
    for split in ("train", "val"):
        for cls in ("a", "b"):
            d = root / split / cls
            d.mkdir(parents=True)
            for i in range(2):
                image.save(d / f"{i}.png")


def test_imagefolder_at_224_uses_resize_256_centre_crop(tmp_path):
    """A 400x200 image, red in its centre 200x200 square and blue outside: keeping the aspect ratio
    (shorter side 256, width 512) and cropping the centre 224 shows only red; squashing the whole
    image to 224x224 would show blue at the sides."""
    img = np.zeros((200, 400, 3), dtype=np.uint8)
    img[:, :, 2] = 255
    img[:, 100:300] = (255, 0, 0)
    _folder(tmp_path, Image.fromarray(img))
    splits = load_dataset(f"imagefolder:{tmp_path}", image_size=224)
    x, _ = splits.test[0]
    assert x.shape == (3, 224, 224)
    assert (x[0] * 256 >= 250).all() and (x[2] * 256 <= 5).all()
    small = load_dataset(f"imagefolder:{tmp_path}", image_size=32).test[0][0]  # other sizes: whole image
    assert (small[2, :, 0] * 256 > 250).all()


def test_evaluate_a_deit_fine_tuned_elsewhere(tmp_path, capsys):
    """evaluate --pretrained takes the class count from the file's head and --img-size from the user."""
    import json

    from spvit_fpga.evaluate import main as eval_main

    sd = deit_state(ModelConfig("deit-tiny-5", 224, 16, 3, 5, 192, 12, 3))
    img = Image.fromarray(np.full((24, 24, 3), 90, dtype=np.uint8))
    for split in ("train", "val"):
        for k in range(5):
            (tmp_path / "data" / split / f"c{k}").mkdir(parents=True)
            img.save(tmp_path / "data" / split / f"c{k}" / "0.png")
    eval_main(["--pretrained", str(save(tmp_path, {"state_dict": sd})), "--model", "deit-tiny", "--img-size", "32",
               "--dataset", f"imagefolder:{tmp_path / 'data'}", "--json"])
    out = capsys.readouterr()
    assert json.loads(out.out)["images"] == 5 and "14x14" in out.err and "2x2" in out.err
