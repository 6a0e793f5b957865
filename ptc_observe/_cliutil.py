"""What every ``ptc-observe`` command shares: port arguments, Ctrl-C and closed pipes.

A command-line tool is judged on its edges as much as on its work: an impossible port is a
usage error (not an ``OverflowError``), Ctrl-C ends the command with a line and exit code 130
(not a ``KeyboardInterrupt`` traceback), and ``ptc-observe demo | head`` ends quietly when
``head`` has read enough (not with a ``BrokenPipeError`` traceback).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence

EXIT_USAGE = 2
"""Bad command line (argparse's code too)."""
EXIT_SIGPIPE = 128 + int(getattr(signal, "SIGPIPE", 13))
"""The reader of our output went away (what a shell reports for a process killed by SIGPIPE)."""
EXIT_SIGINT = 128 + int(signal.SIGINT)
"""Interrupted by Ctrl-C (130, the shell's convention)."""


def port(text: str) -> int:
    """An ``argparse`` type for a TCP port: 0 (pick a free one) to 65535.

    Raises:
        argparse.ArgumentTypeError: not an integer in range; the message says what is.
    """
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port number (0-65535; 0 picks a free one)"
        ) from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"{value} is out of range: a port is 0-65535 (0 picks a free one)"
        )
    return value


def bind_error(what: str, host: str, port_number: int, exc: OSError) -> str:
    """The message for a port that cannot be bound; suggests ``--port 0`` for a busy one."""
    text = f"cannot serve {what} on {host}:{port_number}: {exc.strerror or exc}"
    if port_number and isinstance(exc, OSError) and _in_use(exc):
        text += f" (another process uses port {port_number}; --port 0 picks a free one)"
    return text


def _in_use(exc: OSError) -> bool:
    import errno

    return exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1))


def silence_stdout() -> None:
    """Point stdout at ``/dev/null`` after its reader went away.

    Python flushes stdout once more at exit; with the pipe closed that flush would print
    ``Exception ignored ... BrokenPipeError``. Writing into ``/dev/null`` instead is quiet.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (captured in tests)
        pass


def guarded(
    prog: str, main: Callable[[Sequence[str]], int], argv: Sequence[str]
) -> int:
    """Run ``main(argv)`` and turn Ctrl-C and a closed stdout into exit codes and one line.

    Returns:
        ``main``'s code; 130 after Ctrl-C; 141 when stdout's reader went away.
    """
    try:
        return main(argv)
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return EXIT_SIGINT
    except BrokenPipeError:
        silence_stdout()
        return EXIT_SIGPIPE
