"""Running tool handlers for the loop: timeouts, errors, parallelism and spans.

Each call gets an ``execute_tool {name}`` span (INTERNAL) that starts when its handler
starts and ends when it returns, raises or times out, parented under the run span.
Unlike the durations the observer infers from traffic, these are exact.

Programmatic calls that arrive in one response run concurrently (the code awaits them
together, e.g. with ``asyncio.gather``); direct calls run one after another in the
order the model wrote them, since the model may expect their effects in that order.

Sync and async twins sit side by side: :func:`execute_sync` runs each handler in a
daemon thread (so a handler that never returns cannot hold up the loop past its
timeout), :func:`execute_async` runs coroutines as anyio tasks and sync handlers in
worker threads.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from opentelemetry import context as otel_context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..models import ToolCall
from ..observer.sinks import _semconv as sc
from ._results import ToolExecution, render_result
from .tools import ToolHandler, ToolRegistry

__all__ = ["ExecutionSettings", "ErrorFormatter", "execute_async", "execute_sync"]

ErrorFormatter = Callable[[ToolCall, BaseException], str]
"""Builds the ``tool_result`` text for a handler that raised."""

ERROR_TOOL_NOT_FOUND = "tool_not_found"


def default_error_text(call: ToolCall, exc: BaseException) -> str:
    """``"ToolName failed: ExcClass: message"``; the model reads it and may retry."""
    return f"{call.name} failed: {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class ExecutionSettings:
    """How the loop runs handlers.

    Args:
        registry: Where handlers and per-tool timeouts come from.
        default_timeout: Seconds a handler may run when its spec sets none.
        max_concurrency: Most handlers running at once for one response.
        format_error: Text of the error result for a handler that raised.
        tracer: Tracer of the ``execute_tool`` spans.
        parent: OpenTelemetry context to parent the spans on (the run span's).
        capture_content: put each call's arguments and its tool's description on its
            span (``gen_ai.tool.call.arguments``, ``gen_ai.tool.description``; content).
        redact: applied to the arguments before they are recorded; a failing hook
            drops them.
    """

    registry: ToolRegistry
    default_timeout: float
    max_concurrency: int
    format_error: ErrorFormatter
    tracer: trace.Tracer
    parent: otel_context.Context | None
    capture_content: bool = False
    redact: Callable[[Any], Any] | None = None


def _arguments(value: Any, redact: Callable[[Any], Any] | None) -> str | None:
    """``value`` (arguments, a description) redacted, as text or JSON; ``None`` when
    the hook fails."""
    try:
        if redact is not None:
            value = redact(value)
        return (
            value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        )
    except Exception:  # the hook's or json's message may quote the content: drop it
        return None


class _Call:
    """One handler invocation: its span, and a result that is decided once."""

    def __init__(self, call: ToolCall, settings: ExecutionSettings) -> None:
        self.call = call
        self._settings = settings
        spec = (
            settings.registry.get(call.name) if call.name in settings.registry else None
        )
        self.description = spec.description if spec is not None else None
        self.timeout = (
            spec.timeout if spec is not None else None
        ) or settings.default_timeout
        self.handler: ToolHandler | None = settings.registry.handler(call.name)
        self.span: trace.Span | None = None
        self.started = 0.0
        self.outcome: ToolExecution | None = None
        self._lock = threading.Lock()

    def begin(self) -> None:
        """Start the span (the handler is about to run)."""
        attributes = {
            sc.GEN_AI_OPERATION_NAME: sc.OPERATION_EXECUTE_TOOL,
            sc.GEN_AI_TOOL_NAME: self.call.name,
            sc.GEN_AI_TOOL_CALL_ID: self.call.id,
            sc.GEN_AI_TOOL_TYPE: sc.TOOL_TYPE_FUNCTION,
            sc.PTC_CALLER_TYPE: self.call.caller.type,
        }
        if self.call.caller.tool_id is not None:
            attributes[sc.PTC_CALLER_TOOL_ID] = self.call.caller.tool_id
        if self._settings.capture_content:
            # Content, like the tool definitions: with capture on, through the hook.
            if self.description:
                description = _arguments(self.description, self._settings.redact)
                if description:
                    attributes[sc.GEN_AI_TOOL_DESCRIPTION] = description
            arguments = _arguments(self.call.input, self._settings.redact)
            if arguments is not None:
                attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = arguments
        self.span = self._settings.tracer.start_span(
            f"{sc.OPERATION_EXECUTE_TOOL} {self.call.name}",
            context=self._settings.parent,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
        )
        self.started = time.perf_counter()

    def finish(
        self,
        content: str,
        *,
        is_error: bool = False,
        error_type: str | None = None,
        timed_out: bool = False,
        exc: BaseException | None = None,
    ) -> None:
        """Decide the result once (a late handler after a timeout is ignored)."""
        with self._lock:
            if self.outcome is not None:
                return
            if self.span is None:
                self.begin()
            assert self.span is not None
            duration = time.perf_counter() - self.started
            self.outcome = ToolExecution(
                call=self.call,
                content=content,
                is_error=is_error,
                error_type=error_type,
                timed_out=timed_out,
                duration=duration,
            )
            if error_type is not None:
                self.span.set_attribute(sc.ERROR_TYPE, error_type)
                self.span.set_status(Status(StatusCode.ERROR, error_type))
            if exc is not None:
                self.span.record_exception(exc)
            self.span.end()

    def missing(self) -> None:
        """The model called a tool without a handler: an error result, not a crash."""
        known = self.call.name in self._settings.registry
        why = "has no handler" if known else "is not a tool of this application"
        self.finish(
            f"{self.call.name} {why}",
            is_error=True,
            error_type=ERROR_TOOL_NOT_FOUND,
        )

    def returned(self, value: Any) -> None:
        """The handler returned ``value``."""
        try:
            result = render_result(value)
        except Exception as exc:  # a value that cannot even be turned into text
            self.raised(exc)
            return
        self.finish(
            result.content,
            is_error=result.is_error,
            error_type=sc.ERROR_TYPE_TOOL if result.is_error else None,
        )

    def raised(self, exc: BaseException) -> None:
        """The handler raised ``exc``."""
        try:
            text = self._settings.format_error(self.call, exc)
        except Exception:
            text = default_error_text(self.call, exc)
        self.finish(text, is_error=True, error_type=type(exc).__name__, exc=exc)

    def timed_out_now(self) -> None:
        """The handler ran past its timeout."""
        self.finish(
            f"{self.call.name} timed out after {self.timeout:g} s",
            is_error=True,
            error_type="TimeoutError",
            timed_out=True,
        )

    def use_span(self) -> Any:
        """Make the span current, so spans the handler makes nest under it."""
        assert self.span is not None
        return trace.use_span(
            self.span,
            end_on_exit=False,
            record_exception=False,
            set_status_on_exception=False,
        )


def _groups(calls: Sequence[ToolCall]) -> list[list[ToolCall]]:
    """Programmatic calls together, each direct call alone, in arrival order."""
    groups: list[list[ToolCall]] = []
    for call in calls:
        if call.is_programmatic and groups and groups[-1][0].is_programmatic:
            groups[-1].append(call)
        else:
            groups.append([call])
    return groups


# --- sync ---


def _run_in_thread(job: _Call, done: queue.Queue[_Call]) -> None:
    handler = job.handler
    assert handler is not None
    try:
        with job.use_span():
            if inspect.iscoroutinefunction(handler):
                value = asyncio.run(handler(**job.call.input))
            else:
                value = handler(**job.call.input)
                if inspect.isawaitable(value):
                    value = asyncio.run(_await(value))
        job.returned(value)
    except BaseException as exc:  # the model gets an error result, the loop goes on
        job.raised(exc)
    finally:
        done.put(job)


async def _await(value: Any) -> Any:
    return await value


def execute_sync(
    calls: Sequence[ToolCall], settings: ExecutionSettings
) -> list[ToolExecution]:
    """Run the calls of one response; results in the order of ``calls``."""
    jobs = [_Call(c, settings) for c in calls]
    by_id = {id(j.call): j for j in jobs}
    for group in _groups(calls):
        _run_group_sync([by_id[id(c)] for c in group], settings.max_concurrency)
    return [j.outcome for j in jobs if j.outcome is not None]


def _run_group_sync(jobs: list[_Call], limit: int) -> None:
    done: queue.Queue[_Call] = queue.Queue()
    waiting = list(jobs)
    running: dict[int, tuple[_Call, float]] = {}
    while waiting or running:
        while waiting and len(running) < limit:
            job = waiting.pop(0)
            if job.handler is None:
                job.missing()
                continue
            job.begin()
            running[id(job)] = (job, job.started + job.timeout)
            threading.Thread(
                target=_run_in_thread,
                args=(job, done),
                name=f"ptc-tool-{job.call.name}",
                daemon=True,
            ).start()
        if not running:
            continue
        wait = max(
            0.0, min(deadline for _, deadline in running.values()) - time.perf_counter()
        )
        try:
            finished = done.get(timeout=wait)
            running.pop(id(finished), None)
        except queue.Empty:
            now = time.perf_counter()
            for key, (job, deadline) in list(running.items()):
                if now >= deadline:
                    job.timed_out_now()
                    del running[key]


# --- async ---


async def execute_async(
    calls: Sequence[ToolCall], settings: ExecutionSettings
) -> list[ToolExecution]:
    """Run the calls of one response; results in the order of ``calls``."""
    jobs = [_Call(c, settings) for c in calls]
    by_id = {id(j.call): j for j in jobs}
    limiter = anyio.CapacityLimiter(settings.max_concurrency)
    for group in _groups(calls):
        async with anyio.create_task_group() as tg:
            for call in group:
                tg.start_soon(_run_async, by_id[id(call)], limiter)
    return [j.outcome for j in jobs if j.outcome is not None]


async def _run_async(job: _Call, limiter: anyio.CapacityLimiter) -> None:
    handler = job.handler
    if handler is None:
        job.missing()
        return
    async with limiter:
        job.begin()
        with anyio.move_on_after(job.timeout) as scope:
            try:
                with job.use_span():
                    if inspect.iscoroutinefunction(handler):
                        value = await handler(**job.call.input)
                    else:
                        value = await anyio.to_thread.run_sync(
                            _call_sync, handler, job.call.input, abandon_on_cancel=True
                        )
                    if inspect.isawaitable(value):
                        value = await value
            except Exception as exc:
                job.raised(exc)
                return
        if scope.cancelled_caught:
            job.timed_out_now()
        else:
            job.returned(value)


def _call_sync(handler: Callable[..., Any], tool_input: dict[str, Any]) -> Any:
    return handler(**tool_input)
