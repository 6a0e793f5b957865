"""The Prometheus sink's two back ends expose exactly the same series.

In one process the sink keeps cells of its own, exposed by custom collectors; in
multiprocess mode it keeps prometheus_client's metrics. Real traffic (every recorded body,
every SDK call kind, sync), the synthetic bodies and factory-made shapes (errors, cut
streams, folded model names, rate limits, retries, traced exchanges) go through one
observer into one sink of each kind, gen2 names and exemplars on: the registries must
give the same families (HELP, TYPE), samples in the same order, labels, float values and
exemplars, and the same text in both exposition formats (``_created`` values and exemplar
timestamps aside: they are clock readings).
"""

# mypy: disallow-untyped-calls=False

from __future__ import annotations

import itertools
import math
import re
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import (
    CollectorRegistry,
    disable_created_metrics,
    enable_created_metrics,
    generate_latest,
)
from prometheus_client.openmetrics.exposition import (
    generate_latest as generate_openmetrics,
)
from sinks.factory import ExchangeFactory, result

from ptc_observe import Observer
from ptc_observe.events import Exchange, RateLimit
from ptc_observe.observer.correlator import Limits
from ptc_observe.observer.sinks import _prometheus_families, prometheus as prom_module
from ptc_observe.observer.sinks._prometheus_standard import StandardMetrics
from ptc_observe.observer.sinks.prometheus import PrometheusSink
from ptc_observe.testing import MemorySink

from .test_replay import CORPORA, replay_all


def _pair(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """(cells sink, standard-metrics sink), each on a fresh registry, gen2 on."""
    limits = Limits(max_label_values=3)
    local = PrometheusSink(CollectorRegistry(), limits=limits, latest_semconv=True)
    with monkeypatch.context() as m:
        m.setattr(_prometheus_families, "LocalMetrics", StandardMetrics)
        standard = PrometheusSink(
            CollectorRegistry(), limits=limits, latest_semconv=True
        )
    assert local._f.mk.local and not standard._f.mk.local
    return local, standard


def _view(registry: CollectorRegistry) -> list[Any]:
    out = []
    for m in registry.collect():
        samples = []
        for s in m.samples:
            created = s.name.endswith("_created")
            value = "nan" if s.value != s.value else s.value
            ex = s.exemplar
            samples.append(
                (
                    s.name,
                    s.labels,
                    None if created else value,
                    type(s.value),
                    s.timestamp,
                    ex and (ex.labels, ex.value),
                )
            )
        out.append((m.name, m.documentation, m.type, m.unit, samples))
    return out


_CREATED = re.compile(r"^(\S+_created(?:\{[^}]*\})?) \S+$", re.M)
_EXEMPLAR_TS = re.compile(r"(# \{[^}]*\} \S+) \S+$", re.M)


def _text(body: bytes) -> str:
    return _EXEMPLAR_TS.sub(r"\1", _CREATED.sub(r"\1 T", body.decode()))


def _assert_same(local: Any, standard: Any) -> None:
    a, b = local.registry, standard.registry
    ours, theirs = _view(a), _view(b)
    assert [f[:4] for f in ours] == [f[:4] for f in theirs]
    for mine, lib in zip(ours, theirs, strict=True):
        assert len(mine[4]) == len(lib[4]), mine[0]
        for x, y in zip(mine[4], lib[4], strict=True):
            assert x == y, mine[0]
    assert _text(generate_latest(a)) == _text(generate_latest(b))
    assert _text(generate_openmetrics(a)) == _text(generate_openmetrics(b))


def _shapes() -> list[Exchange]:
    """Factory exchanges of every kind the sink records differently."""
    f = ExchangeFactory()
    out = [
        f.make(name)
        for name in (
            "01_direct_tool_use.json",
            "02_ptc_turn1_response.json",
            "03_ptc_resume_response.json",
            "04_ptc_final_response.json",
            "05_ptc_multiple_calls_response.json",
            "08_stream_ptc_turn1.sse",
            "09_stream_plain_text.sse",
            "10_stream_ptc_resume_prepopulated.sse",
            "06_error_429_rate_limit.json",
            "07_error_529_overloaded.json",
        )
    ]
    out.append(f.make("08_stream_ptc_turn1.sse", cut_after=900))
    out.append(f.make("09_stream_plain_text.sse", closed_early=True))
    out += [f.make("01_direct_tool_use.json", model=f"m-{n}") for n in range(6)]
    out.append(f.make("06_error_429_rate_limit.json", error_type="odd_error"))
    out.append(f.make("01_direct_tool_use.json", retry_count=2))
    limits = [RateLimit("requests", 10, 9, None), RateLimit("tokens", None, 5, None)]
    out.append(f.make("01_direct_tool_use.json", rate_limits=limits))
    out.append(f.make("01_direct_tool_use.json", rate_limits=limits))
    results = [
        result("toolu_a", 10, tool="query_sales", programmatic=True),
        result("toolu_b", 20, is_error=True, tool="other"),
        result("toolu_c", 30),
    ]
    out.append(f.make("03_ptc_resume_response.json", tool_results=results))
    traced = []
    ids = itertools.count(0xABC)
    for ex in out[:12]:
        fields = {k: getattr(ex, k) for k in ex.__slots__}
        traced.append(Exchange(**{**fields, "trace_id": next(ids), "span_id": 0xDEF}))
    return out + traced


def test_the_two_back_ends_expose_the_same_series(
    monkeypatch: pytest.MonkeyPatch, http_server: Any
) -> None:
    """Real and synthetic traffic through one observer into both back ends."""
    # Every exemplar-bearing observation is due one (the clock moves 2 s a reading), so
    # the two back ends keep the same exemplars.
    clock = itertools.count(1_790_000_000.0, 2.0)
    monkeypatch.setattr(prom_module, "_time", lambda: next(clock))
    local, standard = _pair(monkeypatch)
    observer = Observer(
        sinks=[local, standard, MemorySink()],
        prometheus=False,
        tracer_provider=TracerProvider(),
    )
    backends: Any = SimpleNamespace(observer=observer)
    replay_all(http_server, backends, "sync", CORPORA["real"])
    replay_all(http_server, backends, "sync", CORPORA["synthetic"])
    for ex in _shapes():
        local.on_exchange(ex)
        standard.on_exchange(ex)
    for stage in ("exemplar", "not-a-stage"):
        local.on_telemetry_error(stage)
        standard.on_telemetry_error(stage)
    with_exemplars = [
        line for line in generate_openmetrics(local.registry).decode().splitlines()
        if "trace_id" in line
    ]  # fmt: skip
    assert with_exemplars  # the comparison covers exemplars
    assert local.registry.get_sample_value("ptc_cost_usd_total") is None
    _assert_same(local, standard)


def test_created_series_follow_disable_created_metrics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``disable_created_metrics()`` drops ``_created`` from our families as from the
    library's, at the next scrape."""
    local, standard = _pair(monkeypatch)
    ex = ExchangeFactory().make("01_direct_tool_use.json")
    local.on_exchange(ex)
    standard.on_exchange(ex)
    disable_created_metrics()
    try:
        assert not _CREATED.search(generate_latest(local.registry).decode())
        _assert_same(local, standard)
    finally:
        enable_created_metrics()
    assert _CREATED.search(generate_latest(local.registry).decode())
    _assert_same(local, standard)


def test_nan_and_infinities_as_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """Odd durations land where prometheus_client puts them (NaN in no bucket)."""
    local, standard = _pair(monkeypatch)
    for duration in (math.nan, math.inf, 0.0, -1.0):
        ex = ExchangeFactory().make("01_direct_tool_use.json", duration=duration)
        local.on_exchange(ex)
        standard.on_exchange(ex)
    _assert_same(local, standard)
