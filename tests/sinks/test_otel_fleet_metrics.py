"""The fleet-exact counters as OpenTelemetry metrics: the Prometheus sink's figures."""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

from collections import Counter
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

from ptc_observe.observer.correlator import Correlator
from ptc_observe.observer.sinks.otel import OTelSink

from .factory import PTC_TOOLS, ExchangeFactory, result

C = "container_011CZq7TfRmB3vKx9NwPd2Lh"


def values(reader: InMemoryMetricReader, name: str, *keys: str) -> Counter[Any]:
    """The points of ``name`` by the attribute ``keys``."""
    data = reader.get_metrics_data()
    assert data is not None
    out: Counter[Any] = Counter()
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name != name:
                    continue
                for p in m.data.data_points:
                    assert isinstance(p, NumberDataPoint)
                    attrs = dict(p.attributes or {})
                    group = tuple(attrs.get(k, "") for k in keys)
                    out[group if len(keys) != 1 else group[0]] += int(p.value)
    return +out


def test_a_ptc_run_split_over_two_processes(
    tracer_provider, meter_provider, metric_reader: InMemoryMetricReader
):
    """A PTC run's turns served by two correlators (one sink, one meter): the counters are
    those of one process; the result one process could not match is counted unmatched."""
    sink = OTelSink(tracer_provider, meter_provider)
    f = ExchangeFactory()
    a, b = Correlator(clock=f.clock), Correlator(clock=f.clock)
    calls = ("toolu_01Fk2YwHs9PqLm4Rt7VbZc3N", "toolu_01Wn6DcJ3xRv8Hq2Lt5MpYk9")
    turns = [
        (a, "02_ptc_turn1_response.json", None, ()),
        (b, "03_ptc_resume_response.json", C, (result(calls[0], 48, tool="query_sales", programmatic=True),)),
        (b, "04_ptc_final_response.json", C, (result(calls[1], 52, is_error=True, tool="query_sales", programmatic=True),)),
    ]  # fmt: skip
    for correlator, fixture, container, results in turns:
        ex = f.make(
            fixture, tools=PTC_TOOLS, container_id=container, tool_results=results
        )
        sink.on_exchange(correlator.correlate(ex))
        f.advance(1.0)
    refused = f.make(
        status=400,
        error_type="invalid_request_error",
        error_message=f"container: `{C}` has expired",
        container_id=C,
    )
    sink.on_exchange(a.correlate(refused))
    r = metric_reader
    assert values(r, "ptc.tool_calls", "gen_ai.tool.name", "caller") == Counter(
        {("query_sales", "programmatic"): 2}
    )
    assert values(r, "ptc.tool_results", "caller", "outcome") == Counter(
        {("programmatic", "success"): 1, ("programmatic", "error"): 1}
    )
    assert values(r, "ptc.tool_result_bytes", "caller") == Counter(
        {"programmatic": 100}
    )
    assert values(r, "ptc.tool_results_unmatched", "caller") == Counter(
        {"programmatic": 1}
    )
    assert sum(values(r, "ptc.containers_created").values()) == 1
    assert sum(values(r, "ptc.container_reuses").values()) == 2
    assert sum(values(r, "ptc.containers_expired").values()) == 1
