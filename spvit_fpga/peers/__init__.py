"""FINN (finn-plus) and hls4ml as second opinions on this project's linear layers.

This subpackage owns the adapters that take the quantised model's layers out as QONNX and run
them through the two compilers this project's users already know, then compare their integers
with the golden reference and their cycle/resource estimates with this project's own:

* :mod:`.units`: one QONNX "unit" per linear layer of the IR (input quantiser, int8 weights,
  int32 bias, fused residual, output requantiser), exported with Brevitas, plus the reference
  rows (digits test images, random inputs) each unit is checked on;
* :mod:`.finn_flow`: finn-plus's front end on a unit (cleanup, ConvertQONNXtoFINN, Streamline,
  hardware layers, SpecializeLayers, SetFolding), its numpy execution and estimates;
* :mod:`.hls4ml_flow`: hls4ml's ``convert_from_onnx_model`` + ``compile()`` / ``predict()``;
* :mod:`.compare`: runs both on every unit and builds the report (JSON and table).

May import: :mod:`._project` (every import of the rest of spvit_fpga goes through it, so a
layout change touches one file), numpy, torch, brevitas, qonnx, finn (finn-plus) and hls4ml.
finn and hls4ml are imported inside the functions that need them: ``make interop`` installs
finn-plus, and a missing one is a one-line error naming that command.
"""
