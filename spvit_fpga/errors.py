"""User-facing errors and the CLI wrapper that turns them into one-line messages.

Every problem a user can fix (unknown name, missing path, wrong checkpoint shape, missing
tool) is raised as :class:`UserError` with a message that names the problem and the fix.
The module CLIs run through :func:`run_cli`, which prints ``error: <message>`` on stderr and
exits with status 2 instead of showing a traceback.
"""
from __future__ import annotations

import sys
from typing import Callable, Sequence


class UserError(Exception):
    """A problem in the user's input, with a message that says how to fix it."""


EXIT_USER_ERROR = 2


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> None:
    """Run a CLI entry point; report :class:`UserError` as one line and exit 2."""
    try:
        code = main(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
