"""The integer contract: what the hardware computes, defined once in Python.

Owns the integer operators (``intops``: fixed-point formats, requantisation, the softmax / GELU /
LayerNorm / selector algorithms), the typed, serialisable integer model (``graph``: the IR, its
``ir.json`` + ``weights.npz`` format and validation) and the bit-exact golden reference that runs
an IR (``reference``).  The HLS and RTL generators implement exactly this; QAT trains against it.

This stage comes *before* :mod:`spvit_fpga.quant` on purpose: quantisation-aware training uses
``intops`` as its forward pass, so the contract must not depend on the trainable model.  Building
an IR *from* a quantised model is therefore quant's job (:mod:`spvit_fpga.quant.to_ir`).

May import: the top-level helpers and :mod:`spvit_fpga.nn` (model config, evaluation records).
"""
