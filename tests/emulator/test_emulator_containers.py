"""Containers: ids, rolling expiry, the hard limit, reuse, expiry errors and the pending-call timeout."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import anthropic
import httpx2
import pytest

from ptc_observe.emulator import Emulator, ManualClock, builtin_scenario
from ptc_observe.emulator.clock import DEFAULT_START

from .helpers import MODEL, answer_calls, error_of

SCENARIO = builtin_scenario("sales_by_region")


def client_for(emulator: Emulator, **kwargs: Any) -> anthropic.Anthropic:
    kwargs.setdefault("max_retries", 0)
    http = httpx2.Client(transport=emulator.mock_transport(httpx2))
    return anthropic.Anthropic(api_key="k", http_client=http, **kwargs)


def first_turn(client: anthropic.Anthropic, **extra: Any) -> tuple[Any, list[Any]]:
    tools: Any = SCENARIO.tool_definitions()
    messages: list[Any] = [{"role": "user", "content": SCENARIO.prompt}]
    message = client.messages.create(
        model=MODEL,
        max_tokens=1024,
        messages=messages,
        tools=tools,
        **extra,
    )
    content = [b.to_dict(mode="json") for b in message.content]
    resume = [
        *messages,
        {"role": "assistant", "content": content},
        {"role": "user", "content": answer_calls(SCENARIO, content)},
    ]
    return message, resume


def resume(client: anthropic.Anthropic, messages: list[Any], container: str) -> Any:
    tools: Any = SCENARIO.tool_definitions()
    return client.messages.create(
        model=MODEL,
        max_tokens=1024,
        messages=messages,
        tools=tools,
        container=container,
    )


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class TestIds:
    def test_shapes(self, emulator: Emulator) -> None:
        """Ids look like the API's: msg_011C…, srvtoolu_01…, toolu_01…, container_011C…, req_011C…."""
        message, _ = first_turn(client_for(emulator))
        assert re.fullmatch(r"msg_011C[0-9A-Za-z]{20}", message.id)
        assert re.fullmatch(r"srvtoolu_01[0-9A-Za-z]{22}", message.content[1].id)
        assert re.fullmatch(r"toolu_01[0-9A-Za-z]{22}", message.content[2].id)
        assert message.container is not None
        assert re.fullmatch(r"container_011C[0-9A-Za-z]{20}", message.container.id)
        assert re.fullmatch(r"req_011C[0-9A-Za-z]{20}", emulator.log[-1].request_id)

    def test_seed_determines_ids(self) -> None:
        """Equal seeds give equal ids; another seed gives others."""
        ids = []
        for seed in (5, 5, 6):
            message, _ = first_turn(
                client_for(Emulator(seed=seed, clock=ManualClock()))
            )
            ids.append((message.id, message.content[1].id, message.container.id))
        assert ids[0] == ids[1] != ids[2]


class TestExpiry:
    def test_expires_at_format_and_rolling(self, clock: ManualClock) -> None:
        """expires_at is RFC 3339 with microseconds and Z, now + TTL, and moves with each use."""
        clock.advance(0.318204)
        emulator = Emulator(seed=1, clock=clock)
        http = httpx2.Client(transport=emulator.mock_transport(httpx2))
        raw = http.post(
            "http://api.test/v1/messages",
            headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
            json={
                "model": MODEL,
                "max_tokens": 100,
                "tools": SCENARIO.tool_definitions(),
                "messages": [{"role": "user", "content": SCENARIO.prompt}],
            },
        ).json()
        stamp = raw["container"]["expires_at"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
        assert epoch(stamp) == pytest.approx(DEFAULT_START + 0.318204 + 300)
        client = client_for(emulator)
        message, messages = first_turn(client)
        clock.advance(42)
        later = resume(client, messages, message.container.id)
        assert later.container is not None
        assert (
            later.container.expires_at.timestamp()
            - message.container.expires_at.timestamp()
            == pytest.approx(42)
        )

    def test_ttl_is_configurable_and_enforced(self, clock: ManualClock) -> None:
        """A resume after the idle TTL gets 400 invalid_request_error."""
        emulator = Emulator(
            seed=1, clock=clock, container_ttl=60, tool_result_timeout=30
        )
        client = client_for(emulator)
        message, messages = first_turn(client)
        assert message.container.expires_at.timestamp() == pytest.approx(clock() + 60)
        clock.advance(61)
        with pytest.raises(anthropic.BadRequestError) as caught:
            resume(client, messages, message.container.id)
        error = error_of(caught.value)
        assert (
            error["type"] == "invalid_request_error"
            and "has expired" in error["message"]
        )
        assert emulator.ledger.containers("expired") == 1
        assert emulator.ledger.errors("container_expired") == 1

    def test_expired_can_mimic_the_untyped_500(self, clock: ManualClock) -> None:
        """With expired_container_error='api_error' an expired container answers 500 api_error."""
        emulator = Emulator(seed=1, clock=clock, expired_container_error="api_error")
        client = client_for(emulator)
        message, messages = first_turn(client)
        clock.advance(301)
        with pytest.raises(anthropic.InternalServerError) as caught:
            resume(client, messages, message.container.id)
        assert error_of(caught.value) == {
            "type": "api_error",
            "message": "Internal server error",
        }

    def test_hard_limit_caps_the_rolling_deadline(self, clock: ManualClock) -> None:
        """However often it is used, a container dies at creation + max age."""
        emulator = Emulator(
            seed=1,
            clock=clock,
            container_ttl=300,
            container_max_age=1000,
            tool_result_timeout=290,
        )
        client = client_for(emulator)
        message, messages = first_turn(client)
        container = message.container.id
        created = clock()
        clock.advance(250)
        second = resume(client, messages, container)
        content = [b.to_dict(mode="json") for b in second.content]
        messages = [
            *messages,
            {"role": "assistant", "content": content},
            {"role": "user", "content": answer_calls(SCENARIO, content)},
        ]
        clock.advance(250)
        third = resume(client, messages, container)
        assert third.container.expires_at.timestamp() == pytest.approx(created + 800)
        content = [b.to_dict(mode="json") for b in third.content]
        messages = [
            *messages,
            {"role": "assistant", "content": content},
            {"role": "user", "content": answer_calls(SCENARIO, content)},
        ]
        clock.advance(250)
        with_cap = emulator.containers.get(container)
        assert with_cap is not None and with_cap.expires_at == pytest.approx(
            created + 1000
        )
        clock.advance(260)  # 1010 s after creation, 260 s after the last use
        with pytest.raises(anthropic.BadRequestError):
            resume(client, messages, container)

    def test_unknown_container_is_404(self, emulator: Emulator) -> None:
        """A container id that never existed answers 404 not_found_error."""
        client = client_for(emulator)
        with pytest.raises(anthropic.NotFoundError) as caught:
            first_turn(client, container="container_011CNeverExisted000000000")
        assert error_of(caught.value)["type"] == "not_found_error"
        assert emulator.ledger.errors("container_not_found") == 1


class TestReuse:
    def test_new_task_reuses_the_container(self, emulator: Emulator) -> None:
        """Naming a live container on a new task keeps it; the ledger counts the reuse."""
        client = client_for(emulator)
        message, _ = first_turn(client)
        again, _ = first_turn(client, container=message.container.id)
        assert again.container.id == message.container.id
        assert emulator.stats()["containers"] == {
            "created": 1,
            "reused": 1,
            "expired": 0,
        }
        assert len(emulator.containers) == 1

    def test_code_from_another_container_is_refused(self, emulator: Emulator) -> None:
        """Resuming paused code in a container that does not hold it is a 400."""
        client = client_for(emulator)
        message, messages = first_turn(client)
        other, _ = first_turn(client)
        with pytest.raises(anthropic.BadRequestError) as caught:
            resume(client, messages, other.container.id)
        assert "holds no paused code execution" in error_of(caught.value)["message"]


def test_slow_tool_result_times_out_in_the_code(clock: ManualClock) -> None:
    """A tool result later than the pending-call timeout (but before expiry) ends the code with TimeoutError."""
    emulator = Emulator(seed=1, clock=clock)
    client = client_for(emulator)
    message, messages = first_turn(client)
    clock.advance(280)  # past the 270 s pending-call timeout, within the 300 s idle TTL
    final = resume(client, messages, message.container.id)
    assert final.stop_reason == "end_turn"
    result = final.content[0]
    assert result.type == "code_execution_tool_result"
    assert (
        result.content.stderr
        == "TimeoutError: Calling tool ['query_sales'] timed out (no response after 270s)."
    )
    assert result.content.return_code == 0
    assert "West: timed out" in final.content[1].text
    assert emulator.stats()["code_results"] == {"timeout": 1}


def test_expired_containers_are_forgotten_past_the_cap(
    monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    """Expired containers answer "expired" until the store is over its cap; then they are dropped."""
    from ptc_observe.emulator import containers

    monkeypatch.setattr(containers, "MAX_REMEMBERED", 3)
    emulator = Emulator(seed=1, clock=clock)
    client = client_for(emulator)
    old = [first_turn(client)[0].container.id for _ in range(3)]
    clock.advance(301)
    fresh = first_turn(client)[0].container.id  # the fourth one trims the expired three
    assert emulator.containers.get(fresh) is not None
    assert all(emulator.containers.get(c) is None for c in old)
    with pytest.raises(anthropic.NotFoundError):
        first_turn(client, container=old[0])
