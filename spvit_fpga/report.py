"""``python -m spvit_fpga.report PATH [--json] [--html OUT.html] [--board NAME]``: read synthesis and
simulation reports and set them beside the estimates.

PATH is a Vivado/Vitis HLS ``csynth.xml`` / ``<fn>_csynth.xml`` or ``csynth.rpt`` / ``<fn>_csynth.rpt``,
a ``solution*/syn/report`` folder, an HLS project folder, a Vivado ``report_utilization`` or
``report_timing_summary`` text file, a ``*_cosim.rpt``, or a design folder written by
``python -m spvit_fpga.generate`` (its estimates, ``csim.json``, RTL simulation, Yosys counts and any
vendor reports below it, with a comparison list and flags).  Without options it prints a short
summary; ``--json`` prints one JSON object and nothing else on standard output; ``--html`` writes one
self-contained page.  ``--board`` holds the resources against that board (default: the design's board,
or the board whose part the report names).  See docs/report.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from .errors import ArgumentParser, UserError, run_cli
from .outdir import check_output_file


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m spvit_fpga.report",
                       description="Read synthesis and simulation reports and set them beside the "
                                   "estimates (docs/report.md).",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", metavar="PATH", help="report file, report folder, HLS project or design folder")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object on standard output")
    p.add_argument("--html", metavar="OUT.html", type=Path, help="write a self-contained HTML page")
    p.add_argument("--board", metavar="NAME", help="board to hold the resources against (boards/NAME.json)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.html is not None and not args.html.is_dir():
        check_output_file(args.html, "--html")  # before the reports are read
    from .reports.dispatch import load

    loaded = load(Path(args.path), args.board)
    if args.html is not None:
        from .reports.html import write_html

        if args.html.is_dir():
            raise UserError(f"--html {args.html}: a folder; give a file name such as report.html")
        write_html(loaded, args.html)
        print(f"wrote {args.html}", file=sys.stderr)
    if args.json:
        print(json.dumps(loaded.to_json(), indent=2, allow_nan=False))
    elif args.html is None:
        from .reports.summary import text_of

        print(text_of(loaded))
    return 0


if __name__ == "__main__":
    run_cli(main)
