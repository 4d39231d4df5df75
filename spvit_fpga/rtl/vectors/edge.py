"""Test vectors for the dataflow design's edge modules (rtl/DATAFLOW.md): the weight loader
(DDR weight image over AXI4 -> weight bus), the patchify unit (pixel stream -> patch tokens) and
the result writer (logits token + kept counts -> output words).

As in :mod:`spvit_fpga.rtl.vectors.kernels`, each ``*_vectors`` function returns ``(parameters, vectors)``: the
Verilog parameters and a JSON-serialisable dict for the cocotb testbench
(``rtl_sim/tb_<module>.py``), which only drives inputs and compares integers.  Expected values
come from Python models of the software side: the AXI burst plan of the loader, ``reference.py``
``_patches`` for the patch tokens (called on a stand-in IR), and the HLS ``write_output`` word
order (two's complement ``OUT_W``-bit words, as ``ap_int<OUT_W>`` / ``ap_uint<OUT_W>`` make them)
for the result words.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import torch

from ...ir.reference import _patches

from ..bits import pack

Params = dict[str, Any]
Vectors = dict[str, Any]


# --------------------------------------------------------------------------------------------
# spvit_weight_loader
# --------------------------------------------------------------------------------------------


def burst_plan(base: int, n_words: int, bytes_per_word: int, max_burst: int) -> list[tuple[int, int]]:
    """The loader's AXI bursts ``(byte address, beats)``: INCR bursts of at most ``max_burst``
    beats, never crossing a 4 KB boundary, each as long as those two limits allow."""
    plan = []
    addr, left = base, n_words
    while left:
        to_page = (4096 - (addr & 0xFFF)) // bytes_per_word
        beats = min(max_burst, left, to_page)
        plan.append((addr, beats))
        addr += beats * bytes_per_word
        left -= beats
    return plan


def weight_loader_vectors(
    *,
    seed: int = 0,
    wb_w: int = 64,
    addr_w: int = 40,
    n_words: int = 1000,
    max_burst: int = 256,
    id_w: int = 1,
    bases: Sequence[int] = (0x12F40, 0x3_0008),
    error_word: int = 5,
) -> tuple[Params, Vectors]:
    """Loads from the ``bases`` (non-overlapping images of random words, loaded one after the
    other, back to back), each with its burst plan; plus an error load: the image at
    ``bases[0]`` with the beat of word ``error_word`` answered SLVERR (data 0)."""
    rng = random.Random(seed)
    nbytes = wb_w // 8
    loads = []
    spans = []
    for base in bases:
        assert base % nbytes == 0, "base addresses must be word aligned"
        end = base + n_words * nbytes
        assert end <= 1 << addr_w
        for lo, hi in spans:
            assert end <= lo or base >= hi, "load images must not overlap"
        spans.append((base, end))
        words = [rng.getrandbits(wb_w) for _ in range(n_words)]
        words[0] = (1 << wb_w) - 1      # all ones / zero words at the ends
        words[-1] = 0
        loads.append(dict(base=base, words=words, bursts=burst_plan(base, n_words, nbytes, max_burst)))
    params = dict(WB_W=wb_w, ADDR_W=addr_w, N_WORDS=n_words, MAX_BURST=max_burst, ID_W=id_w)
    err = dict(loads[0])
    err["words"] = list(err["words"])
    err["words"][error_word] = 0
    err["bad_addr"] = bases[0] + error_word * nbytes
    return params, dict(params=params, loads=loads, error_load=err)


# --------------------------------------------------------------------------------------------
# spvit_patchify
# --------------------------------------------------------------------------------------------


def patches_model(image: torch.Tensor, patch: int) -> torch.Tensor:
    """reference.py ``_patches`` on an image ``[C, IMG, IMG]`` -> ``[G*G, C*P*P]``."""
    c, img, _ = image.shape
    ir = SimpleNamespace(patch_embed=SimpleNamespace(in_chans=c, grid=img // patch, patch_size=patch))
    return _patches(ir, image)


def patchify_vectors(
    *, seed: int = 0, img: int = 32, patch: int = 4, cin: int = 1, pix_w: int = 8, images: int = 3,
) -> tuple[Params, Vectors]:
    """``images`` random images (the first all-ones / the extremes) streamed back to back, one
    pixel a beat (channel, row, column), tlast on each image's last pixel; expected: the patch
    tokens of ``_patches``, tuser = 1, tlast on each image's last token."""
    assert img % patch == 0
    g = torch.Generator().manual_seed(seed)
    grid = img // patch
    lanes = cin * patch * patch
    mask = (1 << pix_w) - 1
    pixels: list[list[int]] = []
    tokens: list[list[int]] = []
    for k in range(images):
        if k == 0:
            image = torch.full((cin, img, img), mask, dtype=torch.int64)
            image[..., ::2, 1::2] = 0
        else:
            image = torch.randint(0, mask + 1, (cin, img, img), generator=g)
        flat = image.reshape(-1).tolist()
        pixels += [[v, int(i == len(flat) - 1), 0] for i, v in enumerate(flat)]
        toks = patches_model(image, patch).tolist()
        tokens += [[pack(t, pix_w), int(i == len(toks) - 1), 1] for i, t in enumerate(toks)]
    params = dict(IMG=img, P=patch, CIN=cin, PIX_W=pix_w, USER_W=2)
    vec = dict(
        params=params,
        inputs={"s_axis": pixels},
        outputs={"m_axis": tokens},
        lanes={"m_axis": [pix_w, lanes, 0]},
        tokens_per_image=grid * grid,
    )
    return params, vec


# --------------------------------------------------------------------------------------------
# spvit_result_out
# --------------------------------------------------------------------------------------------


def _word(v: int, out_w: int) -> int:
    """``ap_uint<OUT_W>(ap_int<OUT_W>(v))``: the low OUT_W bits of the two's complement."""
    return v & ((1 << out_w) - 1)


def result_out_vectors(
    *, seed: int = 0, nc: int = 10, logit_w: int = 32, stages: int = 3, cnt_w: int = 8, out_w: int = 32,
    frames: int = 6,
) -> tuple[Params, Vectors]:
    """``frames`` results: random logits / counts plus frames at the limits of both widths (the
    most negative and most positive logit, 0 and the largest count)."""
    rng = random.Random(seed)
    lo, hi = -(1 << (logit_w - 1)), (1 << (logit_w - 1)) - 1
    cmax = (1 << cnt_w) - 1
    logits_in, kept_in, words = [], [], []
    for f in range(frames):
        if f == 0:
            logits = [lo if i % 2 == 0 else hi for i in range(nc)]
            kept = [cmax if i % 2 == 0 else 0 for i in range(stages)]
        elif f == 1:
            logits = [hi if i % 2 == 0 else lo for i in range(nc)]
            kept = [0 if i % 2 == 0 else cmax for i in range(stages)]
        elif f == 2:
            logits = [-1 if i % 2 == 0 else 0 for i in range(nc)]
            kept = [1 for _ in range(stages)]
        else:
            logits = [rng.randint(lo, hi) for _ in range(nc)]
            kept = [rng.randint(0, cmax) for _ in range(stages)]
        logits_in.append([pack(logits, logit_w), 0, 0])
        if stages:
            kept_in.append([pack(kept, cnt_w), 0, 0])
        out = [_word(v, out_w) for v in logits] + [_word(v, out_w) for v in kept]
        words += [[w, int(i == len(out) - 1), 0] for i, w in enumerate(out)]
    params = dict(NC=nc, LOGIT_W=logit_w, S=stages, CNT_W=cnt_w, OUT_W=out_w)
    inputs = {"s_axis_logits": logits_in}
    if stages:
        inputs["s_axis_kept"] = kept_in
    vec = dict(params=params, inputs=inputs, outputs={"m_axis": words}, words_per_frame=nc + stages)
    return params, vec
