"""One process of a fleet that exports its metrics over OTLP (run as a subprocess).

Usage: ``python otlp_worker.py NAME EMULATOR_URL OTLP_METRICS_URL``. The worker observes its
own SDK client with an :class:`~ptc_observe.observer.Observer` whose meter provider exports
over OTLP/HTTP (protobuf) to the receiver, with ``service.instance.id`` = NAME. It reads one
turn per line on stdin (``{"shape", "kwargs"}``), makes the call and writes the answer as
one JSON line on stdout; at the end of its input it shuts the providers down (a last
export) and exits. ``PYTHONPATH`` holds the repository and its ``tests`` folder.
"""

from __future__ import annotations

import json
import sys

import anthropic
import httpx2
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from fleet.app import turn
from ptc_observe.observer import Observer


def main(name: str, emulator_url: str, metrics_url: str) -> None:
    """Serve turns from stdin until it ends, then flush the metrics."""
    resource = Resource.create(
        {"service.name": "ptc-fleet-test", "service.instance.id": name}
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=metrics_url), export_interval_millis=60_000
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    tracer_provider = TracerProvider(resource=resource)
    observer = Observer(
        prometheus=False,
        meter_provider=meter_provider,
        tracer_provider=tracer_provider,
    )
    with anthropic.Anthropic(
        api_key="emulated",
        base_url=emulator_url,
        max_retries=2,
        http_client=httpx2.Client(transport=observer.transport()),
    ) as sdk:
        for line in sys.stdin:
            print(json.dumps(turn(sdk, json.loads(line))), flush=True)
    observer.close()
    meter_provider.shutdown()  # exports what is left
    tracer_provider.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:4])
