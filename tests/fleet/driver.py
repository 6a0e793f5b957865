"""Plays PTC runs the way an application does, one turn at a time through ``send``.

The application keeps the conversation (history and container id) itself, so each turn
can go to another worker. ``send(shape, kwargs)`` performs one Messages API call and
returns ``{"message": {...}}`` or ``{"error": {"status", "type", "message"}}`` (plus
anything else, e.g. the pid of the worker that served it).

The driver also keeps the ground truth of what only the client knows: the tool results it
sent in requests the API answered, by caller and tool, and their UTF-8 bytes.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ptc_observe.emulator import Scenario, builtin_scenarios

Send = Callable[[str, dict[str, Any]], dict[str, Any]]

MODEL = "claude-sonnet-4-6"
MAX_ROUNDS = 16
FAULTS: dict[str, dict[str, str]] = {
    # Retried by the SDK inside the worker that got them.
    "rate_limit": {
        "x-emulator-fault": "rate_limit",
        "x-emulator-fault-count": "1",
        "x-emulator-retry-after": "0.05",
    },
    "overloaded": {"x-emulator-fault": "overloaded", "x-emulator-fault-count": "1"},
    # After HTTP 200: the SDK raises, the run fails.
    "stream_cut": {"x-emulator-fault": "stream_cut"},
}


@dataclass
class Job:
    """One user task: a scenario, its caller, the call shape, a fault on its first turn."""

    scenario: Scenario
    programmatic: bool
    shape: str = "none"
    fault: str | None = None
    container: str | None = None


@dataclass
class Truth:
    """What the client sent and the API answered (the part no server ledger holds)."""

    results: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(caller, tool name) -> tool results sent in requests answered in full."""
    result_bytes: Counter[str] = field(default_factory=Counter)
    """caller -> UTF-8 bytes of those results."""
    restarts: int = 0
    """Runs restarted without their container after the API refused it."""
    failed: int = 0


@dataclass
class RunRecord:
    """How one run went: its turns' workers, its container, how it ended."""

    job: Job
    servers: list[Any] = field(default_factory=list)
    container: str | None = None
    ok: bool = False
    error: dict[str, Any] | None = None


RETRIED = ("overloaded", "rate_limit")
"""Faults the SDK retries: the emulator's ledger and the client's view then agree on every
count (a cut stream's ``message_start`` usage reaches the client, not the ledger)."""


def plan(
    seed: int, count: int, *, faults: tuple[str, ...] = tuple(sorted(FAULTS))
) -> list[Job]:
    """``count`` jobs drawn from the shipped scenarios (two in three programmatic), three
    in ten with one of ``faults`` on their first turn."""
    rng = random.Random(seed)
    scenarios = [s for s in builtin_scenarios() if s.prompt]
    jobs = []
    for _ in range(count):
        fault = None
        if faults and rng.random() < 0.3:
            fault = rng.choice(faults)
        jobs.append(
            Job(
                scenario=rng.choice(scenarios),
                programmatic=rng.random() < 0.67,
                shape=rng.choice(["none", "none", "create", "helper"]),
                fault=fault,
            )
        )
    return jobs


def _result_block(scenario: Scenario, block: dict[str, Any]) -> dict[str, Any]:
    call = scenario.call_for(block["name"], block.get("input") or {})
    out: dict[str, Any] = {"type": "tool_result", "tool_use_id": block["id"]}
    if call is not None and call.error:
        out.update(
            content=f"{block['name']} failed: upstream unavailable", is_error=True
        )
    elif call is not None and call.result is not None:
        result = call.result
        out["content"] = result if isinstance(result, str) else json.dumps(result)
    else:
        out["content"] = '{"ok": true}'
    return out


def _size(content: str) -> int:
    """UTF-8 bytes of a tool_result's content (always a string here)."""
    return len(content.encode("utf-8"))


def _caller(block: dict[str, Any]) -> str:
    caller = block.get("caller") or {}
    kind = caller.get("type", "direct")
    return "programmatic" if kind != "direct" and caller.get("tool_id") else "direct"


def play(send: Send, job: Job, truth: Truth) -> RunRecord:
    """Play ``job`` to its end through ``send``; add what it sent to ``truth``."""
    record = RunRecord(job)
    scenario = job.scenario
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": scenario.prompt or "Go."}
    ]
    container = job.container
    pending: list[
        tuple[str, str, int]
    ] = []  # (caller, tool, bytes) of the last results
    rounds = 0
    while rounds < MAX_ROUNDS:
        kwargs: dict[str, Any] = {
            "model": MODEL,
            "max_tokens": 2048,
            "messages": messages,
            "tools": scenario.tool_definitions(programmatic=job.programmatic),
            "extra_headers": {"x-emulator-scenario": scenario.name},
        }
        if job.fault and rounds == 0:
            kwargs["extra_headers"].update(FAULTS[job.fault])
        if container:
            kwargs["container"] = container
        reply = send(job.shape, kwargs)
        record.servers.append(reply.get("pid"))
        rounds += 1
        error = reply.get("error")
        if error is not None:
            refused = error["status"] in (400, 404) and "container" in error["message"]
            if container and rounds == 1 and refused:
                truth.restarts += 1  # the container expired: start again without it
                container = None
                rounds = 0
                continue
            truth.failed += 1
            record.error = error
            break
        for caller, tool, size in pending:  # the API answered: they reached it
            truth.results[(caller, tool)] += 1
            truth.result_bytes[caller] += size
        pending = []
        message = reply["message"]
        container = (message.get("container") or {}).get("id") or container
        content = message["content"]
        messages = [*messages, {"role": "assistant", "content": content}]
        if message["stop_reason"] == "pause_turn":
            continue
        if message["stop_reason"] != "tool_use":
            record.ok = True
            break
        uses = [b for b in content if b["type"] == "tool_use"]
        results = [_result_block(scenario, b) for b in uses]
        pending = [
            (_caller(b), b["name"], _size(r["content"]))
            for b, r in zip(uses, results, strict=True)
        ]
        messages = [*messages, {"role": "user", "content": results}]
    record.container = container
    return record
