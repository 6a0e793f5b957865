"""Interleaved timing: configurations round-robin, many short rounds, medians of per-round means.

This machine has slow phases (up to 2x, lasting seconds). Timing configuration A for a minute and
then B would compare phases, not observers. So every round runs one short batch of each
configuration back to back, in an order that rotates from round to round; a configuration's
figure is the median over rounds of its per-call mean, and its overhead is the median over rounds
of (its mean - the bare mean of the same round), which cancels phases that last longer than a
round. Times are process CPU time (``time.process_time``): the mock transport is in-process, so
this is the client's CPU, which is what an observer adds.

A scenario with a long stream (``Scenario.long_stream``) is timed on two workloads in the same
rounds: the ~200-event stream and the ~2,000-event one, each configuration's two batches
interleaved with everyone else's. The marginal cost of one more SSE event is then computed per
round from the paired differences, ``(overhead_long - overhead_short) / (events_long -
events_short)``: the fixed per-exchange cost appears in both and cancels, as does a slow phase
that lasts longer than a round (:func:`marginal_per_event`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import workloads
from .configs import Config, Telemetry
from .scenarios import Scenario

__all__ = [
    "ConfigResult",
    "Plan",
    "add_plan_options",
    "ScenarioResult",
    "marginal_per_event",
    "measure",
    "median_iqr",
]


def median_iqr(values: list[float]) -> tuple[float, float, float]:
    """Median, 25th and 75th percentiles of ``values`` (the quartiles collapse below 4 values).

    Raises:
        statistics.StatisticsError: ``values`` is empty.
    """
    mid = statistics.median(values)
    if len(values) < 4:
        return (mid, mid, mid)
    q = statistics.quantiles(values, n=4)
    return (mid, q[0], q[2])


def marginal_per_event(
    short_diffs: list[float],
    long_diffs: list[float],
    short_events: int,
    long_events: int,
) -> list[float]:
    """Per round: the cost of one more SSE event, from the paired overheads of two stream lengths.

    Args:
        short_diffs: per-round overhead (mean - bare mean of the same round) on the short stream.
        long_diffs: the same rounds' overhead on the long stream.
        short_events: SSE events in one short response.
        long_events: SSE events in one long response (more than ``short_events``).

    Returns:
        ``(long_diffs[r] - short_diffs[r]) / (long_events - short_events)`` for every round ``r``,
        in the unit of the diffs (seconds here).

    Raises:
        ValueError: the lists differ in length or ``long_events <= short_events``.
    """
    if len(short_diffs) != len(long_diffs):
        raise ValueError(
            f"{len(short_diffs)} short rounds but {len(long_diffs)} long rounds"
        )
    extra = long_events - short_events
    if extra <= 0:
        raise ValueError(
            f"long stream ({long_events}) not longer than short ({short_events})"
        )
    return [(lo - sh) / extra for sh, lo in zip(short_diffs, long_diffs, strict=True)]


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
        gc: ``"user"`` (default): the garbage collector as an application has it, so each
            configuration pays for the collections its own allocations cause; only the young
            generations are collected between rounds. ``"frozen"``: everything alive before
            the rounds is frozen out of the collector's reach and a full collection runs
            between rounds (less noise, but allocation-heavy code looks cheaper than a user
            sees it).
        clock: ``"cpu"`` (default): process CPU time; ``"wall"``: wall-clock time, as a
            latency benchmark reads it (counts the moments the process waits for a CPU).
    """

    batch_seconds: float = 0.03
    budget_seconds: float = 20.0
    min_rounds: int = 10
    max_rounds: int = 60
    min_calls: int = 2
    warmup: int = 30
    warmup_seconds: float = 0.2
    gc: str = "user"
    clock: str = "cpu"


@dataclass
class ConfigResult:
    """Per-round means of one configuration in one scenario (seconds per call).

    ``long_*`` hold the same for the long stream when the scenario times one (else empty), and
    ``events`` / ``long_events`` the SSE events of one response of each (0 for JSON).
    """

    name: str
    means: list[float] = field(default_factory=list)
    diffs: list[float] = field(default_factory=list)
    """Per-round ``mean - bare mean``."""
    spans_per_call: float = 0.0
    long_means: list[float] = field(default_factory=list)
    long_diffs: list[float] = field(default_factory=list)
    events: int = 0
    long_events: int = 0

    @property
    def marginals(self) -> list[float]:
        """Per-round marginal cost of one SSE event (seconds); empty without a long stream."""
        if not self.long_diffs or not self.long_events:
            return []
        return marginal_per_event(
            self.diffs, self.long_diffs, self.events, self.long_events
        )

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
        """JSON-friendly form, in microseconds.

        With a long stream it adds ``long_median_us``, ``long_overhead_us`` (and IQR),
        ``long_rounds_us`` and, except for the bare configuration, ``marginal_us_per_event``
        with its IQR over rounds (``marginal_iqr_us_per_event``).
        """
        lo, hi = self.overhead_iqr
        out: dict[str, Any] = {
            "median_us": self.median * 1e6,
            "overhead_us": self.overhead * 1e6,
            "overhead_iqr_us": [lo * 1e6, hi * 1e6],
            "spans_per_call": self.spans_per_call,
            "rounds_us": [m * 1e6 for m in self.means],
        }
        if self.long_means:
            out["long_median_us"] = statistics.median(self.long_means) * 1e6
            out["long_rounds_us"] = [m * 1e6 for m in self.long_means]
            if self.long_diffs:
                mid, lo, hi = median_iqr(self.long_diffs)
                out["long_overhead_us"] = mid * 1e6
                out["long_overhead_iqr_us"] = [lo * 1e6, hi * 1e6]
            marginals = self.marginals
            if marginals:
                mid, lo, hi = median_iqr(marginals)
                out["marginal_us_per_event"] = mid * 1e6
                out["marginal_iqr_us_per_event"] = [lo * 1e6, hi * 1e6]
        return out


@dataclass
class ScenarioResult:
    """All configurations of one scenario."""

    scenario: Scenario
    calls_per_batch: int
    rounds: int
    results: dict[str, ConfigResult]
    skipped: dict[str, str]
    seconds: float
    long_calls_per_batch: int = 0
    """Calls per batch on the long stream (0 when it was not timed)."""

    @property
    def long_events(self) -> int:
        """SSE events of the long stream when it was timed, else 0."""
        return self.scenario.long_events if self.long_calls_per_batch else 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (what ``bench/results/*.json`` holds per scenario)."""
        out: dict[str, Any] = {
            "label": self.scenario.label,
            "events": self.scenario.events,
            "calls_per_batch": self.calls_per_batch,
            "rounds": self.rounds,
            "seconds": self.seconds,
            "configs": {name: r.as_dict() for name, r in self.results.items()},
            "skipped": self.skipped,
        }
        if self.long_calls_per_batch:
            out["long_events"] = self.long_events
            out["long_calls_per_batch"] = self.long_calls_per_batch
        return out


# CPU time of the whole process (every thread, so an observer cannot hide work in a background
# thread): the "client CPU only". Unlike wall time it does not count the moments this
# process waits for a CPU, which on a 2-core machine are the largest source of outliers.
def add_plan_options(parser: argparse.ArgumentParser) -> None:
    """``--gc`` and ``--clock``: the :class:`Plan` modes, shared by ``bench`` and ``bench.compare``."""
    parser.add_argument(
        "--gc",
        choices=["user", "frozen"],
        default="user",
        help="garbage collector during the rounds: as an application has it (default), "
        "or frozen with full collections between rounds (less noise; see bench/timing.py)",
    )
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="time batches in process CPU time (default) or wall-clock time",
    )


CLOCKS: dict[str, Callable[[], float]] = {
    "cpu": time.process_time,
    "wall": time.perf_counter,
}


def _sync_batch(op: Callable[[], object], n: int, clock: Callable[[], float]) -> float:
    start = clock()
    for _ in range(n):
        op()
    return clock() - start


async def _async_batch(
    op: Callable[[], Awaitable[object]], n: int, clock: Callable[[], float]
) -> float:
    start = clock()
    for _ in range(n):
        await op()
    return clock() - start


def measure(
    scenario: Scenario,
    configs: list[Config],
    telemetry: Telemetry,
    plan: Plan,
    *,
    long_stream: bool | None = None,
) -> ScenarioResult:
    """Time ``scenario`` under every applicable configuration, interleaved.

    Args:
        scenario: what one call does.
        configs: the bare configuration first, then the others.
        telemetry: the shared providers (its exporter counts spans for the sanity column).
        plan: how long to run (rounds, batch length, time budget).
        long_stream: time the long stream too, in the same rounds (default: when the scenario
            has one, ``scenario.long_stream``).
    """
    with_long = scenario.long_stream if long_stream is None else long_stream
    if with_long and not scenario.streamed:
        raise ValueError(f"{scenario.name} is not a streamed scenario")
    if scenario.is_async:
        return asyncio.run(
            _measure_async(scenario, configs, telemetry, plan, with_long)
        )
    return _measure(scenario, configs, telemetry, plan, None, with_long)


async def _measure_async(
    scenario: Scenario,
    configs: list[Config],
    telemetry: Telemetry,
    plan: Plan,
    with_long: bool,
) -> ScenarioResult:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        None, _measure, scenario, configs, telemetry, plan, loop, with_long
    )


def _long_chunks() -> tuple[bytes, ...]:
    return workloads.LONG_SSE_CHUNKS


def _measure(
    scenario: Scenario,
    configs: list[Config],
    telemetry: Telemetry,
    plan: Plan,
    loop: asyncio.AbstractEventLoop | None,
    with_long: bool,
) -> ScenarioResult:
    """The round-robin loop. For async scenarios each batch runs on ``loop`` from a worker thread.

    The loop thread does nothing else meanwhile, so a batch is timed on the loop itself (inside
    the coroutine) and the thread hop stays outside the timed region. With ``with_long`` every
    configuration has a second operation (its own client, serving the long stream) and each
    round times both lengths of every configuration.
    """
    started = time.perf_counter()
    clock = CLOCKS[plan.clock]
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
                return _sync_batch(op, n, clock)
            return asyncio.run_coroutine_threadsafe(
                _async_batch(op, n, clock), loop
            ).result()
        finally:
            config.deactivate()

    def build(config: Config, long: bool) -> Any:
        chunks = _long_chunks if long else None
        config.activate()
        try:
            if loop is not None:
                return scenario.build_async(config, stream_chunks=chunks)
            return scenario.build_sync(config, stream_chunks=chunks)
        finally:
            config.deactivate()

    lengths = (False, True) if with_long else (False,)
    # One lane per (configuration, stream length): its own client and operation.
    ops: dict[tuple[str, bool], Any] = {}
    results: dict[str, ConfigResult] = {}
    for config in active:
        before = telemetry.exporter.spans
        calls = 0
        for long in lengths:
            op = ops[config.name, long] = build(config, long)
            first = run_batch(config, op, 1)
            warmup = max(
                2, min(plan.warmup, int(plan.warmup_seconds / max(first, 1e-6)))
            )
            run_batch(config, op, warmup)
            calls += warmup + 1
        results[config.name] = ConfigResult(
            config.name,
            spans_per_call=(telemetry.exporter.spans - before) / calls,
            events=scenario.events,
            long_events=scenario.long_events if with_long else 0,
        )

    # Calls per batch from the bare configuration's speed, so that a round stays short. The
    # long stream takes ~10x longer a call, so its batches may be a single call.
    bare = active[0]
    calls_per_batch: dict[bool, int] = {}
    for long in lengths:
        k = 2 if long else 5
        probe = max(run_batch(bare, ops[bare.name, long], k) / k, 1e-6)
        low = 1 if long else plan.min_calls
        calls_per_batch[long] = max(low, min(2000, round(plan.batch_seconds / probe)))

    lanes = [(config, long) for config in active for long in lengths]
    # "frozen": everything alive now (the SDK's thousands of types, every client) is moved
    # out of the collector's reach, and a full collection then scans only what the rounds
    # allocate (~1 ms instead of ~250 ms with the anthropic package loaded).
    frozen = plan.gc == "frozen"
    gc.collect()
    if frozen:
        gc.freeze()
    rounds = 0
    # Rounds until the wall-clock budget is spent, within [min_rounds, max_rounds]: a slow
    # phase of the machine stretches wall time, not the process CPU time the batches measure.
    while rounds < plan.max_rounds and (
        rounds < plan.min_rounds or time.perf_counter() - started < plan.budget_seconds
    ):
        shift = rounds % len(lanes)
        round_means: dict[tuple[str, bool], float] = {}
        # A collection between rounds (not between batches), so that no batch pays much for
        # the garbage of another; with the user's collector, only the young generations.
        if frozen:
            gc.collect()
        else:
            gc.collect(1)
        for config, long in lanes[shift:] + lanes[:shift]:
            n = calls_per_batch[long]
            round_means[config.name, long] = (
                run_batch(config, ops[config.name, long], n) / n
            )
        for (name, long), mean in round_means.items():
            res = results[name]
            base = round_means[bare.name, long]
            (res.long_means if long else res.means).append(mean)
            if name != bare.name:
                (res.long_diffs if long else res.diffs).append(mean - base)
        rounds += 1
    if frozen:
        gc.unfreeze()
    return ScenarioResult(
        scenario,
        calls_per_batch[False],
        rounds,
        results,
        skipped,
        time.perf_counter() - started,
        long_calls_per_batch=calls_per_batch.get(True, 0),
    )
