"""The HLS face of the accelerator: IR + board -> a Vitis/Vivado HLS project, and its g++ C-simulation.

Owns the design plan (``plan``: GEMM engines, frame buffers, constant arrays, the op sequence),
the Jinja2 templates (``templates/``) and their rendering (``render``), the HLS files of a project
(``project``), the cycle estimates of the generated kernels (``estimate``), g++ discovery, cached
builds and the ``.i64`` run protocol (``gxx``) and the end-to-end C-simulation of a project
(``csim``).  The C++ kernel library itself is ``hls/`` at the repository top (shipped in the wheel).

May import: the top-level helpers, :mod:`spvit_fpga.nn`, :mod:`spvit_fpga.ir`,
:mod:`spvit_fpga.quant` and :mod:`spvit_fpga.hw`; never :mod:`spvit_fpga.rtl` (the two faces are
independent).
"""
