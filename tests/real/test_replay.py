"""Real recorded traffic through the official SDK, with and without the observer.

Every recorded body (``tests/real/corpus.py``: JSON messages, error bodies and SSE
streams, with the recorded request when there is one) is served by a real HTTP server on
loopback and read by the official ``anthropic`` SDK over httpx2, sync and async, as a JSON
call, a raw event stream and the ``messages.stream()`` helper. For each one:

* the SDK's result (message, events, final message, or the exception) is the same with
  the observer's transport as without it;
* the observer reports no telemetry error, and every exchange has the right outcome;
* the counts in Prometheus and in the OpenTelemetry metrics (code executions by variant
  and outcome, server tools and tool calls by caller, tokens with reasoning and the cache
  TTL split, billed server tool requests, errors) and the containers equal what
  :mod:`reader` (an independent reading of the raw JSON) computes.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from ptc_observe.events import Outcome
from ptc_observe.observer import Observer
from ptc_observe.testing import MemorySink

from .corpus import SYNTHETIC, Recording, recordings
from .reader import Expected, message_of

RECORDINGS = recordings()
SYNTHETIC_BODIES = recordings([SYNTHETIC])
CORPORA = {"real": RECORDINGS, "synthetic": SYNTHETIC_BODIES}
KINDS = {"sync": ("create",), "async": ("create",)}
STREAM_KINDS = {"sync": ("events", "helper"), "async": ("events", "helper")}


def test_the_corpus_has_every_kind() -> None:
    """The recordings hold what the replay claims to cover (the issue's shapes)."""
    expected = Expected()
    for rec in RECORDINGS:
        expected.add(rec.body, rec.stream, rec.request)
    variants = {variant for variant, _ in expected.code_executions}
    assert {"code_execution", "bash_code_execution", "text_editor_code_execution"} <= (
        variants
    )
    assert ("code_execution", "error") in expected.code_executions
    assert any(c == "programmatic" for _, c in expected.server_tools)
    assert any(c == "programmatic" for _, c in expected.tool_calls)
    assert expected.errors and any(r.stream for r in RECORDINGS)


# --- serving and calling ---


def chunks_of(rec: Recording) -> list[bytes]:
    """The body as a server flushes it: an SSE stream event by event, JSON in halves."""
    body = rec.body
    if not rec.stream:
        return [body[: len(body) // 2], body[len(body) // 2 :]]
    parts = body.split(b"\n\n")
    return [p + b"\n\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def call_of(rec: Recording) -> dict[str, Any]:
    """The SDK call's keywords: the recorded request, or a minimal one."""
    if rec.request is not None:
        request = json.loads(rec.request)
    else:
        message = message_of(rec.body, rec.stream) or {}
        request = {
            "model": message.get("model") or "claude-sonnet-4-5",
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": "replay"}],
        }
    request.pop("stream", None)
    keywords = {k: request.pop(k) for k in ("model", "max_tokens", "messages")}
    return {**keywords, "extra_body": request}


def outcome_of(fn: Any) -> Any:
    """What the SDK gave: a JSON dump of the result, or the exception's public facts."""
    try:
        return ("ok", fn())
    except anthropic.APIStatusError as exc:
        return ("status", type(exc).__name__, exc.status_code, exc.body, exc.request_id)
    except Exception as exc:  # the same failure with and without the observer
        return ("raised", type(exc).__name__, str(exc))


def dump(value: Any) -> Any:
    return value.model_dump(mode="json", warnings=False)


def sync_call(server: Any, rec: Recording, kind: str, observer: Observer | None) -> Any:
    server.replies.append(
        (rec.status, {"content-type": rec.content_type}, chunks_of(rec))
    )
    transport = observer.transport() if observer is not None else None
    http = httpx2.Client(transport=transport) if transport else httpx2.Client()
    client = anthropic.Anthropic(
        api_key="sk-ant-test", base_url=server.url, max_retries=0, http_client=http
    )
    kwargs = call_of(rec)

    def run() -> Any:
        if kind == "create":
            return dump(client.messages.create(**kwargs))
        if kind == "events":
            with client.messages.create(**kwargs, stream=True) as stream:
                return [dump(event) for event in stream]
        with client.messages.stream(**kwargs) as helper:
            return dump(helper.get_final_message())

    try:
        return outcome_of(run)
    finally:
        client.close()


def async_call(
    server: Any, rec: Recording, kind: str, observer: Observer | None
) -> Any:
    server.replies.append(
        (rec.status, {"content-type": rec.content_type}, chunks_of(rec))
    )

    async def go() -> Any:
        transport = observer.async_transport() if observer is not None else None
        http = (
            httpx2.AsyncClient(transport=transport)
            if transport
            else httpx2.AsyncClient()
        )
        client = anthropic.AsyncAnthropic(
            api_key="sk-ant-test", base_url=server.url, max_retries=0, http_client=http
        )
        kwargs = call_of(rec)
        try:
            if kind == "create":
                return ("ok", dump(await client.messages.create(**kwargs)))
            if kind == "events":
                stream = await client.messages.create(**kwargs, stream=True)
                async with stream:
                    return ("ok", [dump(event) async for event in stream])
            async with client.messages.stream(**kwargs) as helper:
                return ("ok", dump(await helper.get_final_message()))
        except anthropic.APIStatusError as exc:
            return (
                "status",
                type(exc).__name__,
                exc.status_code,
                exc.body,
                exc.request_id,
            )
        except Exception as exc:
            return ("raised", type(exc).__name__, str(exc))
        finally:
            await client.close()

    return asyncio.run(go())


CALLERS = {"sync": sync_call, "async": async_call}


# --- telemetry backends ---


class Backends:
    """An observer on fresh Prometheus, OpenTelemetry and memory backends."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.metrics = InMemoryMetricReader()
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])
        self.sink = MemorySink()
        self.observer = Observer(
            sinks=[self.sink],
            registry=self.registry,
            tracer_provider=tracer_provider,
            meter_provider=self.meter_provider,
        )

    def prom(self, family: str, label: str | None = None) -> Counter[Any]:
        """Sum of a counter family's ``_total`` samples, by one label (or all: key '')."""
        out: Counter[Any] = Counter()
        for metric in self.registry.collect():
            if metric.name != family:
                continue
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.value:
                    out[sample.labels[label] if label else ""] += int(sample.value)
        return out

    def prom_pairs(self, family: str, first: str, second: str) -> Counter[Any]:
        out: Counter[Any] = Counter()
        for metric in self.registry.collect():
            if metric.name != family:
                continue
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.value:
                    out[sample.labels[first], sample.labels[second]] += int(
                        sample.value
                    )
        return out

    def otel(self, name: str, *keys: str) -> Counter[Any]:
        """Sum of an OTel counter's points by the given attribute keys."""
        data = self.metrics.get_metrics_data()
        out: Counter[Any] = Counter()
        if data is None:
            return out
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name != name:
                        continue
                    for point in m.data.data_points:
                        assert isinstance(point, NumberDataPoint)
                        attrs = dict(point.attributes or {})
                        key = tuple(attrs[k] for k in keys)
                        out[key if len(key) != 1 else key[0]] += int(point.value)
        return out

    def close(self) -> None:
        self.meter_provider.shutdown()


@pytest.fixture
def backends() -> Iterator[Backends]:
    b = Backends()
    yield b
    b.close()


def replay_all(
    server: Any, backends: Backends, mode: str, corpus: list[Recording]
) -> Expected:
    """Replay every body in every call kind; the SDK results must not change."""
    expected = Expected()
    call = CALLERS[mode]
    for rec in corpus:
        for kind in (STREAM_KINDS if rec.stream else KINDS)[mode]:
            bare = call(server, rec, kind, None)
            if bare[0] == "raised":
                # The SDK itself cannot read this body this way (anthropic 2.16's stream
                # helper on `usage: null`): it stops reading and closes the response. The
                # observer must change nothing and record no telemetry error; the
                # exchange (closed early) stays out of the count comparison.
                apart = Backends()
                try:
                    assert call(server, rec, kind, apart.observer) == bare, rec.name
                    assert apart.sink.telemetry_errors == []
                    (ex,) = apart.sink.exchanges
                    assert ex.outcome in (Outcome.OK, Outcome.CLOSED_EARLY)
                finally:
                    apart.close()
                continue
            seen = call(server, rec, kind, backends.observer)
            assert seen == bare, (
                f"{rec.name} ({mode} {kind}): the SDK saw another result"
            )
            if rec.status != 200:
                assert bare[0] == "status", (rec.name, bare)
            expected.add(rec.body, rec.stream, rec.request)
    return expected


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("corpus", ["real", "synthetic"])
def test_replay_counts_equal_the_raw_json(
    http_server: Any, backends: Backends, mode: str, corpus: str
) -> None:
    """Same SDK result, no telemetry error, and the counts of the raw JSON."""
    expected = replay_all(http_server, backends, mode, CORPORA[corpus])
    b = backends
    sink = b.sink

    # No telemetry error, every exchange as the body says.
    assert sink.telemetry_errors == []
    assert not any(b.observer.telemetry_errors.values())
    assert len(sink.exchanges) == len(expected.containers)
    outcomes = Counter(ex.outcome for ex in sink.exchanges)
    errors = sum(expected.errors.values())
    assert outcomes == +Counter(
        {Outcome.OK: len(sink.exchanges) - errors, Outcome.ERROR: errors}
    )
    assert (
        Counter(ex.error_type for ex in sink.exchanges if ex.outcome is Outcome.ERROR)
        == expected.errors
    )
    for ex, request_id, container in zip(
        sink.exchanges, expected.request_ids, expected.containers, strict=True
    ):
        if request_id is not None:
            assert ex.request_id == request_id
        reply = ex.reply
        assert (reply.container.id if reply and reply.container else None) == container

    # Prometheus.
    assert (
        b.prom_pairs("ptc_code_executions", "gen_ai_tool_name", "outcome")
        == expected.code_executions
    )
    assert (
        b.prom_pairs("ptc_server_tool_calls", "gen_ai_tool_name", "caller")
        == expected.server_tools
    )
    assert b.prom_pairs("ptc_tool_calls", "gen_ai_tool_name", "caller") == (
        expected.tool_calls
    )
    tokens = b.prom("ptc_tokens", "token_kind")
    for kind in ("input", "output", "cache_read", "cache_write"):
        assert tokens[kind] == expected.tokens[kind], kind
    assert b.prom("ptc_reasoning_tokens")[""] == expected.tokens["reasoning"]
    ttl = b.prom("ptc_cache_write_tokens", "ttl")
    assert ttl == +expected.cache_write_ttl
    assert sum(ttl.values()) == expected.tokens["cache_write"]
    assert b.prom("ptc_server_tool_requests", "server_tool") == (
        expected.server_tool_requests
    )
    assert b.prom("ptc_errors", "error_type") == expected.errors
    assert b.prom("ptc_containers_created")[""] == expected.created
    assert b.prom("ptc_container_reuses")[""] == expected.reuses

    # OpenTelemetry metrics: the same splits.
    assert b.otel("ptc.code_executions", "gen_ai.tool.name", "outcome") == (
        expected.code_executions
    )
    assert b.otel("ptc.server_tool_calls", "gen_ai.tool.name", "caller") == (
        expected.server_tools
    )
    assert b.otel("ptc.reasoning_tokens")[()] == expected.tokens["reasoning"]
    assert b.otel("ptc.cache_write_tokens", "ttl") == +expected.cache_write_ttl
    assert b.otel("ptc.server_tool_requests", "server_tool") == (
        expected.server_tool_requests
    )
