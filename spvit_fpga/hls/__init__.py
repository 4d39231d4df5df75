"""The HLS face of the overlay engine: IR + board -> a Vitis HLS project, its checks and its C-simulation.

Owns the design plan (``plan``: the overlay engine the board gets, its layer program and weight
image, the compile-time sizes the units need, the HLS preconditions), the Jinja2 templates
(``templates/``) and their rendering (``render``), the HLS files of a project (``project``), the
HLS schedule's cycle estimate (``estimate``), the units' declared accesses (``kernels``) and the
design-rule check built on them (``drc``), g++ discovery, cached builds and the ``.i64`` run
protocol (``gxx``) and the end-to-end C-simulation of a project (``csim``).  The C++ units
themselves are ``hls/`` at the repository top (shipped in the wheel).

May import: the top-level helpers, :mod:`spvit_fpga.nn`, :mod:`spvit_fpga.ir`,
:mod:`spvit_fpga.quant` and :mod:`spvit_fpga.hw`; never :mod:`spvit_fpga.rtl` (the two faces are
independent).
"""
