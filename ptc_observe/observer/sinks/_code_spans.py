"""One ``execute_tool {variant}`` span per code execution, open from its start to its result.

The observer's code-execution tracker puts a
:class:`~ptc_observe.events.CodeExecution` snapshot on every exchange that shows one; the
OpenTelemetry sink hands those to :class:`CodeExecutionSpans`:

* :meth:`~CodeExecutionSpans.before` (before the exchange's span): starts the span of a
  code execution first seen here under the application's span when there is one, and
  returns links from the exchange's span to every open code-execution span it shows;
* :meth:`~CodeExecutionSpans.after` (after the exchange's span): starts the spans left,
  as children of the exchange's span (a bare client has no application span: the code
  execution then sits in the trace of the exchange that started it);
* :meth:`~CodeExecutionSpans.context` gives the inferred ``execute_tool`` spans of its
  programmatic calls their parent;
* :meth:`~CodeExecutionSpans.finish` ends the spans whose result came,
  :meth:`~CodeExecutionSpans.unfinished` those the tracker gave up on.

The span is INTERNAL, named ``execute_tool {gen_ai.tool.name}``; it starts when the code
execution was first seen and ends when its result arrived (for PTC: across every resume
of the run). Memory: at most ``max_open`` spans are held; past that the oldest is ended
as unfinished (``evicted``), which the tracker's own bound makes rare.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import Histogram
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    TraceFlags,
)
from opentelemetry.trace.status import Status, StatusCode

from ...events import CodeExecution, Exchange
from ...models import (
    CodeExecutionToolResultBlock,
    ServerToolResultBlock,
    ServerToolUseBlock,
)
from . import _content as content, _semconv as sc

__all__ = ["CodeExecutionSpans"]

_LINK = {sc.PTC_LINK_TYPE: sc.LINK_CODE_EXECUTION}


class CodeExecutionSpans:
    """The open code-execution spans of one OpenTelemetry sink.

    Args:
        tracer: the sink's tracer.
        duration: the ``ptc.code_execution.duration`` histogram.
        capture: the sink's content-capture mode.
        redact: the sink's redaction hook (applied to code and output).
        max_content_chars: characters kept per captured text.
        max_open: spans held open at once.
    """

    def __init__(
        self,
        tracer: trace.Tracer,
        duration: Histogram,
        capture: content.CaptureMode,
        redact: Callable[[Any], Any] | None,
        max_content_chars: int,
        max_open: int = 10_000,
    ) -> None:
        self._tracer = tracer
        self._duration = duration
        self._capture = capture
        self._redact = redact
        self._limit = max_content_chars
        self._max_open = max_open
        self._open: OrderedDict[str, tuple[Span, SpanContext]] = OrderedDict()
        self._lock = threading.Lock()
        self._attrs: dict[tuple[str, str], dict[str, str]] = {}

    # --- around the exchange's span ---

    def before(
        self, ex: Exchange, app_context: Callable[[], Context | None]
    ) -> tuple[list[Link], bool, bool]:
        """Start the new spans under the application's context (when there is one).

        ``app_context`` is called only if a span starts. Returns the links to the open
        spans, whether :meth:`after` has spans left to start and whether :meth:`finish`
        has spans to end: on a resume (every code execution open, none ending) neither
        needs calling.
        """
        links: list[Link] = []
        app_ctx: Context | None = None
        looked_up = start_after = ends = False
        for ce in ex.code_executions:
            found = self._open.get(ce.id)
            if found is None:
                if not looked_up:
                    app_ctx, looked_up = app_context(), True
                if app_ctx is not None:
                    found = self._start(ce, ex, app_ctx)
                else:
                    start_after = True
            if found is not None:
                links.append(Link(found[1], _LINK))
            if ce.outcome is not None:  # CodeExecution.ended
                ends = True
        return links, start_after, ends

    def after(self, ex: Exchange, exchange_ctx: SpanContext) -> None:
        """Start the spans ``before`` could not, as children of the exchange's span."""
        parent: Context | None = None
        for ce in ex.code_executions:
            if ce.id in self._open:
                continue
            if parent is None:
                parent = (
                    trace.set_span_in_context(NonRecordingSpan(exchange_ctx))
                    if exchange_ctx.is_valid
                    else Context()
                )
            self._start(ce, ex, parent)

    def context(self, code_id: str) -> Context | None:
        """The context of the open span of code execution ``code_id``, if any."""
        found = self._open.get(code_id)
        if found is None:
            return None
        return trace.set_span_in_context(NonRecordingSpan(found[1]))

    def finish(self, ex: Exchange) -> None:
        """End the spans of the code executions whose result ``ex`` carried."""
        for ce in ex.code_executions:
            if ce.ended:
                self._end(ce, ex)

    def unfinished(self, ce: CodeExecution) -> None:
        """End the span of a code execution that ended without its result."""
        self._end(ce, None)

    def record(self, ex: Exchange) -> None:
        """Observe the durations of the code executions that ended here (started here too)."""
        for ce in ex.code_executions:
            if ce.outcome is None or not ce.start_observed:
                continue  # running (a resume), or its start went by unseen
            seconds = ce.duration_seconds
            if seconds is not None:
                self._duration.record(seconds, self._metric_attrs(ce.name, ce.outcome))

    def open_count(self) -> int:
        """Spans held open."""
        return len(self._open)

    # --- spans ---

    def _start(
        self, ce: CodeExecution, ex: Exchange, parent: Context
    ) -> tuple[Span, SpanContext]:
        attrs: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OPERATION_EXECUTE_TOOL,
            sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_ANTHROPIC,
            sc.GEN_AI_TOOL_NAME: ce.name,
            sc.GEN_AI_TOOL_CALL_ID: ce.id,
            sc.PTC_CODE_EXECUTION_START_OBSERVED: ce.start_observed,
        }
        if ce.container_id is not None:
            attrs[sc.PTC_CONTAINER_ID] = ce.container_id
        span = self._tracer.start_span(
            f"{sc.OPERATION_EXECUTE_TOOL} {ce.name}",
            context=parent,
            kind=SpanKind.INTERNAL,
            attributes=attrs,
            start_time=ce.started_unix_ns,
        )
        if self._capture.enabled and span.is_recording() and ce.start_observed:
            code = self._code_of(ex, ce.id)
            if code is not None:
                self._content(span, {sc.GEN_AI_TOOL_CALL_ARGUMENTS: code})
        found = (span, span.get_span_context())
        with self._lock:
            self._open[ce.id] = found
            while len(self._open) > self._max_open:
                _, (old, _ctx) = self._open.popitem(last=False)
                old.set_attribute(sc.PTC_CODE_EXECUTION_END_REASON, "evicted")
                old.end()
        return found

    def _end(self, ce: CodeExecution, ex: Exchange | None) -> None:
        with self._lock:
            found = self._open.pop(ce.id, None)
        if found is None:
            if ex is None:
                return  # never started here (the sink missed it): nothing to end
            # Its start went by before this sink saw it: the whole span from the record.
            parent = (
                trace.set_span_in_context(NonRecordingSpan(ex_ctx))
                if (ex_ctx := _exchange_ctx(ex)) is not None
                else Context()
            )
            found = self._start(ce, ex, parent)
            with self._lock:
                self._open.pop(ce.id, None)
        span = found[0]
        if not span.is_recording():
            span.end(end_time=ce.ended_unix_ns)
            return
        outcome = ce.outcome or sc.CODE_EXECUTION_UNFINISHED
        attrs: dict[str, Any] = {
            sc.PTC_CODE_EXECUTION_OUTCOME: outcome,
            sc.PTC_CODE_EXECUTION_TOOL_CALLS: ce.tool_calls,
            sc.PTC_CODE_EXECUTION_SERVER_TOOL_CALLS: ce.server_tool_calls,
            sc.PTC_CODE_EXECUTION_EXCHANGES: ce.exchanges,
        }
        if ce.end_reason is not None:
            attrs[sc.PTC_CODE_EXECUTION_END_REASON] = ce.end_reason
        if ce.return_code is not None:
            attrs[sc.PTC_CODE_EXECUTION_RETURN_CODE] = ce.return_code
        if ce.container_id is not None:
            attrs[sc.PTC_CONTAINER_ID] = ce.container_id
        if outcome == sc.CODE_EXECUTION_ERROR:
            attrs[sc.ERROR_TYPE] = sc.ERROR_TYPE_TOOL
        elif outcome == sc.CODE_EXECUTION_UNFINISHED:
            attrs[sc.ERROR_TYPE] = sc.ERROR_TYPE_UNFINISHED
        span.set_attributes(attrs)
        if ex is not None and self._capture.enabled:
            output = self._output_of(ex, ce.id)
            if output is not None:
                self._content(span, {sc.GEN_AI_TOOL_CALL_RESULT: output})
        if outcome == sc.CODE_EXECUTION_ERROR:
            span.set_status(Status(StatusCode.ERROR, "the code execution failed"))
        elif outcome == sc.CODE_EXECUTION_UNFINISHED:
            span.set_status(
                Status(StatusCode.ERROR, f"no result seen ({ce.end_reason})")
            )
        span.end(end_time=ce.ended_unix_ns)

    def _content(self, span: Span, attrs: dict[str, str]) -> None:
        if self._capture.span:
            span.set_attributes(attrs)
        if self._capture.event:
            span.add_event(sc.EVENT_CODE_EXECUTION_CONTENT, attrs)

    # --- content (capture only) ---

    def _code_of(self, ex: Exchange, code_id: str) -> str | None:
        """The input of the ``server_tool_use`` (the code, the command, the edit)."""
        reply = ex.reply
        if reply is None:
            return None
        for block in reply.message.content:
            if isinstance(block, ServerToolUseBlock) and block.id == code_id:
                value = content.redacted(block.input, self._redact)
                return None if value is None else content.to_json(value, self._limit)
        return None

    def _output_of(self, ex: Exchange, code_id: str) -> str | None:
        """The result's content (stdout, stderr, return code; or the error), as JSON."""
        reply = ex.reply
        if reply is None:
            return None
        for block in reply.message.content:
            if (
                isinstance(block, CodeExecutionToolResultBlock | ServerToolResultBlock)
                and block.tool_use_id == code_id
            ):
                result = block.content
                if result is None:
                    return None
                value = content.redacted(
                    result.model_dump(exclude_none=True)
                    if hasattr(result, "model_dump")
                    else result,
                    self._redact,
                )
                return None if value is None else _clipped_json(value, self._limit)
        return None

    def _metric_attrs(self, name: str, outcome: str) -> dict[str, str]:
        key = (name, outcome)
        attrs = self._attrs.get(key)
        if attrs is None:
            attrs = self._attrs[key] = {
                sc.GEN_AI_TOOL_NAME: name,
                # "outcome", as the Prometheus label: an OTel Prometheus exporter then
                # gives the ptc_code_execution_duration_seconds series the dashboards read.
                sc.L_OUTCOME: outcome,
            }
        return attrs


def _clipped_json(value: Any, limit: int) -> str:
    """JSON of ``value`` with each long string (stdout, stderr, file text) truncated."""

    def clip(v: Any) -> Any:
        if isinstance(v, str):
            return v if len(v) <= limit else v[:limit] + content.TRUNCATED
        if isinstance(v, dict):
            return {k: clip(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clip(x) for x in v]
        return v

    return json.dumps(clip(value), ensure_ascii=False)


def _exchange_ctx(ex: Exchange) -> SpanContext | None:
    if ex.trace_id is None or ex.span_id is None:
        return None
    return SpanContext(
        ex.trace_id, ex.span_id, is_remote=False, trace_flags=TraceFlags(1)
    )
