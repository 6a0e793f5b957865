"""Bounded state: memory and label cardinality stay flat however many ids and names pass.

The soak feeds exchanges through the real recorder and the whole observer pipeline
(correlator, Prometheus sink, OpenTelemetry sink with spans and metrics), each with new
ids: a new container, a new code-execution call, two new tool calls (one answered 50
exchanges later, one never), against caps of 100 (containers, pending calls, span
links). ``tracemalloc`` measures the current and peak traced memory, and
``sys.getallocatedblocks()`` the live blocks, after 10 % of the run and at its end: once
the caps are reached and turned over (well within the first 10 %), nothing may grow
with the count. The short form (4,000 exchanges) runs in CI; ``PTC_SOAK_SCALE``
multiplies it, and ``PTC_SOAK_TRACE=0`` leaves tracemalloc off (it slows the pipeline
about 2.5-fold) and checks the blocks only::

    PTC_SOAK_SCALE=125 PTC_SOAK_TRACE=0 pytest -m soak tests/reliability -s  # 2,000,000 ids

Cardinality: thousands of distinct model, tool and error-type names give at most the
cap plus ``_other`` on every label, in Prometheus and in the OpenTelemetry metrics.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterable
from typing import Any

import pydantic_core
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from ptc_observe import Limits, Observer
from ptc_observe.observer.recorder import ExchangeRecorder
from ptc_observe.observer.sinks._semconv import CODE_EXECUTION_VARIANTS
from ptc_observe.observer.sinks.otel import OTelSink
from ptc_observe.wire import resends
from ptc_observe.wire.messages import parse_request

from .conftest import MODEL, Telemetry, dumps

SOAK_SCALE = float(os.environ.get("PTC_SOAK_SCALE", "1"))
TRACE = os.environ.get("PTC_SOAK_TRACE", "1") != "0"
CAP = 100
LAG = 50  # a tool call is answered this many exchanges later
LIMITS = Limits(max_containers=CAP, max_pending_tool_calls=CAP)
HEADERS = {"content-type": "application/json"}
FAR = "2099-01-01T00:00:00Z"


def response_body(i: int, model: str = MODEL, tool: str = "query_sales") -> bytes:
    """A PTC pause naming new ids: container, code execution, two tool calls."""
    return dumps(
        {
            "id": f"msg_{i}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [
                {"type": "server_tool_use", "id": f"srvtoolu_{i}",
                 "name": "code_execution", "input": {"code": "x"}},
                {"type": "tool_use", "id": f"toolu_a{i}", "name": tool, "input": {"q": 1},
                 "caller": {"type": "code_execution_20260120", "tool_id": f"srvtoolu_{i}"}},
                {"type": "tool_use", "id": f"toolu_b{i}", "name": tool, "input": {"q": 2}},
            ],
            "container": {"id": f"container_{i}", "expires_at": FAR},
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }
    )  # fmt: skip


def request_body(i: int, model: str = MODEL, answer: str | None = None) -> bytes:
    """A request; it carries the result of tool call ``answer`` when given."""
    content: Any = "go"
    if answer is not None:
        content = [{"type": "tool_result", "tool_use_id": answer, "content": "42"}]
    return dumps(
        {
            "model": model,
            "max_tokens": 100,
            "messages": [{"role": "user", "content": content}],
        }
    )


def record(
    observer: Observer,
    request: bytes,
    status: int,
    body: bytes,
) -> None:
    """One exchange through the real recorder and the observer's pipeline."""
    rec = ExchangeRecorder(
        observer,
        request,
        "POST",
        "api.anthropic.com",
        None,
        "/v1/messages",
        {},
        sent=time.perf_counter(),
        sent_unix_ns=time.time_ns(),
    )
    rec.on_headers(status, HEADERS)
    rec.on_chunk(body)
    rec.on_end()


class Soak:
    """An observer with small caps, fed exchange after exchange with new ids."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reader = InMemoryMetricReader()
        self.meters = MeterProvider(metric_readers=[self.reader])
        self.tracer = TracerProvider()  # spans are made and ended; nothing keeps them
        self.otel = OTelSink(self.tracer, self.meters, max_linked_spans=CAP)
        self.observer = Observer(
            [self.otel],
            registry=self.registry,
            opentelemetry=False,
            limits=LIMITS,
        )
        self.done = 0

    def run(self, n: int) -> None:
        for i in range(self.done, self.done + n):
            answer = f"toolu_a{i - LAG}" if i >= LAG else None
            record(self.observer, request_body(i, answer=answer), 200, response_body(i))
        self.done += n

    def value(self, name: str) -> float:
        return sum(
            s.value
            for m in self.registry.collect()
            for s in m.samples
            if s.name == name
        )

    def close(self) -> None:
        self.tracer.shutdown()
        self.meters.shutdown()


def fill_json_string_cache() -> None:
    """Fill pydantic-core's process-wide cache of strings met while parsing JSON.

    pydantic-core keeps up to 16,384 short strings in one cache for the whole process
    (about 1 MB when full). The wire layer caches keys only, but any other JSON parsing
    in the process may put values there: fed new ids, the cache fills over several
    thousand exchanges, then holds its size. Filling it first puts the 10 % mark at the
    steady state whatever else runs.
    """
    pydantic_core.from_json(
        dumps([f"warm-{i}" for i in range(300_000)]), cache_strings=True
    )


def fill_history_states() -> None:
    """Fill the wire layer's memory of resent conversations (``wire/resends.py``).

    It keeps the run state after each request's messages, up to a fixed number of states
    (oldest evicted first): fed new conversations, it fills over its first thousand
    requests, then holds its size. Filling it first with requests of the soak's shape puts
    the 10 % mark at the steady state.
    """
    for i in range(resends._STATES_SIZE):
        parse_request(
            request_body(-1 - i, answer=f"toolu_warm{i}"),
            method="POST",
            path="/v1/messages",
            server_address="warm.invalid",
            server_port=None,
            headers={},
        )
    assert len(resends.STATES.states) == resends._STATES_SIZE


def measure(traced: bool) -> tuple[int, int, int]:
    """``(traced current, traced peak, allocated blocks)``; current values after a full
    collection (so garbage waiting for the cycle collector does not count), the peak
    before it."""
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    gc.collect()
    current = tracemalloc.get_traced_memory()[0] if traced else 0
    return current, peak, sys.getallocatedblocks()


@pytest.mark.soak
def test_soak_memory_is_flat_with_distinct_ids() -> None:
    """Memory after 100 % of the run is what it was after 10 %: bounded by the caps."""
    total = int(4_000 * SOAK_SCALE)
    tenth = total // 10
    assert (
        tenth >= 3 * CAP
    )  # the caps are reached, and turned over, within the first tenth
    soak = Soak()
    try:
        if TRACE:
            # Traced from before the cache is filled: strings it later drops are then
            # counted out as the new ones are counted in.
            tracemalloc.start()
        fill_json_string_cache()
        fill_history_states()
        gc.collect()
        if TRACE:
            tracemalloc.reset_peak()
        start = time.perf_counter()
        soak.run(tenth)
        current_10, peak_10, blocks_10 = measure(TRACE)
        rss_10 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if TRACE:
            tracemalloc.reset_peak()
        soak.run(total - tenth)
        current_100, peak_rest, blocks_100 = measure(TRACE)
        rss_100 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        elapsed = time.perf_counter() - start
        if TRACE:
            tracemalloc.stop()

        # Nothing was lost on the way.
        sizes = soak.observer.correlator.state_sizes()
        assert sizes == {"containers": CAP, "pending_tool_calls": CAP}
        assert soak.value("ptc_containers_created_total") == total
        assert soak.value("ptc_container_lifetime_seconds_count") == total - CAP
        assert soak.value("ptc_tool_calls_total") == 2 * total
        # Every answered call was still pending (LAG < CAP): each one has its turnaround.
        assert soak.value("ptc_tool_turnaround_seconds_count") == total - LAG
        assert soak.value("ptc_exchanges_total") == total
        assert dict(soak.observer.telemetry_errors) == {}
        assert len(soak.otel._spans) == CAP

        grown = current_100 - current_10
        print(
            f"\nsoak: {total:,} exchanges, {4 * total:,} distinct ids in {elapsed:.1f} s"
            f" (tracemalloc {'on' if TRACE else 'off'}); traced memory at 10 %:"
            f" {current_10 / 1e3:.0f} kB (peak {peak_10 / 1e3:.0f} kB), at 100 %:"
            f" {current_100 / 1e3:.0f} kB (peak of the last 90 %: {peak_rest / 1e3:.0f} kB),"
            f" growth {grown / 1e3:+.1f} kB; allocated blocks {blocks_10:,} -> {blocks_100:,};"
            f" max RSS {rss_10 / 1e3:.0f} MB -> {rss_100 / 1e3:.0f} MB"
        )
        # Flat: a leak of one small object (about 50 bytes) per exchange would add
        # 3,600 blocks and 180 kB at the default scale.
        assert blocks_100 - blocks_10 < 1_000, (blocks_10, blocks_100)
        if TRACE:
            assert grown < 64 * 1024, grown
            # The peak also holds CPython's free lists (tuples, floats, ... kept for
            # reuse, a few hundred kB at most, emptied by a full collection): they fill
            # up over the first few thousand exchanges whatever the run's length.
            assert peak_rest < peak_10 + 1024 * 1024, (peak_10, peak_rest)
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        soak.close()


def test_time_to_live_frees_everything() -> None:
    """With a short time to live, a sweep ends every container and pending call.

    Even ids are created by their response (with an expires_at already past), odd ones
    only named by a request (created by another process as far as this one knows; no
    expiry known, so the TTL applies): all end, only the first half's lifetime is known.
    """
    soak = Soak()
    limits = Limits(pending_ttl_seconds=1e-6, container_ttl_seconds=1e-6)
    observer = Observer(registry=soak.registry, opentelemetry=False, limits=limits)
    try:
        for i in range(300):
            body = json.loads(response_body(i))
            request = json.loads(request_body(i))
            if i % 2:
                body["container"] = None
                request["container"] = f"container_{i}"
            else:
                body["container"]["expires_at"] = "2000-01-01T00:00:00Z"
            record(observer, dumps(request), 200, dumps(body))
        time.sleep(0.001)
        observer.correlator.sweep()
        assert observer.correlator.state_sizes() == {
            "containers": 0,
            "pending_tool_calls": 0,
        }
        assert soak.value("ptc_containers_created_total") == 150
        assert soak.value("ptc_container_reuses_total") == 150
        assert soak.value("ptc_container_lifetime_seconds_count") == 150
    finally:
        soak.close()


# --- label cardinality ---

LABELS = (
    "gen_ai_request_model",
    "gen_ai_response_model",
    "gen_ai_tool_name",
    "error_type",
)
OTEL_ATTRIBUTES = (
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.tool.name",
    "error.type",
)


def distinct(
    pairs: Iterable[dict[str, Any]], names: Iterable[str]
) -> dict[str, set[Any]]:
    """The distinct non-empty values of each attribute name."""
    out: dict[str, set[Any]] = {n: set() for n in names}
    for attrs in pairs:
        for name in out:
            if attrs.get(name):
                out[name].add(attrs[name])
    return out


def test_label_cardinality_is_capped(
    telemetry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3,000 distinct models, tool names and error types: every label holds at most
    ``max_label_values`` values plus ``_other``, in Prometheus and OpenTelemetry, and no
    new series appear once the caps are reached."""
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    cap = 50
    tel: Telemetry = telemetry(limits=Limits(max_label_values=cap))

    def feed(start: int, stop: int) -> None:
        for i in range(start, stop):
            model, tool = f"model-{i}", f"tool-{i}"
            answer = f"toolu_a{i - 1}" if i else None
            if i % 3 == 2:
                error = dumps(
                    {"type": "error", "error": {"type": f"error_{i}", "message": "x"}}
                )
                record(tel.observer, request_body(i, model, answer), 400, error)
            else:
                body = response_body(i, model=f"served-{i}", tool=tool)
                record(tel.observer, request_body(i, model, answer), 200, body)

    def series() -> int:
        return sum(len(m.samples) for m in tel.registry.collect())

    feed(0, 600)
    after_600 = series()
    otel_600 = len(tel.metric_points())
    feed(600, 3_000)
    assert series() == after_600
    assert len(tel.metric_points()) == otel_600

    prom = distinct(
        (
            labels
            for m in tel.registry.collect()
            for s in m.samples
            for labels in [s.labels]
        ),
        LABELS,
    )
    otel = distinct((attrs for _, attrs, _ in tel.metric_points()), OTEL_ATTRIBUTES)
    for name, values in {**prom, **otel}.items():
        assert "_other" in values, name
        if name in ("gen_ai_tool_name", "gen_ai.tool.name"):
            # Code-execution variants are bounded apart from tool names (the three known
            # ones are admitted first, so a flood of tool names never folds them away).
            values = values - set(CODE_EXECUTION_VARIANTS)
        assert len(values) <= cap + 1, (name, len(values))
    # Request and response models share one bound.
    assert len(prom["gen_ai_request_model"] | prom["gen_ai_response_model"]) <= cap + 1
    assert len(tel.sink.exchanges) == 3_000 and tel.errors() == {}
