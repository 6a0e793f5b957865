"""The :class:`Observer`: hands out observing transports and runs the pipeline.

Every finished exchange goes through one pipeline: the correlator (tool turnarounds,
containers) and the code-execution tracker, then the tracers (sinks with a ``trace`` method, which add span ids), then
every sink's ``on_exchange``. Each stage is guarded: telemetry never raises into the
application. A failure is logged at debug level (rate limited per kind), counted in
:attr:`Observer.telemetry_errors` and reported to sinks that have
``on_telemetry_error(stage)``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..events import CodeExecution, ContainerEnded, Exchange
from ..pricing.accounting import Accountant, book_or_none
from .code_executions import CodeExecutionTracker
from .correlator import Correlator, Limits
from .sinks import Sink, sink_hooks
from .sinks._semconv import TELEMETRY_STAGES

if TYPE_CHECKING:
    import httpx
    import httpx2

    from ..pricing import PriceBook

__all__ = ["CAPTURE_CONTENT_ENV", "Observer", "STAGES"]

logger = logging.getLogger("ptc_observe")

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The GenAI content-capture switch; any value but ``NO_CONTENT``/``false`` turns it on."""

STAGES = TELEMETRY_STAGES
"""Where a telemetry error can happen (the ``stage`` of ``telemetry_errors``)."""

_CAPTURE_ON = frozenset({"span_only", "event_only", "span_and_event", "true", "1"})

# Sinks every Observer in the process also feeds (``testing.capture_exchanges``).
_process_sinks: list[Sink] = []
_process_sinks_lock = threading.Lock()


def _add_process_sink(sink: Sink) -> None:
    with _process_sinks_lock:
        _process_sinks.append(sink)


def _remove_process_sink(sink: Sink) -> None:
    with _process_sinks_lock:
        _process_sinks.remove(sink)


def _accountant(prices: Any, max_open_runs: int) -> Accountant:
    """The pricing and runs stage for the ``prices`` argument (see :class:`Observer`)."""
    book = None
    if prices is not None or _has_genai_prices():
        book = book_or_none(prices)
    return Accountant(book, max_open_runs=max_open_runs)


def _has_genai_prices() -> bool:
    try:
        import genai_prices  # noqa: F401
    except ImportError:  # Python 3.10: genai-prices needs 3.11
        return False
    return True


def capture_content_from_env() -> bool:
    """True when ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` asks for content."""
    value = os.environ.get(CAPTURE_CONTENT_ENV, "")
    return value.strip().lower() in _CAPTURE_ON


class _RateLimitedLog:
    """Debug log of telemetry failures: the first of each kind, then one a minute."""

    __slots__ = ("_interval", "_lock", "_seen")

    def __init__(self, interval: float = 60.0) -> None:
        self._interval = interval
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def log(self, stage: str, exc: BaseException) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        kind = (stage, type(exc).__name__)
        now = time.monotonic()
        with self._lock:
            last, suppressed = self._seen.get(kind, (-self._interval, 0))
            if now - last < self._interval:
                self._seen[kind] = (last, suppressed + 1)
                return
            self._seen[kind] = (now, 0)
        logger.debug(
            "ptc_observe: telemetry error in stage %s (%d similar suppressed)",
            stage,
            suppressed,
            exc_info=exc,
        )


class Observer:
    """Observes Messages API traffic and feeds what it sees to sinks.

    With no arguments it reports to Prometheus (the default registry) and
    OpenTelemetry (the global providers)::

        observer = Observer()
        client = anthropic.Anthropic(
            http_client=httpx2.Client(transport=observer.transport())
        )

    Args:
        sinks: more sinks; anything with ``on_exchange(exchange) -> None``.
        registry: the Prometheus registry of the built-in Prometheus sink.
        tracer_provider: the tracer provider of the built-in OpenTelemetry sink.
        meter_provider: the meter provider of the built-in OpenTelemetry sink.
        prometheus: add the built-in Prometheus sink.
        opentelemetry: add the built-in OpenTelemetry sink.
        capture_content: record request content and streamed text; ``None`` reads
            ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``.
        redact: applied to captured content before any sink sees it.
        limits: memory bounds of the correlator and label sets.
        tool_call_events: the built-in OpenTelemetry sink adds a ``ptc.tool_call`` event
            per tool call and a ``ptc.code_execution_result`` event per result to the
            exchange's span (off by default: see ``OTelSink``).
        prices: what exchanges are priced with (``ptc_cost_usd_total``, the
            ``ptc.cost.usd`` span attribute): ``None`` (default) genai-prices' data plus
            the price file named by ``PTC_OBSERVE_PRICE_FILE``, if set; a path to a price
            file; a :class:`~ptc_observe.pricing.PriceBook`; ``False``: no pricing. On
            Python 3.10 (no genai-prices) the default is no pricing.
        infer_tool_spans: the built-in OpenTelemetry sink makes an inferred
            ``execute_tool`` span per matched tool result (off by default: see ``OTelSink``).

    Raises:
        TypeError: an entry of ``sinks`` has no ``on_exchange`` method.
    """

    def __init__(
        self,
        sinks: Sequence[Sink] | None = None,
        *,
        registry: Any = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        prometheus: bool = True,
        opentelemetry: bool = True,
        capture_content: bool | None = None,
        redact: Callable[[Any], Any] | None = None,
        limits: Limits | None = None,
        tool_call_events: bool = False,
        infer_tool_spans: bool = False,
        prices: Any = None,
    ) -> None:
        self._capture_content = (
            capture_content_from_env() if capture_content is None else capture_content
        )
        self._redact = redact
        self._limits = limits if limits is not None else Limits()
        self._errors: dict[str, int] = {}
        self._errors_lock = threading.Lock()
        self._log = _RateLimitedLog()
        self._correlator = Correlator(self._limits)
        self._code_executions = CodeExecutionTracker(self._limits)
        # Prices are read here, so a bad price file fails at start-up, not mid-traffic.
        self._accountant = _accountant(prices, self._limits.max_pending_tool_calls)

        built: list[Sink] = []
        # The built-in sinks are imported only when used: a bare Observer(sinks=[...],
        # prometheus=False, opentelemetry=False) needs neither library at import time.
        if prometheus:
            from .sinks.prometheus import PrometheusSink

            built.append(PrometheusSink(registry, limits=self._limits))
        if opentelemetry:
            from .sinks.otel import OTelSink

            built.append(
                OTelSink(
                    tracer_provider,
                    meter_provider,
                    # The raw switch: the sink reads the variable itself (span vs event).
                    capture_content=capture_content,
                    redact=redact,
                    max_label_values=self._limits.max_label_values,
                    tool_call_events=tool_call_events,
                    infer_tool_spans=infer_tool_spans,
                )
            )
        built.extend(sinks or ())
        hooks = sink_hooks(built)
        self._sinks = tuple(built)
        self._tracers = hooks.trace
        self._receivers = hooks.on_exchange
        self._error_receivers = hooks.on_telemetry_error
        self._ended_receivers = hooks.on_container_ended
        self._code_ended_receivers = hooks.on_code_execution_ended
        for bind in hooks.bind:
            bind(self._correlator)
        for bind_errors in hooks.bind_errors:
            bind_errors(self.telemetry_error)
        self._correlator.add_listener(self._container_ended)
        self._correlator.add_listener(self._code_executions.on_container_ended)
        self._code_executions.add_listener(self._code_execution_ended)
        self._price_receivers = tuple(
            hook for sink in built if callable(hook := getattr(sink, "on_prices", None))
        )
        self._publish_prices()

    # --- public surface ---

    @property
    def sinks(self) -> tuple[Sink, ...]:
        """The sinks in pipeline order (built-in ones first)."""
        return self._sinks

    @property
    def correlator(self) -> Correlator:
        """The correlator that links tool calls, results and containers."""
        return self._correlator

    @property
    def code_executions(self) -> CodeExecutionTracker:
        """The tracker that follows code executions from their start to their result."""
        return self._code_executions

    @property
    def capture_content(self) -> bool:
        """Whether request content and streamed text are recorded."""
        return self._capture_content

    @property
    def redact(self) -> Callable[[Any], Any] | None:
        """The redaction hook for captured content."""
        return self._redact

    @property
    def prices(self) -> PriceBook | None:
        """The price book exchanges are priced with (``None``: pricing is off)."""
        return self._accountant.book

    def reload_prices(self) -> None:
        """Read the price file again (prices change only on this explicit call).

        Raises:
            PriceFileError: the file is now invalid; the prices in force stay.
        """
        book = self._accountant.book
        if book is not None:
            book.reload()
            self._publish_prices()

    @property
    def limits(self) -> Limits:
        """Memory bounds in force."""
        return self._limits

    @property
    def telemetry_errors(self) -> Mapping[str, int]:
        """Failures inside telemetry so far, by stage (read-only view)."""
        return MappingProxyType(self._errors)

    def transport(
        self, inner: httpx2.BaseTransport | httpx.BaseTransport | None = None
    ) -> Any:
        """A sync transport that observes ``inner`` (default: ``httpx2.HTTPTransport()``).

        The transport belongs to the HTTP library of ``inner``: pass an
        ``httpx.HTTPTransport()`` to observe a plain ``httpx.Client`` (anthropic 0.x).

        Raises:
            TypeError: ``inner`` is not a sync httpx or httpx2 transport.
        """
        # Imported here: transport.py sits above this module in the layering.
        from .transport import make_transport

        return make_transport(self, inner, asynchronous=False)

    def async_transport(
        self,
        inner: httpx2.AsyncBaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> Any:
        """An async transport that observes ``inner`` (default: ``httpx2.AsyncHTTPTransport()``).

        Raises:
            TypeError: ``inner`` is not an async httpx or httpx2 transport.
        """
        from .transport import make_transport

        return make_transport(self, inner, asynchronous=True)

    def finish(self, exchange: Exchange) -> None:
        """Run the pipeline for a finished exchange: correlate, trace, fan out.

        ``exchange`` is the recorder's new record, which nothing else holds until the
        sinks see it: the correlator writes its facts into it rather than into a copy.
        Never raises.
        """
        ex = exchange
        try:
            ex = self._correlator.correlate(ex, fresh=True)
            ex = self._code_executions.track(ex, fresh=True)
        except Exception as exc:
            self.telemetry_error("correlate", exc)
        try:
            self._accountant.account(ex)
        except Exception as exc:
            self.telemetry_error("price", exc)
        for trace in self._tracers:
            try:
                traced = trace(ex)
            except Exception as exc:
                self.telemetry_error("trace", exc)
            else:
                # A tracer returns the record it was given (the built-in one writes
                # its span ids into it) or a copy; anything else is ignored.
                if traced is not ex and isinstance(traced, Exchange):
                    ex = traced
        for receive in self._receivers:
            try:
                receive(ex)
            except Exception as exc:
                self.telemetry_error("sink", exc)
        if _process_sinks:
            for sink in tuple(_process_sinks):
                try:
                    sink.on_exchange(ex)
                except Exception as exc:
                    self.telemetry_error("sink", exc)

    def close(self) -> None:
        """End what is still open: code executions whose result never came end as
        ``unfinished`` (reason ``closed``), so their spans are exported. Never raises;
        the observer stays usable."""
        try:
            self._code_executions.close()
        except Exception as exc:
            self.telemetry_error("correlate", exc)

    def telemetry_error(self, stage: str, exc: BaseException) -> None:
        """Count and log a failure inside telemetry and tell the sinks. Never raises."""
        try:
            with self._errors_lock:
                self._errors[stage] = self._errors.get(stage, 0) + 1
            self._log.log(stage, exc)
            for receive in self._error_receivers:
                try:
                    receive(stage)
                except Exception:
                    # Reporting the error must not fail again in a loop.
                    logger.debug(
                        "ptc_observe: on_telemetry_error failed", exc_info=True
                    )
        except Exception:  # pragma: no cover - logging itself failed
            pass

    # --- internals ---

    def _publish_prices(self) -> None:
        """Tell sinks with ``on_prices(book)`` which prices are in force."""
        book = self._accountant.book
        if book is None:
            return
        for receive in self._price_receivers:
            try:
                receive(book)
            except Exception as exc:
                self.telemetry_error("sink", exc)

    def _container_ended(self, ended: ContainerEnded) -> None:
        for receive in self._ended_receivers:
            try:
                receive(ended)
            except Exception as exc:
                self.telemetry_error("sink", exc)

    def _code_execution_ended(self, execution: CodeExecution) -> None:
        for receive in self._code_ended_receivers:
            try:
                receive(execution)
            except Exception as exc:
                self.telemetry_error("sink", exc)

    def __repr__(self) -> str:
        names = ", ".join(type(s).__name__ for s in self._sinks)
        return f"<Observer sinks=[{names}]>"
