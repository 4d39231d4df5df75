"""Tests for spvit_fpga.nn.data: digits, fake CIFAR-10 / ImageFolder layouts, shifts, errors."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from spvit_fpga.errors import UserError
from spvit_fpga.nn.data import (
    DATASET_NAMES,
    DatasetSplits,
    InMemoryImageDataset,
    dataset_fingerprint,
    load_dataset,
    random_shift,
    split_indices,
    translate,
)

# --------------------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def digits() -> DatasetSplits:
    return load_dataset("digits")


def _all_indices(splits: DatasetSplits) -> list[np.ndarray]:
    return [splits.train.source_indices, splits.val.source_indices, splits.test.source_indices]


def test_digits_metadata_and_sizes(digits: DatasetSplits) -> None:
    assert DATASET_NAMES == ("digits", "cifar10", "imagefolder")
    assert (digits.name, digits.spec) == ("digits", "digits")
    assert (digits.in_chans, digits.num_classes, digits.image_size) == (1, 10, 32)
    assert digits.class_names == [str(i) for i in range(10)]
    assert digits.input_frac_bits == 4
    assert (len(digits.train), len(digits.val), len(digits.test)) == (1131, 126, 540)


def test_digits_items_shapes_and_exact_values(digits: DatasetSplits) -> None:
    image, label = digits.train[0]
    assert image.dtype == torch.float32 and image.shape == (1, 32, 32)
    assert isinstance(label, int) and 0 <= label < 10
    for split in (digits.train, digits.val, digits.test):
        assert split.images.shape == (len(split), 1, 32, 32)
        assert split.images.dtype == torch.float32
        assert split.labels.dtype == torch.int64 and split.labels.shape == (len(split),)
        scaled = split.images * 16
        assert torch.equal(scaled, scaled.round())
        assert scaled.min() >= 0 and scaled.max() <= 16
    assert torch.equal(digits.test[3][0], digits.test.images[3])


def test_digits_nearest_upsampling_matches_source(digits: DatasetSplits) -> None:
    from sklearn.datasets import load_digits

    source = load_digits()
    i = int(digits.test.source_indices[7])
    image = digits.test.images[7, 0]
    expected = torch.from_numpy(source.images[i]).float() / 16
    assert torch.equal(image[::4, ::4], expected)
    assert torch.equal(image, expected.repeat_interleave(4, 0).repeat_interleave(4, 1))
    assert int(digits.test.labels[7]) == source.target[i]


def test_digits_splits_disjoint_and_cover_everything(digits: DatasetSplits) -> None:
    train, val, test = (set(map(int, idx)) for idx in _all_indices(digits))
    assert not (train & val) and not (train & test) and not (val & test)
    assert train | val | test == set(range(1797))


def test_digits_splits_are_stratified(digits: DatasetSplits) -> None:
    total = np.bincount(np.concatenate([s.labels.numpy() for s in
                                        (digits.train, digits.val, digits.test)]))
    for split in (digits.train, digits.val, digits.test):
        counts = np.bincount(split.labels.numpy(), minlength=10)
        expected = total * len(split) / total.sum()
        assert np.all(np.abs(counts - expected) <= 1.5), (counts, expected)


def test_digits_deterministic_and_other_sizes(digits: DatasetSplits) -> None:
    again = load_dataset("digits")
    for a, b in zip(_all_indices(digits), _all_indices(again)):
        assert np.array_equal(a, b)
    assert torch.equal(digits.train.images, again.train.images)
    small = load_dataset("digits", image_size=8, val_fraction=0.0)
    assert small.train.images.shape[1:] == (1, 8, 8)
    assert len(small.val) == 0 and len(small.train) == 1257
    assert np.array_equal(small.test.source_indices, digits.test.source_indices)


def test_fingerprint_is_small_and_json_able(digits: DatasetSplits) -> None:
    fp = dataset_fingerprint(digits)
    assert json.loads(json.dumps(fp)) == fp
    assert fp["name"] == "digits" and fp["spec"] == "digits"
    assert fp["sizes"] == {"train": 1131, "val": 126, "test": 540}
    assert (fp["in_chans"], fp["num_classes"], fp["image_size"]) == (1, 10, 32)


def test_split_indices_falls_back_to_random_for_singleton_classes() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 2])  # class 2 has one sample: no stratification
    kept, held = split_indices(labels, 0.25)
    assert len(held) == 2 and len(kept) == 6
    assert sorted(np.concatenate([kept, held]).tolist()) == list(range(8))
    kept2, held2 = split_indices(labels, 0.25)
    assert np.array_equal(held, held2) and np.array_equal(kept, kept2)


# --------------------------------------------------------------------------- CIFAR-10


def _write_pickle(path: Path, obj: object) -> None:
    with path.open("wb") as f:
        pickle.dump(obj, f)


def _write_cifar(folder: Path, n_train_batches: int = 2, per_batch: int = 12,
                 n_test: int = 10, meta: bool = True) -> dict[str, np.ndarray]:
    """A tiny CIFAR-10 python layout with random uint8 data; returns the raw arrays."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(42)
    raw: dict[str, np.ndarray] = {}
    names = [f"data_batch_{i}" for i in range(1, n_train_batches + 1)] + ["test_batch"]
    for name in names:
        n = n_test if name == "test_batch" else per_batch
        data = rng.randint(0, 256, size=(n, 3072)).astype(np.uint8)
        labels = [i % 10 for i in range(n)]
        _write_pickle(folder / name, {b"batch_label": name.encode(), b"data": data,
                                      b"labels": labels})
        raw[name] = data
    if meta:
        _write_pickle(folder / "batches.meta", {b"label_names": [f"c{i}".encode()
                                                                  for i in range(10)]})
    return raw


def test_cifar10_loads_layout_with_channel_planes(tmp_path: Path) -> None:
    raw = _write_cifar(tmp_path / "c10")
    raw["test_batch"][0, :] = 0
    raw["test_batch"][0, 1024 + 5 * 32 + 7] = 200  # green plane, row 5, column 7
    _write_pickle(tmp_path / "c10" / "test_batch",
                  {b"data": raw["test_batch"], b"labels": [3] + list(range(1, 10))})
    splits = load_dataset(f"cifar10:{tmp_path / 'c10'}")
    assert (splits.name, splits.in_chans, splits.num_classes) == ("cifar10", 3, 10)
    assert splits.class_names == [f"c{i}" for i in range(10)]
    assert splits.input_frac_bits == 8
    assert (len(splits.train) + len(splits.val), len(splits.test)) == (24, 10)
    assert len(splits.val) == 3
    image, label = splits.test[0]
    assert image.shape == (3, 32, 32) and label == 3
    assert image[1, 5, 7] == 200 / 256
    assert image.sum() == 200 / 256
    # A training image, located by its source index (batch 2, item 4 -> index 16).
    split = splits.train if 16 in splits.train.source_indices else splits.val
    got = split.images[int(np.flatnonzero(split.source_indices == 16)[0])]
    expected = torch.from_numpy(raw["data_batch_2"][4].reshape(3, 32, 32)).float() / 256
    assert torch.equal(got, expected)


def test_cifar10_parent_folder_resize_and_default_names(tmp_path: Path) -> None:
    _write_cifar(tmp_path / "cifar-10-batches-py", n_train_batches=1, meta=False)
    splits = load_dataset(f"cifar10:{tmp_path}", image_size=16, val_fraction=0.0)
    assert splits.train.images.shape == (12, 3, 16, 16)
    assert splits.class_names[0] == "airplane" and len(splits.class_names) == 10
    scaled = splits.test.images * 256
    assert torch.equal(scaled, scaled.round())


def test_cifar10_missing_test_batch(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    (tmp_path / "test_batch").unlink()
    with pytest.raises(UserError, match="test_batch"):
        load_dataset(f"cifar10:{tmp_path}")


def test_cifar10_missing_train_batches(tmp_path: Path) -> None:
    _write_cifar(tmp_path, n_train_batches=0)
    with pytest.raises(UserError, match="data_batch_1"):
        load_dataset(f"cifar10:{tmp_path}")


def test_cifar10_empty_folder_names_layout(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cifar-10-batches-py"):
        load_dataset(f"cifar10:{tmp_path}")


def test_cifar10_corrupt_pickle(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    (tmp_path / "data_batch_1").write_bytes(b"\x80\x04 this is not a pickle")
    with pytest.raises(UserError, match="corrupt") as info:
        load_dataset(f"cifar10:{tmp_path}")
    assert "data_batch_1" in str(info.value)


def test_cifar10_wrong_data_shape(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    _write_pickle(tmp_path / "test_batch", {b"data": np.zeros((2, 100), np.uint8),
                                            b"labels": [0, 1]})
    with pytest.raises(UserError, match="3072"):
        load_dataset(f"cifar10:{tmp_path}")


def _pickle_bytes(obj: object, protocol: int, numpy1_names: bool = False) -> bytes:
    """``obj`` pickled with ``protocol``; ``numpy1_names`` writes numpy's array reconstructor under
    its numpy 1 module path, as the real CIFAR-10 files (Python 2, protocol 2) name it."""
    data = pickle.dumps(obj, protocol=protocol)
    if numpy1_names:
        assert protocol == 2  # GLOBAL opcodes: newline-terminated names, no lengths to fix
        data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
        assert b"numpy.core.multiarray\n_reconstruct" in data
    return data


@pytest.mark.parametrize("protocol, numpy1_names", [(2, True), (2, False), (4, False), (5, False)])
def test_cifar10_restricted_unpickler_reads_arrays(tmp_path: Path, protocol: int, numpy1_names: bool) -> None:
    raw = _write_cifar(tmp_path, n_train_batches=1)
    for name in ("data_batch_1", "test_batch"):
        obj = {b"batch_label": name.encode(), b"data": raw[name], b"labels": [i % 10 for i in range(len(raw[name]))],
               b"filenames": [f"img{i}.png".encode() for i in range(len(raw[name]))]}
        (tmp_path / name).write_bytes(_pickle_bytes(obj, protocol, numpy1_names))
    splits = load_dataset(f"cifar10:{tmp_path}", val_fraction=0.0)
    assert torch.equal(splits.test.images * 256, torch.from_numpy(raw["test_batch"].reshape(-1, 3, 32, 32)).float())


class _Payload:
    """Unpickling this calls ``open(path, "w")`` (pickled as ``io.open``): a crafted file that writes a file."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("where", ["data_batch_1", "test_batch", "batches.meta"])
def test_cifar10_crafted_batch_is_refused_without_running(tmp_path: Path, where: str) -> None:
    _write_cifar(tmp_path)
    marker = tmp_path / "payload_ran"
    _write_pickle(tmp_path / where, {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0],
                                     b"label_names": [b"x"] * 10, b"evil": _Payload(marker)})
    with pytest.raises(UserError, match="refusing to load it") as info:
        load_dataset(f"cifar10:{tmp_path}")
    assert where in str(info.value) and "forbidden object io.open" in str(info.value)
    assert not marker.exists()


# --------------------------------------------------------------------------- ImageFolder

COLORS = {"b_red": (255, 0, 0), "a_green": (0, 128, 0), "c_blue": (0, 0, 64)}


def _write_imagefolder(root: Path, test_name: str = "val", per_class: int = 4) -> None:
    for split, n in (("train", per_class), (test_name, 2)):
        for cls, color in COLORS.items():
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (8, 8), color).save(folder / f"img{i}.png")


def test_imagefolder_class_order_and_values(tmp_path: Path) -> None:
    _write_imagefolder(tmp_path)
    splits = load_dataset(f"imagefolder:{tmp_path}", image_size=8, val_fraction=0.25)
    assert splits.class_names == ["a_green", "b_red", "c_blue"]
    assert (splits.in_chans, splits.num_classes, splits.input_frac_bits) == (3, 3, 8)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (9, 3, 6)
    assert sorted(splits.val.labels.tolist()) == [0, 1, 2]  # stratified
    for split in (splits.train, splits.val, splits.test):
        for i in range(len(split)):
            image, label = split[i]
            color = COLORS[splits.class_names[label]]
            expected = torch.tensor(color, dtype=torch.float32).view(3, 1, 1) / 256
            assert image.shape == (3, 8, 8)
            assert torch.equal(image, expected.expand(3, 8, 8))


def test_imagefolder_resizes_and_accepts_test_and_gray(tmp_path: Path) -> None:
    _write_imagefolder(tmp_path, test_name="test")
    Image.new("L", (5, 7), 100).save(tmp_path / "train" / "a_green" / "gray.bmp")
    splits = load_dataset(f"imagefolder:{tmp_path}", image_size=16)
    assert len(splits.test) == 6
    assert len(splits.train) + len(splits.val) == 13
    dataset = next(d for d in (splits.train, splits.val)
                   if any(p.name == "gray.bmp" for p in d.paths))
    image, label = dataset[[p.name for p in dataset.paths].index("gray.bmp")]
    assert label == 0
    assert image.shape == (3, 16, 16) and torch.all(image == 100 / 256)


def test_imagefolder_mismatched_classes(tmp_path: Path) -> None:
    _write_imagefolder(tmp_path)
    (tmp_path / "val" / "c_blue").rename(tmp_path / "val" / "d_other")
    with pytest.raises(UserError, match="same class") as info:
        load_dataset(f"imagefolder:{tmp_path}")
    assert "c_blue" in str(info.value) and "d_other" in str(info.value)


def test_imagefolder_empty_class_folder(tmp_path: Path) -> None:
    _write_imagefolder(tmp_path)
    (tmp_path / "train" / "e_empty").mkdir()
    (tmp_path / "val" / "e_empty").mkdir()
    with pytest.raises(UserError, match="no images") as info:
        load_dataset(f"imagefolder:{tmp_path}")
    assert "e_empty" in str(info.value)


def test_imagefolder_missing_train_and_val(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="train"):
        load_dataset(f"imagefolder:{tmp_path}")
    (tmp_path / "train").mkdir()
    with pytest.raises(UserError, match="val"):
        load_dataset(f"imagefolder:{tmp_path}")
    (tmp_path / "val").mkdir()
    with pytest.raises(UserError, match="no class folders"):
        load_dataset(f"imagefolder:{tmp_path}")


def test_imagefolder_unreadable_image(tmp_path: Path) -> None:
    _write_imagefolder(tmp_path)
    (tmp_path / "val" / "a_green" / "img0.png").write_bytes(b"not a png")
    splits = load_dataset(f"imagefolder:{tmp_path}", image_size=8)
    with pytest.raises(UserError, match="cannot read image"):
        splits.test[0]


# --------------------------------------------------------------------------- spec errors


@pytest.mark.parametrize("spec", ["mnist", "", "imagenet:/data"])
def test_unknown_dataset_lists_known_names(spec: str) -> None:
    with pytest.raises(UserError, match="unknown data set") as info:
        load_dataset(spec)
    message = str(info.value)
    assert all(name in message for name in DATASET_NAMES) and "PATH" in message


@pytest.mark.parametrize("spec", ["cifar10", "imagefolder:"])
def test_path_required(spec: str) -> None:
    with pytest.raises(UserError, match="needs a path"):
        load_dataset(spec)


def test_digits_takes_no_path() -> None:
    with pytest.raises(UserError, match="no path"):
        load_dataset("digits:/tmp")


@pytest.mark.parametrize("name", ["cifar10", "imagefolder"])
def test_missing_path(tmp_path: Path, name: str) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_dataset(f"{name}:{tmp_path / 'nowhere'}")


@pytest.mark.parametrize("size", [12, 0, -8])
def test_digits_bad_image_size(size: int) -> None:
    with pytest.raises(UserError, match="image_size"):
        load_dataset("digits", image_size=size)


def test_digits_image_size_message_mentions_multiple_of_8() -> None:
    with pytest.raises(UserError, match="multiple of 8"):
        load_dataset("digits", image_size=20)


@pytest.mark.parametrize("fraction", [1.0, -0.1, 1.5])
def test_bad_val_fraction(fraction: float) -> None:
    with pytest.raises(UserError, match="val_fraction"):
        load_dataset("digits", val_fraction=fraction)


# --------------------------------------------------------------------------- shifts


def _one_hot(h: int = 8, w: int = 8, y: int = 3, x: int = 4) -> torch.Tensor:
    image = torch.zeros(1, 2, h, w)
    image[0, :, y, x] = 1.0
    return image


def test_translate_known_shift_moves_one_hot() -> None:
    out = translate(_one_hot(), torch.tensor([[2, -1]]))
    assert out.shape == (1, 2, 8, 8)
    assert torch.equal(out, _one_hot(y=5, x=3))


def test_translate_zero_fill_and_per_image_shifts() -> None:
    x = torch.ones(2, 1, 4, 4)
    out = translate(x, torch.tensor([[1, 0], [0, -2]]))
    assert torch.equal(out[0, 0, 0], torch.zeros(4)) and out[0].sum() == 12
    assert torch.equal(out[1, 0, :, 2:], torch.zeros(4, 2)) and out[1].sum() == 8
    assert translate(x, torch.tensor([[9, 9], [0, 0]]))[0].sum() == 0


def test_random_shift_bounded_and_deterministic() -> None:
    x = _one_hot().repeat(16, 1, 1, 1)
    a = random_shift(x, 2, torch.Generator().manual_seed(5))
    b = random_shift(x, 2, torch.Generator().manual_seed(5))
    assert a.shape == x.shape and torch.equal(a, b)
    for image in a:
        ys, xs = torch.nonzero(image[0], as_tuple=True)
        assert len(ys) == 1 and abs(int(ys[0]) - 3) <= 2 and abs(int(xs[0]) - 4) <= 2
        assert torch.equal(image[0], image[1])  # channels shift together
    c = random_shift(x, 2, torch.Generator().manual_seed(6))
    assert not torch.equal(a, c)
    shifts = torch.randint(-2, 3, (16, 2), generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, translate(x, shifts))


def test_random_shift_zero_is_identity_and_negative_rejected() -> None:
    x = torch.rand(3, 1, 5, 5)
    assert torch.equal(random_shift(x, 0), x)
    with pytest.raises(UserError, match="max_shift"):
        random_shift(x, -1)


def test_in_memory_subset_keeps_source_indices() -> None:
    ds = InMemoryImageDataset(torch.arange(8, dtype=torch.uint8).view(4, 1, 1, 2),
                              torch.tensor([0, 1, 0, 1]), frac_bits=2)
    sub = ds.subset(np.array([3, 1]))
    assert sub.source_indices.tolist() == [3, 1]
    assert torch.equal(sub.images.flatten(), torch.tensor([6, 7, 2, 3]) / 4)
