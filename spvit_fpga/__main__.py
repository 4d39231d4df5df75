"""``spvit-fpga COMMAND ...`` (or ``python -m spvit_fpga COMMAND ...``): every command under one name.

    spvit-fpga generate --board zcu102 --out DIR --csim
    spvit-fpga simulate --design DIR --rtl

``spvit-fpga COMMAND ARGS`` runs ``python -m spvit_fpga.COMMAND ARGS``; ``spvit-fpga --help`` lists
the commands with the first line of each one's documentation.
"""
from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from typing import Sequence

from .errors import UserError, run_cli

COMMANDS = ("train", "evaluate", "export", "generate", "simulate")


def _summary(command: str) -> str:
    """The first line of the command module's docstring, without importing it (torch is slow)."""
    spec = importlib.util.find_spec(f"{__package__}.{command}")
    doc = ast.get_docstring(ast.parse(Path(spec.origin).read_text())) or ""
    first = doc.splitlines()[0] if doc else ""
    return first.split(":", 1)[1].strip() if first.startswith("``") and ":" in first else first


def usage() -> str:
    width = max(len(c) for c in COMMANDS)
    lines = ["usage: spvit-fpga COMMAND [ARGS ...]   (the same as python -m spvit_fpga.COMMAND ARGS)", "",
             "commands:"]
    lines += [f"  {c:<{width}}  {_summary(c)}" for c in COMMANDS]
    lines += ["", "spvit-fpga COMMAND --help shows the options of a command."]
    return "\n".join(lines)


def dispatch(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        raise UserError(f"unknown command {command!r}; commands: {', '.join(COMMANDS)} (spvit-fpga --help)")
    return importlib.import_module(f"{__package__}.{command}").main(rest)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``spvit-fpga`` console script (errors as one line, exit status 2)."""
    run_cli(dispatch, argv)


if __name__ == "__main__":
    main()
