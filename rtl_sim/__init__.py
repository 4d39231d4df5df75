"""cocotb testbenches of the SystemVerilog library in ``rtl/`` and of the generated designs.

This package runs inside the simulator process: :mod:`spvit_fpga.rtl.runner` builds a design with
Verilator and hands cocotb a test module *by name* (``"rtl_sim.tb_softmax"``); it puts the folder
that holds this package on the simulator's ``PYTHONPATH`` (the repository top in a source checkout,
``site-packages`` in an installed wheel).  ``spvit_fpga`` never imports it.

* :mod:`rtl_sim.streams` — valid/ready stream drivers and monitors with random idle cycles and
  back-pressure, and the generic drive-and-compare loop of the testbenches.
* ``rtl_sim/tb_<kernel>.py`` — the cocotb testbenches, one per kernel; ``tb_accel`` drives a whole
  generated design, ``tb_hls_top`` the RTL that Vitis/Vivado HLS exports from the HLS design.

The test vectors and expected outputs come from :mod:`spvit_fpga.rtl.vectors` (computed with the
integer contract), the packing of lanes into stream words from :mod:`spvit_fpga.rtl.bits`.
"""
