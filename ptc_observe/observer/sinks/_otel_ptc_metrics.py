"""Our code-execution, server-tool and token-detail counters as OpenTelemetry metrics.

The same splits as the Prometheus sink's ``ptc_code_executions_total``,
``ptc_server_tool_calls_total``, ``ptc_server_tool_requests_total``,
``ptc_reasoning_tokens_total`` and ``ptc_cache_write_tokens_total``, named so that an OTel
Prometheus exporter turns them into those very series (instrument ``ptc.code_executions`` ->
``ptc_code_executions_total``; attribute keys ``gen_ai.tool.name``, ``outcome``, ``caller``,
``gen_ai.request.model``, ``server_tool``, ``ttl``). Only non-zero amounts are recorded: an
exchange without code, server tools, reasoning or cache writes costs a few attribute reads.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.context import Context

from ...events import COST_COMPONENTS, Exchange, Reply
from ...models import DIRECT
from . import _semconv as sc
from ._labels import BoundedValues

__all__ = ["PTCMetrics"]

_TTLS = (sc.TTL_5M, sc.TTL_1H, sc.TTL_UNKNOWN)


class PTCMetrics:
    """The ``ptc.*`` counters of one meter (five, plus spend and unpriced tokens), with
    their attribute dicts cached."""

    def __init__(
        self,
        meter: Any,
        max_label_values: int,
        models: BoundedValues | None = None,
    ) -> None:
        self.code_executions = meter.create_counter(
            sc.M_CODE_EXECUTIONS, unit="{execution}",
            description="Code execution results by variant and outcome (success, error).",
        )  # fmt: skip
        self.server_tool_calls = meter.create_counter(
            sc.M_SERVER_TOOL_CALLS, unit="{call}",
            description="Server tool calls (server_tool_use blocks) by caller (direct, programmatic).",
        )  # fmt: skip
        self.server_tool_requests = meter.create_counter(
            sc.M_SERVER_TOOL_REQUESTS, unit="{request}",
            description="Billed server tool requests (usage.server_tool_use).",
        )  # fmt: skip
        self.reasoning_tokens = meter.create_counter(
            sc.M_REASONING_TOKENS, unit="{token}",
            description="Reasoning (thinking) tokens, a part of the output tokens.",
        )  # fmt: skip
        self.cache_write_tokens = meter.create_counter(
            sc.M_CACHE_WRITE_TOKENS, unit="{token}",
            description="Cache-write tokens by time to live (5m, 1h, unknown).",
        )  # fmt: skip
        self.cost = meter.create_counter(
            sc.M_COST_USD, unit="{USD}",
            description="Spend in US dollars by component (container time is an estimate).",
        )  # fmt: skip
        self.unpriced_tokens = meter.create_counter(
            sc.M_UNPRICED_TOKENS, unit="{token}",
            description="Tokens of responses whose model has no known price.",
        )  # fmt: skip
        # The model bound of the sink's other metrics when given: one bound per attribute,
        # so the counters never admit models the rest folded into _other.
        self.models = models if models is not None else BoundedValues(max_label_values)
        self.tools = BoundedValues(max_label_values)
        self.variants = BoundedValues(max_label_values)
        self.server_tools = BoundedValues(64)
        self._attrs: dict[tuple[str, str, str], dict[str, Any]] = {}

    def _attributes(self, key: str, first: str, second: str) -> dict[str, Any]:
        """The attribute dict of one family and its two raw values, cached when admitted."""
        cache_key = (key, first, second)
        attrs = self._attrs.get(cache_key)
        if attrs is not None:
            return attrs
        if key == sc.M_CODE_EXECUTIONS:
            one = self.variants(first)
            attrs = {sc.GEN_AI_TOOL_NAME: one, sc.A_OUTCOME: second}
        elif key == sc.M_SERVER_TOOL_CALLS:
            one = self.tools(first)
            attrs = {sc.GEN_AI_TOOL_NAME: one, sc.A_CALLER: second}
        else:
            one = self.models(first)
            attrs = {sc.GEN_AI_REQUEST_MODEL: one} if one else {}
            if key == sc.M_SERVER_TOOL_REQUESTS:
                tool = self.server_tools(second)
                attrs[sc.A_SERVER_TOOL] = tool
                if tool != second:
                    return attrs
            elif key == sc.M_CACHE_WRITE_TOKENS:
                attrs[sc.A_TTL] = second
            elif key == sc.M_COST_USD:
                attrs[sc.A_COMPONENT] = second
        if one == first:  # only admitted values: the cache stays bounded
            self._attrs[cache_key] = attrs
        return attrs

    def record(self, ex: Exchange, reply: Reply, ctx: Context | None) -> None:
        """Record what ``reply`` holds; blocks only of a complete response."""
        usage = reply.usage
        model = ex.model or ""
        attributes = self._attributes
        reasoning = usage.reasoning_tokens
        if reasoning:
            self.reasoning_tokens.add(
                reasoning, attributes(sc.M_REASONING_TOKENS, model, ""), context=ctx
            )
        if usage.cache_creation_input_tokens:
            for ttl, count in zip(_TTLS, usage.cache_write_by_ttl(), strict=True):
                if count:
                    self.cache_write_tokens.add(
                        count,
                        attributes(sc.M_CACHE_WRITE_TOKENS, model, ttl),
                        context=ctx,
                    )
        for name, count in usage.server_tool_requests:
            if count:
                self.server_tool_requests.add(
                    count,
                    attributes(sc.M_SERVER_TOOL_REQUESTS, model, name),
                    context=ctx,
                )
        cost = ex.cost
        if cost is not None:
            for component, amount in zip(COST_COMPONENTS, cost.components, strict=True):
                if amount:
                    self.cost.add(
                        amount,
                        attributes(sc.M_COST_USD, model, component),
                        context=ctx,
                    )
            if cost.unpriced_tokens:
                self.unpriced_tokens.add(
                    cost.unpriced_tokens,
                    attributes(sc.M_UNPRICED_TOKENS, model, ""),
                    context=ctx,
                )
        if not ex.complete:
            return  # a cut stream's partial blocks never reach the application
        for use in reply.server_tool_uses:
            caller = (
                sc.CALLER_PROGRAMMATIC
                if use.caller_type != DIRECT and use.caller_tool_id is not None
                else sc.CALLER_DIRECT
            )
            self.server_tool_calls.add(
                1, attributes(sc.M_SERVER_TOOL_CALLS, use.name, caller), context=ctx
            )
        for result in reply.code_results:
            outcome = (
                sc.CODE_EXECUTION_SUCCESS
                if result.succeeded
                else sc.CODE_EXECUTION_ERROR
            )
            self.code_executions.add(
                1,
                attributes(sc.M_CODE_EXECUTIONS, result.variant, outcome),
                context=ctx,
            )
