"""LOAD_XB of the overlay engine (rtl/spvit_ov_loadxb.sv): the blob of layout.ParamStream.add_values
into XB words exactly, beats popped exactly, and the cycle formula of the header, for beats wider,
as wide as, and narrower than an XB word."""
from __future__ import annotations

import numpy as np
import pytest

from spvit_fpga.hw.overlay.cycles import loadxb_cycles
from spvit_fpga.hw.overlay.layout import ParamStream
from spvit_fpga.rtl import runner


def _vectors(L: int, x_w: int, sb: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    cases = []
    for rows, d, base in ((1, 2 * L, 3), (5, 3 * L, 11), (2, L, 0)):
        vals = rng.integers(-(1 << (x_w - 1)), 1 << (x_w - 1), size=(rows, d))
        vals[0, 0], vals[-1, -1] = -(1 << (x_w - 1)), (1 << (x_w - 1)) - 1
        ps = ParamStream(sb)
        ps.add_values(vals, 2)
        data = ps.stream_bytes()
        beats = [int.from_bytes(data[i:i + sb], "little") for i in range(0, len(data), sb)]
        words = rows * d // L
        flat = vals.reshape(-1)
        expect = {}
        for w in range(words):
            word = 0
            for i in range(L):
                word |= (int(flat[w * L + i]) & ((1 << x_w) - 1)) << (i * x_w)
            expect[base + w] = word
        cases.append({"base": base, "words": words, "beats": beats, "expect": expect,
                      "cycles": loadxb_cycles(words, len(beats), sb, L)})
    return {"L": L, "X_W": x_w, "SB": sb, "cases": cases}


@pytest.mark.parametrize("L,x_w,sb", [(8, 16, 32), (8, 16, 16), (8, 12, 8)])
def test_loadxb(L, x_w, sb):
    params = {"L": L, "X_W": x_w, "SB": sb, "XAW": 8, "CNT_W": 12}
    runner.lint(runner.sources_for("spvit_ov_loadxb"), "spvit_ov_loadxb", parameters=params)
    res = runner.run(top="spvit_ov_loadxb", test_module="rtl_sim.tb_ov_loadxb", parameters=params,
                     vectors=_vectors(L, x_w, sb, seed=L + sb))
    assert res.tests == 3
