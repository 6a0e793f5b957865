"""What every example shares: where requests go, the observer, and the report.

By default an example talks to the in-process emulator (``ptc_observe.emulator``), so
it runs offline with no API key. ``--live`` sends the same run to the real API
(``ANTHROPIC_API_KEY`` and optionally ``ANTHROPIC_BASE_URL`` from the environment).

The observer gets a private Prometheus registry and an in-memory span exporter, so
the report can print what ptc_observe itself recorded next to the run's own summary.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from ptc_observe import Observer
from ptc_observe.client import RunResult
from ptc_observe.emulator import Emulator, FaultRule

EMULATOR_URL = "http://emulator.local"


@dataclass
class Setup:
    """Client arguments plus the telemetry backends the report reads."""

    client_kwargs: dict[str, Any]
    registry: CollectorRegistry
    spans: InMemorySpanExporter
    emulator: Emulator | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def setup(
    description: str,
    *,
    asynchronous: bool = False,
    seed: int = 1,
    faults: Sequence[FaultRule] = (),
) -> Setup:
    """Parse ``--live`` and build the client arguments and the observer.

    Args:
        description: The example's one-line purpose (``--help``).
        asynchronous: Give an async transport (for ``AsyncPTCClient``).
        seed: Emulator seed (ids and chunking are deterministic for it).
        faults: Faults the emulator injects (ignored with ``--live``).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--live",
        action="store_true",
        help="use the real Messages API (needs ANTHROPIC_API_KEY) instead of the emulator",
    )
    args = parser.parse_args()

    registry = CollectorRegistry()
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    observer = Observer(registry=registry, tracer_provider=provider)
    kwargs: dict[str, Any] = {"observer": observer, "tracer_provider": provider}
    if args.live:
        if not os.environ.get("ANTHROPIC_API_KEY"):
            parser.error("--live needs ANTHROPIC_API_KEY")
        return Setup(kwargs, registry, spans)
    emulator = Emulator(seed=seed, faults=faults)
    kwargs["api_key"] = "sk-ant-emulator"
    kwargs["base_url"] = EMULATOR_URL
    kwargs["transport"] = (
        emulator.async_mock_transport(httpx2)
        if asynchronous
        else emulator.mock_transport(httpx2)
    )
    return Setup(kwargs, registry, spans, emulator)


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> int:
    """Sum of a counter's samples whose labels include ``labels``."""
    total = 0.0
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return int(total)


def report(
    result: RunResult, s: Setup, *, title: str = "run", observer: bool = True
) -> None:
    """Print the answer, the run summary and (``observer``) what the observer recorded."""
    summary = result.summary
    print(f"== {title}")
    print("answer:")
    for line in result.text.splitlines():
        print(f"  {line}")
    print(
        f"run: rounds={summary.rounds} retries={summary.retries}"
        f" container_restarts={summary.container_restarts}"
        f" tool_errors={summary.tool_errors} stop_reason={summary.stop_reason}"
    )
    print(
        f"tool calls by caller: programmatic={summary.tool_calls['programmatic']}"
        f" direct={summary.tool_calls['direct']}"
    )
    tokens = summary.tokens
    print(
        f"tokens: input={tokens['input']} output={tokens['output']}"
        f" cache_read={tokens['cache_read']} cache_creation={tokens['cache_creation']}"
    )
    print(f"container: {result.container_id or '-'}")
    if observer:
        observer_facts(s)


def observer_facts(s: Setup) -> None:
    """The observer's own counts: Prometheus samples and finished spans."""
    r = s.registry
    print(
        "observer: tool calls"
        f" programmatic={_sample(r, 'ptc_tool_calls_total', caller='programmatic')}"
        f" direct={_sample(r, 'ptc_tool_calls_total', caller='direct')}"
    )
    print(
        "observer: tokens"
        f" input={_sample(r, 'ptc_tokens_total', token_kind='input')}"
        f" output={_sample(r, 'ptc_tokens_total', token_kind='output')}"
    )
    print(
        "observer: containers"
        f" created={_sample(r, 'ptc_containers_created_total')}"
        f" reused={_sample(r, 'ptc_container_reuses_total')}"
        f" exchanges={_sample(r, 'ptc_exchanges_total')}"
    )
    kinds: Counter[str] = Counter()
    for span in s.spans.get_finished_spans():
        attributes = span.attributes or {}
        if "ptc.code_execution.start_observed" in attributes:
            kinds["code_execution"] += 1  # one span per code execution in a container
        elif span.name.startswith("execute_tool"):
            kinds[
                "inferred tool" if attributes.get("ptc.tool.inferred") else "tool"
            ] += 1
        else:
            kinds[span.name.split(" ")[0]] += 1
    print("observer: spans " + " ".join(f"{k}={v}" for k, v in sorted(kinds.items())))
