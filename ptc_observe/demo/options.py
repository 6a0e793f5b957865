"""The options of ``ptc-observe demo`` and their checks."""

from __future__ import annotations

import argparse

from .._cliutil import port

SEED_HELP = (
    "seed of the task plan and of the local emulator (default: 7). Two runs with the same"
    " --seed, --rate and --duration start the same tasks (scenario, caller, client, stream"
    " shape, fault, arrival time, reused container) and, where timing does not decide, count"
    " the same tasks, exchanges and tool calls. A seed cannot fix timing: latencies, which"
    " concurrent task ends first, whether a reused container expired first (--container-ttl),"
    " prompt-cache reads vs writes of tasks running at once, and what an --emulator-url"
    " emulator decides with its own seed"
)


def build_parser() -> argparse.ArgumentParser:
    """The demo's options."""
    parser = argparse.ArgumentParser(
        prog="ptc-observe demo",
        description="Run an emulated PTC workload through the official SDK and show what ptc_observe sees.",
        epilog=(
            "Exit codes: 0 done; 1 a task failed without an injected fault, or the emulator"
            " could not be reached; 2 bad options or a /metrics port that cannot be served;"
            " 130 interrupted by Ctrl-C (143 by SIGTERM; 0 with --forever, whose normal end"
            " that is); 141 when the reader of the output went away (ptc-observe demo | head)."
        ),
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="how long to start new tasks (default: 15)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=4.0,
        metavar="TASKS_PER_SECOND",
        help="tasks started per second (default: 4)",
    )
    parser.add_argument("--seed", type=int, default=7, help=SEED_HELP)
    parser.add_argument(
        "--port",
        type=port,
        default=9464,
        help="port of the /metrics endpoint while the demo runs; 0 picks a free one (default: 9464)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface for /metrics (default: 127.0.0.1; 0.0.0.0 in containers)",
    )
    parser.add_argument(
        "--forever",
        action="store_true",
        help="run until interrupted (for the compose stack); Ctrl-C or SIGTERM then exits 0",
    )
    parser.add_argument(
        "--emulator-url",
        metavar="URL",
        help=(
            "use a running emulator (ptc-observe emulator) instead of starting one; the"
            " ground-truth line then reads its ledger (GET /_emulator/stats) before and after"
        ),
    )
    parser.add_argument(
        "--container-ttl",
        type=float,
        default=6.0,
        metavar="SECONDS",
        help="idle lifetime of the local emulator's containers, short so that expiries show (default: 6)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=16,
        help="tasks in flight at most (default: 16)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def problem(args: argparse.Namespace) -> str | None:
    """What is wrong with otherwise parsed options, or ``None``."""
    if args.rate <= 0 or args.duration < 0 or args.concurrency < 1:
        return "--rate and --concurrency must be positive, --duration >= 0"
    if args.container_ttl <= 0:
        return "--container-ttl must be positive"
    if args.emulator_url is not None and not args.emulator_url.startswith(
        ("http://", "https://")
    ):
        return f"--emulator-url must be an http:// or https:// URL, not {args.emulator_url!r}"
    return None
