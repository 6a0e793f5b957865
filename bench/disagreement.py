"""Why two benchmarks of ptc_observe disagreed: ``python -m bench.disagreement``.

Issue 16 reported that an independent wall-clock benchmark (the SDK with default options,
``Observer(registry=..., tracer_provider=...)``, an in-memory span exporter, a 4 KB JSON reply)
put ptc_observe at 2.5x the floor while ``bench.compare`` put it at 1.9x. This runs the same
scenario (``sdk_create_sync``: bare, the floor ``naive_span``, ``ptc_full``) under each
difference between the two, one at a time, and prints ptc_full's overhead as a ratio to the
floor's in each. Every setup times its own interleaved rounds, so the ratios compare within a
setup; the setups run one after another in the same process.

* ``bench (old)``: the collector frozen, CPU time, spans dropped by the exporter;
* ``+ user gc``: the collector as an application has it (the bench's default now);
* ``+ retained spans``: an exporter that keeps every span, as an in-memory exporter does;
* ``+ wall clock``: wall time instead of process CPU time.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from .configs import CountingExporter, Telemetry, make_configs
from .scenarios import SCENARIOS
from .timing import Plan, measure

__all__ = ["RetainingExporter", "SETUPS", "main"]


class RetainingExporter(CountingExporter):
    """Counts and keeps every span, as ``InMemorySpanExporter`` does."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Count and keep ``spans``."""
        self.kept.extend(spans)
        return super().export(spans)


SETUPS: tuple[tuple[str, str, bool, str], ...] = (
    # (label, gc, retain spans, clock)
    ("bench (old): frozen gc, CPU, spans dropped", "frozen", False, "cpu"),
    ("+ user gc", "user", False, "cpu"),
    ("+ retained spans", "user", True, "cpu"),
    ("+ wall clock", "user", True, "wall"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every setup and print one row per setup."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.disagreement", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--budget", type=float, default=15.0, help="seconds per setup")
    parser.add_argument("--scenario", default="sdk_create_sync")
    args = parser.parse_args(argv)
    (scenario,) = [s for s in SCENARIOS if s.name == args.scenario]
    print("| setup | floor us | ptc_full us | ptc_full / floor |")
    print("|---|---|---|---|")
    for label, gc_mode, retain, clock in SETUPS:
        telemetry = Telemetry(
            exporter=RetainingExporter() if retain else CountingExporter()
        )
        configs = make_configs(telemetry, ["naive_span", "ptc_full"])
        plan = Plan(budget_seconds=args.budget, gc=gc_mode, clock=clock)
        res = measure(scenario, configs, telemetry, plan)
        floor = res.results["naive_span"].overhead * 1e6
        ptc = res.results["ptc_full"].overhead * 1e6
        ratio = ptc / floor if floor > 0 else float("nan")
        print(f"| {label} | {floor:,.0f} | {ptc:,.0f} | {ratio:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
