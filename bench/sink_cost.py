"""Per-exchange cost of the telemetry stages: correlator, Prometheus sink, OTel tracer + metrics.

``python -m bench.sink_cost`` times each stage with ``timeit`` on exchanges built from the
recorded fixtures (no HTTP, no SDK): a PTC turn-1 JSON response, a streamed turn 1, and a
resume that carries a tool result and a container (turnaround + container path). The
OpenTelemetry providers are configured as in production: a BatchSpanProcessor to an exporter
that drops spans, and a periodic metric reader that never fires during the run.

The numbers depend on the machine; ``call`` (an empty Python function call) is printed as a
yardstick so results from different machines can be compared.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import NoOpTracerProvider
from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from sinks.factory import PTC_TOOLS, RATE_LIMITS, ExchangeFactory, result  # type: ignore[import-not-found, unused-ignore]

from ptc_observe.events import Exchange
from ptc_observe.observer.correlator import Correlator
from ptc_observe.observer.sinks.otel import OTelSink
from ptc_observe.observer.sinks.prometheus import PrometheusSink


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _exchanges() -> dict[str, Exchange]:
    f = ExchangeFactory()
    c = Correlator(clock=f.clock)
    turn1 = c.correlate(
        f.make("02_ptc_turn1_response.json", tools=PTC_TOOLS, rate_limits=RATE_LIMITS)
    )
    f.advance(2)
    resume = c.correlate(
        f.make(
            "03_ptc_resume_response.json",
            tools=PTC_TOOLS,
            container_id="container_011CZq7TfRmB3vKx9NwPd2Lh",
            tool_results=[result("toolu_01Fk2YwHs9PqLm4Rt7VbZc3N", 48)],
            rate_limits=RATE_LIMITS,
        )
    )
    stream = f.make("08_stream_ptc_turn1.sse", tools=PTC_TOOLS, rate_limits=RATE_LIMITS)
    return {
        "json turn 1": turn1,
        "stream turn 1": stream,
        "resume (turnaround+container)": resume,
    }


def _time(fn: Callable[[], Any], number: int, repeat: int) -> float:
    """Best-of-``repeat`` microseconds per call (the minimum is the least noisy estimate)."""
    runs = timeit.repeat(fn, number=number, repeat=repeat)
    return min(runs) / number * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    """Print the cost per exchange of each stage, in microseconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Many short runs, best of: on a shared machine the minimum of short runs is the
    # least disturbed estimate of the real cost.
    parser.add_argument("--number", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(
        BatchSpanProcessor(_Drop(), max_queue_size=100_000)
    )
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    prom = PrometheusSink(CollectorRegistry())
    otel = OTelSink(tracer_provider, meter_provider)
    correlator = Correlator()

    def noop() -> None:
        pass

    call = _time(noop, args.number * 10, args.repeat)
    # The OpenTelemetry SDK's own floor: one histogram record (6 attributes) and one span
    # made whole (20 attributes), the primitives the OTel stages are built of.
    floor_attrs = {f"a{i}": "v" for i in range(6)}
    histogram = meter_provider.get_meter("floor").create_histogram("floor")
    record = _time(lambda: histogram.record(1.0, floor_attrs), args.number, args.repeat)
    span_attrs = {f"a{i}": "v" for i in range(20)}
    tracer = tracer_provider.get_tracer("floor")
    span = _time(
        lambda: tracer.start_span("s", attributes=span_attrs).end(),
        args.number,
        args.repeat,
    )
    tracer_provider.force_flush()
    print(
        f"yardsticks: empty Python call {call * 1000:.0f} ns; OTel histogram.record {record:.1f} us; OTel span {span:.1f} us"
    )
    # The same OTel sink on the API's no-op providers: what ptc_observe's own code costs
    # (attribute building, events, links, copies) without the SDK's span and instrument work.
    own = OTelSink(NoOpTracerProvider(), NoOpMeterProvider())
    print(
        f"{'exchange':32} {'correlate':>10} {'prometheus':>11} {'otel trace':>11} "
        f"{'otel metrics':>13} {'sinks total':>12} {'own otel code':>14}"
    )
    totals = []
    for name, ex in _exchanges().items():
        # Correlating the same resume again re-links it (a retry): a fair steady-state cost.
        corr = _time(
            functools.partial(correlator.correlate, ex), args.number, args.repeat
        )
        p = _time(functools.partial(prom.on_exchange, ex), args.number, args.repeat)
        t = _time(functools.partial(otel.trace, ex), args.number, args.repeat)
        # Let the batch processor drain before the next stage is timed (its thread takes the GIL).
        tracer_provider.force_flush()
        traced = otel.trace(ex)
        m = _time(functools.partial(otel.on_exchange, traced), args.number, args.repeat)
        mine = _time(functools.partial(own.trace, ex), args.number, args.repeat)
        mine += _time(
            functools.partial(own.on_exchange, traced), args.number, args.repeat
        )
        total = p + t + m
        totals.append(total)
        print(
            f"{name:32} {corr:10.1f} {p:11.1f} {t:11.1f} {m:13.1f} {total:12.1f} {mine:14.1f}"
        )
    print(f"median sinks total per exchange: {statistics.median(totals):.1f} us")
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
