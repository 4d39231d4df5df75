"""The float SPViT: the first stage of the flow after the data.

Owns the model and its multi-head token selector (``model``, ``token_select``), MAC counting
(``macs``), data sets (``data``), float checkpoints and DeiT weight loading (``checkpoint``), the
embedded default model's paths (``defaults``), the training loop (``training``), evaluation
loops and threshold calibration (``evaluation``), DDP helpers (``distributed``) and plots
(``viz``).  Everything here runs on floats; the quantised twin of the model lives in
:mod:`spvit_fpga.quant`.

May import: the top-level helpers (:mod:`spvit_fpga.errors`, :mod:`spvit_fpga.outdir`) and nothing
else of spvit_fpga; every later stage may import this.
"""
