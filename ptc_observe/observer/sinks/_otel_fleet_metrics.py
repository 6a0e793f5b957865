"""The fleet-exact counters as OpenTelemetry metrics: tool calls and results, containers.

The same facts and splits as the Prometheus sink's ``ptc_tool_calls_total``,
``ptc_tool_results_total``, ``ptc_tool_result_bytes_total``,
``ptc_tool_results_unmatched_total`` and the three container counters, each decided from
one exchange alone (:mod:`ptc_observe.observer.fleet`), so processes that export OTLP to
one collector sum to the one-process figures as scraped workers do. Named so that an OTel
Prometheus exporter turns them into those very series (``ptc.tool_calls`` ->
``ptc_tool_calls_total``; attribute keys ``gen_ai.tool.name``, ``caller``, ``outcome``).
Only non-zero amounts are recorded.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.context import Context

from ...events import Exchange, Outcome
from . import _semconv as sc
from ._labels import BoundedValues

__all__ = ["FleetMetrics"]

_CALLERS = {True: sc.CALLER_PROGRAMMATIC, False: sc.CALLER_DIRECT}
_EMPTY: dict[str, Any] = {}
_Key = tuple[str | None, bool, bool | None]
"""Tool, caller is programmatic, result is an error (``None`` for calls)."""


class FleetMetrics:
    """Seven ``ptc.*`` counters of one meter, with their attribute dicts cached."""

    def __init__(self, meter: Any, max_label_values: int) -> None:
        self.tool_calls = meter.create_counter(
            sc.M_TOOL_CALLS, unit="{call}",
            description="Client tool calls the model asked for, by caller (direct, programmatic).",
        )  # fmt: skip
        self.tool_results = meter.create_counter(
            sc.M_TOOL_RESULTS, unit="{result}",
            description="Tool results sent back (requests answered in full), by the caller and tool of the call each answers.",
        )  # fmt: skip
        self.tool_result_bytes = meter.create_counter(
            sc.M_TOOL_RESULT_BYTES, unit="{byte}",
            description="UTF-8 bytes of those results; programmatic ones went to the container, not the context.",
        )  # fmt: skip
        self.unmatched = meter.create_counter(
            sc.M_TOOL_RESULTS_UNMATCHED, unit="{result}",
            description="Tool results whose asking response this process did not see: no turnaround.",
        )  # fmt: skip
        created = meter.create_counter(
            sc.M_CONTAINERS_CREATED, unit="{container}",
            description="Complete responses naming a container their request did not.",
        )  # fmt: skip
        reused = meter.create_counter(
            sc.M_CONTAINER_REUSES, unit="{request}",
            description="Requests naming a container answered by a complete response.",
        )  # fmt: skip
        expired = meter.create_counter(
            sc.M_CONTAINERS_EXPIRED, unit="{request}",
            description="Requests naming a container the API refused (expired or unknown).",
        )  # fmt: skip
        self.containers = (created, reused, expired)
        self.tools = BoundedValues(max_label_values)
        self._callers = {p: {sc.A_CALLER: c} for p, c in _CALLERS.items()}
        self._attrs: dict[_Key, dict[str, Any]] = {}

    def _attributes(
        self, tool: str | None, programmatic: bool, is_error: bool | None
    ) -> dict[str, Any]:
        """Tool, caller (and outcome for results), cached when the tool is admitted."""
        key = (tool, programmatic, is_error)
        attrs = self._attrs.get(key)
        if attrs is None:
            label = self.tools(tool)
            attrs = {sc.GEN_AI_TOOL_NAME: label, sc.A_CALLER: _CALLERS[programmatic]}
            if is_error is not None:
                attrs[sc.A_OUTCOME] = sc.RESULT_ERROR if is_error else sc.RESULT_SUCCESS
            if label == (tool or ""):
                self._attrs[key] = attrs
        return attrs

    def record(self, ex: Exchange, ctx: Context | None) -> None:
        """Record what the exchange alone says: the calls of a complete message, the
        results and containers of a request the API answered in full, refusals."""
        cached = self._attrs.get  # a miss builds (and, when admitted, caches) the dict
        reply = ex.reply
        if reply is not None and ex.complete:
            for use in reply.tool_uses:
                key: _Key = (use.name, use.is_programmatic, None)
                attrs = cached(key) or self._attributes(*key)
                self.tool_calls.add(1, attrs, context=ctx)
        if ex.outcome is not Outcome.OK:
            sighting = ex.container
            if sighting is not None and sighting.expired:
                self.containers[2].add(1, _EMPTY, context=ctx)
            return
        for result in ex.request.tool_results:
            programmatic = result.is_programmatic
            key = (result.tool_name, programmatic, result.is_error)
            attrs = cached(key) or self._attributes(*key)
            self.tool_results.add(1, attrs, context=ctx)
            if result.size_bytes:
                self.tool_result_bytes.add(
                    result.size_bytes, self._callers[programmatic], context=ctx
                )
        for result in ex.unmatched_results:
            self.unmatched.add(1, self._callers[result.is_programmatic], context=ctx)
        sighting = ex.container
        if sighting is not None:
            if sighting.created:
                self.containers[0].add(1, _EMPTY, context=ctx)
            elif sighting.reused:
                self.containers[1].add(1, _EMPTY, context=ctx)
