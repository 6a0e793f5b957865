"""Quick before/after check: ``python -m bench.compare SCENARIOS [--configs a,b] [--budget S]``.

Times the named scenarios (comma- or space-separated, see ``--list``) with the named
configurations, interleaved exactly as the full suite does (``bench/timing.py``; the bare
configuration is always included), and prints per scenario: median us per call, the paired
overhead over bare with its IQR, the ratio to bare, the spans per call, and for streams the
all-in and marginal cost per SSE event. Meant for optimisers who change the hot path and want
a figure in a minute rather than the full run's ten; ``--json FILE`` keeps the rounds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import report
from .configs import ALL_CONFIGS, Telemetry, make_configs
from .scenarios import SCENARIOS, Scenario
from .timing import Plan, add_plan_options, measure

__all__ = ["DEFAULT_CONFIGS", "main", "pick_scenarios"]

DEFAULT_CONFIGS = (
    "sdk_tracing",
    "naive",
    "naive_span",
    "ptc_full",
    "ptc_metrics",
    "ptc_nosinks",
)
"""The references, ptc_observe's main configuration, metrics only, and recording alone."""


def _split(values: Sequence[str]) -> list[str]:
    return [v for value in values for v in value.split(",") if v]


def pick_scenarios(names: Sequence[str]) -> list[Scenario]:
    """The scenarios named, in the order given.

    Args:
        names: scenario names; each item may be a comma list.

    Raises:
        ValueError: a name is not a scenario's.
    """
    by_name = {s.name: s for s in SCENARIOS}
    wanted = _split(names)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise ValueError(
            f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(by_name)}"
        )
    return [by_name[n] for n in wanted]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "scenarios", nargs="*", help="scenario names (comma or space separated)"
    )
    parser.add_argument(
        "--configs",
        default=",".join(DEFAULT_CONFIGS),
        help=f"comma list of configurations, bare always added (default: {','.join(DEFAULT_CONFIGS)})",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=10.0,
        help="seconds per scenario (default 10; at least --min-rounds rounds)",
    )
    parser.add_argument(
        "--min-rounds", type=int, default=10, help="at least this many rounds"
    )
    parser.add_argument(
        "--no-long",
        action="store_true",
        help="skip the long stream (no marginal per-event figure; halves a stream's time)",
    )
    add_plan_options(parser)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--list", action="store_true", help="list scenarios and configurations"
    )
    return parser


def _list() -> None:
    print("scenarios:")
    for s in SCENARIOS:
        extra = " (+ long stream: marginal per event)" if s.long_stream else ""
        print(f"  {s.name:22} {s.label}{extra}")
    print("configurations:")
    for cls in ALL_CONFIGS:
        print(f"  {cls.name:22} {cls.label}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison; returns 0, or 2 on a bad scenario or configuration name."""
    args = _parser().parse_args(argv)
    if args.list:
        _list()
        return 0
    try:
        scenarios = pick_scenarios(args.scenarios)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not scenarios:
        print("name at least one scenario (--list shows them)", file=sys.stderr)
        return 2
    names = _split([args.configs])
    known = {cls.name for cls in ALL_CONFIGS}
    if unknown := [n for n in names if n not in known]:
        print(
            f"unknown configuration(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            file=sys.stderr,
        )
        return 2
    telemetry = Telemetry()
    configs = make_configs(telemetry, names)
    labels = {c.name: c.label for c in configs}
    plan = Plan(
        budget_seconds=args.budget,
        min_rounds=args.min_rounds,
        max_rounds=max(60, args.min_rounds),
        gc=args.gc,
        clock=args.clock,
    )
    out: dict[str, Any] = {}
    for scenario in scenarios:
        res = measure(
            scenario,
            configs,
            telemetry,
            plan,
            long_stream=False if args.no_long else None,
        )
        out[scenario.name] = res.as_dict()
        calls = f"{res.calls_per_batch} calls"
        if res.long_calls_per_batch:
            calls += f", long stream {res.long_calls_per_batch}"
        print(
            f"## {scenario.name}: {scenario.label} ({res.rounds} rounds x {calls}, {res.seconds:.0f} s)\n"
        )
        print(report.scenario_table(out[scenario.name], labels) + "\n", flush=True)
    if args.json:
        payload = {"time": time.time(), "configs": names, "scenarios": out}
        args.json.write_text(json.dumps(payload, indent=1))
        print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
