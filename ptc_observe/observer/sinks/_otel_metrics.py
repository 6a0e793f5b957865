"""OpenTelemetry metrics with the standard GenAI names (gen1; gen2 instead on opt-in).

For applications that export OTLP instead of being scraped. Bucket boundaries are given
as ``explicit_bucket_boundaries_advisory`` (the conventions' D and T sets), so no View is
needed. Attribute dicts are built once per label combination and reused.

Under the gen2 opt-in only the gen2 GenAI instruments exist ("the latest, not the old"):
``gen_ai.client.inference.duration`` replaces ``gen_ai.client.operation.duration``, the
usage counters and per-operation histograms replace ``gen_ai.client.token.usage``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import metrics
from opentelemetry.context import Context
from opentelemetry.trace import (
    INVALID_SPAN,
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    get_current_span,
    set_span_in_context,
)

from ..._version import __version__
from ...events import Exchange, Outcome
from . import _semconv as sc
from ._labels import BoundedValues
from ._otel_fleet_metrics import FleetMetrics
from ._otel_ptc_metrics import PTCMetrics

__all__ = ["GenAIMetrics"]

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
# A context with no span: no exemplar. (An empty Context is falsy, and the SDK reads
# ``context or get_current()``.)
_EMPTY = Context()
_NO_SPAN = set_span_in_context(INVALID_SPAN, _EMPTY)
_INPUT = (sc.GEN_AI_TOKEN_TYPE, sc.TOKEN_TYPE_INPUT)
_OUTPUT = (sc.GEN_AI_TOKEN_TYPE, sc.TOKEN_TYPE_OUTPUT)
_MODALITY = (sc.GEN_AI_TOKEN_MODALITY, sc.TOKEN_MODALITY_UNKNOWN)


_Key = tuple[str | None, str | None, str | None, int | None]
"""An exchange's label set: request model, response model, server address and port."""


class _Labels:
    """Every attribute dict of one label set, built once (see ``GenAIMetrics._labels``)."""

    __slots__ = ("errors", "input", "modality", "model", "output", "plain")

    def __init__(self, plain: dict[str, Any], model: str) -> None:
        self.plain = plain
        self.input = {**plain, _INPUT[0]: _INPUT[1]}
        self.output = {**plain, _OUTPUT[0]: _OUTPUT[1]}
        self.modality = {**plain, _MODALITY[0]: _MODALITY[1]}
        self.model = model
        """The raw model (``ex.model``, ``""`` when unknown), for the ``ptc.*`` counters."""
        self.errors: dict[str, dict[str, Any]] = {}


class GenAIMetrics:
    """The GenAI client instruments of one meter provider.

    Args:
        meter_provider: the provider (the global one when ``None``).
        latest: also record the gen2 instruments.
        max_label_values: distinct models per attribute before ``_other``.
    """

    def __init__(
        self, meter_provider: Any, *, latest: bool, max_label_values: int
    ) -> None:
        meter = metrics.get_meter(
            sc.INSTRUMENTATION_SCOPE, __version__, meter_provider=meter_provider
        )
        self.enabled = not isinstance(meter, metrics.NoOpMeter)
        """False for the API's no-op meter (an explicit ``NoOpMeterProvider``): nothing
        it is given goes anywhere, so the sink records nothing. The global provider's
        proxy counts as enabled: it forwards once a provider is set."""
        D, T = list(sc.DURATION_BUCKETS), list(sc.TOKEN_BUCKETS)
        if not latest:
            self.duration = meter.create_histogram(
                sc.M_OPERATION_DURATION, unit="s", description="GenAI operation duration.",
                explicit_bucket_boundaries_advisory=D,
            )  # fmt: skip
            self.token_usage = meter.create_histogram(
                sc.M_TOKEN_USAGE, unit="{token}", description="Number of input and output tokens used.",
                explicit_bucket_boundaries_advisory=T,
            )  # fmt: skip
            self.ttfc = meter.create_histogram(
                sc.M_TIME_TO_FIRST_CHUNK, unit="s",
                description="Time to receive the first chunk of a streamed response.",
                explicit_bucket_boundaries_advisory=D,
            )  # fmt: skip
        else:
            # gen2: the same two timings under their new names.
            self.duration = meter.create_histogram(
                sc.M2_INFERENCE_DURATION, unit="s", description="GenAI inference duration.",
                explicit_bucket_boundaries_advisory=D,
            )  # fmt: skip
            self.ttfc = meter.create_histogram(
                sc.M2_TIME_TO_FIRST_CHUNK, unit="s", description="Time to first chunk.",
                explicit_bucket_boundaries_advisory=D,
            )  # fmt: skip
        self.code_execution_duration = meter.create_histogram(
            sc.M_CODE_EXECUTION_DURATION, unit="s",
            description="Code execution start (first seen) to its result, by variant and outcome.",
            explicit_bucket_boundaries_advisory=list(sc.CODE_EXECUTION_BUCKETS),
        )  # fmt: skip
        self.latest = latest
        if latest:
            self.usage2 = tuple(
                meter.create_counter(
                    name, unit="{token}", description=f"{what} tokens used."
                )
                for name, what in (
                    (sc.M2_USAGE_INPUT, "Input (including cached)"),
                    (sc.M2_USAGE_OUTPUT, "Output"),
                    (sc.M2_USAGE_CACHE_READ, "Cache read input"),
                    (sc.M2_USAGE_CACHE_WRITE, "Cache write input"),
                )
            )
            self.operation2 = tuple(
                meter.create_histogram(
                    name,
                    unit="{token}",
                    description=f"{what} tokens per completed operation.",
                    explicit_bucket_boundaries_advisory=T,
                )  # fmt: skip
                for name, what in (
                    (sc.M2_OPERATION_INPUT, "Input"),
                    (sc.M2_OPERATION_OUTPUT, "Output"),
                )
            )
            self.execute_tool2 = meter.create_histogram(
                sc.M2_EXECUTE_TOOL_DURATION, unit="s",
                description="Tool execution duration (inferred; includes application time).",
                explicit_bucket_boundaries_advisory=D,
            )  # fmt: skip
        self.models = BoundedValues(max_label_values)
        self.tools = BoundedValues(max_label_values)
        self.errors = BoundedValues(max_label_values)
        self._by_key: dict[_Key, _Labels] = {}
        self.ptc = PTCMetrics(meter, max_label_values, self.models)
        self.report: Callable[[str, BaseException], None] | None = None
        """Where a failed exemplar context is reported (the metrics are still recorded)."""
        self.fleet = FleetMetrics(meter, max_label_values)

    def _labels(self, key: _Key) -> _Labels:
        """The attribute dicts of one ``(model, response model, address, port)``.

        Built on the first exchange of the combination and cached when its models are
        admitted (folded ones are rebuilt each time, so the cache stays bounded).
        """
        labels = self._by_key.get(key)
        if labels is not None:
            return labels
        model_raw, response_raw, address, port = key
        model = self.models(model_raw)
        resp = self.models(response_raw)
        plain: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OPERATION_CHAT,
            sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_ANTHROPIC,
        }
        if model:
            plain[sc.GEN_AI_REQUEST_MODEL] = model
        if resp:
            plain[sc.GEN_AI_RESPONSE_MODEL] = resp
        if address:
            plain[sc.SERVER_ADDRESS] = address
            if port is not None:  # conditionally required with the address
                plain[sc.SERVER_PORT] = port
        labels = _Labels(plain, model_raw or "")
        if model == (model_raw or "") and resp == (response_raw or ""):
            self._by_key[key] = labels
        return labels

    def _with_error(self, labels: _Labels, error: str) -> dict[str, Any]:
        """``labels.plain`` plus ``error.type`` (bounded), cached on ``labels`` when admitted."""
        found = labels.errors.get(error)
        if found is not None:
            return found
        err = self.errors(error)
        attrs = {**labels.plain, sc.ERROR_TYPE: err}
        if err == error:
            labels.errors[error] = attrs
        return attrs

    def record(self, ex: Exchange, span_context: SpanContext | None = None) -> None:
        """Record the metrics of one exchange.

        Args:
            ex: the exchange.
            span_context: its span's context when the caller has it (the OTel sink
                remembers it), which saves building one from ``ex.trace_id``/``span_id``.
        """
        try:
            ctx = _context(ex, span_context)
        except Exception as exc:
            # Exemplars are optional: the measurements are recorded without them.
            ctx = _NO_SPAN
            if self.report is not None:
                self.report("exemplar", exc)
        reply = ex.reply
        req = ex.request
        response_model = reply.model if reply is not None else None
        # ``ex.model``: the request's model, else the response's.
        model = req.model if req.model is not None else response_model
        # One lookup per exchange gives every attribute dict of its label set.
        labels = self._labels(
            (model, response_model, req.server_address, req.server_port)
        )
        plain = labels.plain
        outcome = ex.outcome
        error = (
            ex.error_type
            or (sc.ERROR_TYPE_INCOMPLETE if outcome is Outcome.INCOMPLETE else sc.ERROR_TYPE_OTHER)
            if outcome is Outcome.ERROR or outcome is Outcome.INCOMPLETE
            else None
        )  # fmt: skip
        timings = ex.timings
        self.duration.record(
            timings.finished - timings.sent,
            plain if error is None else self._with_error(labels, error),
            context=ctx,
        )
        if ex.streamed and timings.first_token is not None:
            self.ttfc.record(timings.first_token - timings.sent, plain, context=ctx)
        usage = reply.usage if reply is not None else None
        uncached = usage.input_tokens if usage is not None else None
        output = usage.output_tokens if usage is not None else None
        cache_read = (usage.cache_read_input_tokens or 0) if usage is not None else 0
        cache_write = (
            (usage.cache_creation_input_tokens or 0) if usage is not None else 0
        )
        total_input = (uncached or 0) + cache_read + cache_write
        if not self.latest:
            if uncached is not None:
                self.token_usage.record(total_input, labels.input, context=ctx)
            if output is not None:
                self.token_usage.record(output, labels.output, context=ctx)
        else:
            # gen2 counters: every operation, failures included, 0 without usage.
            modality = labels.modality
            for counter, value in zip(
                self.usage2,
                (total_input, output or 0, cache_read, cache_write),
                strict=True,
            ):
                counter.add(value, modality, context=ctx)
            if error is None:
                # Per-operation histograms: operations that completed, no error.type.
                if uncached is not None:
                    self.operation2[0].record(total_input, plain, context=ctx)
                if output is not None:
                    self.operation2[1].record(output, plain, context=ctx)
            self._tool_durations(ex, ctx)
        if reply is not None:
            self.ptc.record(ex, reply, ctx, labels.model)
        self.fleet.record(ex, ctx)

    def _tool_durations(self, ex: Exchange, ctx: Context | None) -> None:
        for t in ex.tool_turnarounds:
            tool_attrs = {
                sc.GEN_AI_OPERATION_NAME: sc.OPERATION_EXECUTE_TOOL,
                sc.GEN_AI_TOOL_NAME: self.tools(t.tool_name),
            }
            if t.is_error:
                tool_attrs[sc.ERROR_TYPE] = sc.ERROR_TYPE_TOOL
            self.execute_tool2.record(t.seconds, tool_attrs, context=ctx)


def _context(ex: Exchange, span_context: SpanContext | None) -> Context | None:
    """A context holding the exchange's span, so exemplars link to its trace."""
    if ex.trace_id is not None and ex.span_id is not None:
        if (
            span_context is None
            or span_context.span_id != ex.span_id
            or span_context.trace_id != ex.trace_id
        ):
            span_context = SpanContext(
                ex.trace_id, ex.span_id, is_remote=False, trace_flags=_SAMPLED
            )
        # On an empty context, not the current one: the exemplar reads the span alone,
        # and the current context would cost a lookup and a copy of what it holds.
        return set_span_in_context(NonRecordingSpan(span_context), _EMPTY)
    ctx: Context | None = ex.parent_context
    if ctx:
        # The SDK's exemplar filter reads the span of this context while it records;
        # a span that cannot say its context would fail the measurement, so it is
        # asked here, where a failure costs the exemplar only.
        get_current_span(ctx).get_span_context()
    return ctx
