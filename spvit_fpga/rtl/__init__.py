"""The RTL face of the accelerator: IR + board -> a SystemVerilog dataflow design, and its simulation.

Owns the netlist generator (``generator``) and the memory images of its units (``pack``), the
template of the generated top (``templates/``), the ``rtl/`` library resolution (``library``), the
Verilator + cocotb runner and its object cache (``runner``, ``objcache``), lane packing of stream
words (``bits``), the test-vector builders of the kernel testbenches (``vectors``), lint,
end-to-end simulation and synthesis of a generated design (``sim``) and the Yosys wrapper
(``synth``).  The SystemVerilog library itself is ``rtl/`` at the repository top and the cocotb
testbenches are the ``rtl_sim`` package; both ship in the wheel.  Testbenches are passed to cocotb
by name (``"rtl_sim.tb_accel"``) and never imported here.

May import: the top-level helpers, :mod:`spvit_fpga.nn`, :mod:`spvit_fpga.ir`,
:mod:`spvit_fpga.quant` and :mod:`spvit_fpga.hw`; never :mod:`spvit_fpga.hls` (the two faces are
independent) and never ``rtl_sim``.
"""
