"""Spend as the observer records it: real recorded responses through the real transport,
over loopback, priced and counted; the totals agree with genai_prices.calc_price."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices
import httpx2
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from real.corpus import Recording, recordings

from ptc_observe import Observer
from ptc_observe.events import COST_COMPONENTS, Exchange
from ptc_observe.pricing import PriceBook
from ptc_observe.testing import MemorySink

from .realdata import IDS, REAL

PROMPT = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}


def recording(name: str) -> Recording:
    return next(r for r in recordings() if r.name == name)


def request_body(rec: Recording, model: str) -> bytes:
    if rec.request is not None:
        return rec.request
    return json.dumps({**PROMPT, "model": model, "stream": rec.stream}).encode()


def send(
    observer: Observer,
    http_server: Any,
    body: bytes,
    reply: bytes,
    status: int = 200,
    content_type: str = "application/json",
) -> None:
    http_server.replies.append((status, {"content-type": content_type}, [reply]))
    with httpx2.Client(transport=observer.transport()) as client:
        response = client.post(
            f"{http_server.url}/v1/messages",
            content=body,
            headers={"content-type": "application/json"},
        )
        response.read()


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def expected_price(body: dict[str, Any], ex: Exchange) -> Decimal:
    when = dt.datetime.fromtimestamp(ex.timings.sent_unix_ns / 1e9, dt.timezone.utc)
    extracted = genai_prices.extract_usage(body, provider_id="anthropic")
    return extracted.calc_price(genai_request_timestamp=when).total_price


@pytest.mark.parametrize(("rec", "body"), REAL, ids=IDS)
def test_every_real_response_is_priced_as_calc_price_says(http_server, rec, body):
    registry = CollectorRegistry()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sink = MemorySink()
    observer = Observer([sink], registry=registry, tracer_provider=provider)
    send(
        observer,
        http_server,
        request_body(rec, body["model"]),
        rec.body,
        content_type=rec.content_type,
    )
    (ex,) = sink.exchanges
    cost = ex.cost
    assert cost is not None and cost.price_id is not None
    tokens_only = cost.total - cost.container
    expected = expected_price(body, ex)
    # The components of this exchange add up to genai-prices' own total (float of exact decimals).
    assert tokens_only == pytest.approx(float(expected), rel=1e-12, abs=1e-15)
    model = ex.request.model or body["model"]
    recorded = {
        c: sample(
            registry, "ptc_cost_usd_total", gen_ai_request_model=model, component=c
        )
        for c in COST_COMPONENTS
    }
    assert recorded == pytest.approx(
        dict(zip(COST_COMPONENTS, cost.components, strict=True))
    )
    assert sum(v for c, v in recorded.items() if c != "container") == pytest.approx(
        float(expected), rel=1e-12
    )
    # Tokens and spend come from the same facts: the input component is the uncached input
    # tokens of ptc_tokens_total at the model's input rate.
    found = PriceBook().lookup(body["model"], ex.timings.sent_unix_ns)
    assert found is not None
    uncached = sample(
        registry, "ptc_tokens_total", gen_ai_request_model=model, token_kind="input"
    )
    assert recorded["input"] == pytest.approx(
        float(found.card.input_rate * Decimal(int(uncached)))
    )
    (span,) = [
        s
        for s in exporter.get_finished_spans()
        if s.attributes and "ptc.cost.usd" in s.attributes
    ]
    attributes = dict(span.attributes or {})
    assert attributes["ptc.cost.usd"] == pytest.approx(cost.total)
    provider.shutdown()


def test_container_time_is_billed_unless_free_and_at_least_the_minimum(http_server):
    """codeexec_bash_json: code_execution_20260120 alone, no container named -> a new
    container, billed the 5-minute minimum; prog_web_tools_20260209 declares web_fetch_20260209
    -> free."""
    sink = MemorySink()
    observer = Observer([sink], registry=CollectorRegistry(), opentelemetry=False)
    for name in ("codeexec_bash_json.json", "prog_web_tools_20260209.json"):
        rec = recording(name)
        send(observer, http_server, request_body(rec, "claude-sonnet-4-6"), rec.body)
    billed, free = sink.exchanges
    assert (
        billed.request.container_id is None
        and billed.reply is not None
        and billed.reply.container
    )
    assert billed.cost is not None and billed.cost.container_seconds == 300
    assert billed.cost.container == pytest.approx(0.05 * 300 / 3600)
    assert (
        free.cost is not None
        and free.cost.container == 0
        and free.cost.container_seconds == 0
    )


def test_unknown_model_is_counted_unpriced(http_server):
    registry = CollectorRegistry()
    sink = MemorySink()
    observer = Observer([sink], registry=registry, opentelemetry=False)
    body = json.loads(recording("plain_text_json.json").body)
    body["model"] = "claude-unreleased-9"
    send(
        observer,
        http_server,
        json.dumps({**PROMPT, "model": "claude-unreleased-9"}).encode(),
        json.dumps(body).encode(),
    )
    (ex,) = sink.exchanges
    assert ex.cost is not None and ex.cost.price_id is None
    usage = body["usage"]
    tokens = usage["input_tokens"] + usage["output_tokens"]
    assert ex.cost.unpriced_tokens == tokens
    assert (
        sample(
            registry,
            "ptc_unpriced_tokens_total",
            gen_ai_request_model="claude-unreleased-9",
        )
        == tokens
    )
    for component in COST_COMPONENTS:
        assert (
            sample(
                registry,
                "ptc_cost_usd_total",
                gen_ai_request_model="claude-unreleased-9",
                component=component,
            )
            == 0
        )


def test_missing_usage_and_errors_cost_nothing(http_server):
    sink = MemorySink()
    registry = CollectorRegistry()
    observer = Observer([sink], registry=registry, opentelemetry=False)
    body = json.loads(recording("plain_text_json.json").body)
    del body["usage"]
    send(observer, http_server, json.dumps(PROMPT).encode(), json.dumps(body).encode())
    send(
        observer,
        http_server,
        json.dumps(PROMPT).encode(),
        recording("error_529_overloaded.json").body,
        529,
    )
    assert [ex.cost for ex in sink.exchanges] == [None, None]
    assert observer.telemetry_errors.get("price", 0) == 0


def test_negative_counts_are_a_counted_telemetry_error_not_a_cost(http_server):
    sink = MemorySink()
    registry = CollectorRegistry()
    observer = Observer([sink], registry=registry, opentelemetry=False)
    body = json.loads(recording("plain_text_json.json").body)
    body["usage"]["output_tokens"] = -5
    send(observer, http_server, json.dumps(PROMPT).encode(), json.dumps(body).encode())
    (ex,) = sink.exchanges
    assert ex.cost is None
    assert observer.telemetry_errors["price"] == 1
    assert sample(registry, "ptc_telemetry_errors_total", stage="price") == 1


def test_price_data_info_and_explicit_reload(tmp_path: Path):
    path = tmp_path / "prices.yaml"
    path.write_text(
        "models:\n  - match: claude-sonnet-4-5\n    prices: {input_mtok: 1, output_mtok: 2}\n"
    )
    registry = CollectorRegistry()
    observer = Observer(registry=registry, opentelemetry=False, prices=path)
    info = {
        s.labels["source"]: s.labels
        for m in registry.collect()
        if m.name == "ptc_price_data_info"
        for s in m.samples
    }
    assert set(info) == {"genai-prices", "file:prices.yaml", "container"}
    assert info["genai-prices"]["version"] == genai_prices.__version__
    old = info["file:prices.yaml"]["version"]
    path.write_text(
        "models:\n  - match: claude-sonnet-4-5\n    prices: {input_mtok: 3, output_mtok: 2}\n"
    )
    observer.reload_prices()
    info = {
        s.labels["source"]: s.labels
        for m in registry.collect()
        if m.name == "ptc_price_data_info"
        for s in m.samples
    }
    assert info["file:prices.yaml"]["version"] != old and len(info) == 3


def test_bad_price_file_fails_at_start(tmp_path: Path):
    from ptc_observe.pricing import PriceFileError

    path = tmp_path / "prices.yaml"
    path.write_text(
        "models:\n  - match: x\n    prices: {input_mtok: one, output_mtok: 2}\n"
    )
    with pytest.raises(PriceFileError, match=r"prices\.yaml:3"):
        Observer(registry=CollectorRegistry(), opentelemetry=False, prices=path)


def test_prices_off():
    observer = Observer(registry=CollectorRegistry(), opentelemetry=False, prices=False)
    assert observer.prices is None


def test_opentelemetry_metrics_carry_the_same_spend(
    http_server, meter_provider, metric_reader
):
    """OTLP users get ptc.cost.usd by model and component, equal to the Prometheus counter."""
    registry = CollectorRegistry()
    sink = MemorySink()
    observer = Observer([sink], registry=registry, meter_provider=meter_provider)
    rec = recording("web_search_direct_json.json")
    send(observer, http_server, request_body(rec, "claude-haiku-4-5"), rec.body)
    (ex,) = sink.exchanges
    data = metric_reader.get_metrics_data()
    points = {
        (p.attributes["gen_ai.request.model"], p.attributes["component"]): p.value
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "ptc.cost.usd"
        for p in m.data.data_points
    }
    model = ex.model or ""
    assert points[(model, "server_tools")] == pytest.approx(0.01)
    for (m, component), amount in points.items():
        assert amount == pytest.approx(
            sample(
                registry,
                "ptc_cost_usd_total",
                gen_ai_request_model=m,
                component=component,
            )
        )


def test_otel_spend_exports_as_the_prometheus_series(http_server, tracer_provider):
    """Through the OTel Prometheus exporter, ptc.cost.usd and ptc.unpriced_tokens are the very
    ptc_cost_usd_total / ptc_unpriced_tokens_total series of the Prometheus sink."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider

    exported = CollectorRegistry()
    reader = PrometheusMetricReader(
        disable_target_info=True, scope_info_enabled=False, registry=exported
    )
    provider = MeterProvider(metric_readers=[reader])
    registry = CollectorRegistry()
    try:
        observer = Observer(
            registry=registry, tracer_provider=tracer_provider, meter_provider=provider
        )
        rec = recording("web_search_direct_json.json")
        send(observer, http_server, request_body(rec, "claude-haiku-4-5"), rec.body)
        unknown = json.loads(recording("plain_text_json.json").body)
        unknown["model"] = "claude-unreleased-9"
        send(
            observer,
            http_server,
            json.dumps({**PROMPT, "model": "claude-unreleased-9"}).encode(),
            json.dumps(unknown).encode(),
        )

        def spend(r: CollectorRegistry) -> dict[tuple[Any, ...], float]:
            return {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for m in r.collect()
                if m.name in ("ptc_cost_usd", "ptc_unpriced_tokens")
                for s in m.samples
                if s.name.endswith("_total") and s.value
            }

        ours = spend(registry)
        assert (
            len(ours) == 4
        )  # input, output, server_tools of one model; unpriced of the other
        theirs = spend(exported)
        assert theirs.keys() == ours.keys()
        for key, value in ours.items():
            assert theirs[key] == pytest.approx(value)
    finally:
        provider.shutdown()
