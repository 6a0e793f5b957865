"""The report on metrics the real observer produced from real recorded traffic.

Every recorded response that carries a message with usage goes through the real transport
over loopback, into a fresh registry, plus one response of a model without a price. The
``/metrics`` text prometheus_client writes is saved and read back by ``ptc-observe report``:
its spend per model must be what ``genai_prices`` says the same usage costs (plus the
observer's container estimate), the unknown model's tokens unpriced, and the price data the
installed genai-prices.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import genai_prices
import pytest
from pricing.realdata import REAL
from pricing.test_observed_cost import PROMPT, recording, request_body, send
from prometheus_client import CollectorRegistry, generate_latest

from ptc_observe import Observer
from ptc_observe.report import build_report, load_snapshot, render_text
from ptc_observe.testing import MemorySink

UNKNOWN = "claude-unreleased-9"


def _calc_price(body: dict[str, Any], sent_unix_ns: int) -> float:
    when = dt.datetime.fromtimestamp(sent_unix_ns / 1e9, dt.timezone.utc)
    usage = genai_prices.extract_usage(body, provider_id="anthropic")
    return float(usage.calc_price(genai_request_timestamp=when).total_price)


def test_report_on_real_traffic_matches_calc_price(
    http_server: Any, tmp_path: Path
) -> None:
    """Spend per model = calc_price + the container estimate; unknown model unpriced."""
    registry = CollectorRegistry()
    sink = MemorySink()
    observer = Observer([sink], registry=registry, opentelemetry=False)
    for rec, body in REAL:
        send(
            observer,
            http_server,
            request_body(rec, body["model"]),
            rec.body,
            content_type=rec.content_type,
        )
    unknown = json.loads(recording("plain_text_json.json").body)
    unknown["model"] = UNKNOWN
    send(
        observer,
        http_server,
        json.dumps({**PROMPT, "model": UNKNOWN}).encode(),
        json.dumps(unknown).encode(),
    )
    path = tmp_path / "metrics.prom"
    path.write_bytes(generate_latest(registry))

    report = build_report(
        load_snapshot(str(path), now=dt.datetime.now(dt.timezone.utc))
    )

    expected_tokens: dict[str, float] = defaultdict(float)
    expected_container: dict[str, float] = defaultdict(float)
    assert len(sink.exchanges) == len(REAL) + 1
    for (_, body), ex in zip(REAL, sink.exchanges[: len(REAL)], strict=True):
        assert ex.cost is not None
        model = ex.request.model or body["model"]
        expected_tokens[model] += _calc_price(body, ex.timings.sent_unix_ns)
        expected_container[model] += ex.cost.container
    tokens_by_model: dict[str, float] = defaultdict(float)
    container_by_model: dict[str, float] = defaultdict(float)
    for (model, component), usd in report.spend.items():
        if component == "container":
            container_by_model[model] += usd
        else:
            tokens_by_model[model] += usd
    priced = {m for m, v in expected_tokens.items() if v > 0}
    assert priced and priced == set(report.spend_by_model())
    for model in priced:
        assert tokens_by_model[model] == pytest.approx(expected_tokens[model], rel=1e-9)
        assert container_by_model[model] == pytest.approx(expected_container[model])
    usage = unknown["usage"]
    assert report.unpriced_tokens == {
        UNKNOWN: usage["input_tokens"] + usage["output_tokens"]
    }
    versions = {p.source: p.version for p in report.prices}
    assert versions["genai-prices"] == importlib.metadata.version("genai-prices")
    assert f"genai-prices {versions['genai-prices']}" in render_text(report)
