"""Test vectors for the overlay engine's I/O units (rtl/spvit_ov_{fetch,ddr_model,pixels,results,axil}.sv).

Each ``*_vectors`` function returns ``(parameters, vectors)``: the Verilog parameters and a
JSON-serialisable dict for the cocotb bench ``rtl_sim/tb_ov_<unit>.py``, which drives the ports
and compares integers.  The expected values come from the Python side of the engine:

* the weight fetch: the param stream and DDR image of :mod:`spvit_fpga.hw.overlay.layout` (a stream
  of real blob kinds: a GEMM with a table, LayerNorm, 16- and 8-bit tables, residual values), and
  the AXI burst plan every port must issue (:func:`burst_plan`);
* the pixel unit: the patch tensor of :func:`spvit_fpga.hw.overlay.execute` ``_Engine.pixels``
  (``image.reshape(C, G, P, G, P).transpose(1, 3, 0, 2, 4)``) at the AM addresses of a tensor
  ``base + row * stride + col // L``, lane ``col % L``;
* the result unit: the word order of ``rtl/spvit_result_out.sv`` (logits sign-extended to 32 bits,
  then the kept counts, tlast on the last word).
"""
from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from spvit_fpga.hw.overlay.layout import PAGE, ParamStream, stream_from_image

Params = dict[str, Any]
Vectors = dict[str, Any]

__all__ = ["param_stream", "burst_plan", "fetch_vectors", "ddr_vectors", "ddr_model_vectors", "write_image",
           "patch_tensor", "pixel_plan", "pixels_vectors", "results_vectors", "axil_vectors"]


# --------------------------------------------------------------------------------------------
# Weight fetch and DDR model
# --------------------------------------------------------------------------------------------


def param_stream(ports: int, port_bytes: int, lanes: int = 8, seed: int = 0, scale: int = 1) -> ParamStream:
    """A param stream of real blob kinds with random contents; ``scale`` repeats the GEMM blob."""
    rng = np.random.default_rng(seed)
    ps = ParamStream(ports * port_bytes)
    for _ in range(scale):
        w = rng.integers(-128, 128, size=(4 * lanes - 3, 8 * lanes + 5))
        b = rng.integers(-(1 << 31), 1 << 31, size=w.shape[0])
        ps.add_gemm(w, b, rng.integers(0, 256, size=256), lanes)
    ps.add_layernorm(rng.integers(0, 1 << 16, size=48), rng.integers(-(1 << 15), 1 << 15, size=40),
                     rng.integers(-(1 << 31), 1 << 31, size=40))
    ps.add_table16(rng.integers(0, 1 << 16, size=100))
    ps.add_table8(rng.integers(0, 256, size=256))
    ps.add_values(rng.integers(-(1 << 15), 1 << 15, size=5 * lanes * 4 + 3), 2)
    return ps


def burst_plan(addr: int, words: int, port_bytes: int, max_burst: int) -> list[tuple[int, int]]:
    """One port's INCR bursts ``(byte address, beats)`` over ``words`` words from ``addr``: each as
    long as ``max_burst``, the 4 KiB boundary and the words left allow."""
    plan = []
    while words:
        n = min(max_burst, (PAGE - addr % PAGE) // port_bytes, words)
        plan.append((addr, n))
        addr += n * port_bytes
        words -= n
    return plan


def _load(ps: ParamStream, ports: int, port_bytes: int, base: int, max_burst: int) -> dict[str, Any]:
    image = ps.ddr_image(ports)
    region = ps.region_bytes(ports)
    stream = ps.stream_bytes()
    assert stream_from_image(image, ports, port_bytes, ps.beats) == stream
    return dict(base=base, region=region, beats=ps.beats, image=image.hex(), stream=stream.hex(),
                bursts=[burst_plan(base + i * region, ps.beats, port_bytes, max_burst) for i in range(ports)])


def fetch_vectors(*, seed: int = 0, ports: int = 2, port_bytes: int = 16, max_burst: int = 256,
                  outstanding: int = 4, fifo_beats: int = 512, addr_w: int = 40, lanes: int = 8, scale: int = 4,
                  bases: Sequence[int] = (0x12F40, 0x80_0004_0000), error_beat: int = 37) -> tuple[Params, Vectors]:
    """Loads of one param stream's DDR image at each of ``bases`` (non page-aligned bases cut the
    first bursts at 4 KiB boundaries), for the fetch on cocotbext-axi's AxiRamRead; the error load
    answers port ``ports - 1``'s word ``error_beat`` of the first load with SLVERR."""
    ps = param_stream(ports, port_bytes, lanes, seed, scale)
    loads = [_load(ps, ports, port_bytes, b, max_burst) for b in bases]
    for ld in loads:
        assert ld["base"] % port_bytes == 0 and ld["base"] + ports * ld["region"] <= 1 << addr_w
    params = dict(NP=ports, PB=port_bytes, ADDR_W=addr_w, MAX_BURST=max_burst, OUTSTANDING=outstanding,
                  FIFO_BEATS=fifo_beats)
    region = loads[0]["region"]
    err_addr = bases[0] + (ports - 1) * region + error_beat * port_bytes
    return params, dict(params=params, loads=loads, error=dict(load=0, addr=err_addr))


def _u64(value: int) -> str:
    """A 64-bit parameter literal (``-G`` reads a plain decimal as 32 bits)."""
    assert 0 <= value < 1 << 64
    return f"64'd{value}"


def _bench_params(params: Params) -> Params:
    """The parameters as the bench reads them: paths as strings, 64-bit literals as ints."""
    out = {}
    for k, v in params.items():
        if isinstance(v, Path):
            v = str(v)
        elif isinstance(v, str) and v.startswith("64'd"):
            v = int(v[4:])
        out[k] = v
    return out


def write_image(data: bytes, name: str = "ddr") -> Path:
    """``data`` as a binary file content-addressed under the runner's build folder (a stable path
    for the same bytes, so the build that names it as FILE stays cached)."""
    from spvit_fpga.rtl.runner import build_root  # the one runner import of this file

    digest = hashlib.sha256(data).hexdigest()[:16]
    path = build_root() / "mem" / f"{name}_{digest}.bin"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{random.getrandbits(32):08x}")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def ddr_vectors(*, seed: int = 1, ports: int = 2, port_bytes: int = 16, lanes: int = 8, scale: int = 3,
                latency: int = 40, budget: tuple[int, int] = (64, 1), max_burst: int = 256, outstanding: int = 4,
                fifo_beats: int = 512, mem_base: int = 0x8_0000_0000, offsets: Sequence[int] = (0xF40, 0x10000),
                error_beat: int = 21) -> tuple[Params, Vectors]:
    """The fetch reading spvit_ov_ddr_model (harness spvit_ov_fetch_sim): one param stream's DDR
    image stored at each of ``offsets`` from ``mem_base`` in the model's file; ``budget`` =
    (BUDGET_NUM, BUDGET_DEN)."""
    ps = param_stream(ports, port_bytes, lanes, seed, scale)
    image = ps.ddr_image(ports)
    size = max(offsets) + len(image)
    mem = bytearray(size)
    for off in offsets:
        assert off % port_bytes == 0
        mem[off:off + len(image)] = image
    path = write_image(bytes(mem), "ov_ddr")
    loads = [_load(ps, ports, port_bytes, mem_base + off, max_burst) for off in offsets]
    for ld in loads:
        del ld["image"]
    mem_bytes = -(-size // PAGE) * PAGE
    params = dict(NP=ports, PB=port_bytes, MAX_BURST=max_burst, OUTSTANDING=outstanding, FIFO_BEATS=fifo_beats,
                  BASE=_u64(mem_base), MEM_BYTES=mem_bytes, FILE=path, LATENCY=latency, BUDGET_NUM=budget[0],
                  BUDGET_DEN=budget[1])
    region = loads[0]["region"]
    err_addr = loads[0]["base"] + (ports - 1) * region + error_beat * port_bytes
    vec = dict(params=_bench_params(params), loads=loads,
               file_bytes=size, error=dict(load=0, addr=err_addr))
    return params, vec


# --------------------------------------------------------------------------------------------
# Pixel unit
# --------------------------------------------------------------------------------------------


def patch_tensor(image: np.ndarray, patch: int) -> np.ndarray:
    """execute.py ``_Engine.pixels``: ``[C, H, W]`` -> ``[GH*GW, C*P*P]`` (patch row-major, columns
    (channel, row in patch, column in patch))."""
    c, h, w = image.shape
    gh, gw = h // patch, w // patch
    return image.reshape(c, gh, patch, gw, patch).transpose(1, 3, 0, 2, 4).reshape(gh * gw, c * patch * patch)


def pixel_plan(c: int, h: int, w: int, patch: int, lanes: int, pix: int, base: int,
               stride: int) -> list[tuple[int, int]]:
    """The unit's AM writes ``(word address, lane-enable mask)`` in order: each beat split into runs
    that stay in one patch row segment and one word (the cycle formula counts them)."""
    n = c * h * w
    writes = []
    for b0 in range(0, n, pix):
        bn = min(pix, n - b0)
        pos = 0
        while pos < bn:
            ch, rem = divmod(b0 + pos, h * w)
            r, q = divmod(rem, w)
            col = ch * patch * patch + (r % patch) * patch + q % patch
            ln = min(bn - pos, patch - q % patch, lanes - col % lanes)
            g = (r // patch) * (w // patch) + q // patch
            writes.append((base + g * stride + col // lanes, ((1 << ln) - 1) << (col % lanes)))
            pos += ln
    return writes


def pixels_vectors(*, seed: int = 0, channels: int = 1, height: int = 32, width: int = 32, patch: int = 4,
                   lanes: int = 8, pix: int = 16, aw: int = 12, images: int = 2) -> tuple[Params, Vectors]:
    """``images`` random images (the first holds 0x00 / 0xFF / 0x80 / 0x7F at its corners), each to
    its own tensor placement (base, stride >= the row's words); expected: the patch tensor as AM
    lanes, the write plan and the stream beats (PIX bytes, tkeep, tlast)."""
    rng = np.random.default_rng(seed)
    cols = channels * patch * patch
    words = -(-cols // lanes)
    n = channels * height * width
    out = []
    for k in range(images):
        img = rng.integers(0, 256, size=(channels, height, width))
        if k == 0:
            img[0, 0, 0], img[-1, -1, -1], img[0, 0, -1], img[-1, -1, 0] = 0, 255, 128, 127
        base, stride = (3, words) if k % 2 == 0 else (77, words + 2)
        flat = img.reshape(-1).astype(np.uint8).tobytes()
        beats = []
        for b0 in range(0, n, pix):
            chunk = flat[b0:b0 + pix]
            beats.append([int.from_bytes(chunk, "little"), (1 << len(chunk)) - 1, int(b0 + pix >= n)])
        tensor = patch_tensor(img, patch)
        mem = {}
        for g in range(tensor.shape[0]):
            for col in range(cols):
                mem[f"{base + g * stride + col // lanes}:{col % lanes}"] = int(tensor[g, col])
        plan = pixel_plan(channels, height, width, patch, lanes, pix, base, stride)
        assert max(a for a, _ in plan) < 1 << aw
        out.append(dict(base=base, stride=stride, beats=beats, mem=mem, plan=plan))
    params = dict(L=lanes, C=channels, IMG_H=height, IMG_W=width, P=patch, PIX_BYTES=pix, AW=aw)
    return params, dict(params=params, images=out)


# --------------------------------------------------------------------------------------------
# Result unit
# --------------------------------------------------------------------------------------------


def results_vectors(*, seed: int = 0, classes: int = 10, logit_w: int = 32, stages: int = 3, cnt_w: int = 16,
                    lanes: int = 8, ra_w: int = 4, frames: int = 3) -> tuple[Params, Vectors]:
    """``frames`` result sets: the result RAM's words (lanes past ``classes`` hold junk that must not
    be sent), the kept counts, and the expected 32-bit words with tlast (rtl/spvit_result_out.sv's
    order: logits sign-extended, then kept counts zero-extended)."""
    rng = random.Random(seed)
    lo, hi = -(1 << (logit_w - 1)), (1 << (logit_w - 1)) - 1
    nwr = -(-classes // lanes)
    assert nwr <= 1 << ra_w
    out = []
    for f in range(frames):
        logits = [rng.randint(lo, hi) for _ in range(classes)]
        kept = [rng.randrange(1 << cnt_w) for _ in range(stages)]
        if f == 0:
            logits[0], logits[-1] = lo, hi
            if stages:
                kept[0], kept[-1] = (1 << cnt_w) - 1, 0
        lanes_all = logits + [rng.randint(lo, hi) for _ in range(nwr * lanes - classes)]
        mask = (1 << logit_w) - 1
        ram = [sum((v & mask) << (logit_w * i) for i, v in enumerate(lanes_all[w * lanes:(w + 1) * lanes]))
               for w in range(nwr)]
        words = [v & 0xFFFF_FFFF for v in logits] + kept
        out.append(dict(ram=ram, kept=sum(k << (cnt_w * s) for s, k in enumerate(kept)),
                        words=[[w, int(i == len(words) - 1)] for i, w in enumerate(words)]))
    params = dict(L=lanes, NC=classes, LOGIT_W=logit_w, S=stages, CNT_W=cnt_w, RA_W=ra_w)
    return params, dict(params=params, frames=out)


# --------------------------------------------------------------------------------------------
# AXI-Lite control
# --------------------------------------------------------------------------------------------


def axil_vectors(*, addr_w: int = 40, axil_aw: int = 6) -> tuple[Params, Vectors]:
    """The AXI-Lite bench needs only the parameters (its checks are the register map itself)."""
    params = dict(ADDR_W=addr_w, AXIL_AW=axil_aw)
    return params, dict(params=params)


def ddr_model_vectors(*, seed: int = 3, ports: int = 2, port_bytes: int = 16, size: int = 3 * PAGE,
                      mem_base: int = 0x4000_0000, latency: int = 40, ar_depth: int = 3) -> tuple[Params, Vectors]:
    """spvit_ov_ddr_model on its own (driven by the bench): a random file of ``size`` bytes at
    ``mem_base``, ID width 2."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
    path = write_image(data, "ov_ddr_model")
    params = dict(NP=ports, PB=port_bytes, ID_W=2, BASE=_u64(mem_base), MEM_BYTES=size, FILE=path, LATENCY=latency,
                  BUDGET_NUM=1000, BUDGET_DEN=1, AR_DEPTH=ar_depth)
    vec = dict(params=_bench_params(params), data=data.hex())
    return params, vec
