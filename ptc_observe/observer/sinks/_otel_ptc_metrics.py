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


class _ModelLabels:
    """The attribute dicts of the model-keyed counters for one model, built once."""

    __slots__ = ("base", "components", "server_requests", "ttls")

    def __init__(
        self,
        base: dict[str, Any],
        ttls: tuple[dict[str, Any], ...],
        components: tuple[dict[str, Any], ...],
    ) -> None:
        self.base = base
        """``gen_ai.request.model`` alone (reasoning and unpriced tokens)."""
        self.ttls = ttls
        """By time to live, in ``usage.cache_write_by_ttl()`` order."""
        self.components = components
        """By cost component, in ``COST_COMPONENTS`` order."""
        self.server_requests: dict[str, dict[str, Any]] = {}


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
        self._by_model: dict[str, _ModelLabels] = {}

    def _model(self, model: str) -> _ModelLabels:
        """The attribute dicts of one raw model, built once; cached when it is admitted."""
        found = self._by_model.get(model)
        if found is not None:
            return found
        label = self.models(model)
        base: dict[str, Any] = {sc.GEN_AI_REQUEST_MODEL: label} if label else {}
        found = _ModelLabels(
            base,
            tuple({**base, sc.A_TTL: ttl} for ttl in _TTLS),
            tuple({**base, sc.A_COMPONENT: c} for c in COST_COMPONENTS),
        )
        if label == model:  # only admitted values: the cache stays bounded
            self._by_model[model] = found
        return found

    def _server_request(self, labels: _ModelLabels, name: str) -> dict[str, Any]:
        """The model's attributes plus ``server_tool`` (bounded), cached when admitted."""
        found = labels.server_requests.get(name)
        if found is not None:
            return found
        tool = self.server_tools(name)
        attrs = {**labels.base, sc.A_SERVER_TOOL: tool}
        if tool == name:
            labels.server_requests[name] = attrs
        return attrs

    def _attributes(self, key: str, first: str, second: str) -> dict[str, Any]:
        """The attributes of a block counter (tool or variant, and caller or outcome),
        cached when admitted."""
        cache_key = (key, first, second)
        attrs = self._attrs.get(cache_key)
        if attrs is not None:
            return attrs
        if key == sc.M_CODE_EXECUTIONS:
            one = self.variants(first)
            attrs = {sc.GEN_AI_TOOL_NAME: one, sc.A_OUTCOME: second}
        else:
            one = self.tools(first)
            attrs = {sc.GEN_AI_TOOL_NAME: one, sc.A_CALLER: second}
        if one == first:  # only admitted values: the cache stays bounded
            self._attrs[cache_key] = attrs
        return attrs

    def record(
        self, ex: Exchange, reply: Reply, ctx: Context | None, model: str | None = None
    ) -> None:
        """Record what ``reply`` holds; blocks only of a complete response.

        ``model`` is ``ex.model`` (``""`` when unknown) when the caller has it.
        """
        usage = reply.usage
        labels = self._model((ex.model or "") if model is None else model)
        reasoning = usage.reasoning_tokens
        if reasoning:
            self.reasoning_tokens.add(reasoning, labels.base, context=ctx)
        if usage.cache_creation_input_tokens:
            for attrs, count in zip(
                labels.ttls, usage.cache_write_by_ttl(), strict=True
            ):
                if count:
                    self.cache_write_tokens.add(count, attrs, context=ctx)
        for name, count in usage.server_tool_requests:
            if count:
                self.server_tool_requests.add(
                    count, self._server_request(labels, name), context=ctx
                )
        cost = ex.cost
        if cost is not None:
            for attrs, amount in zip(labels.components, cost.components, strict=True):
                if amount:
                    self.cost.add(amount, attrs, context=ctx)
            if cost.unpriced_tokens:
                self.unpriced_tokens.add(cost.unpriced_tokens, labels.base, context=ctx)
        if not ex.complete:
            return  # a cut stream's partial blocks never reach the application
        attributes = self._attributes
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
