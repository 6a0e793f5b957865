"""The Prometheus families of spend and runs (issue 14), and their bound children.

Spend (``ptc_cost_usd_total``) is recorded under the same bounded model label as
``ptc_tokens_total``, from the same reply, so the two always agree. Runs are labelled by
mode only (three values). Every child cache is keyed by bounded label values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from ...events import COST_COMPONENTS, ExchangeCost, RunFacts, TokenUsage
from . import _semconv as sc

if TYPE_CHECKING:
    from ...pricing import PriceBook
    from ._prometheus_cells import LocalMetrics
    from ._prometheus_standard import StandardMetrics

__all__ = [
    "DESTINATIONS",
    "L_COMPONENT",
    "L_DESTINATION",
    "L_MODE",
    "MODES",
    "P_COST",
    "P_PRICE_DATA_INFO",
    "P_RUNS",
    "P_UNPRICED_TOKENS",
    "RUN_DURATION_BUCKETS",
    "CostFamilies",
]

P_COST = "ptc_cost_usd"
P_UNPRICED_TOKENS = "ptc_unpriced_tokens"
P_PRICE_DATA_INFO = "ptc_price_data_info"
P_RUNS = "ptc_runs"
P_RUN_ROUND_TRIPS = "ptc_run_round_trips"
P_RUN_TOOL_CALLS = "ptc_run_tool_calls"
P_RUN_TOKENS = "ptc_run_tokens"
P_RUN_COST = "ptc_run_cost_usd"
P_RUN_DURATION = "ptc_run_duration_seconds"
P_RUN_RESULT_BYTES = "ptc_run_tool_result_bytes"
P_RUN_SAVED_TOKENS = "ptc_run_saved_tokens_estimate"
P_RUN_SAVED_USD = "ptc_run_saved_usd_estimate"
L_COMPONENT = "component"
L_MODE = "mode"
L_DESTINATION = "destination"
MODES = ("programmatic", "direct", "none")
DESTINATIONS = ("container", "context")
RUN_DURATION_BUCKETS = (
    0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip
_KINDS = (
    sc.TOKEN_TYPE_INPUT,
    sc.TOKEN_TYPE_OUTPUT,
    sc.TOKEN_TYPE_CACHE_READ,
    sc.TOKEN_TYPE_CACHE_WRITE,
)


class _ModeChildren:
    """The run children of one mode."""

    __slots__ = (
        "bytes_container",
        "bytes_context",
        "cost",
        "duration",
        "round_trips",
        "runs",
        "saved_tokens",
        "saved_usd",
        "tokens",
        "tool_calls",
    )

    def __init__(self, f: CostFamilies, mode: str) -> None:
        self.runs = f.runs.labels(mode)
        self.round_trips = f.round_trips.labels(mode)
        self.tool_calls = f.tool_calls.labels(mode)
        self.tokens = tuple(f.run_tokens.labels(mode, k) for k in _KINDS)
        self.cost = f.run_cost.labels(mode)
        self.duration = f.run_duration.labels(mode)
        self.bytes_container = f.result_bytes.labels(mode, DESTINATIONS[0])
        self.bytes_context = f.result_bytes.labels(mode, DESTINATIONS[1])
        self.saved_tokens = f.saved_tokens.labels(mode)
        self.saved_usd = f.saved_usd.labels(mode)


class CostFamilies:
    """Spend, unpriced tokens, price-data info and runs, registered in one registry."""

    def __init__(
        self, registry: CollectorRegistry, mk: LocalMetrics | StandardMetrics
    ) -> None:
        r = registry
        m = sc.L_REQUEST_MODEL
        self.cost = mk.counter(
            P_COST,
            "Spend in US dollars by component (input, cache_read, cache_write, output, server_tools, container; container is an estimate).",
            (m, L_COMPONENT), registry=r,
        )  # fmt: skip
        self.unpriced = mk.counter(
            P_UNPRICED_TOKENS,
            "Tokens of responses whose model has no known price (not in ptc_cost_usd_total).",
            (m,), registry=r,
        )  # fmt: skip
        self.info = mk.gauge(
            P_PRICE_DATA_INFO,
            "The price data in force (1 per source: genai-prices, a user price file, the container rate).",
            ("source", "version", "updated"), registry=r, multiprocess_mode="max",
        )  # fmt: skip
        mode = (L_MODE,)
        self.runs = mk.counter(P_RUNS, "Finished runs (a user turn served by a tool loop) by mode.", mode, registry=r)  # fmt: skip
        self.round_trips = mk.counter(
            P_RUN_ROUND_TRIPS, "Tool round trips of finished runs, by mode.", mode, registry=r
        )  # fmt: skip
        self.tool_calls = mk.counter(
            P_RUN_TOOL_CALLS, "Client tool calls answered in finished runs, by mode.", mode, registry=r
        )  # fmt: skip
        self.run_tokens = mk.counter(
            P_RUN_TOKENS,
            "Tokens of exchanges in runs, by the run's mode as known at each exchange.",
            (L_MODE, sc.L_TOKEN_KIND), registry=r,
        )  # fmt: skip
        self.run_cost = mk.counter(
            P_RUN_COST,
            "Spend (USD) of exchanges in runs, by the run's mode as known at each exchange.",
            mode, registry=r,
        )  # fmt: skip
        self.run_duration = mk.histogram(
            P_RUN_DURATION,
            "Wall time of finished runs this process saw from first request to last response.",
            mode, registry=r, buckets=RUN_DURATION_BUCKETS,
        )  # fmt: skip
        self.result_bytes = mk.counter(
            P_RUN_RESULT_BYTES,
            "Tool-result bytes sent in runs: kept in the container (programmatic) or sent to the model (direct).",
            (L_MODE, L_DESTINATION), registry=r,
        )  # fmt: skip
        self.saved_tokens = mk.counter(
            P_RUN_SAVED_TOKENS,
            "ESTIMATE: tokens the container-kept tool results would have cost in context (bytes / 4).",
            mode, registry=r,
        )  # fmt: skip
        self.saved_usd = mk.counter(
            P_RUN_SAVED_USD,
            "ESTIMATE: the saved tokens at the model's uncached input price (USD).",
            mode, registry=r,
        )  # fmt: skip
        self._models: dict[str, tuple[tuple[Any, ...], Any]] = {}
        self._modes = {mode: _ModeChildren(self, mode) for mode in MODES}

    def _model(self, model: str) -> tuple[tuple[Any, ...], Any]:
        c = self._models.get(model)
        if c is None:
            c = self._models[model] = (
                tuple(self.cost.labels(model, comp) for comp in COST_COMPONENTS),
                self.unpriced.labels(model),
            )
        return c

    def record(self, model: str, cost: ExchangeCost) -> None:
        """Add one exchange's cost under its bounded model label."""
        components, unpriced = self._model(model)
        for child, amount in zip(components, cost.components, strict=True):
            if amount:
                child.inc(amount)
        if cost.unpriced_tokens:
            unpriced.inc(cost.unpriced_tokens)

    def record_run(
        self, run: RunFacts, usage: TokenUsage, cost: ExchangeCost | None
    ) -> None:
        """Add one exchange's share of its run, and the run's totals when it ends."""
        c = self._modes.get(run.mode)
        if c is None:
            return
        counts = (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_input_tokens,
            usage.cache_creation_input_tokens,
        )
        for child, n in zip(c.tokens, counts, strict=True):
            if n:
                child.inc(n)
        if cost is not None:
            total = cost.total
            if total:
                c.cost.inc(total)
        if run.bytes_to_container:
            c.bytes_container.inc(run.bytes_to_container)
        if run.bytes_to_context:
            c.bytes_context.inc(run.bytes_to_context)
        if run.saved_tokens_estimate:
            c.saved_tokens.inc(run.saved_tokens_estimate)
        if run.saved_usd_estimate:
            c.saved_usd.inc(run.saved_usd_estimate)
        if not run.finished:
            return
        c.runs.inc()
        if run.round_trips:
            c.round_trips.inc(run.round_trips)
        if run.tool_calls:
            c.tool_calls.inc(run.tool_calls)
        if run.duration is not None:
            c.duration.observe(run.duration)

    def set_info(self, book: PriceBook) -> None:
        """Publish the price sources of ``book`` (replacing the series of earlier ones)."""
        self.info.clear()
        for s in book.sources:
            self.info.labels(s.source, s.version, s.updated).set(1)
