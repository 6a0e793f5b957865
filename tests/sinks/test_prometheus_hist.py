"""``Hist``: one histogram series bound on first use, exemplars written at a bounded rate."""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

import math
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Histogram

from ptc_observe.observer.sinks import _semconv as sc
from ptc_observe.observer.sinks._prometheus_families import (
    EXEMPLAR_INTERVAL_SECONDS,
    Hist,
)

EXEMPLAR = {
    "trace_id": "0123456789abcdef0123456789abcdef",
    "span_id": "0123456789abcdef",
}
NOW = 1_790_000_000.25
D = sc.DURATION_BUCKETS
T = sc.TOKEN_BUCKETS
# Every bound exactly, just above and below each, zero, negatives, integers, +-Inf.
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
]


def _family(registry: CollectorRegistry, buckets: Any) -> Histogram:
    return Histogram("h", "help", ["a"], registry=registry, buckets=buckets)


def _samples(registry: CollectorRegistry) -> list[tuple[Any, ...]]:
    """Every sample but ``_created`` (a creation time), exemplars without timestamps."""
    out = []
    for metric in registry.collect():
        for s in metric.samples:
            if s.name.endswith("_created"):
                continue
            ex = s.exemplar
            value = "nan" if s.value != s.value else s.value
            out.append((s.name, s.labels, value, ex and (ex.labels, ex.value)))
    return out


@pytest.mark.parametrize("buckets", [D, T], ids=["duration", "tokens"])
def test_same_samples_as_the_library(buckets):
    """Counts, sums and bucket placement equal those of Histogram.observe, NaN included."""
    lib, ours = CollectorRegistry(), CollectorRegistry()
    lib_child = _family(lib, buckets).labels("x")
    hist = Hist(_family(ours, buckets), ("x",))
    for amount in [*AMOUNTS, math.nan]:
        lib_child.observe(amount)
        hist.observe(amount)
        assert _samples(ours) == _samples(lib), amount


def _exemplars(registry: CollectorRegistry) -> dict[str, float]:
    return {
        s.labels["le"]: s.exemplar.value
        for m in registry.collect()
        for s in m.samples
        if s.exemplar is not None
    }


def test_exemplar_rate_is_bounded_per_series():
    """The first observation carries its exemplar; others within the interval do not;
    the next one after it does again."""
    registry = CollectorRegistry()
    hist = Hist(_family(registry, D), ("x",))
    hist.observe(0.5, EXEMPLAR, NOW)
    hist.observe(0.03, EXEMPLAR, NOW + EXEMPLAR_INTERVAL_SECONDS / 2)
    assert _exemplars(registry) == {"0.64": 0.5}
    hist.observe(0.03, EXEMPLAR, NOW + EXEMPLAR_INTERVAL_SECONDS)
    assert _exemplars(registry) == {"0.64": 0.5, "0.04": 0.03}
    assert registry.get_sample_value("h_count", {"a": "x"}) == 3.0


def test_series_have_their_own_exemplar_clock():
    """An exemplar written on one series does not hold back another's."""
    registry = CollectorRegistry()
    family = _family(registry, D)
    Hist(family, ("x",)).observe(0.5, EXEMPLAR, NOW)
    Hist(family, ("y",)).observe(0.5, EXEMPLAR, NOW)
    labelled = [
        s.labels["a"]
        for m in registry.collect()
        for s in m.samples
        if s.exemplar is not None
    ]
    assert sorted(labelled) == ["x", "y"]


def test_exemplar_without_now_uses_the_clock():
    """Without ``now`` the exemplar is stamped with the time of the call."""
    registry = CollectorRegistry()
    Hist(_family(registry, D), ("x",)).observe(0.5, EXEMPLAR)
    (stamp,) = [
        float(s.exemplar.timestamp or 0)
        for m in registry.collect()
        for s in m.samples
        if s.exemplar is not None
    ]
    assert abs(stamp - NOW) > 1


def test_binds_on_first_observation():
    """No series before the first observation (histograms bind lazily)."""
    registry = CollectorRegistry()
    hist = Hist(_family(registry, D), ("x",))
    assert registry.get_sample_value("h_count", {"a": "x"}) is None
    hist.observe(1.0)
    assert registry.get_sample_value("h_count", {"a": "x"}) == 1.0


def test_of_wraps_a_family_without_labels():
    """``Hist.of`` observes into an already bound child, or a label-less histogram."""
    registry = CollectorRegistry()
    family = Histogram("g", "help", registry=registry, buckets=(1.0, 5.0))
    Hist.of(family).observe(3.0, EXEMPLAR, NOW)
    assert registry.get_sample_value("g_bucket", {"le": "5.0"}) == 1.0
    assert registry.get_sample_value("g_bucket", {"le": "1.0"}) == 0.0
    assert registry.get_sample_value("g_sum") == 3.0


def test_raw_model_cache_stays_within_the_label_bounds():
    """Exchange model names are cached only once admitted: folded ones never grow it."""
    from ptc_observe.observer.correlator import Limits
    from ptc_observe.observer.sinks.prometheus import PrometheusSink

    from .factory import ExchangeFactory

    factory = ExchangeFactory()
    registry = CollectorRegistry()
    sink = PrometheusSink(registry, limits=Limits(max_label_values=2))
    for n in range(300):
        sink.on_exchange(factory.make("01_direct_tool_use.json", model=f"m-{n}"))
    families: Any = sink._f
    # m-0 and the response model were admitted; m-1 .. m-299 fold into _other.
    assert len(families._raw_bundles) == 1
    assert len(families._bundles) == 2
    labels = {"gen_ai_request_model": "_other", "stream": "false", "outcome": "ok"}
    assert registry.get_sample_value("ptc_exchanges_total", labels) == 299
