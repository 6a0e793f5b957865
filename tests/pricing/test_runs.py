"""Runs from the wire: the PTC client's tool loops over the emulator, by mode."""

from __future__ import annotations

import random

import httpx2
import pytest
from client.emulated import registry_for
from prometheus_client import CollectorRegistry

from ptc_observe.client import PTCClient
from ptc_observe.emulator import Emulator, builtin_scenario
from ptc_observe.events import Exchange
from ptc_observe.observer import Observer
from ptc_observe.pricing.runs import BYTES_PER_TOKEN
from ptc_observe.testing import MemorySink


def run(
    scenario: str, ptc: bool, runs: int = 1
) -> tuple[Emulator, MemorySink, CollectorRegistry]:
    emulator = Emulator(seed=3)
    sink = MemorySink()
    registry = CollectorRegistry()
    observer = Observer([sink], registry=registry, opentelemetry=False)
    s = builtin_scenario(scenario)
    client = PTCClient(
        api_key="sk-ant-emulated",
        base_url="http://emulator.test",
        transport=emulator.mock_transport(httpx2),
        tools=registry_for(s),
        ptc=ptc,
        observer=observer,
        rng=random.Random(1),
        sleep=lambda _s: None,
    )
    assert s.prompt is not None
    for _ in range(runs):
        client.run(s.prompt)
    client.close()
    return emulator, sink, registry


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    v = registry.get_sample_value(name, labels)
    return 0.0 if v is None else v


def total(registry: CollectorRegistry, name: str, **match: str) -> float:
    return sum(
        s.value
        for m in registry.collect()
        for s in m.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in match.items())
    )


@pytest.mark.parametrize(("ptc", "mode"), [(True, "programmatic"), (False, "direct")])
def test_a_run_is_counted_once_with_its_round_trips_calls_and_time(ptc, mode):
    emulator, sink, registry = run("sales_by_region", ptc, runs=2)
    exchanges: list[Exchange] = sink.exchanges
    finished = [ex for ex in exchanges if ex.run is not None and ex.run.finished]
    assert len(finished) == 2
    assert value(registry, "ptc_runs_total", mode=mode) == 2
    for other in {"programmatic", "direct", "none"} - {mode}:
        assert value(registry, "ptc_runs_total", mode=other) == 0
    # Round trips: requests that carry tool results; tool calls: what the emulator sent.
    round_trips = sum(1 for ex in exchanges if ex.request.tool_results)
    assert value(registry, "ptc_run_round_trips_total", mode=mode) == round_trips > 0
    assert (
        value(registry, "ptc_run_tool_calls_total", mode=mode)
        == emulator.ledger.tool_uses()
    )
    # Wall time: this process saw every exchange of both runs.
    assert value(registry, "ptc_run_duration_seconds_count", mode=mode) == 2
    for ex in finished:
        assert (
            ex.run is not None and ex.run.duration is not None and ex.run.duration > 0
        )


def test_tokens_and_spend_of_runs_agree_with_the_totals():
    """Every complete exchange belongs to a run: run tokens and run spend sum to the totals."""
    _, sink, registry = run("sales_by_region", True)
    assert (
        total(registry, "ptc_run_tokens_total")
        == total(registry, "ptc_tokens_total")
        > 0
    )
    assert total(registry, "ptc_run_cost_usd_total") == pytest.approx(
        total(registry, "ptc_cost_usd_total")
    )
    assert total(registry, "ptc_cost_usd_total") > 0


def test_bytes_kept_in_the_container_and_the_estimate():
    _, sink, registry = run("sales_by_region", True)
    kept = sum(
        r.size_bytes
        for ex in sink.exchanges
        for r in ex.request.tool_results
        if r.is_programmatic
    )
    sent = sum(
        r.size_bytes
        for ex in sink.exchanges
        for r in ex.request.tool_results
        if not r.is_programmatic
    )
    assert kept > 0
    assert (
        value(
            registry,
            "ptc_run_tool_result_bytes_total",
            mode="programmatic",
            destination="container",
        )
        == kept
    )
    assert (
        total(registry, "ptc_run_tool_result_bytes_total", destination="context")
        == sent
    )
    saved = value(registry, "ptc_run_saved_tokens_estimate_total", mode="programmatic")
    assert saved == kept / BYTES_PER_TOKEN
    observer_book = Observer(prometheus=False, opentelemetry=False).prices
    assert observer_book is not None
    found = observer_book.lookup(sink.exchanges[0].model or "")
    assert found is not None
    assert value(
        registry, "ptc_run_saved_usd_estimate_total", mode="programmatic"
    ) == pytest.approx(saved * float(found.card.input_rate))


def test_direct_runs_keep_nothing_in_the_container():
    _, sink, registry = run("sales_by_region", False)
    assert (
        total(registry, "ptc_run_tool_result_bytes_total", destination="container") == 0
    )
    assert (
        value(
            registry,
            "ptc_run_tool_result_bytes_total",
            mode="direct",
            destination="context",
        )
        > 0
    )
    assert total(registry, "ptc_run_saved_tokens_estimate_total") == 0


def test_a_run_without_tools_has_mode_none():
    emulator = Emulator(seed=1)
    sink = MemorySink()
    registry = CollectorRegistry()
    observer = Observer([sink], registry=registry, opentelemetry=False)
    with httpx2.Client(
        transport=observer.transport(emulator.mock_transport(httpx2))
    ) as client:
        response = client.post(
            "http://emulator.test/v1/messages",
            json={
                "model": "claude-sonnet-4-6",
                "max_tokens": 100,
                "messages": [{"role": "user", "content": "Say hi"}],
            },
            headers={"x-api-key": "sk-ant-emulated", "anthropic-version": "2023-06-01"},
        )
    assert response.status_code == 200
    (ex,) = sink.exchanges
    assert ex.run is not None and ex.run.mode == "none" and ex.run.finished
    assert value(registry, "ptc_runs_total", mode="none") == 1
    assert value(registry, "ptc_run_round_trips_total", mode="none") == 0


def test_a_run_seen_only_in_part_gets_no_wall_time():
    """Another process served the first exchanges: the run still counts, without a time."""
    emulator, sink, _ = run("sales_by_region", True)
    last = sink.exchanges[-1]
    body = emulator.log[-1].body
    # Replay the final request alone in a fresh observer (a second process).
    sink2 = MemorySink()
    registry2 = CollectorRegistry()
    observer2 = Observer([sink2], registry=registry2, opentelemetry=False)
    with httpx2.Client(
        transport=observer2.transport(emulator.mock_transport(httpx2))
    ) as client:
        client.post(
            "http://emulator.test/v1/messages",
            json=body,
            headers={"x-api-key": "sk-ant-emulated", "anthropic-version": "2023-06-01"},
        )
    (ex,) = sink2.exchanges
    assert ex.run is not None and last.run is not None
    assert ex.run.finished and last.run.finished
    assert ex.run.round_trips == last.run.round_trips > 0
    assert ex.run.tool_calls == last.run.tool_calls
    assert ex.run.duration is None and last.run.duration is not None
    assert value(registry2, "ptc_runs_total", mode="programmatic") == 1
    assert value(registry2, "ptc_run_duration_seconds_count", mode="programmatic") == 0


@pytest.mark.parametrize(("ptc", "mode"), [(True, "programmatic"), (False, "direct")])
def test_the_emulator_ledger_bills_and_counts_runs_as_the_observer_does(ptc, mode):
    """The emulator prices what it sent with the same data and counts runs by mode."""
    emulator, _, registry = run("sales_by_region", ptc, runs=3)
    stats = emulator.stats()
    for component in ("input", "cache_read", "cache_write", "output", "server_tools"):
        assert stats["spend"][component] == pytest.approx(
            total(registry, "ptc_cost_usd_total", component=component)
        )
    runs = stats["runs"][mode]
    assert runs["runs"] == 3 == value(registry, "ptc_runs_total", mode=mode)
    assert runs["round_trips"] == value(
        registry, "ptc_run_round_trips_total", mode=mode
    )
    assert runs["tool_calls"] == value(registry, "ptc_run_tool_calls_total", mode=mode)
    for kind, n in runs["tokens"].items():
        assert n == value(registry, "ptc_run_tokens_total", mode=mode, token_kind=kind)
    assert stats["unpriced_tokens"] == 0
