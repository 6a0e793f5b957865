"""The sink's direct paths (``Hist``, ``adder``) write exactly what prometheus_client's API does."""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from ptc_observe.observer.sinks import _semconv as sc
from ptc_observe.observer.sinks._prometheus_families import Hist, adder

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
@pytest.mark.parametrize("exemplar", [None, EXEMPLAR], ids=["plain", "exemplar"])
def test_same_samples_as_the_library(buckets, exemplar):
    """Counts, sums, bucket placement and exemplars equal those of Histogram.observe."""
    lib, ours = CollectorRegistry(), CollectorRegistry()
    lib_child = _family(lib, buckets).labels("x")
    hist = Hist(_family(ours, buckets), ("x",))
    for amount in AMOUNTS:
        lib_child.observe(amount, exemplar)
        hist.observe(amount, exemplar, NOW)
        assert _samples(ours) == _samples(lib), amount


def test_nan_goes_through_the_library():
    """NaN reaches the sum but no bucket, as with the library (bisection would pick one)."""
    lib, ours = CollectorRegistry(), CollectorRegistry()
    _family(lib, D).labels("x").observe(math.nan)
    hist = Hist(_family(ours, D), ("x",))
    hist.observe(math.nan)
    hist.observe(math.nan, EXEMPLAR, NOW)
    lib_child = _family(CollectorRegistry(), D).labels("x")
    lib_child.observe(math.nan)
    assert _samples(ours)[-2:] == [
        ("h_count", {"a": "x"}, 0.0, None),
        ("h_sum", {"a": "x"}, "nan", None),
    ]
    assert _samples(lib)[-2:] == _samples(ours)[-2:]


def test_exemplar_timestamp_is_the_one_given():
    """The exemplar is stamped with ``now`` (the sink reads the clock once per exchange)."""
    registry = CollectorRegistry()
    hist = Hist(_family(registry, D), ("x",))
    hist.observe(0.5, EXEMPLAR, NOW)
    hist.observe(0.03, EXEMPLAR)  # no ``now``: the time of the call
    stamps = {
        s.labels["le"]: float(s.exemplar.timestamp or 0)
        for m in registry.collect()
        for s in m.samples
        if s.exemplar is not None
    }
    assert stamps["0.64"] == NOW
    assert abs(stamps["0.04"] - NOW) > 1  # a real clock reading, not the given one


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


class _OtherLayout:
    """A child without the in-memory cells (as multiprocess value files or another layout)."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, Any]] = []

    def observe(self, amount: float, exemplar: Any = None) -> None:
        self.calls.append((amount, exemplar))


def test_other_children_use_the_library_observe():
    """Where the cells are not plain in-memory values, observe() of the child is called."""
    child = _OtherLayout()
    hist = Hist.of(child)
    hist.observe(2.0, EXEMPLAR, NOW)
    hist.observe(3.0)
    assert child.calls == [(2.0, EXEMPLAR), (3.0, None)]


def test_concurrent_observations_are_all_counted():
    """Each cell takes its own lock: no observation is lost across threads."""
    registry = CollectorRegistry()
    hist = Hist(_family(registry, D), ("x",))
    threads, per_thread = 8, 2_000

    def work() -> None:
        for i in range(per_thread):
            hist.observe((i % 7) * 0.05, EXEMPLAR, NOW)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert registry.get_sample_value("h_count", {"a": "x"}) == threads * per_thread
    expected_sum = threads * sum((i % 7) * 0.05 for i in range(per_thread))
    assert registry.get_sample_value("h_sum", {"a": "x"}) == pytest.approx(expected_sum)


def test_adder_increments_the_counter_series():
    """``adder(child)(n)`` adds ``n`` to the child's series, as ``child.inc(n)`` does."""
    registry = CollectorRegistry()
    family = Counter("c", "help", ["a"], registry=registry)
    add = adder(family.labels("x"))
    add(1)
    add(41)
    family.labels("x").inc(2)
    assert registry.get_sample_value("c_total", {"a": "x"}) == 44.0


class _OtherCounter:
    def __init__(self) -> None:
        self.amounts: list[float] = []

    def inc(self, amount: float = 1) -> None:
        self.amounts.append(amount)


def test_adder_falls_back_to_inc():
    """A child without a plain in-memory cell (multiprocess mode) is incremented by inc()."""
    child = _OtherCounter()
    adder(child)(3)
    assert child.amounts == [3]


_MULTIPROCESS_WORKER = """
import math, sys
from prometheus_client import CollectorRegistry, Counter, Histogram
from ptc_observe.observer.sinks._prometheus_families import Hist, adder
amounts = [float(a) for a in sys.argv[1:]]
h = Histogram("h", "help", ["a"], registry=CollectorRegistry(), buckets=(0.5, 1.0, 5.0))
ours = Hist(h, ("ours",))
for amount in amounts:
    ours.observe(amount)
    h.labels("lib").observe(amount)
c = Counter("c", "help", ["a"], registry=CollectorRegistry())
adder(c.labels("ours"))(5)
c.labels("lib").inc(5)
"""


def test_multiprocess_cells_get_the_same_values(tmp_path: Path):
    """In multiprocess mode the file-backed cells hold what the library's API writes."""
    amounts = ["0.5", "0.7", "1.0", "4", "99", "0"]
    done = subprocess.run(
        [sys.executable, "-c", _MULTIPROCESS_WORKER, *amounts],
        env={
            **os.environ,
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
    by_label: dict[str, list[tuple[str, Any, float]]] = {"ours": [], "lib": []}
    for metric in registry.collect():
        for s in metric.samples:
            labels = dict(s.labels)
            who = labels.pop("a")
            by_label[who].append((s.name, sorted(labels.items()), s.value))
    assert by_label["ours"] and sorted(by_label["ours"]) == sorted(by_label["lib"])
    assert ("h_count", [], 6.0) in by_label["ours"]
    assert ("c_total", [], 5.0) in by_label["ours"]


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
