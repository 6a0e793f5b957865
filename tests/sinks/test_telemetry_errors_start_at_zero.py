"""``ptc_telemetry_errors_total`` has a series per known stage from the start, at 0, like the
other counters: the README points users to it and the dashboards and alerts query it, so a
healthy process must export it before its first failure."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from ptc_observe import Observer
from ptc_observe.observer import STAGES


def _exposition(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_every_stage_is_exported_at_zero_before_any_failure() -> None:
    """A fresh observer exports one 0 sample per stage, before any exchange."""
    registry = CollectorRegistry()
    Observer(registry=registry)
    text = _exposition(registry)
    for stage in STAGES:
        assert f'ptc_telemetry_errors_total{{stage="{stage}"}} 0.0' in text
    assert (
        registry.get_sample_value("ptc_telemetry_errors_total", {"stage": "sink"}) == 0
    )


def test_a_failure_counts_on_its_stage_only() -> None:
    """A failure moves its own stage to 1; the others stay at 0."""
    registry = CollectorRegistry()
    observer = Observer(registry=registry)
    observer.telemetry_error("decode", ValueError("bad gzip"))
    for stage in STAGES:
        value = registry.get_sample_value(
            "ptc_telemetry_errors_total", {"stage": stage}
        )
        assert value == (1.0 if stage == "decode" else 0.0), stage


def test_the_stage_list_is_the_observers() -> None:
    """The pre-created stages are exactly the observer's documented ones."""
    assert STAGES == (
        "request_parse",
        "response_parse",
        "stream_parse",
        "decode",
        "correlate",
        "price",
        "trace",
        "sink",
        "exemplar",
    )
