"""The cost of each stage of ptc_observe's pipeline, timed alone on the benchmark's workloads.

``python -m bench.stages`` captures one real :class:`~ptc_observe.events.Exchange` of each kind
(JSON and stream) by running the SDK through an observer onto the mock transport, then times,
in a loop of its own, every stage the observed call pays for: request and response parsing,
rate-limit headers, the SSE accumulator (fed one event per chunk, as in the scenarios, and
the whole body at once), the correlator, the middle stages on a fresh record as the pipeline
runs them (correlator, code-execution tracker, pricing and runs: ``Observer.finish`` without
sinks), span creation (``OTelSink.trace``), the OTel metrics (``OTelSink.on_exchange``) and
the Prometheus sink. Each figure is the median of several
repetitions of a loop, in process CPU time per call. No profiler is involved, so the numbers
add up (roughly) to the end-to-end overhead that ``python -m bench`` measures; the remainder
is the transport shell and recorder plumbing.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import anthropic
import httpx2
from prometheus_client import CollectorRegistry

from ptc_observe.events import Exchange
from ptc_observe.observer import Observer
from ptc_observe.observer.correlator import Correlator
from ptc_observe.observer.sinks.otel import OTelSink
from ptc_observe.observer.sinks.prometheus import PrometheusSink
from ptc_observe.testing import MemorySink
from ptc_observe.wire.accumulate import StreamAccumulator
from ptc_observe.wire.messages import (
    parse_message,
    parse_rate_limits,
    parse_reply,
    parse_request,
    parse_retry_after,
)
from ptc_observe.wire.resends import STATES
from ptc_observe.wire.sse import SSEDecoder

from . import workloads
from .configs import Telemetry
from .mock import mock_transport

__all__ = ["main", "measure_stages"]


def _time(
    fn: Callable[[], object], *, seconds: float = 0.25, repeats: int = 7
) -> float:
    """Median over ``repeats`` loops of the CPU time per call of ``fn``, in seconds."""
    fn()
    start = time.process_time()
    n = 0
    while time.process_time() - start < 0.02:
        fn()
        n += 1
    loops = max(1, int(n * seconds / 0.02 / repeats))
    results = []
    for _ in range(repeats):
        gc.collect()
        t = time.process_time()
        for _ in range(loops):
            fn()
        results.append((time.process_time() - t) / loops)
    return statistics.median(results)


def _time_batch(
    forget: Callable[[], object],
    before: Sequence[bytes],
    bodies: Sequence[bytes],
    *,
    repeats: int = 7,
) -> float:
    """Median over ``repeats`` of the CPU time per request of parsing ``bodies`` (distinct
    conversations), each time after ``forget`` and parsing ``before`` (untimed)."""
    results = []
    for _ in range(repeats):
        forget()
        for body in before:
            parse_request(body, **_WHERE)
        gc.collect()
        t = time.process_time()
        for body in bodies:
            parse_request(body, **_WHERE)
        results.append((time.process_time() - t) / len(bodies))
    return statistics.median(results)


_WHERE: dict[str, Any] = {
    "method": "POST",
    "path": "/v1/messages",
    "server_address": "bench.invalid",
    "server_port": None,
    "headers": {},
}


def measure_history() -> dict[str, float]:
    """Microseconds per ``parse_request`` of a PTC run's request after 1, 10 and 50 round
    trips: seen for the first time, extended by a round from the request before it, and
    repeated (a retry)."""
    costs: dict[str, float] = {}
    conversations = 200
    for rounds in (1, 10, 50):
        bodies = [
            workloads.run_request_body(rounds, f" ({n})") for n in range(conversations)
        ]
        before = [
            workloads.run_request_body(rounds - 1, f" ({n})")
            for n in range(conversations)
        ]
        size = len(bodies[0]) / 1024
        name = f"parse_request, {rounds} round(s) ({size:.1f} KB)"
        costs[f"{name}: first sight"] = _time_batch(STATES.clear, (), bodies) * 1e6
        costs[f"{name}: extends the last request"] = (
            _time_batch(STATES.clear, before, bodies) * 1e6
        )
        costs[f"{name}: repeated"] = (
            _time_batch(lambda: None, (), bodies[:1] * conversations) * 1e6
        )
    return costs


def _capture() -> tuple[Exchange, Exchange]:
    """One JSON and one streamed exchange, as the observer records them."""
    memory = MemorySink()
    observer = Observer([memory], prometheus=False, opentelemetry=False)
    client = anthropic.Anthropic(
        api_key="sk-bench-not-a-key",
        base_url=workloads.BASE_URL,
        max_retries=0,
        open_telemetry=False,
        http_client=httpx2.Client(transport=observer.transport(mock_transport(httpx2))),
    )
    client.messages.create(**workloads.REQUEST)
    json_exchange = memory.last
    for _ in client.messages.create(stream=True, **workloads.REQUEST):
        pass
    return json_exchange, memory.last


def measure_stages() -> dict[str, float]:
    """Microseconds per call of each stage (per exchange; the stream stages per whole stream)."""
    json_ex, stream_ex = _capture()
    headers = dict(workloads.JSON_HEADERS)
    req_headers = {k.lower(): v for k, v in workloads.REQUEST_HEADERS.items()}
    # What the transport hands the recorder: the request's own httpx2.Headers object.
    req_headers_httpx = httpx2.Headers(workloads.REQUEST_HEADERS)
    telemetry = Telemetry()
    otel = OTelSink(telemetry.tracer_provider, None)
    otel_sdk_metrics = OTelSink(telemetry.tracer_provider, telemetry.meter_provider)
    prom = PrometheusSink(CollectorRegistry())
    correlator = Correlator()
    # The middle stages as the pipeline runs them: on a fresh record, written in place
    # (the same record every time: each call overwrites what the last one wrote).
    middle = Observer(prometheus=False, opentelemetry=False)
    fresh_ex = dataclasses.replace(json_ex)
    whole_sse = b"".join(workloads.SSE_CHUNKS)

    def feed_chunks() -> None:
        acc = StreamAccumulator()
        for chunk in workloads.SSE_CHUNKS:
            acc.feed(chunk)
        acc.close()

    def feed_whole() -> None:
        acc = StreamAccumulator()
        acc.feed(whole_sse)
        acc.close()

    def sse_only() -> None:
        dec = SSEDecoder()
        for chunk in workloads.SSE_CHUNKS:
            dec.feed(chunk)
        dec.flush()

    def json_loads_per_event() -> None:
        # The naive transport's way, for scale: one json.loads per data line.
        for chunk in workloads.SSE_CHUNKS:
            json.loads(chunk.split(b"data: ", 1)[1])

    def request(headers: Any) -> Callable[[], object]:
        return lambda: parse_request(
            workloads.REQUEST_BODY,
            method="POST",
            path="/v1/messages",
            server_address="bench.invalid",
            server_port=None,
            headers=headers,
        )

    stages: dict[str, Callable[[], object]] = {
        "parse_request (1.5 KB resume request, httpx2.Headers)": request(
            req_headers_httpx
        ),
        "parse_request (same, headers as a plain dict)": request(req_headers),
        "parse_reply (4 KB JSON body: the facts the recorder reads)": lambda: (
            parse_reply(workloads.JSON_BODY)
        ),
        "parse_message (4 KB JSON body: the whole pydantic model)": lambda: (
            parse_message(workloads.JSON_BODY)
        ),
        "json.loads (4 KB JSON body), for scale": lambda: json.loads(
            workloads.JSON_BODY
        ),
        "parse_rate_limits + parse_retry_after": lambda: (
            parse_rate_limits(headers),
            parse_retry_after(headers),
        ),
        "Correlator.correlate (JSON exchange, a copy: the non-pipeline path)": lambda: (
            correlator.correlate(json_ex)
        ),
        "Correlator.correlate (fresh record, as the pipeline runs it)": lambda: (
            middle.correlator.correlate(fresh_ex, fresh=True)
        ),
        "CodeExecutionTracker.track (fresh record)": lambda: (
            middle.code_executions.track(fresh_ex, fresh=True)
        ),
        "Observer.finish without sinks (correlate, track, price, runs)": lambda: (
            middle.finish(fresh_ex)
        ),
        "OTelSink.trace (JSON exchange: spans)": lambda: otel.trace(json_ex),
        "OTelSink.on_exchange (global no-op meter)": lambda: otel.on_exchange(json_ex),
        "OTelSink.on_exchange (SDK meter provider)": lambda: (
            otel_sdk_metrics.on_exchange(json_ex)
        ),
        "PrometheusSink.on_exchange (JSON exchange)": lambda: prom.on_exchange(json_ex),
        "OTelSink.trace (stream exchange)": lambda: otel.trace(stream_ex),
        "PrometheusSink.on_exchange (stream exchange)": lambda: prom.on_exchange(
            stream_ex
        ),
        f"StreamAccumulator, {len(workloads.SSE_CHUNKS)} chunks of one event": feed_chunks,
        "StreamAccumulator, whole body in one chunk": feed_whole,
        f"SSEDecoder alone, {len(workloads.SSE_CHUNKS)} chunks": sse_only,
        "json.loads of every event, for scale": json_loads_per_event,
    }
    return {name: _time(fn) * 1e6 for name, fn in stages.items()} | measure_history()


def main(argv: Sequence[str] | None = None) -> None:
    """Print the stage costs as a Markdown table (and JSON with ``--json``)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.stages", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    costs = measure_stages()
    events = workloads.SSE_EVENTS
    if args.json:
        print(json.dumps(costs))
        return
    print("| stage | us per call | us per SSE event |")
    print("|---|---|---|")
    for name, us in costs.items():
        per_event: Any = (
            f"{us / events:.2f}" if "chunk" in name or "event" in name else ""
        )
        print(f"| {name} | {us:,.1f} | {per_event} |")


if __name__ == "__main__":
    main()
