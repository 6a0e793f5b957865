"""``Observer()`` with no arguments, in a fresh process (run as a subprocess by the tests).

The global OpenTelemetry providers and Prometheus' default registry are process-wide, so this
runs alone: it installs global providers the way an application would, adds the two lines,
makes one SDK call over a MockTransport and prints what each backend received as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anthropic
import httpx2
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from ptc_observe import Observer

DATA = Path(__file__).resolve().parent.parent / "data" / "anthropic"


def main() -> None:
    """One call through ``Observer()``; print the spans, metric names and a counter."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = (DATA / "02_ptc_turn1_response.json").read_bytes()
        return httpx2.Response(
            200, headers={"content-type": "application/json"}, content=body
        )

    # The two lines.
    observer = Observer()
    client = anthropic.Anthropic(
        api_key="sk-ant-test",
        base_url="http://api.test",
        http_client=httpx2.Client(
            transport=observer.transport(httpx2.MockTransport(handler))
        ),
    )
    client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=100,
        messages=[{"role": "user", "content": "hi"}],
    )
    data = reader.get_metrics_data()
    names = sorted(
        {
            m.name
            for rm in (data.resource_metrics if data else ())
            for sm in rm.scope_metrics
            for m in sm.metrics
        }
    )
    result = {
        "spans": sorted(s.name for s in exporter.get_finished_spans()),
        "metrics": names,
        "exchanges": REGISTRY.get_sample_value(
            "ptc_exchanges_total",
            {
                "gen_ai_request_model": "claude-sonnet-4-6",
                "stream": "false",
                "outcome": "ok",
            },
        ),
        "telemetry_errors": dict(observer.telemetry_errors),
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
