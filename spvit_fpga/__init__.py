"""spvit_fpga: a soft-token-pruned Vision Transformer (SPViT) from training to an FPGA.

The subpackages follow the flow, data -> float SPViT -> QAT -> integer IR + reference -> hardware
plan -> HLS / RTL -> simulation, and imports only point down it::

    spvit_fpga  errors, outdir, _resources: helpers every module may import
      nn        the float model, token selector, MAC counting, data, checkpoints, training, plots
      ir        the integer contract (intops), the IR (graph), the bit-exact golden reference
      quant     Brevitas QAT, fake-quant ops, the quantised model, its IR export (to_ir), QONNX
      hw        boards, cost model, model sources, test vectors, the DDR weight-image layout
      hls       HLS planner, templates, g++ C-simulation          } the two hardware faces:
      rtl       RTL generator, library, Verilator runner, Yosys   } they never import each other
      builder   a design and its project (HLS files, RTL design, manifest), the generate text
    train, evaluate, export, generate, simulate: the commands (``python -m spvit_fpga.<command>``
    or ``spvit-fpga <command>``), thin argument parsers over the stages

    nn  ->  ir  ->  quant  ->  hw  ->  hls, rtl  ->  builder  ->  commands

"A -> B" means B may import A, never the reverse (``tests/test_layout.py`` checks it, and that
there are no import cycles).  ``ir`` comes *before* ``quant`` on purpose: quantisation-aware
training trains against the integer contract (``qat_ops`` and the Brevitas quantizers run
``intops`` as their forward), so the contract may not depend on the trainable model; building an
IR from a quantised model is therefore quant's job (``quant.to_ir``).  The kernel libraries
``hls/`` and ``rtl/``, the cocotb testbenches ``rtl_sim/`` and the board files ``boards/`` live
at the repository top and ship in the wheel (:mod:`spvit_fpga._resources` finds them).
"""

__version__ = "0.1.0"
