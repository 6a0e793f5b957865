"""Concurrency: many exchanges at once; the metrics equal the emulator's ground truth.

The official SDK (anthropic 2.x on httpx2) runs programmatic tool-calling tasks of every
built-in scenario against the in-process emulator, through one observer feeding a
Prometheus registry, an OpenTelemetry tracer and meter provider and a memory sink. The
emulator injects faults at random (429, 500 and 529 answers, streams that fail with an
``error`` event, drop the connection or end early; stream faults strike before the
first event, so no partial content muddies the count). At the end the totals must
equal what the emulator's :class:`~ptc_observe.emulator.Ledger` says it sent, exactly:

* exchanges by outcome (``ptc_exchanges_total``, spans, OTel duration counts, records);
* tool calls by caller and tool, server tool calls, code executions;
* tokens by type (``ptc_tokens_total`` and the OTel ``gen_ai.client.token.usage`` sums);
* containers created.

The async run drives about 2,000 exchanges from 720 concurrent tasks on one event loop;
the threaded run 16 threads of at least 100 exchanges each on one shared client.
``PTC_CONCURRENCY_SCALE`` (a float, default 1) scales both for longer local runs.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from typing import Any

import anthropic
import anyio
import httpx2
import pytest

from ptc_observe import Outcome
from ptc_observe.emulator import Emulator, FaultRule, builtin_scenarios

from .conftest import Telemetry, async_task, sync_task

SCALE = float(os.environ.get("PTC_CONCURRENCY_SCALE", "1"))
SCENARIOS = builtin_scenarios()
STYLES = ("create", "stream", "final")
FAULTS = [
    FaultRule("overloaded", probability=0.03),
    FaultRule("server_error", probability=0.02),
    FaultRule("rate_limit", probability=0.02, retry_after=0.0),
    FaultRule("stream_error", probability=0.02, after_frames=0),
    FaultRule("stream_cut", probability=0.02, after_frames=0),
    FaultRule("stream_truncate", probability=0.02, after_frames=0),
]
# Ledger outcomes of HTTP 200 answers that are not a complete message.
FAILED_200 = {
    "stream_error": Outcome.ERROR,
    "stream_cut": Outcome.ERROR,
    "stream_truncated": Outcome.INCOMPLETE,
}


def expected_outcomes(stats: dict[str, Any]) -> Counter[str]:
    """Exchanges by outcome, as the emulator's ledger tells them."""
    out: Counter[str] = Counter()
    for status, outcomes in stats["responses"].items():
        for name, n in outcomes.items():
            if status != "200":
                out[Outcome.ERROR.value] += n
            else:
                out[FAILED_200.get(name, Outcome.OK).value] += n
    return out


def check_against_ledger(tel: Telemetry, emulator: Emulator) -> dict[str, Any]:
    """Assert every total equals the ledger's; returns the figures for the report."""
    stats = emulator.stats()
    requests = stats["requests"]
    outcomes = expected_outcomes(stats)

    # Exchanges: once each, everywhere.
    exchanges = tel.sink.exchanges
    assert len(exchanges) == requests
    assert len({ex.id for ex in exchanges}) == requests
    assert Counter(ex.outcome.value for ex in exchanges) == outcomes
    assert tel.by_label("ptc_exchanges_total", "outcome") == {
        k: float(v) for k, v in outcomes.items()
    }
    spans = [s for s in tel.spans() if s.name.startswith("chat")]
    assert len(spans) == requests
    assert tel.otel_count("gen_ai.client.operation.duration") == requests
    assert tel.errors() == {}

    # Tool calls by caller and tool.
    expected_tools: Counter[tuple[str, str]] = Counter()
    for caller_type, names in stats["tool_use_blocks"].items():
        caller = "direct" if caller_type == "direct" else "programmatic"
        for name, n in names.items():
            expected_tools[(name, caller)] += n
    found_tools = {
        (labels["gen_ai_tool_name"], labels["caller"]): value
        for labels, value in tel.samples("ptc_tool_calls_total")
        if value
    }
    assert found_tools == {k: float(v) for k, v in expected_tools.items()}
    assert tel.by_label("ptc_server_tool_calls_total", "gen_ai_tool_name") == {
        k: float(v) for k, v in stats["server_tool_use_blocks"].items()
    }
    assert tel.value("ptc_code_executions_total") == sum(stats["code_results"].values())

    # Tokens by type.
    tokens = stats["tokens"]
    assert tel.by_label("ptc_tokens_total", "token_kind") == {
        k: float(v)
        for k, v in {
            "input": tokens["input"],
            "output": tokens["output"],
            "cache_read": tokens["cache_read_input"],
            "cache_write": tokens["cache_creation_input"],
        }.items()
        if v
    }
    total_input = (
        tokens["input"] + tokens["cache_read_input"] + tokens["cache_creation_input"]
    )
    usage = "gen_ai.client.token.usage"
    assert tel.otel_sum(usage, **{"gen_ai.token.type": "input"}) == total_input
    assert tel.otel_sum(usage, **{"gen_ai.token.type": "output"}) == tokens["output"]

    # Containers.
    created = stats["containers"]["created"]
    assert tel.value("ptc_containers_created_total") == created
    assert (
        sum(1 for ex in exchanges if ex.container and ex.container.created) == created
    )
    return {
        "exchanges": requests,
        "outcomes": dict(outcomes),
        "tool_calls": sum(expected_tools.values()),
        "tokens": sum(tokens.values()),
        "containers": created,
    }


def report(name: str, figures: dict[str, Any]) -> None:
    """Print the figures (``pytest -s`` shows them; docs/reliability.md quotes them)."""
    print(f"\n{name}: {figures}")


@pytest.mark.slow
def test_async_exchanges_match_the_ledger(telemetry: Any) -> None:
    """720 concurrent SDK tasks (about 2,000 exchanges) on one loop: totals are exact."""
    tel: Telemetry = telemetry()
    emulator = Emulator(seed=11, faults=FAULTS)
    tasks = int(720 * SCALE)

    async def main() -> None:
        transport = tel.observer.async_transport(emulator.async_mock_transport(httpx2))
        async with httpx2.AsyncClient(transport=transport) as http:
            client = anthropic.AsyncAnthropic(
                api_key="sk-ant-test", base_url="http://api.test",
                http_client=http, max_retries=0,
            )  # fmt: skip
            async with anyio.create_task_group() as tg:
                for i in range(tasks):
                    scenario = SCENARIOS[i % len(SCENARIOS)]
                    tg.start_soon(async_task, client, scenario, STYLES[i % 3])

    anyio.run(main)
    figures = check_against_ledger(tel, emulator)
    assert figures["exchanges"] >= 1_800 * SCALE
    assert figures["outcomes"].keys() == {"ok", "error", "incomplete"}
    report("async", figures)


@pytest.mark.slow
def test_threads_match_the_ledger(telemetry: Any) -> None:
    """16 threads, at least 100 exchanges each, one shared client: totals are exact."""
    tel: Telemetry = telemetry()
    emulator = Emulator(seed=12, faults=FAULTS)
    per_thread = int(100 * SCALE)
    barrier = threading.Barrier(16)
    made = [0] * 16
    errors: list[BaseException] = []
    http = httpx2.Client(transport=tel.observer.transport(emulator.mock_transport(httpx2)))  # fmt: skip
    client = anthropic.Anthropic(
        api_key="sk-ant-test",
        base_url="http://api.test",
        http_client=http,
        max_retries=0,
    )

    def work(n: int) -> None:
        try:
            barrier.wait(30)
            i = n
            while made[n] < per_thread:
                scenario = SCENARIOS[i % len(SCENARIOS)]
                made[n] += sync_task(client, scenario, STYLES[i % 3])
                i += 1
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    http.close()
    assert not errors and not any(t.is_alive() for t in threads)
    figures = check_against_ledger(tel, emulator)
    assert figures["exchanges"] == sum(made) >= 16 * per_thread
    report("threads", figures)


def test_small_mixed_run_matches_the_ledger(telemetry: Any) -> None:
    """The same check at a small scale (runs in every CI job, unmarked): 40 async tasks
    and 4 threads at once, on one observer."""
    tel: Telemetry = telemetry()
    emulator = Emulator(seed=13, faults=FAULTS)
    http = httpx2.Client(transport=tel.observer.transport(emulator.mock_transport(httpx2)))  # fmt: skip
    client = anthropic.Anthropic(
        api_key="sk-ant-test",
        base_url="http://api.test",
        http_client=http,
        max_retries=0,
    )

    def work(n: int) -> None:
        for i in range(3):
            sync_task(client, SCENARIOS[(n + i) % len(SCENARIOS)], STYLES[i % 3])

    async def main() -> None:
        transport = tel.observer.async_transport(emulator.async_mock_transport(httpx2))
        async with httpx2.AsyncClient(transport=transport) as ahttp:
            aclient = anthropic.AsyncAnthropic(
                api_key="sk-ant-test", base_url="http://api.test",
                http_client=ahttp, max_retries=0,
            )  # fmt: skip
            async with anyio.create_task_group() as tg:
                for i in range(40):
                    scenario = SCENARIOS[i % len(SCENARIOS)]
                    tg.start_soon(async_task, aclient, scenario, STYLES[i % 3])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    anyio.run(main)
    for t in threads:
        t.join(120)
    http.close()
    figures = check_against_ledger(tel, emulator)
    assert figures["exchanges"] >= 100
    report("small", figures)
