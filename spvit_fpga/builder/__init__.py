"""The builder: the last stage of the flow, which puts the faces together into one project.

Owns a design (``design``: model source + board -> parallelism, fit check, HLS plan, estimates),
the project assembly (``project``: the HLS files, the optional RTL design, the manifest that
describes both, the atomic write), the latency estimate (``estimate``: one dict with a section per
latency view, and its text) and the tables the generate command prints (``summary``: the board
table, the project summary).  The command
``python -m spvit_fpga.generate`` keeps only argument parsing, source selection and printing.

May import: the top-level helpers and every earlier stage (:mod:`spvit_fpga.nn`,
:mod:`spvit_fpga.ir`, :mod:`spvit_fpga.quant`, :mod:`spvit_fpga.hw`, :mod:`spvit_fpga.hls`,
:mod:`spvit_fpga.rtl`); only the command modules import the builder.
"""
