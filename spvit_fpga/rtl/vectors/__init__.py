"""Test vectors of the RTL kernel library: random and edge-case inputs with the expected outputs
computed by the integer contract (:mod:`spvit_fpga.ir.intops`), packed the way the cocotb
testbenches of ``rtl_sim/`` read them.

* :mod:`.kernels`    requantise, tables, GEMM, softmax, LayerNorm, divider, token select, and the
                     shared ``Params`` / ``Vectors`` conventions
* :mod:`.selector`   the selector's head mean, token mean and keep probability
* :mod:`.attention`  the attention unit (also on the embedded model's formats)
* :mod:`.mvau`       the folded GEMM unit with its weight, bias and table memories
* :mod:`.tokwrap`    the token-stream wrappers of the selector datapath
* :mod:`.plumbing`   FIFOs, forks, filters, constant streams
* :mod:`.edge`       the weight loader, patchify and result units at the design's edges
"""
