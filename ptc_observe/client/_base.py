"""What the sync and async PTC clients share: settings, request bodies, the run span.

Nothing here does IO; :mod:`ptc_observe.client` holds the two clients, which only move
bytes and perform the actions of the loop in :mod:`ptc_observe.client._loop`.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any

import httpx2
from opentelemetry import context as otel_context, trace

from .. import _version
from ..observer.pipeline import Observer
from ..observer.sinks import _semconv as sc
from ..observer.transport import DISABLED_ENV
from ._execute import ErrorFormatter, ExecutionSettings, default_error_text
from ._loop import RetryPolicy, RunState, drive
from ._protocol import (
    API_VERSION,
    DEFAULT_MAX_TOKENS,
    DEFAULT_MODEL,
    ClientConfig,
    MessagesInput,
    ToolsInput,
    normalize_messages,
    resolve_api_key,
    resolve_base_url,
)
from ._results import RunResult
from .errors import PTCError
from .tools import DEFAULT_CODE_EXECUTION_VERSION, ToolRegistry

__all__ = ["BaseClient", "default_observer"]

# Names of the run span and its own attributes (documented in docs/client.md).
RUN_SPAN_NAME = "ptc.run"
RUN_ROUNDS = "ptc.run.rounds"
RUN_RETRIES = "ptc.run.retries"
RUN_CONTAINER_RESTARTS = "ptc.run.container_restarts"

_NO_SPANS = trace.NoOpTracer()
_TRUTHY = frozenset({"1", "true", "yes", "on"})


def _disabled() -> bool:
    return os.environ.get(DISABLED_ENV, "").strip().lower() in _TRUTHY


_default_observer: Observer | None = None
_default_lock = threading.Lock()


def default_observer() -> Observer:
    """The process-wide observer that clients given none share.

    One observer per process keeps one correlator (containers seen across clients)
    and registers the Prometheus metrics once.
    """
    global _default_observer
    with _default_lock:
        if _default_observer is None:
            _default_observer = Observer()
        return _default_observer


class BaseClient:
    """Settings, request building and the run span, shared by both clients.

    Args:
        api_key: API key; default ``ANTHROPIC_API_KEY``. Sent as ``x-api-key``.
        base_url: Default ``ANTHROPIC_BASE_URL``, else ``https://api.anthropic.com``.
        model: Model of every request unless overridden per call.
        max_tokens: ``max_tokens`` of every request unless overridden (default 4096).
        tools: The default :class:`ToolRegistry` for ``complete()`` and ``run()``.
        ptc: Programmatic Tool Calling on (declare code execution, send programmatic
            callers); ``False`` makes every tool direct.
        code_execution_version: ``code_execution_20260120`` (default),
            ``code_execution_20260521``, or the beta-era ``code_execution_20250825``
            (which adds the ``advanced-tool-use-2025-11-20`` beta header).
        anthropic_version: The ``anthropic-version`` header (default ``2023-06-01``).
        container_id: A container every request reuses unless told otherwise.
        timeout: HTTP timeout in seconds (connect: 5 s).
        retry: Retry policy for rate limits, overloads and broken responses.
        max_rounds: Most responses one ``run()`` may use.
        max_container_restarts: Times ``run()`` starts its turn again in a fresh
            container after the container expired.
        tool_timeout: Seconds a handler may run unless its spec says otherwise.
        max_tool_concurrency: Handlers running at once for one response.
        format_tool_error: Text of the error result when a handler raises.
        observer: The :class:`Observer` whose transport carries the requests;
            default: :func:`default_observer` (or, with ``tracer_provider``, a new
            observer tracing to it).
        observe: ``False``: no observing transport and no spans.
        tracer_provider: For the run and tool spans; default: the global provider.
        transport: The inner httpx2 transport (sync client: a ``BaseTransport``,
            async client: an ``AsyncBaseTransport``), e.g. the emulator's.
        default_headers: Extra headers on every request.
        rng: Source of retry jitter.
        sleep: Waits between retries (sync: ``time.sleep``; async: ``anyio.sleep``);
            inject a recorder in tests.
        on_retry: Called with the error and the delay before each retry (e.g. to
            log it, or to mark that a stream starts over).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        model: str = DEFAULT_MODEL,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        tools: ToolRegistry | None = None,
        ptc: bool = True,
        code_execution_version: str = DEFAULT_CODE_EXECUTION_VERSION,
        anthropic_version: str = API_VERSION,
        container_id: str | None = None,
        timeout: float = 600.0,
        retry: RetryPolicy | None = None,
        max_rounds: int = 25,
        max_container_restarts: int = 2,
        tool_timeout: float = 60.0,
        max_tool_concurrency: int = 16,
        format_tool_error: ErrorFormatter | None = None,
        observer: Observer | None = None,
        observe: bool = True,
        tracer_provider: trace.TracerProvider | None = None,
        transport: httpx2.BaseTransport | httpx2.AsyncBaseTransport | None = None,
        default_headers: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Any] | None = None,
        on_retry: Callable[[PTCError, float], None] | None = None,
    ) -> None:
        if tools is not None and not isinstance(tools, ToolRegistry):
            raise TypeError("tools= takes a ToolRegistry")
        if max_tool_concurrency < 1 or tool_timeout <= 0 or max_rounds < 1:
            raise ValueError(
                "max_rounds, max_tool_concurrency and tool_timeout must be positive"
            )
        # An unknown version fails here rather than at the first request.
        ToolRegistry(code_execution_version=code_execution_version)
        self.config = ClientConfig(
            api_key=resolve_api_key(api_key),
            base_url=resolve_base_url(base_url),
            model=model,
            max_tokens=max_tokens,
            ptc=ptc,
            code_execution_version=code_execution_version,
            anthropic_version=anthropic_version,
            default_headers=dict(default_headers or {}),
        )
        self.tools = tools
        self.container_id = container_id
        self.retry = retry if retry is not None else RetryPolicy()
        self.max_rounds = max_rounds
        self.max_container_restarts = max_container_restarts
        self.tool_timeout = tool_timeout
        self.max_tool_concurrency = max_tool_concurrency
        self.format_tool_error = format_tool_error or default_error_text
        self.rng = rng if rng is not None else random.Random()
        self.on_retry = on_retry
        self.observer: Observer | None = None
        self._tracer: trace.Tracer = _NO_SPANS
        if observe:
            if observer is None:
                observer = (
                    default_observer()
                    if tracer_provider is None
                    else Observer(tracer_provider=tracer_provider)
                )
            self.observer = observer
            self._tracer = trace.get_tracer(
                sc.INSTRUMENTATION_SCOPE,
                _version.__version__,
                tracer_provider=tracer_provider,
            )
        self._timeout = httpx2.Timeout(timeout, connect=5.0)
        self._setup_http(transport, sleep)

    def _setup_http(self, transport: Any, sleep: Any) -> None:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        """Where requests go."""
        return self.config.base_url

    @property
    def model(self) -> str:
        """The default model."""
        return self.config.model

    def _body(
        self,
        messages: MessagesInput,
        tools: ToolsInput,
        container_id: str | None,
        stream: bool,
        model: str | None,
        max_tokens: int | None,
        params: Mapping[str, Any],
    ) -> dict[str, Any]:
        return self.config.body(
            normalize_messages(messages),
            tools=self.config.tools_array(self.tools if tools is None else tools),
            container_id=container_id
            if container_id is not None
            else self.container_id,
            stream=stream,
            model=model,
            max_tokens=max_tokens,
            params=params,
        )

    def _run_setup(
        self,
        messages: MessagesInput,
        tools: ToolRegistry | None,
        container_id: str | None,
        max_rounds: int | None,
        body: Callable[[RunState], dict[str, Any]],
    ) -> tuple[RunState, ToolRegistry, Generator[Any, Any, RunResult]]:
        registry = tools if tools is not None else self.tools
        if not isinstance(registry, ToolRegistry):
            raise TypeError("run() needs a ToolRegistry (tools= here or on the client)")
        state = RunState(
            normalize_messages(messages),
            self.config.tools_array(registry),
            container_id=container_id
            if container_id is not None
            else self.container_id,
            max_rounds=max_rounds if max_rounds is not None else self.max_rounds,
            max_container_restarts=self.max_container_restarts,
        )
        return state, registry, drive(state, body, self.retry, self.rng)

    def _run_body(
        self,
        stream: bool,
        model: str | None,
        max_tokens: int | None,
        params: Mapping[str, Any],
    ) -> Callable[[RunState], dict[str, Any]]:
        def body(state: RunState) -> dict[str, Any]:
            return self.config.body(
                state.messages,
                tools=state.tools,
                container_id=state.container_id,
                stream=stream,
                model=model,
                max_tokens=max_tokens,
                params=params,
            )

        return body

    @contextlib.contextmanager
    def _run_span(
        self, state: RunState, registry: ToolRegistry, model: str | None
    ) -> Iterator[ExecutionSettings]:
        """The ``ptc.run`` span, current for the whole run (HTTP exchanges nest in it)."""
        # The run-time switch that turns the transport into a pass-through also
        # silences the client's own spans.
        tracer = _NO_SPANS if _disabled() else self._tracer
        span = tracer.start_span(
            RUN_SPAN_NAME,
            kind=trace.SpanKind.INTERNAL,
            attributes={sc.GEN_AI_REQUEST_MODEL: model or self.config.model},
        )
        settings = ExecutionSettings(
            registry=registry,
            default_timeout=self.tool_timeout,
            max_concurrency=self.max_tool_concurrency,
            format_error=self.format_tool_error,
            tracer=tracer,
            parent=trace.set_span_in_context(span),
            capture_content=self.observer is not None and self.observer.capture_content,
            redact=self.observer.redact if self.observer is not None else None,
        )
        # The run context says "tool spans are exact here" so the observer (which sees
        # the exchanges under it) can skip the execute_tool spans it would infer.
        token = otel_context.attach(
            otel_context.set_value(sc.CONTEXT_EXACT_TOOL_SPANS, True, settings.parent)
        )
        try:
            yield settings
        except BaseException as exc:
            error_type = str(getattr(exc, "type", None) or type(exc).__name__)
            span.set_attribute(sc.ERROR_TYPE, error_type)
            span.record_exception(exc)
            span.set_status(trace.Status(trace.StatusCode.ERROR, error_type))
            raise
        finally:
            summary = state.summary
            span.set_attribute(RUN_ROUNDS, summary.rounds)
            span.set_attribute(RUN_RETRIES, summary.retries)
            span.set_attribute(RUN_CONTAINER_RESTARTS, summary.container_restarts)
            span.set_attribute(sc.PTC_TOOL_CALLS_DIRECT, summary.tool_calls["direct"])
            span.set_attribute(
                sc.PTC_TOOL_CALLS_PROGRAMMATIC, summary.tool_calls["programmatic"]
            )
            if state.container_id is not None:
                span.set_attribute(sc.PTC_CONTAINER_ID, state.container_id)
            if summary.stop_reason is not None:
                span.set_attribute(
                    sc.GEN_AI_RESPONSE_FINISH_REASONS, [summary.stop_reason]
                )
            span.end()
            otel_context.detach(token)
