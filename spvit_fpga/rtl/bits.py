"""Packing of lanes into stream words (no simulator or torch imports; used on both sides).

Lane ``i`` of a beat occupies bits ``[i*W +: W]`` of ``tdata`` (two's complement for signed
lanes), the convention of every module in ``rtl/``.
"""
from __future__ import annotations

from typing import Iterable, List


def pack(values: Iterable[int], width: int) -> int:
    """Lanes into one integer: value ``i`` (two's complement, ``width`` bits) at ``[i*width +: width]``."""
    mask = (1 << width) - 1
    out = 0
    for i, v in enumerate(values):
        v = int(v)
        if not -(1 << (width - 1)) <= v <= mask:
            raise ValueError(f"lane value {v} does not fit {width} bits")
        out |= (v & mask) << (i * width)
    return out


def unpack(word: int, width: int, count: int, signed: bool = True) -> List[int]:
    """Inverse of :func:`pack`."""
    mask = (1 << width) - 1
    vals = []
    for i in range(count):
        v = (word >> (i * width)) & mask
        if signed and v >> (width - 1):
            v -= 1 << width
        vals.append(v)
    return vals


def to_signed(v: int, width: int) -> int:
    """The two's-complement value of the low ``width`` bits of ``v``."""
    v &= (1 << width) - 1
    return v - (1 << width) if v >> (width - 1) else v
