"""Interleaved timing: configurations round-robin, many short rounds, medians of per-round means.

This machine has slow phases (up to 2x, lasting seconds). Timing configuration A for a minute and
then B would compare phases, not observers. So every round runs one short batch of each
configuration back to back, in an order that rotates from round to round; a configuration's
figure is the median over rounds of its per-call mean, and its overhead is the median over rounds
of (its mean - the bare mean of the same round), which cancels phases that last longer than a
round. Times are process CPU time (``time.process_time``): the mock transport is in-process, so
this is the client's CPU, which is what an observer adds.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .configs import Config, Telemetry
from .scenarios import Scenario

__all__ = ["ConfigResult", "Plan", "ScenarioResult", "measure"]


@dataclass(frozen=True)
class Plan:
    """How long to time one scenario.

    Attributes:
        batch_seconds: target length of one batch (calls per batch from the bare speed).
        budget_seconds: target length of the whole scenario; sets the number of rounds.
        min_rounds: at least this many rounds, whatever the budget.
        max_rounds: at most this many.
        min_calls: at least this many calls per batch.
        warmup: at most this many untimed calls per configuration before the first round.
        warmup_seconds: and about this long.
    """

    batch_seconds: float = 0.03
    budget_seconds: float = 20.0
    min_rounds: int = 10
    max_rounds: int = 60
    min_calls: int = 2
    warmup: int = 30
    warmup_seconds: float = 0.2


@dataclass
class ConfigResult:
    """Per-round means of one configuration in one scenario (seconds per call)."""

    name: str
    means: list[float] = field(default_factory=list)
    diffs: list[float] = field(default_factory=list)
    """Per-round ``mean - bare mean``."""
    spans_per_call: float = 0.0

    @property
    def median(self) -> float:
        """Median over rounds of the per-call mean."""
        return statistics.median(self.means)

    @property
    def overhead(self) -> float:
        """Median over rounds of the paired difference against the bare configuration."""
        return statistics.median(self.diffs) if self.diffs else 0.0

    @property
    def overhead_iqr(self) -> tuple[float, float]:
        """25th and 75th percentiles of the paired differences (the spread of the overhead)."""
        if len(self.diffs) < 4:
            return (self.overhead, self.overhead)
        q = statistics.quantiles(self.diffs, n=4)
        return (q[0], q[2])

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form, in microseconds."""
        lo, hi = self.overhead_iqr
        return {
            "median_us": self.median * 1e6,
            "overhead_us": self.overhead * 1e6,
            "overhead_iqr_us": [lo * 1e6, hi * 1e6],
            "spans_per_call": self.spans_per_call,
            "rounds_us": [m * 1e6 for m in self.means],
        }


@dataclass
class ScenarioResult:
    """All configurations of one scenario."""

    scenario: Scenario
    calls_per_batch: int
    rounds: int
    results: dict[str, ConfigResult]
    skipped: dict[str, str]
    seconds: float


# CPU time of the whole process (every thread, so an observer cannot hide work in a background
# thread): the "client CPU only". Unlike wall time it does not count the moments this
# process waits for a CPU, which on a 2-core machine are the largest source of outliers.
_clock = time.process_time


def _sync_batch(op: Callable[[], object], n: int) -> float:
    start = _clock()
    for _ in range(n):
        op()
    return _clock() - start


async def _async_batch(op: Callable[[], Awaitable[object]], n: int) -> float:
    start = _clock()
    for _ in range(n):
        await op()
    return _clock() - start


def measure(
    scenario: Scenario,
    configs: list[Config],
    telemetry: Telemetry,
    plan: Plan,
) -> ScenarioResult:
    """Time ``scenario`` under every applicable configuration, interleaved.

    Args:
        scenario: what one call does.
        configs: the bare configuration first, then the others.
        telemetry: the shared providers (its exporter counts spans for the sanity column).
        plan: how long to run (rounds, batch length, time budget).
    """
    if scenario.is_async:
        return asyncio.run(_measure_async(scenario, configs, telemetry, plan))
    return _measure(scenario, configs, telemetry, plan, None)


async def _measure_async(
    scenario: Scenario,
    configs: list[Config],
    telemetry: Telemetry,
    plan: Plan,
) -> ScenarioResult:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        None, _measure, scenario, configs, telemetry, plan, loop
    )


def _measure(
    scenario: Scenario,
    configs: list[Config],
    telemetry: Telemetry,
    plan: Plan,
    loop: asyncio.AbstractEventLoop | None,
) -> ScenarioResult:
    """The round-robin loop. For async scenarios each batch runs on ``loop`` from a worker thread.

    The loop thread does nothing else meanwhile, so a batch is timed on the loop itself (inside
    the coroutine) and the thread hop stays outside the timed region.
    """
    started = time.perf_counter()
    skipped = {c.name: c.unavailable for c in configs if c.unavailable}
    skipped.update(
        {
            c.name: "SDK-level observer"
            for c in configs
            if not c.unavailable and not scenario.applies(c)
        }
    )
    active = [c for c in configs if c.name not in skipped]

    def run_batch(config: Config, op: Any, n: int) -> float:
        config.activate()
        try:
            if loop is None:
                return _sync_batch(op, n)
            return asyncio.run_coroutine_threadsafe(_async_batch(op, n), loop).result()
        finally:
            config.deactivate()

    ops: dict[str, Any] = {}
    results: dict[str, ConfigResult] = {}
    for config in active:
        config.activate()
        try:
            ops[config.name] = (
                scenario.build_async(config) if loop else scenario.build_sync(config)
            )
        finally:
            config.deactivate()
        before = telemetry.exporter.spans
        first = run_batch(config, ops[config.name], 1)
        warmup = max(2, min(plan.warmup, int(plan.warmup_seconds / max(first, 1e-6))))
        run_batch(config, ops[config.name], warmup)
        spans = (telemetry.exporter.spans - before) / (warmup + 1)
        results[config.name] = ConfigResult(config.name, spans_per_call=spans)

    # Calls per batch from the bare configuration's speed, so that a round stays short.
    bare = active[0]
    probe = max(run_batch(bare, ops[bare.name], 5) / 5, 1e-6)
    n = max(plan.min_calls, min(2000, round(plan.batch_seconds / probe)))

    # Everything alive now (the SDK's thousands of types, every client) is moved out of the
    # collector's reach: a full collection then scans only what the rounds allocate (~1 ms
    # instead of ~250 ms with the anthropic package loaded).
    gc.collect()
    gc.freeze()
    rounds = 0
    # Rounds until the wall-clock budget is spent, within [min_rounds, max_rounds]: a slow
    # phase of the machine stretches wall time, not the process CPU time the batches measure.
    while rounds < plan.max_rounds and (
        rounds < plan.min_rounds or time.perf_counter() - started < plan.budget_seconds
    ):
        shift = rounds % len(active)
        order = active[shift:] + active[:shift]
        round_means: dict[str, float] = {}
        # A collection between rounds (not between batches), so that no batch pays much for
        # the garbage of another.
        gc.collect()
        for config in order:
            round_means[config.name] = run_batch(config, ops[config.name], n) / n
        base = round_means[bare.name]
        for name, mean in round_means.items():
            results[name].means.append(mean)
            if name != bare.name:
                results[name].diffs.append(mean - base)
        rounds += 1
    gc.unfreeze()
    return ScenarioResult(
        scenario, n, rounds, results, skipped, time.perf_counter() - started
    )
