"""The OpenTelemetry sink: one span per exchange attempt, inferred tool spans, metrics.

Spans follow the GenAI conventions (``docs/telemetry.md`` lists every attribute): a
``chat {model}`` CLIENT span starts when the request is sent and ends when the exchange
finishes, so a stream's span covers the whole stream. Our own facts use ``ptc.*``.

**With the official SDK's tracing on** (anthropic >= 1.14 makes an
``anthropic.messages.create`` span whenever a tracer provider is set) there must be one
inference span per call, and tokens counted once. The SDK's span is the inference span;
ours is detected as its child and becomes, by default (``sdk_span_mode="attempt"``), a
plain HTTP attempt span ``POST /v1/messages`` without ``gen_ai.*`` attributes (so no
backend counts it as a second generation) that carries the ``ptc.*`` facts; the SDK's
span is left exactly as the SDK made it (a transport does not change spans it did not
make unless asked). With ``sdk_span_mode="enrich"`` no span of ours is made: the facts,
usage and links (and tool events, when on) go on the SDK span (when the SDK already
ended its span, e.g. a stream closed early, we fall back to an attempt span).

The OpenTelemetry API functions are bound at import, and every optional part (the
exemplar context of the metrics) fails alone: it is reported through ``bind_errors`` and
the rest of the exchange is still recorded.

**Cost.** The OpenTelemetry SDK's own work dominates: it checks every attribute, and
builds an attribute set per event and per link. So the span carries what the contract
says and nothing more, all passed once at start; the tool events are opt-in
(``tool_call_events``); an empty parent context (a bare client) skips the SDK-span checks;
links are built only for requests that answer tool calls.

**One span per code execution** (``execute_tool {variant}``, INTERNAL), open from the
response that first showed it to the one that carried its result: for PTC it spans every
resume of the run, the exchange spans of the run link to it, and the inferred tool spans of
its programmatic calls are its children (see ``_code_spans``). On by default
(``code_execution_spans``).

Requests that answer tool calls *link* to the span of the response that asked (a bounded
LRU of exchange id -> span context), so a programmatic run can be followed across its
exchanges. With ``infer_tool_spans=True`` each matched tool result also yields an inferred
``execute_tool {name}`` span covering the time between the asking response and the
answering request (off by default: exact tool spans come from the PTC client, and the
inferred ones include the application's overhead and double the span volume).
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Literal

from opentelemetry.context import Context, get_value
from opentelemetry.sdk.trace import sampling
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    TraceFlags,
    get_current_span,
    get_tracer,
    get_tracer_provider,
    set_span_in_context,
)
from opentelemetry.trace.status import Status, StatusCode

from ..._version import __version__
from ...events import CodeExecution, Exchange, Outcome, Reply, ToolTurnaround
from ...models import ToolUseBlock
from . import _content as content, _otel_attributes as attributes, _semconv as sc
from ._code_spans import CodeExecutionSpans
from ._otel_metrics import GenAIMetrics

__all__ = ["OTelSink", "SdkSpanMode"]

SdkSpanMode = Literal["attempt", "enrich"]
_LINK_ANSWERS = {sc.PTC_LINK_TYPE: sc.LINK_ANSWERS}
_LINK_ASKED_BY = {sc.PTC_LINK_TYPE: sc.LINK_ASKED_BY}
_SAMPLED = TraceFlags.SAMPLED


def is_sdk_call_span(span: object) -> bool:
    """True when ``span`` is the official SDK's ``anthropic.messages.create`` span."""
    # The name first: it rules out every other span with one attribute read.
    if getattr(span, "name", None) != sc.SDK_CALL_SPAN_NAME:
        return False
    name = getattr(getattr(span, "instrumentation_scope", None), "name", None)
    return isinstance(name, str) and name.startswith(sc.SDK_INSTRUMENTATION_SCOPE)


# How a frozen dataclass's own __init__ sets its fields; used only on a fresh record.
_set_field = object.__setattr__

_KEEPS_EVERY_ROOT = (
    sampling.ALWAYS_ON.get_description(),
    sampling.ParentBased(sampling.ALWAYS_ON).get_description(),  # type: ignore[no-untyped-call]
)


def samples_every_root(tracer_provider: Any = None) -> bool:
    """Whether ``tracer_provider`` (the global one when ``None``) keeps every root span.

    True for the SDK's ``ALWAYS_ON`` and its default ``ParentBased(ALWAYS_ON)``, read from
    the public ``TracerProvider.sampler`` and the sampler's description; False for any
    other sampler, and for a provider that has none to show (the API's proxy or no-op).
    """
    provider = get_tracer_provider() if tracer_provider is None else tracer_provider
    sampler = getattr(provider, "sampler", None)
    describe = getattr(sampler, "get_description", None)
    return describe is not None and describe() in _KEEPS_EVERY_ROOT


def _sdk_call_span(ctx: Context) -> Span | None:
    """The SDK's call span when it is the span current in ``ctx``, else ``None``."""
    span = get_current_span(ctx)
    return span if is_sdk_call_span(span) else None


class OTelSink:
    """Traces exchanges (``trace``) and records GenAI metrics (``on_exchange``).

    Args:
        tracer_provider: the tracer provider (the global one when ``None``).
        meter_provider: the meter provider (the global one when ``None``).
        capture_content: record prompts, outputs and tool arguments/results; ``None``
            reads ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``.
        redact: applied to response content and tool arguments before they are recorded
            (request content arrives redacted by the recorder); a failing hook drops the
            content.
        sdk_span_mode: ``"attempt"`` or ``"enrich"``; see the module docstring.
        latest_semconv: emit the gen2 names instead of the gen1 ones; default from
            ``OTEL_SEMCONV_STABILITY_OPT_IN``.
        max_linked_spans: exchange ids remembered for links (LRU).
        max_label_values: distinct models / tools per metric attribute before ``_other``.
        max_content_chars: characters kept per captured text part.
        infer_tool_spans: make an inferred ``execute_tool`` span per matched tool result
            (the time from the asking response to the answering request, application
            overhead included). Off by default: exact tool spans come from the PTC client.
        tool_call_events: add a ``ptc.tool_call`` event per ``tool_use`` block and a
            ``ptc.code_execution_result`` event per code execution result. Off by default:
            each event costs about as much as a fifth of the span (the SDK builds and
            checks an attribute set per event), the counts by caller are span attributes
            anyway, and content capture records every call in ``gen_ai.output.messages``.
        code_execution_spans: one ``execute_tool {variant}`` span per code execution,
            from its start to its result (on by default).
        max_code_execution_spans: code-execution spans held open at once.
    """

    def __init__(
        self,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        *,
        capture_content: bool | None = None,
        redact: Callable[[Any], Any] | None = None,
        sdk_span_mode: SdkSpanMode = "attempt",
        latest_semconv: bool | None = None,
        max_linked_spans: int = 10_000,
        max_label_values: int = 100,
        max_content_chars: int = 16_384,
        infer_tool_spans: bool = False,
        tool_call_events: bool = False,
        code_execution_spans: bool = True,
        max_code_execution_spans: int = 10_000,
    ) -> None:
        if sdk_span_mode not in ("attempt", "enrich"):
            raise ValueError(
                f"sdk_span_mode must be 'attempt' or 'enrich', not {sdk_span_mode!r}"
            )
        self.sdk_span_mode: SdkSpanMode = sdk_span_mode
        self.latest_semconv = (
            sc.latest_experimental() if latest_semconv is None else latest_semconv
        )
        self.capture = content.capture_mode(capture_content, os.environ)
        self._capturing = self.capture.enabled
        self.redact = redact
        self.max_content_chars = max_content_chars
        self.infer_tool_spans = infer_tool_spans
        self.tool_call_events = tool_call_events
        self._tracer = get_tracer(
            sc.INSTRUMENTATION_SCOPE, __version__, tracer_provider=tracer_provider
        )
        # Decided once, at the first span (a global provider may be set after the sink
        # is made): whether the provider's sampler keeps every root span. Then a span gets
        # all its attributes at start (one pass through the SDK's checks); otherwise only
        # what the sampler reads, and the rest only if it was sampled.
        self._tracer_provider = tracer_provider
        self._samples_all: bool | None = None
        self.metrics = GenAIMetrics(
            meter_provider,
            latest=self.latest_semconv,
            max_label_values=max_label_values,
        )
        self._metrics_on = self.metrics.enabled
        self.code_execution_spans = code_execution_spans
        self._code = CodeExecutionSpans(
            self._tracer,
            self.metrics.code_execution_duration,
            self.capture,
            redact,
            max_content_chars,
            max_code_execution_spans,
        )
        self._max_links = max_linked_spans
        self._spans: OrderedDict[int, SpanContext] = OrderedDict()
        self._lock = threading.Lock()

    # --- sink protocol ---

    def bind_errors(self, report: Callable[[str, BaseException], None]) -> None:
        """Report failures of optional parts (the metrics' exemplar context) to ``report``."""
        self.metrics.report = report

    def on_exchange(self, exchange: Exchange) -> None:
        """Record the GenAI metrics of one exchange."""
        if not self._metrics_on:
            return  # the API's no-op meter: every measurement would be dropped
        # The span context ``trace`` remembered: exemplars point at it without a new one.
        self.metrics.record(exchange, self._spans.get(exchange.id))
        if exchange.code_executions:
            self._code.record(exchange)

    def on_code_execution_ended(self, execution: CodeExecution) -> None:
        """End the span of a code execution whose result never came."""
        if self.code_execution_spans:
            self._code.unfinished(execution)

    def trace(self, exchange: Exchange) -> Exchange:
        """Make the exchange's span (or enrich the SDK's), and inferred tool spans if asked.

        Returns:
            A copy with ``trace_id``/``span_id`` of the recorded span, or ``exchange``
            itself when nothing was sampled.
        """
        return self._trace(exchange, False)

    def trace_fresh(self, exchange: Exchange) -> Exchange:
        """:meth:`trace` for a record nothing else holds yet (the observer's pipeline):
        the span's ids are written into it, as the correlator writes its facts, instead
        of into a copy. Returns ``exchange``."""
        return self._trace(exchange, True)

    def _trace(self, exchange: Exchange, fresh: bool) -> Exchange:
        ex = exchange
        parent_ctx: Context | None = ex.parent_context
        # An empty context (nothing was current at send time: a bare client) holds no
        # span: skip the lookup and the SDK-span checks (the common case).
        sdk_span = _sdk_call_span(parent_ctx) if parent_ctx else None
        # Links only for requests that answer tool calls: no list, no lookups otherwise.
        links: Sequence[Link] = self._links(ex.answers) if ex.answers else ()
        code = self._code if ex.code_executions and self.code_execution_spans else None
        start_after = ends = False
        if code is not None:
            # The application's context is looked up only when a code execution's span
            # starts here (once per run), not on every resume.
            code_links, start_after, ends = code.before(
                ex, lambda: _app_context(parent_ctx, sdk_span) if parent_ctx else None
            )
            if code_links:
                links = [*links, *code_links]
        if (
            sdk_span is not None
            and self.sdk_span_mode == "enrich"
            and sdk_span.is_recording()
        ):
            self._enrich(sdk_span, ex, links)
            span_ctx = sdk_span.get_span_context()
        else:
            span_ctx = self._span(ex, parent_ctx, sdk_span, links)
        valid = span_ctx.is_valid
        if valid:
            self._remember(ex.id, span_ctx)
        if start_after:
            self._code.after(ex, span_ctx)
        if (
            self.infer_tool_spans
            and ex.tool_turnarounds
            and not get_value(sc.CONTEXT_EXACT_TOOL_SPANS, parent_ctx)
        ):
            app_ctx = _app_context(parent_ctx, sdk_span)
            for t in ex.tool_turnarounds:
                self._execute_tool_span(ex, t, app_ctx)
        if ends:
            self._code.finish(ex)
        if valid and span_ctx.trace_flags & _SAMPLED:
            if fresh:
                _set_field(ex, "trace_id", span_ctx.trace_id)
                _set_field(ex, "span_id", span_ctx.span_id)
                return ex
            return dataclasses.replace(
                ex, trace_id=span_ctx.trace_id, span_id=span_ctx.span_id
            )
        return ex

    # --- spans ---

    def _span(
        self,
        ex: Exchange,
        parent_ctx: Context | None,
        sdk_span: Span | None,
        links: Sequence[Link],
    ) -> SpanContext:
        deferred = False  # the end attributes wait for the sampler's decision
        if sdk_span is not None:
            # The SDK's span is the inference span and stays as the SDK made it.
            name, base = attributes.attempt_base(ex)
            attrs = attributes.http_attributes(ex, base)
            attributes.add_http_response_attributes(ex, attrs)
            attributes.add_ptc_attributes(ex, attrs)
        else:
            req = ex.request
            # Name and the attributes model and server fix, decided once per combination.
            name, base = attributes.chat_base(
                ex.model, req.server_address, req.server_port
            )
            latest = self.latest_semconv
            attrs = attributes.start_attributes(ex, latest, base)
            samples_all = self._samples_all
            if samples_all is None:
                samples_all = self._samples_all = samples_every_root(
                    self._tracer_provider
                )
            if samples_all:
                attributes.add_end_attributes(ex, latest, attrs)
            else:
                deferred = True
        status = attributes.status(ex) if ex.outcome is not Outcome.OK else None
        if status is not None and not deferred:
            attrs[sc.ERROR_TYPE] = status[0]
        timings = ex.timings
        end = timings.unix_ns(timings.finished)
        # The exchange is over when we get it, so the span is made whole: with a sampler
        # that keeps every root span, every attribute at start (one pass through the
        # SDK's attribute checks; samplers see them all).
        span = self._tracer.start_span(
            name,
            context=parent_ctx,
            kind=SpanKind.CLIENT,
            attributes=attrs,
            links=links,
            start_time=timings.sent_unix_ns,
        )
        # Only what needs the recording span asks whether it records.
        if (
            deferred or status is not None or self._capturing or self.tool_call_events
        ) and span.is_recording():
            if deferred:
                later = attributes.add_end_attributes(ex, self.latest_semconv, {})
                if status is not None:
                    later[sc.ERROR_TYPE] = status[0]
                span.set_attributes(later)
            reply = ex.reply
            if self.tool_call_events and reply is not None:
                self._events(span, reply, end)
            if self._capturing:
                self._content(span, ex)
            if status is not None:
                span.set_status(Status(StatusCode.ERROR, status[1]))
                if ex.status_code is None and ex.error_type:
                    # No response at all: the request failed with an exception (timeout,
                    # connection). Only its class is known; messages may hold secrets.
                    span.add_event(
                        sc.EVENT_OPERATION_EXCEPTION,
                        {sc.EXCEPTION_TYPE: ex.error_type},
                        timestamp=end,
                    )
        span.end(end_time=end)
        return span.get_span_context()

    def _enrich(self, span: Span, ex: Exchange, links: Sequence[Link]) -> None:
        span.set_attributes(
            {**attributes.sdk_usage(ex), **attributes.ptc_attributes(ex)}
        )
        for link in links:
            span.add_link(link.context, link.attributes)
        reply = ex.reply
        if self.tool_call_events and reply is not None:
            self._events(span, reply, ex.timings.unix_ns(ex.timings.finished))

    def _events(self, span: Span, reply: Reply, at: int) -> None:
        """One event per tool call and per code execution result, at the end time ``at``."""
        arguments = self._arguments(reply) if self.capture.enabled else None
        for use in reply.tool_uses:
            attrs: dict[str, Any] = {
                sc.GEN_AI_TOOL_NAME: use.name,
                sc.GEN_AI_TOOL_CALL_ID: use.id,
                sc.PTC_CALLER_TYPE: use.caller_type,
            }
            if use.caller_tool_id is not None:
                attrs[sc.PTC_CALLER_TOOL_ID] = use.caller_tool_id
            if arguments is not None:
                args = arguments.get(use.id)
                if args is not None:
                    attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = args
            span.add_event(sc.EVENT_TOOL_CALL, attrs, timestamp=at)
        for result in reply.code_results:
            attrs = {
                sc.GEN_AI_TOOL_NAME: result.variant,
                sc.GEN_AI_TOOL_CALL_ID: result.tool_use_id,
                sc.PTC_CODE_EXECUTION_OUTCOME: (
                    sc.CODE_EXECUTION_SUCCESS
                    if result.succeeded
                    else sc.CODE_EXECUTION_ERROR
                ),
            }
            if result.return_code is not None:
                attrs[sc.PTC_CODE_EXECUTION_RETURN_CODE] = result.return_code
            span.add_event(sc.EVENT_CODE_EXECUTION_RESULT, attrs, timestamp=at)

    def _arguments(self, reply: Reply) -> dict[str, str]:
        """Tool call arguments by call id, redacted, as JSON (content capture only)."""
        found: dict[str, str] = {}
        for block in reply.message.content:
            if isinstance(block, ToolUseBlock):
                args = content.redacted(block.input, self.redact)
                if args is not None:
                    found[block.id] = content.to_json(args, self.max_content_chars)
        return found

    def _content(self, span: Span, ex: Exchange) -> None:
        limit = self.max_content_chars
        attrs: dict[str, Any] = dict(content.input_content(ex.request.content, limit))
        if ex.message is not None:
            output = content.redacted(
                content.output_messages(ex.message, limit), self.redact
            )
            if output is not None:
                attrs[sc.GEN_AI_OUTPUT_MESSAGES] = json.dumps(
                    output, ensure_ascii=False
                )
        if not attrs:
            return
        if self.capture.span:
            span.set_attributes(attrs)
        if self.capture.event:
            span.add_event(sc.EVENT_INFERENCE_DETAILS, attrs)

    def _execute_tool_span(
        self, ex: Exchange, t: ToolTurnaround, app_ctx: Context | None
    ) -> None:
        asked = self._lookup(t.asked_by)
        links: list[Link] = []
        code_ctx = (
            self._code.context(t.caller_tool_id)
            if t.caller_tool_id is not None and self.code_execution_spans
            else None
        )
        if code_ctx is not None:
            # A programmatic call: its code execution's span is its parent.
            app_ctx = code_ctx
            if asked is not None:
                links.append(Link(asked, _LINK_ASKED_BY))
        elif app_ctx is None and asked is not None:
            # No application span to sit under: nest the tool run in the asking trace.
            app_ctx = set_span_in_context(NonRecordingSpan(asked))
        elif asked is not None:
            links.append(Link(asked, _LINK_ASKED_BY))
        end = ex.timings.sent_unix_ns
        attrs: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OPERATION_EXECUTE_TOOL,
            sc.GEN_AI_TOOL_NAME: t.tool_name,
            sc.GEN_AI_TOOL_CALL_ID: t.tool_use_id,
            sc.GEN_AI_TOOL_TYPE: sc.TOOL_TYPE_FUNCTION,
            sc.PTC_CALLER_TYPE: t.caller_type,
            sc.PTC_TOOL_INFERRED: True,
            sc.PTC_TOOL_RESULT_BYTES: t.result_bytes,
        }
        if t.caller_tool_id is not None:
            attrs[sc.PTC_CALLER_TOOL_ID] = t.caller_tool_id
        if t.is_error:
            attrs[sc.ERROR_TYPE] = sc.ERROR_TYPE_TOOL
        span = self._tracer.start_span(
            f"{sc.OPERATION_EXECUTE_TOOL} {t.tool_name}",
            context=app_ctx,
            kind=SpanKind.INTERNAL,
            attributes=attrs,
            links=links,
            start_time=end - int(t.seconds * 1e9),
        )
        if span.is_recording():
            if self.capture.span:
                # The developer's tool text is content here (as in the tool definitions):
                # recorded with capture on, through the redaction hook.
                description = content.redacted(
                    ex.request.description_of(t.tool_name), self.redact
                )
                if isinstance(description, str) and description:
                    span.set_attribute(sc.GEN_AI_TOOL_DESCRIPTION, description)
                request_content = ex.request.content
                limit = self.max_content_chars
                arguments = content.requested_tool_arguments(
                    request_content, t.tool_use_id, limit
                )
                if arguments is not None:
                    span.set_attribute(sc.GEN_AI_TOOL_CALL_ARGUMENTS, arguments)
                result = content.tool_result_content(
                    request_content, t.tool_use_id, limit
                )
                if result is not None:
                    span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, result)
            if t.is_error:
                span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=end)

    # --- the link LRU ---

    def _links(self, answers: tuple[int, ...]) -> list[Link]:
        links = []
        spans = self._spans
        for exchange_id in answers:
            ctx = spans.get(exchange_id)
            if ctx is not None:
                links.append(Link(ctx, _LINK_ANSWERS))
        return links

    def _lookup(self, exchange_id: int) -> SpanContext | None:
        return self._spans.get(exchange_id)

    def _remember(self, exchange_id: int, ctx: SpanContext) -> None:
        with self._lock:
            spans = self._spans
            spans[exchange_id] = ctx
            if len(spans) > self._max_links:
                spans.popitem(last=False)


# --- contexts ---


def _app_context(parent_ctx: Context | None, sdk_span: Span | None) -> Context | None:
    """The application's context above the exchange (skipping the SDK's call span)."""
    if sdk_span is not None:
        above = getattr(sdk_span, "parent", None)
        if isinstance(above, SpanContext) and above.is_valid:
            return set_span_in_context(NonRecordingSpan(above))
        return None
    if (
        parent_ctx is None
        or not get_current_span(parent_ctx).get_span_context().is_valid
    ):
        return None
    return parent_ctx
