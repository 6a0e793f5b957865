"""Sinks: where finished exchanges go.

A sink is any object with one method, ``on_exchange(exchange)``. The observer also calls
these optional methods when a sink has them:

* ``trace(exchange) -> Exchange``: a tracer; runs before every ``on_exchange`` and may
  return a copy with ``trace_id`` / ``span_id`` set (the OpenTelemetry sink does). A sink
  may also offer ``trace_fresh(exchange)``, which the observer calls instead: the record it
  is handed is new and held by nothing else yet, so the ids may be written into it rather
  than into a copy;
* ``on_container_ended(ended)``: a code-execution container left the correlator;
* ``on_code_execution_ended(execution)``: a code execution ended without its result
  (``outcome == "unfinished"``; those with a result arrive on their exchange);
* ``on_telemetry_error(stage)``: a stage of ptc_observe failed (parsing, a sink, ...);
* ``bind(correlator)``: called once with the observer's correlator (the Prometheus sink
  publishes the active-containers gauge from it at scrape time);
* ``bind_errors(report)``: called once with ``report(stage, exc)``, which counts a failure
  of an optional part of the sink (an exemplar lookup, say) that the sink survived: the
  sink reports it and goes on recording the rest of the exchange.

:func:`sink_hooks` finds those methods once, so the hot path calls bound methods from
plain lists instead of probing with ``getattr`` per exchange.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ...events import CodeExecution, ContainerEnded, Exchange

if TYPE_CHECKING:
    from ..correlator import Correlator

__all__ = ["Sink", "SinkHooks", "Tracer", "sink_hooks"]


@runtime_checkable
class Sink(Protocol):
    """Receives every finished exchange. Must not block for long; may raise (it is guarded)."""

    def on_exchange(self, exchange: Exchange) -> None:
        """Record one finished exchange."""


@runtime_checkable
class Tracer(Protocol):
    """A sink stage that runs before the others and may add trace ids to the exchange."""

    def trace(self, exchange: Exchange) -> Exchange:
        """Trace ``exchange``; return it, or a copy with ``trace_id``/``span_id`` set."""


@dataclass(frozen=True)
class SinkHooks:
    """The bound methods of a list of sinks, grouped by hook (order of the sinks kept)."""

    on_exchange: tuple[Callable[[Exchange], None], ...]
    trace: tuple[Callable[[Exchange], Exchange], ...]
    on_container_ended: tuple[Callable[[ContainerEnded], None], ...]
    on_code_execution_ended: tuple[Callable[[CodeExecution], None], ...]
    on_telemetry_error: tuple[Callable[[str], None], ...]
    bind: tuple[Callable[[Correlator], None], ...]
    bind_errors: tuple[Callable[[Callable[[str, BaseException], None]], None], ...] = ()


def sink_hooks(sinks: Sequence[object]) -> SinkHooks:
    """Find the hooks each sink implements.

    Args:
        sinks: sink objects; each needs ``on_exchange``, the rest is optional.

    Returns:
        The bound methods, grouped by hook.

    Raises:
        TypeError: a sink has no callable ``on_exchange``.
    """
    for sink in sinks:
        if not callable(getattr(sink, "on_exchange", None)):
            raise TypeError(f"{sink!r} is not a sink: it has no on_exchange(exchange)")

    def found(name: str, preferred: str = "") -> tuple[Callable[..., object], ...]:
        methods = (
            (preferred and getattr(sink, preferred, None)) or getattr(sink, name, None)
            for sink in sinks
        )
        return tuple(m for m in methods if callable(m))

    return SinkHooks(
        on_exchange=found("on_exchange"),  # type: ignore[arg-type]
        trace=found("trace", preferred="trace_fresh"),  # type: ignore[arg-type]
        on_container_ended=found("on_container_ended"),  # type: ignore[arg-type]
        on_code_execution_ended=found("on_code_execution_ended"),  # type: ignore[arg-type]
        on_telemetry_error=found("on_telemetry_error"),  # type: ignore[arg-type]
        bind=found("bind"),  # type: ignore[arg-type]
        bind_errors=found("bind_errors"),  # type: ignore[arg-type]
    )
