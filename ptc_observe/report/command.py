"""``ptc-observe report``: the spend and PTC-savings report from Prometheus or a ``/metrics`` text.

Exit status: 0 report printed; 1 the source is unreachable, refused a query, or the file is
bad (or the HTML file cannot be written); 2 bad options or range; 3 the source holds no
ptc_observe cost or run metrics.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from .errors import ReportError, SourceError, UsageError
from .model import build_report
from .text import render_text
from .timerange import TimeRange

PROG = "ptc-observe report"


def build_parser() -> argparse.ArgumentParser:
    """The command's options."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Print what Claude traffic observed by ptc_observe cost and what programmatic tool "
            "calling saved: spend by model and component, unpriced tokens, projected month, runs "
            "by mode, programmatic vs direct, estimated savings. Reads a Prometheus server "
            "(increases over a time range) or one saved /metrics text (totals since the process "
            "started)."
        ),
        epilog=(
            "Times: RFC 3339 (2026-01-31T12:00:00Z), Unix seconds, 'now', or a duration before "
            "now (24h). Durations: 90m, 24h, 7d, 1h30m. Exit status: 0 ok, 1 source unreachable "
            "or bad file, 2 bad options or range, 3 no ptc_observe cost or run metrics found."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--prometheus",
        metavar="URL",
        help="base URL of a Prometheus server that scrapes ptc_observe (http://host:9090)",
    )
    source.add_argument(
        "--metrics",
        metavar="FILE|URL",
        help="a saved /metrics text, '-' for standard input, or a /metrics URL: one snapshot",
    )
    parser.add_argument(
        "--since", metavar="TIME", help="start of the range (Prometheus only)"
    )
    parser.add_argument(
        "--until", metavar="TIME", help="end of the range (default: now)"
    )
    parser.add_argument(
        "--range",
        metavar="DURATION",
        dest="length",
        help="length of the range ending at --until (default 24h; Prometheus only)",
    )
    parser.add_argument(
        "--selector",
        metavar="MATCHERS",
        default="",
        help='PromQL label matchers every query is restricted to, e.g. \'job="api",env="prod"\' '
        "(Prometheus only)",
    )
    parser.add_argument(
        "--html",
        metavar="FILE",
        type=Path,
        help="also write the report as a self-contained HTML page with charts",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=30.0,
        help="HTTP timeout for Prometheus or a /metrics URL (default 30)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except ReportError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code


def _run(args: argparse.Namespace) -> int:
    now = datetime.now(timezone.utc)
    if args.timeout <= 0:
        raise UsageError(f"--timeout must be positive, not {args.timeout}")
    if args.metrics is not None:
        given = [f"--{n}" for n in ("since", "until") if getattr(args, n) is not None]
        given += ["--range"] if args.length is not None else []
        given += ["--selector"] if args.selector else []
        if given:
            raise UsageError(
                f"{', '.join(given)}: only with --prometheus (a /metrics snapshot is one set "
                "of totals since the process started: no time range, no selector)"
            )
        from .snapshot import load_snapshot

        collected = load_snapshot(args.metrics, now=now, timeout=args.timeout)
    else:
        from .prometheus import load_prometheus

        rng = TimeRange.parse(
            since=args.since, until=args.until, length=args.length, now=now
        )
        collected = load_prometheus(
            args.prometheus, rng, matchers=args.selector, timeout=args.timeout
        )
    report = build_report(collected)
    if args.html is not None:
        from .html import render_html

        try:
            args.html.write_text(render_html(report), encoding="utf-8")
        except OSError as e:
            raise SourceError(f"cannot write {args.html}: {e.strerror or e}") from None
    sys.stdout.write(render_text(report))
    if args.html is not None:
        print(f"\nHTML report written to {args.html}")
    return 0
