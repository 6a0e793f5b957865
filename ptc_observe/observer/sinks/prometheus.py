"""The Prometheus sink: standard ``gen_ai_*`` metrics unprefixed, ours as ``ptc_*``.

Every name, label and bucket set is listed in ``docs/telemetry.md``. Labels are small
closed sets; models and tool names are bounded (``Limits.max_label_values``, then
``_other``). Exemplars with the trace id go on the histograms when a span was recorded;
they are exposed in the OpenMetrics format (see :mod:`ptc_observe.observer.exposition`).

The hot path is allocation-light: the series an exchange touches are bound once per label
combination and kept in dicts. In one process they are cells of the sink's own (plain
floats, :mod:`._prometheus_cells`), all updated under one lock per exchange and exposed by
custom collectors with the samples the standard metrics would give.

Under ``PROMETHEUS_MULTIPROC_DIR`` (gunicorn and friends) the sink keeps prometheus_client's
metrics (:mod:`._prometheus_standard`), so the values land in the multiprocess files: gauges
carry a ``multiprocess_mode``, exemplars are dropped (the multiprocess value store cannot
keep them) and the active-containers gauge is set per process instead of being computed
at scrape time.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable
from time import time as _time
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import get_current_span
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from ...events import (
    CodeExecution,
    ContainerEnded,
    Exchange,
    Outcome,
    RateLimit,
    Reply,
)
from ...models import DIRECT
from ..correlator import Correlator, Limits
from . import _semconv as sc
from ._prometheus_families import Bundle, Families

if TYPE_CHECKING:
    from ...events import ContainerSighting
    from ...pricing import PriceBook

__all__ = ["PrometheusSink", "is_multiprocess"]

_FAMILIES: weakref.WeakKeyDictionary[CollectorRegistry, Families] = (
    weakref.WeakKeyDictionary()
)
_FAMILIES_LOCK = threading.Lock()
_FAILED = (Outcome.ERROR, Outcome.INCOMPLETE)


def is_multiprocess() -> bool:
    """True when prometheus_client runs in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``)."""
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ or (
        "prometheus_multiproc_dir" in os.environ
    )


class _ActiveContainersCollector:
    """Publishes ``ptc_containers_active`` at scrape time from the bound correlators."""

    def __init__(self) -> None:
        self.correlators: weakref.WeakSet[Correlator] = weakref.WeakSet()

    def describe(self) -> Iterable[Metric]:
        """The family this collector yields (so registering it does not collect)."""
        yield GaugeMetricFamily(sc.P_CONTAINERS_ACTIVE, _ACTIVE_HELP)

    def collect(self) -> Iterable[Metric]:
        """The gauge, summed over the bound correlators (sweeps them first)."""
        total = sum(c.active_containers() for c in list(self.correlators))
        yield GaugeMetricFamily(sc.P_CONTAINERS_ACTIVE, _ACTIVE_HELP, value=total)


_ACTIVE_HELP = "Code-execution containers seen and not yet expired."


class PrometheusSink:
    """Records every exchange into a Prometheus registry.

    Two sinks on one registry share the metric families (the first one's ``limits`` bound
    the labels), so creating several observers in one process is safe.

    Args:
        registry: where to register (``prometheus_client.REGISTRY`` by default).
        limits: ``max_label_values`` bounds model and tool-name labels.
        latest_semconv: also emit the gen2 GenAI names; default: read
            ``OTEL_SEMCONV_STABILITY_OPT_IN``.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        limits: Limits | None = None,
        latest_semconv: bool | None = None,
    ) -> None:
        self.registry = registry if registry is not None else REGISTRY
        self.multiprocess = is_multiprocess()
        self.latest_semconv = (
            sc.latest_experimental() if latest_semconv is None else latest_semconv
        )
        limits = limits if limits is not None else Limits()
        with _FAMILIES_LOCK:
            families = _FAMILIES.get(self.registry)
            if families is None:
                families = Families(
                    self.registry, limits.max_label_values, self.multiprocess
                )
                if not self.multiprocess:
                    families.active_collector = _ActiveContainersCollector()
                    self.registry.register(families.active_collector)
                _FAMILIES[self.registry] = families
            if self.latest_semconv:
                families.enable_gen2()
        self._f = families
        self._correlator: Correlator | None = None
        self._telemetry_errors: dict[str, Any] = {}
        self._report: Callable[[str, BaseException], None] | None = None

    # --- optional observer hooks ---

    def bind(self, correlator: Correlator) -> None:
        """Publish ``ptc_containers_active`` from ``correlator``."""
        self._correlator = correlator
        collector = self._f.active_collector
        if collector is not None:
            collector.correlators.add(correlator)  # type: ignore[attr-defined]
        else:
            with self._f.lock:
                self._set_active()

    def on_container_ended(self, ended: ContainerEnded) -> None:
        """Observe the container's lifetime (by the process that saw it created)."""
        with self._f.lock:
            if ended.lifetime_seconds is not None:
                self._f.container_lifetime_cell.observe(ended.lifetime_seconds)
            if self.multiprocess:
                self._set_active()

    def on_code_execution_ended(self, execution: CodeExecution) -> None:
        """Count a code execution given up without its result."""
        with self._f.lock:
            self._f.code_executions_unfinished.labels(
                execution.name, execution.end_reason or ""
            ).inc()

    def on_prices(self, book: PriceBook) -> None:
        """Publish ``ptc_price_data_info`` for the prices in force (at start and reload)."""
        with self._f.lock:
            self._f.costs.set_info(book)

    def bind_errors(self, report: Callable[[str, BaseException], None]) -> None:
        """Report failures of optional parts (the exemplar lookup) to ``report``."""
        self._report = report

    def on_telemetry_error(self, stage: str) -> None:
        """Count a failure inside ptc_observe (``ptc_telemetry_errors_total{stage}``)."""
        with self._f.lock:
            child = self._telemetry_errors.get(stage)
            if child is None:
                label = self._f.stages(stage)
                child = self._f.telemetry_errors.labels(label)
                if label == stage:  # cache admitted stages only: the dict stays bounded
                    self._telemetry_errors[stage] = child
            child.inc()

    # --- the hot path ---

    def on_exchange(self, exchange: Exchange) -> None:
        """Record one finished exchange (its ~20 updates under one lock)."""
        exemplar = None
        if not self.multiprocess:
            try:
                exemplar = _exemplar(exchange)
            except Exception as exc:
                # Exemplars are optional: a failing trace lookup costs them, not the counts.
                self._exemplar_failed(exc)
        with self._f.lock:
            self._record(exchange, exemplar)

    def _record(self, ex: Exchange, exemplar: dict[str, str] | None) -> None:
        f = self._f
        reply = ex.reply
        b = f.bundle_for(
            ex.request.model,
            reply.model if reply is not None else None,
            ex.request.stream,
        )
        model = b.model
        response_model = b.response_model
        # One timestamp for every exemplar of the exchange (the library reads the clock
        # per observation).
        now = _time() if exemplar is not None else None
        timings = ex.timings
        duration = timings.finished - timings.sent
        outcome = ex.outcome

        b.exchanges[outcome](1)
        error_type = ""
        if outcome in _FAILED:
            error_type = ex.error_type or (
                sc.ERROR_TYPE_INCOMPLETE
                if outcome is Outcome.INCOMPLETE
                else sc.ERROR_TYPE_OTHER
            )
            errors = f.error_children(model, response_model, error_type)
            errors.errors(1)
            errors.duration.observe(duration, exemplar, now)
            if errors.duration2 is not None:
                errors.duration2.observe(duration, exemplar, now)
        else:
            errors = None
            b.duration.observe(duration, exemplar, now)
            if b.duration2 is not None:
                b.duration2.observe(duration, exemplar, now)

        if ex.request.retry_count > 0:
            b.retries(1)
        if timings.first_token is not None and ex.streamed:
            ttfc = timings.first_token - timings.sent
            first, second = f.ttfc_children(model, response_model, error_type)
            first.observe(ttfc, exemplar, now)
            if second is not None:
                second.observe(ttfc, exemplar, now)

        if reply is not None:
            self._record_usage(b, errors is not None, reply.usage, exemplar, now)
            if ex.complete:
                # A cut or failed stream's partial tool calls never reach the application
                # (the SDK raises): count only the calls it can act on.
                self._record_blocks(reply)
        # gen2 usage counters "record every operation, 0 without usage": their series are
        # bound (created at 0) with the model's bundle, so a zero needs no write.

        if ex.request.tool_results and outcome is Outcome.OK:
            # From the request alone (each result's call is in its history): exact
            # fleet-wide. Counted once the API answered in full, so retries count once.
            for r in ex.request.tool_results:
                programmatic = r.is_programmatic
                f.tool_result_child(r.tool_name, programmatic, r.is_error)(1)
                f.add_result_bytes[programmatic](r.size_bytes)
            for r in ex.unmatched_results:
                f.add_unmatched[r.is_programmatic](1)
        cost = ex.cost
        if cost is not None:
            f.costs.record(model, cost)
        run = ex.run
        if run is not None and reply is not None:
            f.costs.record_run(run, reply.usage, cost)
        if ex.tool_turnarounds:
            for t in ex.tool_turnarounds:
                children = f.tool_children(t.tool_name, t.caller)
                children.turnaround.observe(t.seconds, exemplar, now)
                if children.execute_tool is not None:
                    children.execute_tool[t.is_error].observe(t.seconds, exemplar, now)
        if ex.container is not None:
            self._record_container(ex.container, exemplar, now)
        if ex.code_executions:
            self._record_code_executions(ex.code_executions, exemplar, now)
        if ex.rate_limits:
            self._record_rate_limits(ex.rate_limits)

    def _exemplar_failed(self, exc: BaseException) -> None:
        report = self._report
        if report is not None:
            report("exemplar", exc)  # the observer counts it and tells every sink
        else:
            self.on_telemetry_error("exemplar")

    def _record_rate_limits(self, limits: tuple[RateLimit, ...]) -> None:
        f = self._f
        last = f.ratelimit_last
        for limit in limits:
            values = (limit.remaining, limit.limit)
            # Every response repeats the headers; an unchanged value needs no gauge update
            # (in multiprocess "mostrecent" mode the write time matters, so always write).
            if not self.multiprocess and last.get(limit.resource) == values:
                continue
            rate = f.ratelimit_children(limit.resource)
            if limit.remaining is not None:
                rate[0].set(limit.remaining)
            if limit.limit is not None:
                rate[1].set(limit.limit)
            if limit.resource in f.resources:
                last[limit.resource] = values

    def _record_usage(
        self,
        b: Bundle,
        failed: bool,
        usage: Any,
        exemplar: dict[str, str] | None,
        now: float | None,
    ) -> None:
        uncached = usage.input_tokens
        output = usage.output_tokens
        cache_read = usage.cache_read_input_tokens or 0
        cache_write = usage.cache_creation_input_tokens or 0
        if uncached is not None:
            b.token_input.observe(uncached + cache_read + cache_write, exemplar, now)
            if uncached:
                b.tokens_input.inc(uncached)
        if output is not None:
            b.token_output.observe(output, exemplar, now)
            if output:
                b.tokens_output.inc(output)
        if cache_read:
            b.tokens_cache_read.inc(cache_read)
        if cache_write:
            b.tokens_cache_write.inc(cache_write)
            five, hour, unknown = usage.cache_write_by_ttl()
            ttl = b.cache_write_ttl
            if five:
                ttl[0](five)
            if hour:
                ttl[1](hour)
            if unknown:
                ttl[2](unknown)
        reasoning = usage.reasoning_tokens
        if reasoning:
            b.reasoning(reasoning)
        for name, count in usage.server_tool_requests:
            if count:
                self._f.server_request_child(b, name)(count)
        g = b.gen2
        if g is not None:
            total_input = (uncached or 0) + cache_read + cache_write
            usage_counters = g.usage
            # No zero increments: the series exist from the bundle on (see on_exchange).
            if total_input:
                usage_counters[0].inc(total_input)
            if output:
                usage_counters[1].inc(output)
            if cache_read:
                usage_counters[2].inc(cache_read)
            if cache_write:
                usage_counters[3].inc(cache_write)
            if not failed:  # per-operation histograms: completed operations only
                ops = g.operation
                if uncached is not None:
                    ops[0].observe(total_input, exemplar, now)
                if output is not None:
                    ops[1].observe(output, exemplar, now)

    def _record_blocks(self, reply: Reply) -> None:
        f = self._f
        for use in reply.tool_uses:
            f.tool_call_child(use.name, use.is_programmatic)(1)
        for server in reply.server_tool_uses:
            # ServerToolUse.is_programmatic, inlined.
            f.server_tool_child(
                server.name,
                server.caller_type != DIRECT and server.caller_tool_id is not None,
            )(1)
        for result in reply.code_results:
            f.code_execution_child(result.variant, result.succeeded)(1)

    def _record_code_executions(
        self,
        executions: tuple[CodeExecution, ...],
        exemplar: dict[str, str] | None,
        now: float | None,
    ) -> None:
        f = self._f
        for ce in executions:
            seconds = ce.duration_seconds
            # A start another process saw would give a duration that is only a part.
            if seconds is None or not ce.start_observed or ce.outcome is None:
                continue
            key = (ce.name, ce.outcome)
            cells = f.code_execution_cells.get(key)
            if cells is None:
                cells = f.code_execution_cells[key] = f.mk.series(
                    f.code_execution_duration, key
                )
            cells.observe(seconds, exemplar, now)

    def _record_container(
        self,
        sighting: ContainerSighting,
        exemplar: dict[str, str] | None,
        now: float | None,
    ) -> None:
        f = self._f
        if sighting.created:
            f.add_created(1)
        if sighting.reused:
            f.add_reuse(1)
        if sighting.expired:
            f.add_expired(1)
        if sighting.remaining_seconds is not None:
            f.container_remaining_cells.observe(
                sighting.remaining_seconds, exemplar, now
            )
        if self.multiprocess:
            self._set_active()

    def _set_active(self) -> None:
        gauge = self._f.active_gauge
        if gauge is not None and self._correlator is not None:
            gauge.set(self._correlator.active_containers(sweep=False))


def _exemplar(ex: Exchange) -> dict[str, str] | None:
    """The exemplar labels of ``ex``: its span's ids, else the recording parent span's."""
    if ex.trace_id is not None and ex.span_id is not None:
        return {"trace_id": f"{ex.trace_id:032x}", "span_id": f"{ex.span_id:016x}"}
    if ex.parent_context is None:
        return None
    span = get_current_span(ex.parent_context)
    if not span.is_recording():
        return None
    ctx = span.get_span_context()
    if not ctx.trace_flags.sampled:
        return None
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}
