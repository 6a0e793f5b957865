"""Every dashboard and rule query against a real Prometheus scraping the metric contract.

A prometheus_client registry holding every family of the contract (with exemplars on the
histograms) is served over loopback; a real Prometheus with exemplar storage scrapes it every
second and evaluates compose/rules. Then each query must run, and each panel query must return
data: a label or vector-matching mistake that promtool's syntax check cannot see shows up here.
The end-to-end test with the real demo reuses ``PrometheusServer`` and ``all_queries``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import start_http_server

from .contract import CONTRACT, Metric, label_values
from .helpers import PrometheusServer
from .queries import RULE_FILES, Query, all_queries

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _children(family: Metric, metric: Any) -> list[Any]:
    if not family.labels:
        return [metric]
    combos = itertools.product(*(label_values(family, name) for name in family.labels))
    return [metric.labels(*combo) for combo in combos]


class _Workload:
    """Registry with every contract family, fed by a bounded background loop."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.histograms: list[Any] = []
        self.counters: list[Any] = []
        for family in CONTRACT:
            labels = list(family.labels)
            if family.kind == "counter":
                name = family.name.removesuffix("_total")
                m: Any = Counter(name, "contract", labels, registry=self.registry)
                self.counters += _children(family, m)
            elif family.kind == "histogram":
                m = Histogram(family.name, "contract", labels, registry=self.registry)
                self.histograms += _children(family, m)
            else:
                m = Gauge(family.name, "contract", labels, registry=self.registry)
                for i, child in enumerate(_children(family, m)):
                    # ratelimit_limit gets 1000, remaining and active containers less.
                    child.set(1000 if family.name.endswith("_limit") else 100 + i)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def tick(self, n: int) -> None:
        """One round of observations: every series moves, every histogram gets an exemplar."""
        for counter in self.counters:
            counter.inc(1 + n % 3)
        for i, histogram in enumerate(self.histograms):
            histogram.observe(0.05 * (1 + (n + i) % 20), {"trace_id": TRACE_ID})

    def _run(self) -> None:
        for n in range(600):  # at most two minutes
            if self._stop.wait(0.2):
                return
            self.tick(n)

    def __enter__(self) -> _Workload:
        self.tick(0)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def prometheus(
    prometheus_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    """A real Prometheus that has scraped the contract registry a few times."""
    with _Workload() as workload:
        httpd, thread = start_http_server(
            0, addr="127.0.0.1", registry=workload.registry
        )
        try:
            target = f"127.0.0.1:{httpd.server_port}"
            workdir = tmp_path_factory.mktemp("prometheus")
            with PrometheusServer(
                prometheus_binary, workdir, [target], rule_files=RULE_FILES
            ) as prom:
                prom.wait_for_scrapes(5)
                yield prom
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=10)


@pytest.mark.parametrize("query", [pytest.param(q, id=q.name) for q in all_queries()])
def test_query_runs_and_panels_show_data(
    prometheus: PrometheusServer, query: Query
) -> None:
    """Prometheus evaluates the query without error; a panel query returns at least one series."""
    result = prometheus.query(query.expr)
    if query.expects_data:
        assert result, f"{query.name}: no data for {query.expr}"


def test_rules_evaluate_without_errors(prometheus: PrometheusServer) -> None:
    """Every recording and alerting rule has been evaluated and is healthy."""
    deadline = time.monotonic() + 30
    while True:
        groups = prometheus.api("rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        if all(rule.get("lastEvaluation", "").startswith("20") for rule in rules):
            break
        assert time.monotonic() < deadline, "rules not evaluated yet"
        time.sleep(0.5)
    assert len(rules) == sum(1 for q in all_queries() if q.kind in ("record", "alert"))
    unhealthy = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert unhealthy == []


def test_exemplars_are_stored_with_trace_ids(prometheus: PrometheusServer) -> None:
    """With exemplar storage on, histogram exemplars arrive carrying the trace id Grafana links with."""
    now = time.time()
    data = prometheus.api(
        "query_exemplars",
        query="gen_ai_client_operation_duration_seconds_bucket",
        start=str(now - 600),
        end=str(now + 60),
    )
    trace_ids = {
        e["labels"].get("trace_id") for series in data for e in series["exemplars"]
    }
    assert trace_ids == {TRACE_ID}
