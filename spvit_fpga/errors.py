"""User-facing errors and the command-line plumbing every command shares.

Every problem a user can fix (unknown name, missing path, wrong checkpoint shape, missing
tool, a bad flag value) is raised as :class:`UserError` with a message that names the problem and
the fix.  The module CLIs build their parsers with :class:`ArgumentParser` (argparse whose errors
are UserErrors, with a ``--debug`` flag) and run through :func:`run_cli`, which prints
``error: <message>`` on stderr and exits with status 2 instead of showing a traceback.  Anything
else that goes wrong (a tool that fails, a bug) is one ``error:`` paragraph and status 1;
``--debug`` shows the traceback instead.  ``run_cli`` also ends the child processes (g++, make,
Verilator, the simulator) when the command is interrupted (Ctrl-C, SIGTERM).  :func:`ticking` is the
progress line of a long step that has no steps of its own (a compile, a build).

The flag types (:func:`positive_int`, :func:`positive_float`, ...) refuse values that would be
silently misused (``--batch-size 0``, ``--lr nan``).
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import threading
import time
from typing import Callable, Iterator, Sequence


class UserError(Exception):
    """A problem in the user's input, with a message that says how to fix it."""


EXIT_USER_ERROR = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
DEBUG_FLAG = "--debug"


# --------------------------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------------------------


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (a :class:`UserError` naming ``--help``) and ``--debug``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument(DEBUG_FLAG, action="store_true", help="show the Python traceback of an error")

    def error(self, message: str):  # argparse's hook: usage + message + exit(2)
        raise UserError(f"{message} ({self.prog} --help lists the options)")


def _number(text: str, kind: type, test: Callable[[float], bool], what: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if (kind is float and not math.isfinite(value)) or not test(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _number(text, int, lambda v: v >= 1, "an integer of at least 1")


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _number(text, int, lambda v: v >= 0, "an integer of at least 0")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    return _number(text, float, lambda v: v > 0, "a finite number above 0")


def nonnegative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    return _number(text, float, lambda v: v >= 0, "a finite number of at least 0")


def unit_float(text: str) -> float:
    """argparse type: a finite number in [0, 1)."""
    return _number(text, float, lambda v: 0 <= v < 1, "a number in [0, 1)")


# --------------------------------------------------------------------------------------------
# progress of a long step without steps of its own
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def ticking(desc: str, disable: bool = False) -> Iterator:
    """A progress line (tqdm, on stderr) that counts the seconds of one long step which reports no
    progress of its own (a g++ compile, a Verilator build), refreshed every second while it runs;
    the step's own progress can be shown through the yielded bar's ``set_postfix_str``."""
    from tqdm.auto import tqdm

    bar = tqdm(desc=desc, bar_format="{desc}: {elapsed}{postfix}", disable=disable, file=sys.stderr)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(1.0):
            bar.refresh()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield bar
    finally:
        stop.set()
        thread.join()
        bar.close()


# --------------------------------------------------------------------------------------------
# child processes
# --------------------------------------------------------------------------------------------


def _children_by_parent() -> dict[int, list[int]]:
    """ppid -> pids of every process (Linux /proc; empty elsewhere)."""
    table: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        table.setdefault(int(fields[1]), []).append(int(entry))
    return table


def descendants(pid: int | None = None) -> list[int]:
    """Process ids of every descendant of ``pid`` (default: this process), children first."""
    table = _children_by_parent()
    out: list[int] = []
    todo = [os.getpid() if pid is None else pid]
    while todo:
        for child in table.get(todo.pop(0), []):
            out.append(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def end_child_processes(grace: float = 3.0) -> None:
    """SIGTERM every descendant of this process (make, g++, the simulator, ...), then SIGKILL the
    ones still running after ``grace`` seconds.  Called when a command is interrupted, before the
    interruption unwinds: a direct child killed first would orphan its own children."""
    pids = descendants()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _interrupt(signum, frame) -> None:
    end_child_processes()
    raise KeyboardInterrupt


# --------------------------------------------------------------------------------------------
# running a command
# --------------------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> None:
    """Run a CLI entry point: a :class:`UserError` becomes one ``error:`` line and exit status 2;
    a tool failure or a bug one ``error:`` paragraph and status 1; Ctrl-C or SIGTERM ends the child
    processes and exits 130.  With ``--debug`` among the arguments errors show their traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args
    previous = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = main(args)
    except UserError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        end_child_processes()
        print("interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # a tool that failed, or a bug
        if debug:
            raise
        if isinstance(exc, (AssertionError, RuntimeError)) and "\n" in str(exc).strip():
            # a tool failure with its log (HlsSimError, RTLSimError): the log is the useful part
            print(f"error: {str(exc).strip()}", file=sys.stderr)
        else:
            print(f"error: {type(exc).__name__}: {_first_line(exc)} (unexpected: rerun with {DEBUG_FLAG} for the "
                  "traceback and report it)", file=sys.stderr)
        sys.exit(EXIT_FAILURE)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    sys.exit(code or 0)
