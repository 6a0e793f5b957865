"""The demo's workload: complete tool loops through the official SDK, against the emulator.

A :class:`Job` is one user task played to its end the way an application would play it:
send the prompt, run the tools the model asks for (programmatic calls arrive in batches
from the code-execution container; direct calls one model turn at a time), answer with
``tool_result`` blocks and the container id, and repeat until the model stops. Jobs
vary in caller (programmatic or direct), client (sync or async), transport shape (JSON,
``stream=True``, or the ``messages.stream()`` helper) and injected faults, so the
telemetry shows every path a production client takes.

Tool results come from the scenario's script (the emulator knows which results each call
should get), with a small sleep standing in for the application's own tool time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import anthropic

    from ..emulator import Scenario

MAX_ROUNDS = 16

# A long, stable system prompt marked for caching, as production agents send: the
# first task writes the prompt cache, later ones read it.
SYSTEM_PROMPT = (
    "You are the operations assistant of an online jewelry shop.\n"
    + "\n".join(
        f"Policy {i}: answer from tool data only; cite the tool that gave each number;"
        f" prefer one script over many tool round trips when the tools allow it ({i})."
        for i in range(1, 121)
    )
)

# The server's web fetch, which code in the container may call (needs code_execution_20260120).
WEB_FETCH_TOOL = {"type": "web_fetch_20260209", "name": "web_fetch"}

# Fault plans: the emulator's request headers that inject them (docs/emulator.md).
FAULTS: dict[str, dict[str, str]] = {
    # The SDK retries a 429 (honouring retry-after) and a 529; the retry succeeds.
    "rate_limit": {
        "x-emulator-fault": "rate_limit",
        "x-emulator-fault-count": "1",
        "x-emulator-retry-after": "0.2",
    },
    "overloaded": {"x-emulator-fault": "overloaded", "x-emulator-fault-count": "1"},
    # Errors after HTTP 200 are never retried by the SDK: the job fails.
    "stream_error": {"x-emulator-fault": "stream_error"},
    "stream_cut": {"x-emulator-fault": "stream_cut"},
}


@dataclass(frozen=True)
class Job:
    """One task to play through the SDK.

    Args:
        scenario: the emulator scenario (its prompt, tools and scripted results).
        programmatic: declare code execution and let the tools be called from code.
        use_async: run on ``AsyncAnthropic`` instead of ``Anthropic``.
        stream: ``"none"``, ``"create"`` (``stream=True``) or ``"helper"``
            (``messages.stream()``).
        fault: a key of :data:`FAULTS`, injected on the first round trip.
        cached_system: send :data:`SYSTEM_PROMPT` with ``cache_control``.
        container: a container id to start in (reuse across tasks; it may have expired).
        thinking: turn extended thinking on (the answers then carry reasoning tokens).
    """

    scenario: Scenario
    programmatic: bool
    use_async: bool
    stream: str = "none"
    fault: str | None = None
    cached_system: bool = False
    container: str | None = None
    thinking: bool = False

    @property
    def label(self) -> str:
        """Short description for progress lines."""
        caller = "ptc" if self.programmatic else "direct"
        mode = "async" if self.use_async else "sync"
        extra = f" +{self.fault}" if self.fault else ""
        reuse = " reuse" if self.container else ""
        return f"{self.scenario.name}/{caller}/{mode}/{self.stream}{extra}{reuse}"


@dataclass
class JobResult:
    """What a job ended with (the telemetry holds the details)."""

    job: Job
    ok: bool
    rounds: int = 0
    container: str | None = None
    error: str | None = None
    error_detail: str = ""
    expired_container_restarts: int = 0
    seconds: float = 0.0
    tool_calls: int = 0
    notes: list[str] = field(default_factory=list)


def plan_jobs(
    scenarios: list[Scenario], rng: random.Random, count: int
) -> list[dict[str, Any]]:
    """Draw ``count`` job plans (scenario, caller, client, stream shape, fault).

    About two thirds of tasks use PTC; one in ten gets a fault; one in eight reuses the
    container of an earlier task (decided when it runs, as the id is known only then).
    """
    plans = []
    for _ in range(count):
        fault = None
        if rng.random() < 0.1:
            fault = rng.choice(sorted(FAULTS))
        plans.append(
            {
                "scenario": rng.choice(scenarios),
                "programmatic": rng.random() < 0.67,
                "use_async": rng.random() < 0.5,
                "stream": rng.choice(["none", "none", "create", "helper"]),
                "fault": fault,
                "reuse": rng.random() < 0.125,
                "cached_system": rng.random() < 0.5,
            }
        )
    return plans


def _tool_result(
    scenario: Scenario, tool_use_id: str, name: str, tool_input: dict[str, Any]
) -> dict[str, Any]:
    """The ``tool_result`` block the scenario's script says this call returns."""
    call = scenario.call_for(name, tool_input)
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id}
    if call is not None and call.error:
        block.update(content=f"{name} failed: upstream unavailable", is_error=True)
    elif call is not None and call.result is not None:
        block["content"] = call.result
    else:
        block["content"] = '{"ok": true}'
    return block


def _request(job: Job, messages: list[Any], container: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 4096,
        "messages": messages,
        "tools": job.scenario.tool_definitions(programmatic=job.programmatic),
        "extra_headers": {"x-emulator-scenario": job.scenario.name},
    }
    if job.programmatic:
        # Code may fetch a page with the server's web_fetch (a programmatic server tool).
        kwargs["tools"] = [*kwargs["tools"], WEB_FETCH_TOOL]
    if job.thinking:
        kwargs["thinking"] = {"type": "enabled", "budget_tokens": 2048}
    if job.cached_system:
        kwargs["system"] = [
            {
                "type": "text",
                "text": SYSTEM_PROMPT,
                # Thinking tasks keep the prompt an hour (a cache write priced apart).
                "cache_control": {"type": "ephemeral", "ttl": "1h"}
                if job.thinking
                else {"type": "ephemeral"},
            }
        ]
    if container:
        kwargs["container"] = container
    return kwargs


def _answer(
    job: Job, message: Any, messages: list[Any]
) -> tuple[list[dict[str, Any]], int]:
    """Append the assistant turn; return the tool_result blocks and the call count."""
    messages.append({"role": "assistant", "content": _dump(message.content)})
    results = [
        _tool_result(job.scenario, block.id, block.name, dict(block.input))
        for block in message.content
        if getattr(block, "type", None) == "tool_use"
    ]
    return results, len(results)


def _dump(content: Any) -> list[dict[str, Any]]:
    # Echo the assistant content as received (callers included), without nulls.
    return [block.model_dump(exclude_none=True) for block in content]


def _container_of(message: Any, current: str | None) -> str | None:
    container = getattr(message, "container", None)
    return getattr(container, "id", None) or current


def _is_expired_container(exc: BaseException) -> bool:
    body = getattr(exc, "body", None)
    text = str(body if body is not None else exc).lower()
    return getattr(exc, "status_code", None) in (400, 404, 500) and "container" in text


class _Sleep(float):
    """A step of :func:`_task`: sleep this long (the application's tool time)."""


def _task(
    job: Job, rng: random.Random, result: JobResult
) -> Generator[dict[str, Any] | _Sleep, Any, None]:
    """The tool loop, sans-IO: yields requests (and sleeps), receives messages.

    Sending an exception into the generator means the request raised. The sync and
    async drivers below differ only in how they perform a step.
    """
    messages: list[Any] = [{"role": "user", "content": job.scenario.prompt or "Go."}]
    container = job.container
    try:
        while result.rounds < MAX_ROUNDS:
            result.rounds += 1
            kwargs = _request(job, messages, container)
            if job.fault and result.rounds == 1:
                kwargs["extra_headers"] = {
                    **kwargs["extra_headers"],
                    **FAULTS[job.fault],
                }
            try:
                message = yield kwargs
            except Exception as exc:
                if container and result.rounds == 1 and _is_expired_container(exc):
                    # The container expired between tasks: start in a fresh one.
                    result.expired_container_restarts += 1
                    container = None
                    result.rounds = 0
                    continue
                raise
            container = _container_of(message, container)
            if message.stop_reason == "pause_turn":
                messages.append(
                    {"role": "assistant", "content": _dump(message.content)}
                )
                continue
            if message.stop_reason != "tool_use":
                break
            results, calls = _answer(job, message, messages)
            result.tool_calls += calls
            yield _Sleep(rng.uniform(0.005, 0.06))  # a lookup taking 5-60 ms
            messages.append({"role": "user", "content": results})
        result.ok = True
    except Exception as exc:  # the demo reports failures; the telemetry has them too
        result.error = type(exc).__name__
        result.error_detail = str(exc)[:200]
    finally:
        result.container = container


def run_job(client: anthropic.Anthropic, job: Job, rng: random.Random) -> JobResult:
    """Play ``job`` to its end on a sync client."""
    result = JobResult(job=job, ok=False)
    started = time.perf_counter()
    steps = _task(job, rng, result)
    step = next(steps, None)
    while step is not None:
        if isinstance(step, _Sleep):
            time.sleep(step)
            step = next(steps, None)
            continue
        try:
            reply = _create_sync(client, job, step)
        except Exception as exc:
            step = _throw(steps, exc)
        else:
            step = _send(steps, reply)
    result.seconds = time.perf_counter() - started
    return result


async def arun_job(
    client: anthropic.AsyncAnthropic, job: Job, rng: random.Random
) -> JobResult:
    """Play ``job`` to its end on an async client."""
    result = JobResult(job=job, ok=False)
    started = time.perf_counter()
    steps = _task(job, rng, result)
    step = next(steps, None)
    while step is not None:
        if isinstance(step, _Sleep):
            await asyncio.sleep(step)
            step = next(steps, None)
            continue
        try:
            reply = await _create_async(client, job, step)
        except Exception as exc:
            step = _throw(steps, exc)
        else:
            step = _send(steps, reply)
    result.seconds = time.perf_counter() - started
    return result


def _send(steps: Generator[Any, Any, None], value: Any) -> Any:
    try:
        return steps.send(value)
    except StopIteration:
        return None


def _throw(steps: Generator[Any, Any, None], exc: Exception) -> Any:
    try:
        return steps.throw(exc)
    except StopIteration:
        return None


def _create_sync(client: anthropic.Anthropic, job: Job, kwargs: dict[str, Any]) -> Any:
    if job.stream == "helper":
        with client.messages.stream(**kwargs) as stream:
            for _ in stream:
                pass
            return stream.get_final_message()
    if job.stream == "create":
        with client.messages.create(stream=True, **kwargs) as events:
            return _accumulate(events)
    return client.messages.create(**kwargs)


async def _create_async(
    client: anthropic.AsyncAnthropic, job: Job, kwargs: dict[str, Any]
) -> Any:
    if job.stream == "helper":
        async with client.messages.stream(**kwargs) as stream:
            async for _ in stream:
                pass
            return await stream.get_final_message()
    if job.stream == "create":
        async with await client.messages.create(stream=True, **kwargs) as events:
            return _accumulate([event async for event in events])
    return await client.messages.create(**kwargs)


def _accumulate(events: Any) -> Any:
    """Build the final message from raw SDK stream events, as an application must.

    Uses ptc_observe's own accumulator (:func:`ptc_observe.wire.accumulate`), which
    knows the three PTC stream shapes.
    """
    from ..wire import accumulate

    return accumulate(event.model_dump() for event in events)
