"""Function calls per exchange, by package: a cost figure that machine load does not move.

``python -m bench.calls [SCENARIO] [CONFIG ...] [--top N] [--calls N]`` runs N calls of the
scenario (default ``sdk_create_sync``) under cProfile for each configuration and under the bare
client, and prints what each configuration adds per exchange: Python and C function calls in
all, split by the package they belong to (the observer itself: ptc_observe or the naive
transport; opentelemetry; prometheus_client; C builtins; the rest), and with ``--top N`` the N functions that add the most calls to the last configuration.

Time per call moves with the machine's load and phase (``bench.compare`` needs ratios within
one run); the number of calls an exchange makes does not, so two people can compare a change
on a busy machine. It is a proxy: a call to ``isinstance`` and one to ``start_span`` count the
same. Timing stays the judge (``python -m bench``, ``bench.compare``).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from collections.abc import Sequence
from typing import Any

from .profile import _runner
from .scenarios import SCENARIOS

__all__ = ["calls_per_exchange", "main"]

_PACKAGES = (
    ("observer", "ptc_observe/"),
    ("observer", "/bench/naive.py"),
    ("opentelemetry", "opentelemetry/"),
    ("prometheus", "prometheus_client/"),
)
"""Where a function's file says it belongs; ``observer`` is ptc_observe or the naive transport."""


def calls_per_exchange(
    scenario: str, config: str, calls: int
) -> dict[tuple[str, int, str], float]:
    """Calls per exchange of every function ``(file, line, name)`` under ``config``."""
    run, cfg = _runner(scenario, config)
    try:
        run(20)  # warm up: imports, caches, first-call paths
        prof = cProfile.Profile()
        prof.enable()
        run(calls)
        prof.disable()
    finally:
        cfg.deactivate()
    stats: dict[Any, Any] = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    return {key: row[1] / calls for key, row in stats.items()}


def _package(key: tuple[str, int, str]) -> str:
    for name, part in _PACKAGES:
        if part in key[0]:
            return name
    return "builtins" if key[0] == "~" else "other"


def main(argv: Sequence[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.calls", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "scenario",
        nargs="?",
        default="sdk_create_sync",
        choices=[s.name for s in SCENARIOS],
    )
    parser.add_argument(
        "configs", nargs="*", default=["naive", "naive_span", "sdk_tracing", "ptc_full"]
    )
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--top", type=int, default=0)
    args = parser.parse_args(argv)
    bare = calls_per_exchange(args.scenario, "bare", args.calls)
    groups = ("observer", "opentelemetry", "prometheus", "builtins", "other")
    print(f"## {args.scenario}: calls added per exchange over the bare client\n")
    print("| configuration | all | " + " | ".join(groups) + " |")
    print("|---|---:|" + "---:|" * len(groups))
    extra: dict[tuple[str, int, str], float] = {}
    for config in args.configs:
        seen = calls_per_exchange(args.scenario, config, args.calls)
        extra = {
            key: n - bare.get(key, 0.0)
            for key, n in seen.items()
            if n - bare.get(key, 0.0) > 0.01
        }
        by = dict.fromkeys(groups, 0.0)
        for key, n in extra.items():
            by[_package(key)] += n
        cells = " | ".join(f"{by[g]:.0f}" for g in groups)
        print(f"| {config} | {sum(extra.values()):.0f} | {cells} |")
    if args.top:
        print(
            f"\n## {args.configs[-1]}: the {args.top} functions that add the most calls\n"
        )
        for key, n in sorted(extra.items(), key=lambda kv: -kv[1])[: args.top]:
            where = key[0].split("site-packages/")[-1]
            print(f"{n:7.1f}  {where}:{key[1]}:{key[2]}")


if __name__ == "__main__":
    main()
