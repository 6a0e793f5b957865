"""The ``ptc-observe`` command: ``demo``, ``emulator`` and ``report``.

Each subcommand lives in its own module and is imported only when it runs, so
``ptc-observe --help`` stays fast and needs no optional dependency.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ._cliutil import EXIT_USAGE, guarded
from ._version import __version__

# subcommand -> (module, one-line help). Each module has ``main(argv) -> int``.
_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "ptc_observe.demo",
        "run an emulated PTC workload through the official SDK and show what ptc_observe sees",
    ),
    "emulator": (
        "ptc_observe.emulator.server",
        "serve the local Messages API emulator over HTTP on loopback",
    ),
    "report": (
        "ptc_observe.report.command",
        "print the spend and PTC-savings report from Prometheus or a saved /metrics text",
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ptc-observe``; returns the process exit code.

    Ctrl-C at any moment ends it with one line and exit code 130, and a reader that stops
    reading (``ptc-observe demo | head``) with 141, never with a traceback.
    """
    return guarded("ptc-observe", _main, list(sys.argv[1:] if argv is None else argv))


def _main(args: Sequence[str]) -> int:
    args = list(args)
    parser = argparse.ArgumentParser(
        prog="ptc-observe",
        description="Observability for Claude's Programmatic Tool Calling.",
        epilog="Run 'ptc-observe COMMAND --help' for a command's options.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    parser.add_argument(
        "command",
        choices=sorted(_COMMANDS),
        help="; ".join(
            f"{name}: {text}" for name, (_, text) in sorted(_COMMANDS.items())
        ),
    )
    if not args or args[0] in ("-h", "--help", "--version"):
        parser.parse_args(
            args[:1]
        )  # prints help/version (or the usage error), and exits
        return EXIT_USAGE
    first = args[0]
    if first.startswith("-"):
        # Name the option rather than argparse's "the following arguments are required".
        parser.print_usage(sys.stderr)
        print(
            f"ptc-observe: error: unknown option {first.split('=', 1)[0]}"
            " (a command's options go after the command,"
            " e.g. ptc-observe demo --help)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    command, rest = first, args[1:]
    if command not in _COMMANDS:
        parser.parse_args(args[:1])  # "invalid choice: ... (choose from ...)", exits 2
        return EXIT_USAGE

    def run(argv: Sequence[str]) -> int:
        module = importlib.import_module(_COMMANDS[command][0])
        return int(module.main(argv))

    return guarded(f"ptc-observe {command}", run, rest)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
