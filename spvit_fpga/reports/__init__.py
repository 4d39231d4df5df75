"""Reading synthesis and simulation reports and setting them beside the estimates.

This subpackage owns everything behind ``python -m spvit_fpga.report``: one small parser per
vendor report format (Vivado/Vitis HLS ``csynth.xml`` and ``csynth.rpt``, Vivado
``report_utilization`` and ``report_timing_summary``, HLS C/RTL co-simulation), the search of a
report folder, an HLS project or a generated design folder for what is there, the comparison of
estimates with measurements (with its flags), and the JSON and self-contained HTML views.

It sits at the end of the flow and may import: spvit_fpga.errors, spvit_fpga.hw.boards (through
:mod:`spvit_fpga.reports._board`, the one place that names the board module).
"""
