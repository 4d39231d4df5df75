"""The accelerator architecture shared by both hardware faces (HLS and RTL).

Owns the board data (``boards``: ``boards/*.json`` read into :class:`~spvit_fpga.hw.boards.Board`),
the analytical cost model that chooses the GEMM array for a board and gives cycles per layer for
any kept-token counts (``cost_model``: the analytical target of ARCHITECTURE.md, kept for the
peer comparisons; the generated designs have their own cycle models), the table layout (``estimate_report``),
where a design's integer IR comes from (``source``: the embedded default model, a checkpoint, an IR
directory, random weights), the test vectors every face is checked with (``vectors``: images and
the golden reference's logits and kept tokens, and the ``.i64`` array files) and the DDR weight
image layout (``weight_image``).

May import: the top-level helpers, :mod:`spvit_fpga.nn`, :mod:`spvit_fpga.ir` and
:mod:`spvit_fpga.quant` (a checkpoint source is exported or quantised on the fly).
"""
