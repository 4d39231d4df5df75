"""HLS code generation: IR + board -> a complete Vitis/Vivado HLS project (see docs/hls_backend.md).

* :mod:`.project`   manifest, atomic write of the project directory
* :mod:`.rtl`       the dataflow RTL design

The HLS planner, templates and C-simulation are :mod:`spvit_fpga.hls`; where the IR comes from
and the test vectors are :mod:`spvit_fpga.hw.source` and :mod:`spvit_fpga.hw.vectors`.
"""
