"""Data sets: the embedded ``digits`` set, CIFAR-10 pickles and ImageNet-style folders.

A data set is named by a *spec* string:

``digits``
    scikit-learn's 1797 8x8 handwritten digits (embedded, works offline, the default).
    Upsampled by nearest neighbour to ``image_size`` (a multiple of 8), 1 channel,
    values ``pixel / 16`` (``input_frac_bits = 4``).
``cifar10:PATH``
    The CIFAR-10 python-pickle layout (``data_batch_1`` .. ``data_batch_5``, ``test_batch``,
    ``batches.meta``) in ``PATH`` or in ``PATH/cifar-10-batches-py``. 3 channels, values
    ``uint8 / 256`` (``input_frac_bits = 8``), bilinear resize when ``image_size != 32``.
``imagefolder:PATH``
    ``PATH/train/<class>/*.png|jpg|...`` and ``PATH/val/<class>/...`` (or ``PATH/test/``),
    classes are the sorted folder names of ``train/``. Images are loaded lazily, converted
    to RGB, resized bilinearly to ``image_size`` x ``image_size``, values ``uint8 / 256``;
    at 224 pixels, every split follows DeiT's evaluation protocol instead: shorter side resized
    bicubically to 256, centre crop 224 x 224 (training adds only random shifts to that view).

Splits are fixed and independent of any training seed:

* ``digits``: a stratified 70/30 split (``random_state=0``) gives train+val and test
  (540 test images).
* all sets: validation is a fixed ``val_fraction`` of the training part
  (``random_state=0``, stratified when every class has at least 2 images), the rest is train.

Every pixel value is exactly ``integer_pixel / 2**input_frac_bits``, so the fixed-point
hardware sees exactly the same inputs as the float model. Nothing is ever downloaded.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from ..errors import UserError, run_cli

DATASET_NAMES = ("digits", "cifar10", "imagefolder")
SPEC_SYNTAX = "digits | cifar10:PATH | imagefolder:PATH"

SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.3
DIGITS_FRAC_BITS = 4
UINT8_FRAC_BITS = 8
CIFAR_DIR_NAME = "cifar-10-batches-py"
CIFAR_NUM_TRAIN_BATCHES = 5
CIFAR_SIZE = 32
CIFAR_DEFAULT_LABEL_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
# DeiT's evaluation of 224-pixel models: resize the shorter side to 256, take the centre 224 x 224
DEIT_SIZE = 224
DEIT_RESIZE = 256
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
)


@dataclass
class DatasetSplits:
    """The three splits of one data set plus what a model needs to know about its inputs."""

    name: str
    spec: str
    train: Dataset
    val: Dataset
    test: Dataset
    in_chans: int
    num_classes: int
    image_size: int
    class_names: list[str]
    input_frac_bits: int


# --------------------------------------------------------------------------- datasets


class InMemoryImageDataset(Dataset):
    """Images held in memory as integer pixels; items are ``(float32 [C,H,W], int label)``.

    ``images`` (float32 ``[N,C,H,W]``, materialised once on first access) and ``labels``
    (int64 ``[N]``) allow fast batching without a DataLoader. ``source_indices`` are the
    positions of the items in the source data set (for checking that splits are disjoint).
    """

    def __init__(self, pixels: torch.Tensor, labels: torch.Tensor, frac_bits: int,
                 source_indices: np.ndarray | None = None) -> None:
        if pixels.ndim != 4 or pixels.shape[0] != labels.shape[0]:
            raise ValueError(f"pixels [N,C,H,W] and labels [N] disagree: {tuple(pixels.shape)}"
                             f" vs {tuple(labels.shape)}")
        self.pixels = pixels
        self.labels = labels.to(torch.int64)
        self.frac_bits = frac_bits
        n = pixels.shape[0]
        self.source_indices = (np.arange(n, dtype=np.int64) if source_indices is None
                               else np.asarray(source_indices, dtype=np.int64))

    @functools.cached_property
    def images(self) -> torch.Tensor:
        """All images as float32 ``[N,C,H,W]`` (exact: ``pixels / 2**frac_bits``)."""
        return self._to_float(self.pixels)

    def _to_float(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels.to(torch.float32) / float(2 ** self.frac_bits)

    def subset(self, indices: np.ndarray) -> "InMemoryImageDataset":
        """A new in-memory data set holding the items at ``indices`` (in that order)."""
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        return InMemoryImageDataset(self.pixels[idx], self.labels[idx], self.frac_bits,
                                    self.source_indices[np.asarray(indices, dtype=np.int64)])

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self._to_float(self.pixels[index]), int(self.labels[index])


class ImageFileDataset(Dataset):
    """Images read lazily from files: RGB, bilinear resize, values ``uint8 / 256``."""

    def __init__(self, paths: Sequence[Path], labels: Sequence[int], image_size: int) -> None:
        self.paths = [Path(p) for p in paths]
        self.labels = torch.as_tensor(list(labels), dtype=torch.int64)
        self.image_size = image_size
        self.frac_bits = UINT8_FRAC_BITS

    def subset(self, indices: np.ndarray) -> "ImageFileDataset":
        """A new lazy data set holding the files at ``indices`` (in that order)."""
        return ImageFileDataset([self.paths[i] for i in indices],
                                [int(self.labels[i]) for i in indices], self.image_size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        pixels = _read_image(self.paths[index], self.image_size)
        image = torch.from_numpy(pixels).permute(2, 0, 1).to(torch.float32) / 256.0
        return image, int(self.labels[index])


def _read_image(path: Path, image_size: int) -> np.ndarray:
    """Read one image file as uint8 ``[H,W,3]`` of ``image_size`` x ``image_size``: at DeiT's
    resolution (:data:`DEIT_SIZE`) the DeiT protocol (shorter side resized bicubically to
    :data:`DEIT_RESIZE`, centre crop), otherwise a bilinear resize of the whole image."""
    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise UserError(f"cannot read image {path}: {exc}; remove or replace the file") from exc
    if image_size == DEIT_SIZE:
        rgb = resize_and_centre_crop(rgb, DEIT_RESIZE, image_size)
    elif rgb.size != (image_size, image_size):
        rgb = rgb.resize((image_size, image_size), Image.Resampling.BILINEAR)
    return np.array(rgb, dtype=np.uint8)  # a writable copy for torch.from_numpy


def resize_and_centre_crop(img: Image.Image, resize: int, crop: int) -> Image.Image:
    """Shorter side to ``resize`` (bicubic, aspect kept), then the centre ``crop`` x ``crop``."""
    w, h = img.size
    if w <= h:
        size = (resize, max(resize, int(resize * h / w)))
    else:
        size = (max(resize, int(resize * w / h)), resize)
    if size != img.size:
        img = img.resize(size, Image.Resampling.BICUBIC)
    left = int(round((size[0] - crop) / 2.0))
    top = int(round((size[1] - crop) / 2.0))
    return img.crop((left, top, left + crop, top + crop))


# --------------------------------------------------------------------------- splitting


def split_indices(labels: np.ndarray, fraction: float, seed: int = SPLIT_SEED
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(len(labels))`` into (kept, held-out) sorted index arrays.

    ``ceil(fraction * n)`` items are held out; the split is stratified by label when every
    class has at least 2 items and both parts can hold every class, else plain random.
    Deterministic for a given ``seed``.
    """
    labels = np.asarray(labels)
    n = len(labels)
    n_held = math.ceil(fraction * n)
    if n_held == 0:
        return np.arange(n, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if n_held >= n:
        raise UserError(f"splitting off {fraction:.3g} of {n} images leaves none for training;"
                        " use a smaller fraction (e.g. val_fraction=0.1) or more images")
    _, counts = np.unique(labels, return_counts=True)
    n_classes = len(counts)
    if counts.min() >= 2 and n_held >= n_classes and n - n_held >= n_classes:
        from sklearn.model_selection import train_test_split

        kept, held = train_test_split(np.arange(n), test_size=n_held, stratify=labels,
                                      random_state=seed)
    else:
        perm = np.random.RandomState(seed).permutation(n)
        kept, held = perm[n_held:], perm[:n_held]
    return np.sort(kept).astype(np.int64), np.sort(held).astype(np.int64)


def _check_val_fraction(val_fraction: float) -> None:
    if not 0.0 <= val_fraction < 1.0:
        raise UserError(f"val_fraction must be in [0, 1), got {val_fraction}; e.g. use 0.1")


def _carve_val(train_all: Dataset, val_fraction: float) -> tuple[Dataset, Dataset]:
    """Split a training set into (train, val) with the fixed split seed."""
    labels = train_all.labels.numpy()  # type: ignore[attr-defined]
    kept, held = split_indices(labels, val_fraction)
    return train_all.subset(kept), train_all.subset(held)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- spec parsing


def parse_spec(spec: str) -> tuple[str, Path | None]:
    """Split ``name[:PATH]`` into the data set name and its path (None for ``digits``)."""
    name, sep, path = str(spec).strip().partition(":")
    name = name.strip().lower()
    if name not in DATASET_NAMES:
        raise UserError(f"unknown data set {spec!r}; known data sets: {', '.join(DATASET_NAMES)}"
                        f" (spec syntax: {SPEC_SYNTAX})")
    path = path.strip()
    if name == "digits":
        if path:
            raise UserError(f"the digits data set is embedded and takes no path, got {spec!r};"
                            " use just 'digits'")
        return name, None
    if not path:
        raise UserError(f"data set {name!r} needs a path: use '{name}:PATH' (spec syntax:"
                        f" {SPEC_SYNTAX})")
    return name, Path(path).expanduser()


def _check_image_size(image_size: int) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) \
            or image_size < 1:
        raise UserError(f"image_size must be a positive integer, got {image_size!r}")


def _require_dir(path: Path, what: str) -> None:
    if not path.exists():
        raise UserError(f"{what} path {path} does not exist; check the path in the data set"
                        " spec")
    if not path.is_dir():
        raise UserError(f"{what} path {path} is not a folder; give the folder that holds"
                        " the data set")


# --------------------------------------------------------------------------- digits


def _load_digits(spec: str, image_size: int, val_fraction: float) -> DatasetSplits:
    """The embedded scikit-learn digits, upsampled to ``image_size`` (multiple of 8)."""
    if image_size % 8 != 0:
        raise UserError(f"the digits data set needs image_size to be a multiple of 8 (its"
                        f" images are 8x8), got {image_size}; use e.g. 8, 16 or 32")
    from sklearn.datasets import load_digits

    digits = load_digits()
    factor = image_size // 8
    pixels = digits.images.astype(np.uint8).reshape(-1, 1, 8, 8)
    pixels = pixels.repeat(factor, axis=2).repeat(factor, axis=3)
    labels = digits.target.astype(np.int64)
    full = InMemoryImageDataset(torch.from_numpy(pixels), torch.from_numpy(labels),
                                DIGITS_FRAC_BITS)
    train_idx, test_idx = split_indices(labels, DIGITS_TEST_FRACTION)
    train, val = _carve_val(full.subset(train_idx), val_fraction)
    return DatasetSplits("digits", spec, train, val, full.subset(test_idx), in_chans=1,
                         num_classes=10, image_size=image_size,
                         class_names=[str(d) for d in range(10)],
                         input_frac_bits=DIGITS_FRAC_BITS)


# --------------------------------------------------------------------------- CIFAR-10


def _cifar_layout_hint() -> str:
    return (f"expected the CIFAR-10 python layout: data_batch_1..{CIFAR_NUM_TRAIN_BATCHES},"
            f" test_batch and batches.meta in PATH or in PATH/{CIFAR_DIR_NAME}")


def _find_cifar_dir(root: Path) -> Path:
    """The folder holding the batch files: ``root`` itself or ``root/cifar-10-batches-py``."""
    _require_dir(root, "cifar10")
    for candidate in (root, root / CIFAR_DIR_NAME):
        if (candidate / "test_batch").is_file() or any(candidate.glob("data_batch_*")):
            return candidate
    raise UserError(f"no CIFAR-10 batch files in {root}; {_cifar_layout_hint()}")


def _latin1_encode(text, encoding="latin1"):
    """``_codecs.encode`` as pickles written by Python 3 with protocol 2 use it for ``bytes``:
    latin-1 only (no other codec is looked up)."""
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise pickle.UnpicklingError(f"forbidden call _codecs.encode(..., {encoding!r})")
    return text.encode("latin1")


def _numpy_globals() -> dict[tuple[str, str], Any]:
    """The numpy names an array pickle refers to, under their numpy 1 and numpy 2 module paths."""
    try:
        from numpy._core import multiarray, numeric  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1
        from numpy.core import multiarray, numeric
    names = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for core in ("numpy.core", "numpy._core"):
        names[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
        names[(f"{core}.multiarray", "scalar")] = multiarray.scalar
        names[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer
    return names


class _CifarUnpickler(pickle.Unpickler):
    """Admits only what CIFAR-10 batch files hold: dicts, lists, bytes, strings, numbers and numpy
    arrays (plus latin-1 ``_codecs.encode`` for bytes written with protocol 2).  Any other global
    (a function or class a crafted file names to run code) is refused before it is looked up."""

    _allowed = None

    def find_class(self, module: str, name: str) -> Any:
        if _CifarUnpickler._allowed is None:
            _CifarUnpickler._allowed = {**_numpy_globals(), ("_codecs", "encode"): _latin1_encode}
        obj = _CifarUnpickler._allowed.get((module, name))
        if obj is None:
            raise pickle.UnpicklingError(f"forbidden object {module}.{name}")
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("forbidden persistent id")


def _unpickle(path: Path) -> dict:
    """Load one CIFAR pickle as a dict with bytes keys, through :class:`_CifarUnpickler`."""
    try:
        with path.open("rb") as f:
            obj = _CifarUnpickler(f, encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        if str(exc).startswith("forbidden"):
            raise UserError(f"{path} is not a CIFAR-10 batch: it holds a {exc} (a CIFAR-10 batch holds only "
                            "dicts, lists, bytes, strings, numbers and numpy arrays); refusing to load it, "
                            "re-extract cifar-10-python.tar.gz") from None
        raise UserError(f"{path} is not a readable CIFAR-10 pickle (corrupt or truncated:"
                        f" {exc}); re-extract cifar-10-python.tar.gz") from None
    except Exception as exc:  # pickle raises many types on corrupt input
        raise UserError(f"{path} is not a readable CIFAR-10 pickle (corrupt or truncated:"
                        f" {type(exc).__name__}: {exc}); re-extract cifar-10-python.tar.gz"
                        ) from None
    if not isinstance(obj, dict):
        raise UserError(f"{path} does not hold a dict (corrupt file?); {_cifar_layout_hint()}")
    return {k.encode() if isinstance(k, str) else k: v for k, v in obj.items()}


def _read_cifar_batch(path: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One batch as uint8 ``[N,3,32,32]`` pixels and int64 ``[N]`` labels."""
    batch = _unpickle(path)
    for key in (b"data", b"labels"):
        if key not in batch:
            raise UserError(f"{path} has no {key.decode()!r} entry (corrupt file?);"
                            f" {_cifar_layout_hint()}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64).reshape(-1)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * CIFAR_SIZE ** 2:
        raise UserError(f"{path}: 'data' must be uint8 N x 3072, got {data.dtype}"
                        f" {data.shape} (corrupt file?)")
    if len(labels) != len(data):
        raise UserError(f"{path}: {len(data)} images but {len(labels)} labels (corrupt file?)")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise UserError(f"{path}: labels must be in 0..{num_classes - 1}, found"
                        f" {labels.min()}..{labels.max()} (corrupt file or wrong batches.meta?)")
    return data.reshape(-1, 3, CIFAR_SIZE, CIFAR_SIZE), labels


def _cifar_label_names(folder: Path) -> list[str]:
    """Class names from ``batches.meta`` (the standard CIFAR-10 names if it is absent)."""
    meta_path = folder / "batches.meta"
    if not meta_path.is_file():
        return list(CIFAR_DEFAULT_LABEL_NAMES)
    meta = _unpickle(meta_path)
    if b"label_names" not in meta:
        raise UserError(f"{meta_path} has no 'label_names' entry (corrupt file?)")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in meta[b"label_names"]]


def _resize_uint8(pixels: np.ndarray, image_size: int) -> np.ndarray:
    """Bilinear resize of uint8 ``[N,C,H,W]`` images with PIL (stays uint8)."""
    if pixels.shape[-1] == image_size and pixels.shape[-2] == image_size:
        return pixels
    out = np.empty((len(pixels), pixels.shape[1], image_size, image_size), dtype=np.uint8)
    for i, img in enumerate(pixels):
        pil = Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0)))
        resized = pil.resize((image_size, image_size), Image.Resampling.BILINEAR)
        out[i] = np.asarray(resized, dtype=np.uint8).transpose(2, 0, 1)
    return out


def _cifar_split(paths: Sequence[Path], num_classes: int, image_size: int
                 ) -> InMemoryImageDataset:
    """Concatenate CIFAR batches into one in-memory data set."""
    parts = [_read_cifar_batch(p, num_classes) for p in paths]
    pixels = _resize_uint8(np.concatenate([p for p, _ in parts]), image_size)
    labels = np.concatenate([lab for _, lab in parts])
    return InMemoryImageDataset(torch.from_numpy(pixels), torch.from_numpy(labels),
                                UINT8_FRAC_BITS)


def _load_cifar10(spec: str, root: Path, image_size: int, val_fraction: float) -> DatasetSplits:
    """CIFAR-10 from the python-pickle layout."""
    folder = _find_cifar_dir(root)
    train_paths = [folder / f"data_batch_{i}" for i in range(1, CIFAR_NUM_TRAIN_BATCHES + 1)]
    train_paths = [p for p in train_paths if p.is_file()]
    if not train_paths:
        raise UserError(f"no training batch (data_batch_1 ..) in {folder};"
                        f" {_cifar_layout_hint()}")
    test_path = folder / "test_batch"
    if not test_path.is_file():
        raise UserError(f"missing test_batch in {folder}; {_cifar_layout_hint()}")
    class_names = _cifar_label_names(folder)
    train_all = _cifar_split(train_paths, len(class_names), image_size)
    test = _cifar_split([test_path], len(class_names), image_size)
    train, val = _carve_val(train_all, val_fraction)
    return DatasetSplits("cifar10", spec, train, val, test, in_chans=3,
                         num_classes=len(class_names), image_size=image_size,
                         class_names=class_names, input_frac_bits=UINT8_FRAC_BITS)


# --------------------------------------------------------------------------- ImageFolder


def _imagefolder_hint() -> str:
    return ("expected PATH/train/<class>/<images> and PATH/val/<class>/<images>"
            " (or PATH/test/<class>/...)")


def _class_dirs(split_dir: Path) -> list[Path]:
    """Sorted class sub-folders of one split folder (hidden folders ignored)."""
    dirs = sorted((d for d in split_dir.iterdir() if d.is_dir() and not d.name.startswith(".")),
                  key=lambda d: d.name)
    if not dirs:
        raise UserError(f"no class folders in {split_dir}; {_imagefolder_hint()}")
    return dirs


def _image_files(class_dir: Path) -> list[Path]:
    """Sorted image files under one class folder (recursively, hidden files ignored)."""
    files = sorted(p for p in class_dir.rglob("*")
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                   and not any(part.startswith(".") for part in p.relative_to(class_dir).parts))
    if not files:
        raise UserError(f"class folder {class_dir} holds no images (extensions:"
                        f" {', '.join(sorted(IMAGE_EXTENSIONS))}); add images or remove it")
    return files


def _scan_split(split_dir: Path, image_size: int, class_names: list[str] | None = None
                ) -> tuple[ImageFileDataset, list[str]]:
    """Index one split folder; if ``class_names`` is given the folders must match it."""
    dirs = _class_dirs(split_dir)
    names = [d.name for d in dirs]
    if class_names is not None and names != class_names:
        missing = sorted(set(class_names) - set(names))
        extra = sorted(set(names) - set(class_names))
        raise UserError(f"class folders of {split_dir} differ from those of train/"
                        f" (missing: {missing or 'none'}, extra: {extra or 'none'});"
                        " both splits must use the same class folder names")
    paths: list[Path] = []
    labels: list[int] = []
    for label, class_dir in enumerate(dirs):
        files = _image_files(class_dir)
        paths.extend(files)
        labels.extend([label] * len(files))
    return ImageFileDataset(paths, labels, image_size), names


def _load_imagefolder(spec: str, root: Path, image_size: int, val_fraction: float
                      ) -> DatasetSplits:
    """An ImageNet-style folder tree, read lazily."""
    _require_dir(root, "imagefolder")
    train_dir = root / "train"
    if not train_dir.is_dir():
        raise UserError(f"missing folder {train_dir}; {_imagefolder_hint()}")
    test_dir = next((root / n for n in ("val", "test") if (root / n).is_dir()), None)
    if test_dir is None:
        raise UserError(f"missing folder {root / 'val'} (or {root / 'test'});"
                        f" {_imagefolder_hint()}")
    train_all, class_names = _scan_split(train_dir, image_size)
    test, _ = _scan_split(test_dir, image_size, class_names)
    train, val = _carve_val(train_all, val_fraction)
    return DatasetSplits("imagefolder", spec, train, val, test, in_chans=3,
                         num_classes=len(class_names), image_size=image_size,
                         class_names=class_names, input_frac_bits=UINT8_FRAC_BITS)


# --------------------------------------------------------------------------- public API


def load_dataset(spec: str, image_size: int = 32, val_fraction: float = 0.1) -> DatasetSplits:
    """Load the data set named by ``spec`` (see the module docstring) with fixed splits.

    Raises :class:`UserError` for unknown names, missing paths or files, corrupt data and
    unsuitable ``image_size`` / ``val_fraction``.
    """
    name, path = parse_spec(spec)
    _check_image_size(image_size)
    _check_val_fraction(val_fraction)
    image_size = int(image_size)
    if name == "digits":
        return _load_digits(spec, image_size, val_fraction)
    assert path is not None
    if name == "cifar10":
        return _load_cifar10(spec, path, image_size, val_fraction)
    return _load_imagefolder(spec, path, image_size, val_fraction)


def translate(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Translate each image of ``x`` [B,C,H,W] by integer ``shifts`` [B,2] = (dy, dx).

    ``out[b, :, y, x] = x[b, :, y - dy, x - dx]``; pixels shifted in from outside are 0.
    """
    if x.ndim != 4:
        raise ValueError(f"expected a batch [B,C,H,W], got shape {tuple(x.shape)}")
    b, c, h, w = x.shape
    shifts = shifts.to(device=x.device, dtype=torch.int64).reshape(b, 2)
    pad = int(shifts.abs().max()) if b else 0
    if pad == 0:
        return x.clone()
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = (pad - shifts[:, 0])[:, None] + torch.arange(h, device=x.device)  # [B,H]
    cols = (pad - shifts[:, 1])[:, None] + torch.arange(w, device=x.device)  # [B,W]
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chans = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chans, rows[:, None, :, None], cols[:, None, None, :]]


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None
                 ) -> torch.Tensor:
    """Batch augmentation: translate each image by a random integer (dy, dx), zero fill.

    ``dy`` and ``dx`` are drawn uniformly from ``[-max_shift, max_shift]`` (as one
    ``torch.randint`` of shape [B,2] on the CPU with ``generator``), so the result is
    deterministic given the generator state. Returns a new tensor of the same shape.
    """
    if max_shift < 0:
        raise UserError(f"max_shift must be >= 0, got {max_shift}")
    if max_shift == 0:
        return x.clone()
    shifts = torch.randint(-max_shift, max_shift + 1, (x.shape[0], 2), generator=generator)
    return translate(x, shifts)


def head_subset(dataset: Dataset, n: int) -> Dataset:
    """The first ``n`` items of ``dataset``, keeping the in-memory ``images``/``labels``
    tensors (the fast batching path of training and evaluation) when the data set has them."""
    if n >= len(dataset):
        return dataset
    sub = torch.utils.data.Subset(dataset, range(n))
    for attr in ("images", "labels"):
        if isinstance(getattr(dataset, attr, None), torch.Tensor):
            setattr(sub, attr, getattr(dataset, attr)[:n])
    return sub


def dataset_fingerprint(splits: DatasetSplits) -> dict[str, Any]:
    """A small JSON-able description of a loaded data set (for run records / checkpoints)."""
    return {
        "name": splits.name,
        "spec": splits.spec,
        "sizes": {"train": len(splits.train), "val": len(splits.val),  # type: ignore[arg-type]
                  "test": len(splits.test)},  # type: ignore[arg-type]
        "in_chans": splits.in_chans,
        "num_classes": splits.num_classes,
        "image_size": splits.image_size,
        "input_frac_bits": splits.input_frac_bits,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m spvit_fpga.nn.data SPEC``: load a data set and print its fingerprint."""
    parser = argparse.ArgumentParser(prog="python -m spvit_fpga.nn.data", description=main.__doc__)
    parser.add_argument("spec", nargs="?", default="digits", help=SPEC_SYNTAX)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    args = parser.parse_args(argv)
    splits = load_dataset(args.spec, args.image_size, args.val_fraction)
    info = dataset_fingerprint(splits)
    info["class_names"] = splits.class_names
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    run_cli(main)
