"""Any split of the traffic over 1, 2 or 3 observers sums to the one-observer figures.

Each observer has its own registry and correlator, as each worker of a fleet has. The
exchanges go through the real transport and recorder:

* the real recorded PTC run (``ptc_dice_stream_0*.sse``: one container, programmatic
  ``rollDie`` calls) with the requests that answer it, the real container-reuse pair, and a
  request the API refuses because its container expired;
* the demo workload (``ptc_observe.demo.workload``: PTC and direct tasks, streams, faults,
  container reuse and expiry) played through the official SDK against the emulator, each
  HTTP request sent to one observer's transport by a load balancer.

Created / reused / expired containers, tool calls, tool results and their bytes by caller
must be the same for every split and equal the ground truth; results that an observer
could not match with its own asking exchange are counted as unmatched, so turnarounds +
unmatched = results.
"""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest
from prometheus_client import CollectorRegistry

from ptc_observe.demo.workload import Job, plan_jobs, run_job
from ptc_observe.emulator import Emulator, ManualClock, builtin_scenarios
from ptc_observe.emulator.mock import mock_transport
from ptc_observe.observer import Observer
from ptc_observe.wire import accumulate, iter_events

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
DICE = "container_011CWHPPTDTn1XufeRB9uHeH"
REUSE = "container_011Caqgq9X3d68B2So2LZGmk"
FIGURES = (
    "ptc_containers_created_total",
    "ptc_container_reuses_total",
    "ptc_containers_expired_total",
)


def figures(registries: list[CollectorRegistry]) -> dict[str, Any]:
    """The fleet's figures: each family summed over the observers' registries."""
    out: dict[str, Any] = {}
    for name in (
        *FIGURES,
        "ptc_tool_calls_total",
        "ptc_tool_results_total",
        "ptc_tool_result_bytes_total",
        "ptc_tool_results_unmatched_total",
        "ptc_tool_turnaround_seconds_count",
    ):
        total: Counter[Any] = Counter()
        for registry in registries:
            for family in registry.collect():
                for s in family.samples:
                    if s.name != name or not s.value:
                        continue
                    key = (
                        s.labels.get("caller", ""),
                        s.labels.get("gen_ai_tool_name", ""),
                    )
                    total[key] += int(s.value)
        out[name] = +total
    return out


class Balancer(httpx2.BaseTransport):
    """Sends each call to one of several observed transports, as a load balancer sends
    each turn to a worker. The SDK's retries of a call stay where the call went (the
    process that makes a call also retries it)."""

    def __init__(self, transports: list[Any], pick: Any) -> None:
        self.transports = transports
        self.pick = pick
        self.sent: list[tuple[bytes, int]] = []
        self.last = 0

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.headers.get("x-stainless-retry-count", "0") == "0":
            self.last = self.pick()
        response: httpx2.Response = self.transports[self.last].handle_request(request)
        self.sent.append((request.read(), response.status_code))
        return response

    def close(self) -> None:
        for t in self.transports:
            t.close()


def splits(count: int) -> list[tuple[int, Any]]:
    """(observers, picker) pairs: one observer; 2 and 3 in turn; 2 and 3 at random."""
    out: list[tuple[int, Any]] = [(1, lambda: 0)]
    for n in (2, 3):
        turn = itertools.count()
        out.append((n, lambda n=n, turn=turn: next(turn) % n))
        rng = random.Random(n)
        out.append((n, lambda n=n, rng=rng: rng.randrange(n)))
    return out


# --- the real recorded run ---


def real_exchanges() -> list[tuple[dict[str, Any], int, bytes, bool]]:
    """(request, status, response body, streamed) of the recorded traffic, in order.

    The dice run's four responses with the requests an application sends to get them (each
    answers the previous response's programmatic call), the container-reuse pair as
    recorded, then a request naming the dice container after it expired.
    """
    out = []
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Roll for both."}]
    for n in range(1, 5):
        body = (REAL / f"ptc_dice_stream_0{n}.sse").read_bytes()
        request = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "stream": True,
            "messages": messages,
        }
        if n > 1:
            request["container"] = DICE
        out.append((request, 200, body, True))
        message = accumulate(iter_events(body))
        content = [b.model_dump(exclude_none=True) for b in message.content]
        results = [
            {"type": "tool_result", "tool_use_id": b["id"], "content": str(n) * n}
            for b in content
            if b["type"] == "tool_use"
        ]
        messages = [
            *messages,
            {"role": "assistant", "content": content},
            {"role": "user", "content": results},
        ]
    for n in (1, 2):
        request = json.loads(
            (REAL / f"codeexec_container_reuse_{n}.request.json").read_text()
        )
        body = (REAL / f"codeexec_container_reuse_{n}.json").read_bytes()
        out.append((request, 200, body, False))
    # The user comes back later and the application names the dice container again: the
    # API's answer to an expired container (wire reference 5.2; the emulator's message).
    expired = {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": f"container: `{DICE}` has expired; send the request without `container`",
        },
    }
    again = [{"role": "user", "content": "Roll again."}]
    late = {**out[0][0], "messages": again, "container": DICE}
    out.append((late, 400, json.dumps(expired).encode(), False))
    return out


def play_real(observers: int, pick: Any) -> tuple[dict[str, Any], list[Any]]:
    exchanges = real_exchanges()
    responses = iter(exchanges)

    def respond(request: httpx2.Request) -> httpx2.Response:
        _, status, body, streamed = next(responses)
        kind = "text/event-stream" if streamed else "application/json"
        return httpx2.Response(status, headers={"content-type": kind}, content=body)

    registries = [CollectorRegistry() for _ in range(observers)]
    fleet = [Observer(registry=r, opentelemetry=False) for r in registries]
    balancer = Balancer(
        [o.transport(httpx2.MockTransport(respond)) for o in fleet], pick
    )
    with httpx2.Client(
        transport=balancer, base_url="https://api.anthropic.com"
    ) as http:
        for request, status, _, _ in exchanges:
            response = http.post("/v1/messages", json=request)
            response.read()
            assert response.status_code == status
    return figures(registries), fleet


def test_the_real_run_split_over_observers_sums_to_one_observer_and_the_truth():
    """The recorded PTC run and reuse pair, split in turn and at random over 1-3 observers."""
    truth = {
        "ptc_containers_created_total": Counter({("", ""): 2}),  # dice run, reuse pair
        "ptc_container_reuses_total": Counter({("", ""): 4}),  # dice turns 2-4, reuse 2
        "ptc_containers_expired_total": Counter({("", ""): 1}),
        "ptc_tool_calls_total": Counter({("programmatic", "rollDie"): 4}),
        # Requests 2-4 answer calls 1-3 ("1", "22", "333").
        "ptc_tool_results_total": Counter({("programmatic", "rollDie"): 3}),
        "ptc_tool_result_bytes_total": Counter({("programmatic", ""): 6}),
    }
    one = None
    for observers, pick in splits(7):
        got, _ = play_real(observers, pick)
        for name, expected in truth.items():
            assert got[name] == expected, (observers, name)
        matched = got["ptc_tool_turnaround_seconds_count"]
        unmatched = got["ptc_tool_results_unmatched_total"]
        assert sum(matched.values()) + sum(unmatched.values()) == 3
        if observers == 1:
            one = got
            assert unmatched == Counter()
        else:
            assert {k: got[k] for k in truth} == {k: one[k] for k in truth}  # type: ignore[index]


# --- the demo workload ---


def play_demo(
    observers: int, pick: Any
) -> tuple[dict[str, Any], dict[str, Any], Balancer]:
    """The demo's jobs (deterministic: seeded plan, emulator on a manual clock)."""
    clock = ManualClock()
    emulator = Emulator(seed=4, clock=clock, container_ttl=300)
    registries = [CollectorRegistry() for _ in range(observers)]
    fleet = [Observer(registry=r, opentelemetry=False) for r in registries]
    balancer = Balancer([o.transport(mock_transport(emulator)) for o in fleet], pick)
    rng = random.Random(4)
    scenarios = [s for s in builtin_scenarios() if s.prompt]
    containers: list[str] = []
    sdk = anthropic.Anthropic(
        api_key="emulated",
        base_url="http://emulator.test",
        max_retries=2,
        http_client=httpx2.Client(transport=balancer),
    )
    with sdk:
        for n, p in enumerate(plan_jobs(scenarios, rng, 24)):
            reuse = None
            if p["reuse"] and containers:
                reuse = containers[-1 if n % 2 else 0]
            job = Job(
                scenario=p["scenario"],
                programmatic=p["programmatic"],
                use_async=False,
                stream=p["stream"],
                fault=p["fault"],
                cached_system=p["cached_system"],
                container=reuse,
            )
            result = run_job(sdk, job, random.Random(n))
            if result.container:
                containers.append(result.container)
            clock.advance(120)  # the oldest containers idle out (TTL 300 s)
    return figures(registries), emulator.ledger.snapshot(), balancer


def sent_results(balancer: Balancer) -> tuple[Counter[Any], Counter[Any]]:
    """The ground truth of the tool results: what the client's answered requests carried.

    Read from the request bodies with the plain definition (tests/wire), counted when
    the API answered 200 (no request carrying results was cut in this workload).
    """
    from wire.test_request_reference import _ref_results

    results: Counter[Any] = Counter()
    size: Counter[Any] = Counter()
    for body, status in balancer.sent:
        if status != 200:
            continue
        for r in _ref_results(json.loads(body).get("messages")):
            results[(r.caller, r.tool_name or "")] += 1
            size[(r.caller, "")] += r.size_bytes
    return +results, +size


@pytest.mark.slow
def test_the_demo_workload_split_over_observers_sums_to_one_observer_and_the_ledger():
    """The demo's tasks, each HTTP request to one of 1-3 observers in turn or at random."""
    one: dict[str, Any] | None = None
    for observers, pick in splits(5):
        got, ledger, balancer = play_demo(observers, pick)
        for name, event in zip(FIGURES, ("created", "reused", "expired"), strict=True):
            assert sum(got[name].values()) == ledger["containers"][event], name
        sent: Counter[Any] = Counter()
        for caller, tools in ledger["tool_use_blocks"].items():
            for tool, n in tools.items():
                sent["direct" if caller == "direct" else "programmatic", tool] += n
        assert got["ptc_tool_calls_total"] == +sent
        results, size = sent_results(balancer)
        assert got["ptc_tool_results_total"] == results
        assert got["ptc_tool_result_bytes_total"] == size
        matched = sum(got["ptc_tool_turnaround_seconds_count"].values())
        unmatched = sum(got["ptc_tool_results_unmatched_total"].values())
        assert matched + unmatched == sum(results.values()), observers
        if one is None:
            one = got
            assert unmatched == 0
            assert (
                ledger["containers"]["expired"] > 0
                and ledger["containers"]["reused"] > 0
            )
        else:
            assert unmatched > 0
            exact = (
                "ptc_tool_calls_total",
                "ptc_tool_results_total",
                "ptc_tool_result_bytes_total",
                *FIGURES,
            )
            assert {k: got[k] for k in exact} == {k: one[k] for k in exact}
