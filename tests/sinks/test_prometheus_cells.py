"""The sink's own cells (single process): what prometheus_client's metrics would expose."""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

import math
import threading
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ptc_observe.observer.sinks import _semconv as sc
from ptc_observe.observer.sinks._prometheus_cells import (
    EXEMPLAR_INTERVAL_SECONDS,
    LocalMetrics,
)
from ptc_observe.observer.sinks.prometheus import PrometheusSink

EXEMPLAR = {
    "trace_id": "0123456789abcdef0123456789abcdef",
    "span_id": "0123456789abcdef",
}
NOW = 1_790_000_000.25
D = sc.DURATION_BUCKETS
AMOUNTS = [
    *D,
    *(b + 1e-9 for b in D),
    *(b - 1e-9 for b in D),
    0,
    0.0,
    -1.5,
    3,
    1e300,
    math.inf,
    -math.inf,
    math.nan,
]


def _samples(registry: CollectorRegistry) -> list[tuple[Any, ...]]:
    """Every sample (``_created``: only its presence), exemplars without timestamps."""
    out: list[tuple[Any, ...]] = []
    for metric in registry.collect():
        out.append((metric.name, metric.documentation, metric.type))
        for s in metric.samples:
            value = "nan" if s.value != s.value else s.value
            if s.name.endswith("_created"):
                value = "created"
            ex = s.exemplar
            out.append((s.name, s.labels, value, type(s.value), ex and ex[:2]))
    return out


@pytest.mark.parametrize("buckets", [D, sc.TOKEN_BUCKETS], ids=["duration", "tokens"])
def test_histogram_cells_give_the_library_samples(buckets):
    """Bucket placement (bounds exactly, just off, NaN, infinities), count, sum, exemplars."""
    lib, ours = CollectorRegistry(), CollectorRegistry()
    child = Histogram("h", "help", ["a"], registry=lib, buckets=buckets).labels("x")
    cell = LocalMetrics().histogram("h", "help", ["a"], registry=ours, buckets=buckets)
    cell = cell.series(("x",))
    for n, amount in enumerate(AMOUNTS):
        child.observe(amount, EXEMPLAR if n % 3 == 0 else None)
        # A fresh exemplar window each time, as the library writes each one.
        cell.observe(amount, EXEMPLAR if n % 3 == 0 else None, NOW + 2 * n)
        assert _samples(ours) == _samples(lib), amount


def test_counters_and_gauges_give_the_library_samples():
    lib, ours = CollectorRegistry(), CollectorRegistry()
    mk = LocalMetrics()
    pairs: list[tuple[Any, Any, bool]] = [
        (Counter("c_total", "counts", ["k"], registry=lib),
         mk.counter("c_total", "counts", ["k"], registry=ours), True),
        (Counter("single", "one", registry=lib),
         mk.counter("single", "one", registry=ours), False),
        (Gauge("g", "gauge", ["k"], registry=lib),
         mk.gauge("g", "gauge", ["k"], registry=ours, multiprocess_mode="max"), True),
    ]  # fmt: skip
    for theirs, mine, labelled in pairs:
        if labelled:
            theirs.labels("b")
            mine.labels("b")
            a, b = theirs.labels("a"), mine.labels("a")
        else:
            a, b = theirs, mk.single(mine)
        if isinstance(theirs, Gauge):
            a.set(7)
            b.set(7)
        else:
            a.inc()
            b.inc()
            a.inc(2.5)
            b.inc(2.5)
    assert _samples(ours) == _samples(lib)
    pairs[2][0].clear()
    pairs[2][1].clear()
    assert _samples(ours) == _samples(lib)


def test_a_counter_refuses_a_negative_amount():
    cell = LocalMetrics().counter("c", "h", ["k"], registry=CollectorRegistry())
    with pytest.raises(ValueError, match="non-negative"):
        cell.labels("x").inc(-1)


def test_a_histogram_series_appears_on_its_first_observation():
    registry = CollectorRegistry()
    family = LocalMetrics().histogram("h", "help", ["a"], registry=registry, buckets=D)
    cell = family.series(("x",))
    assert family.series(("x",)) is cell
    assert registry.get_sample_value("h_count", {"a": "x"}) is None
    cell.observe(1.0)
    assert registry.get_sample_value("h_count", {"a": "x"}) == 1.0
    assert registry.get_sample_value("h_created", {"a": "x"}) is not None


def test_one_exemplar_per_series_per_interval_whoever_holds_it():
    """Two holders of one series (a streamed and a non-streamed exchange's bundles share
    the duration series) write at most one exemplar per interval between them."""
    registry = CollectorRegistry()
    family = LocalMetrics().histogram("h", "help", ["a"], registry=registry, buckets=D)
    first, second = family.series(("x",)), family.series(("x",))
    first.observe(0.5, EXEMPLAR, NOW)
    second.observe(0.03, EXEMPLAR, NOW + EXEMPLAR_INTERVAL_SECONDS / 2)
    second.observe(5.0, EXEMPLAR, NOW + EXEMPLAR_INTERVAL_SECONDS)
    exemplars = {
        s.labels["le"]: s.exemplar.value
        for m in registry.collect()
        for s in m.samples
        if s.exemplar is not None
    }
    assert exemplars == {"0.64": 0.5, "5.12": 5.0}


def test_registering_a_family_twice_fails_as_with_the_library():
    registry = CollectorRegistry()
    PrometheusSink(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Counter("ptc_exchanges", "again", registry=registry)


def test_concurrent_exchanges_count_exactly(factory):
    """Many threads recording at once lose no update (one lock per exchange)."""
    registry = CollectorRegistry()
    sinks = [PrometheusSink(registry), PrometheusSink(registry)]  # one set of cells
    exchanges = [factory.make("08_stream_ptc_turn1.sse") for _ in range(4)]

    def work(sink: PrometheusSink) -> None:
        for _ in range(250):
            for ex in exchanges:
                sink.on_exchange(ex)

    threads = [threading.Thread(target=work, args=(sinks[n % 2],)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    labels = {
        "gen_ai_request_model": exchanges[0].request.model or "",
        "stream": "true",
        "outcome": "ok",
    }
    assert registry.get_sample_value("ptc_exchanges_total", labels) == 8000
    count = registry.get_sample_value(
        "gen_ai_client_operation_duration_seconds_count",
        {
            "gen_ai_operation_name": "chat",
            "gen_ai_provider_name": "anthropic",
            "gen_ai_request_model": exchanges[0].request.model or "",
            "gen_ai_response_model": exchanges[0].reply.model or "",
            "error_type": "",
        },
    )
    assert count == 8000
