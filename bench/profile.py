"""Profile one scenario under one configuration: where does the observer's time go?

``python -m bench.profile SCENARIO CONFIG [--calls N] [--pyinstrument]`` runs N calls under
cProfile and prints the functions of ``ptc_observe`` (and what they call) by own time and by
cumulative time; with ``--pyinstrument`` it also writes a pyinstrument call tree (text and HTML)
to ``bench/results/``. Compare with the same scenario under ``bare`` to see the SDK's own share.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import io
import pstats
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .configs import Telemetry, make_configs
from .scenarios import SCENARIOS

__all__ = ["main", "profile_calls"]

RESULTS = Path(__file__).resolve().parent / "results"


def _runner(scenario_name: str, config_name: str) -> tuple[Any, Any]:
    scenario = next(s for s in SCENARIOS if s.name == scenario_name)
    config = next(
        c for c in make_configs(Telemetry(), [config_name]) if c.name == config_name
    )
    if config.unavailable:
        raise SystemExit(f"{config_name}: {config.unavailable}")
    config.activate()
    if scenario.is_async:
        aop = scenario.build_async(config)

        def run(n: int) -> None:
            async def go() -> None:
                for _ in range(n):
                    await aop()

            asyncio.run(go())

        return run, config
    op = scenario.build_sync(config)

    def run_sync(n: int) -> None:
        for _ in range(n):
            op()

    return run_sync, config


def profile_calls(
    scenario_name: str, config_name: str, calls: int, *, restrict: str = "ptc_observe"
) -> str:
    """cProfile ``calls`` exchanges; returns the report text (own time, then cumulative)."""
    run, config = _runner(scenario_name, config_name)
    run(20)  # warm up: imports, caches, first-call paths
    prof = cProfile.Profile()
    prof.enable()
    run(calls)
    prof.disable()
    config.deactivate()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.strip_dirs() if not restrict else None
    out.write(
        f"=== {scenario_name} / {config_name}: {calls} calls, by own time (tottime) ===\n"
    )
    stats.sort_stats("tottime").print_stats(25)
    out.write(f"=== restricted to {restrict!r}, by cumulative time ===\n")
    stats.sort_stats("cumulative").print_stats(restrict, 40)
    return out.getvalue()


def pyinstrument_tree(scenario_name: str, config_name: str, calls: int) -> Path:
    """A pyinstrument profile of ``calls`` exchanges, written as text and HTML; returns the text path."""
    pyinstrument = importlib.import_module("pyinstrument")
    run, config = _runner(scenario_name, config_name)
    run(20)
    profiler = pyinstrument.Profiler(interval=0.0001)
    profiler.start()
    run(calls)
    profiler.stop()
    config.deactivate()
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"profile-{scenario_name}-{config_name}"
    text: str = profiler.output_text(unicode=True, color=False, show_all=False)
    stem.with_suffix(".txt").write_text(text)
    stem.with_suffix(".html").write_text(profiler.output_html())
    return stem.with_suffix(".txt")


def main(argv: Sequence[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile", description=__doc__.splitlines()[0]
    )
    parser.add_argument("scenario", choices=[s.name for s in SCENARIOS])
    parser.add_argument("config")
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument(
        "--restrict", default="ptc_observe", help="regex for the cumulative listing"
    )
    parser.add_argument(
        "--pyinstrument",
        action="store_true",
        help="also write a pyinstrument call tree",
    )
    args = parser.parse_args(argv)
    print(profile_calls(args.scenario, args.config, args.calls, restrict=args.restrict))
    if args.pyinstrument:
        print(
            f"pyinstrument tree: {pyinstrument_tree(args.scenario, args.config, args.calls)}"
        )


if __name__ == "__main__":
    main()
