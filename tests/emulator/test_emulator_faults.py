"""Faults on demand, latency settings and response headers."""

from __future__ import annotations

import anthropic
import httpx2
import pytest

from ptc_observe.emulator import (
    Emulator,
    FaultRule,
    Latency,
    ManualClock,
    RateLimits,
    builtin_scenario,
)

from .conftest import Api
from .helpers import AUTH, MODEL, error_of, sdk_loop, status_error

PARAMS = {
    "model": MODEL,
    "max_tokens": 200,
    "messages": [{"role": "user", "content": "Tell me about containers."}],
}


def fault(kind: str, **extra: str) -> dict[str, str]:
    return {
        "x-emulator-fault": kind,
        **{f"x-emulator-{k.replace('_', '-')}": v for k, v in extra.items()},
    }


class TestStatusFaults:
    def test_rate_limit_retry_after_is_honoured(self, api: Api) -> None:
        """A 429 with retry-after: the SDK waits that long, retries, and succeeds."""
        client = api.client(max_retries=2)
        headers = fault("rate_limit", fault_count="1", retry_after="0.6")
        message = api.mode.run(client.messages.create, extra_headers=headers, **PARAMS)
        assert message.stop_reason == "end_turn"
        first, second = list(api.emulator.log)[-2:]
        assert (first.status, second.status) == (429, 200)
        assert (first.retry_count, second.retry_count) == (0, 1)
        # The SDK's own first backoff is at most 0.5 s; waiting >= 0.6 s shows retry-after was used.
        assert second.received_at - first.received_at >= 0.6
        assert api.emulator.ledger.errors("fault_rate_limit") == 1

    def test_rate_limit_response_shape(self, emulator: Emulator) -> None:
        """The 429 carries retry-after, the rate-limit headers (input exhausted) and the error body."""
        answer = emulator.handle(
            "POST",
            "/v1/messages",
            {**AUTH, **fault("rate_limit", retry_after="17")},
            b'{"model":"claude-sonnet-4-6","max_tokens":5,"messages":[{"role":"user","content":"x"}]}',
        )
        headers = dict(answer.headers)
        assert answer.status == 429 and headers["retry-after"] == "17"
        assert headers["anthropic-ratelimit-input-tokens-remaining"] == "0"
        assert headers["anthropic-ratelimit-requests-limit"] == "4000"
        body = answer.json()
        assert (
            body["error"]["type"] == "rate_limit_error"
            and body["request_id"] == headers["request-id"]
        )

    def test_overloaded(self, api: Api) -> None:
        """529 overloaded_error: OverloadedError without retries, only request-id and content-type headers."""
        client = api.client()
        exc = status_error(
            api.mode.raises(
                client.messages.create, extra_headers=fault("overloaded"), **PARAMS
            )
        )
        assert isinstance(exc, anthropic.OverloadedError) and exc.status_code == 529
        assert error_of(exc) == {
            "type": "overloaded_error",
            "message": "Overloaded",
        }
        names = {k.lower() for k in exc.response.headers} - {"date", "content-length"}
        assert names == {"request-id", "content-type"}

    def test_overloaded_once_then_retried(self, api: Api) -> None:
        """With fault-count 1 the SDK's retry of the same request succeeds."""
        client = api.client(max_retries=1)
        message = api.mode.run(
            client.messages.create,
            extra_headers=fault("overloaded", fault_count="1"),
            **PARAMS,
        )
        assert message.type == "message"
        assert api.emulator.stats()["responses"] == {
            "200": {"end_turn": 1},
            "529": {"overloaded_error": 1},
        }

    def test_server_error(self, api: Api) -> None:
        """500 api_error: InternalServerError."""
        client = api.client()
        exc = status_error(
            api.mode.raises(
                client.messages.create, extra_headers=fault("server_error"), **PARAMS
            )
        )
        assert isinstance(exc, anthropic.InternalServerError)
        assert error_of(exc) == {
            "type": "api_error",
            "message": "Internal server error",
        }


class TestStreamFaults:
    def test_mid_stream_error_event(self, api: Api) -> None:
        """An ``event: error`` after HTTP 200 makes the SDK raise APIStatusError; nothing is retried."""
        client = api.client(max_retries=2)
        manager = client.messages.stream(extra_headers=fault("stream_error"), **PARAMS)
        with pytest.raises(anthropic.APIStatusError) as caught:
            api.mode.stream_helper(manager)
        exc = caught.value
        assert exc.status_code == 200
        assert exc.body == {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
        }
        assert api.emulator.stats()["responses"] == {"200": {"stream_error": 1}}
        assert api.emulator.ledger.tokens("output") == 0  # the content never arrived

    def test_cut_stream_raises_remote_protocol_error(self, api: Api) -> None:
        """A dropped connection surfaces as the HTTP library's RemoteProtocolError from the iteration."""
        client = api.client()
        stream = api.mode.run(
            client.messages.create,
            stream=True,
            extra_headers=fault("stream_cut", fault_after="3"),
            **PARAMS,
        )
        with pytest.raises(httpx2.RemoteProtocolError):
            api.mode.collect(stream)
        assert api.emulator.ledger.responses(200, "stream_cut") == 1

    def test_truncated_stream_ends_quietly(self, api: Api) -> None:
        """A body that ends without message_stop raises nothing; the events just stop."""
        client = api.client()
        stream = api.mode.run(
            client.messages.create,
            stream=True,
            extra_headers=fault("stream_truncate"),
            **PARAMS,
        )
        events = api.mode.collect(stream)
        assert events[0].type == "message_start"
        assert "message_stop" not in {e.type for e in events}
        assert "message_delta" not in {e.type for e in events}

    def test_cut_non_streamed_body_is_a_connection_error(self, api: Api) -> None:
        """A non-streamed body cut halfway is a connection error the SDK retries."""
        client = api.client(max_retries=1)
        headers = fault("stream_cut", fault_count="1")
        message = api.mode.run(client.messages.create, extra_headers=headers, **PARAMS)
        assert message.stop_reason == "end_turn"
        assert [r.outcome for r in api.emulator.log] == ["stream_cut", "end_turn"]


class TestFaultRules:
    def test_probability_is_seeded(self) -> None:
        """The same seed fires the same faults in the same places."""
        patterns = []
        for _ in range(2):
            emulator = Emulator(seed=11, clock=ManualClock())
            headers = {**AUTH, **fault("overloaded", fault_probability="0.5")}
            body = b'{"model":"claude-sonnet-4-6","max_tokens":5,"messages":[{"role":"user","content":"x"}]}'
            patterns.append(
                [
                    emulator.handle("POST", "/v1/messages", headers, body).status
                    for _ in range(24)
                ]
            )
        assert patterns[0] == patterns[1]
        assert set(patterns[0]) == {200, 529}

    def test_emulator_rules_and_round_trips(self) -> None:
        """Constructor rules apply to every request; round_trip picks the step of the task loop."""
        emulator = Emulator(
            seed=2,
            clock=ManualClock(),
            faults=[FaultRule("server_error", round_trip=2, count=1)],
        )
        http = httpx2.Client(transport=emulator.mock_transport(httpx2))
        client = anthropic.Anthropic(api_key="k", http_client=http, max_retries=1)
        responses, _ = sdk_loop(Sync(), client, builtin_scenario("sales_by_region"))
        assert len(responses) == 4
        assert [(r.status, r.retry_count) for r in emulator.log][:3] == [
            (200, 0),
            (500, 0),
            (200, 1),
        ]

    def test_scenario_faults(self) -> None:
        """The flaky_api scenario injects one 529 and one 429; SDK retries absorb both."""
        emulator = Emulator(seed=2, clock=ManualClock())
        http = httpx2.Client(transport=emulator.mock_transport(httpx2))
        client = anthropic.Anthropic(api_key="k", http_client=http, max_retries=2)
        responses, _ = sdk_loop(Sync(), client, builtin_scenario("flaky_api"))
        assert responses[-1].stop_reason == "end_turn"
        stats = emulator.stats()
        assert stats["responses"]["529"] == {"overloaded_error": 1}
        assert stats["responses"]["429"] == {"rate_limit_error": 1}

    def test_bad_fault_header_is_400(self, emulator: Emulator) -> None:
        """Unknown fault kinds are reported, not ignored."""
        answer = emulator.handle(
            "POST",
            "/v1/messages",
            {**AUTH, **fault("meteor")},
            b'{"model":"claude-x","max_tokens":1,"messages":[{"role":"user","content":"x"}]}',
        )
        assert (
            answer.status == 400
            and "unknown fault kind" in answer.json()["error"]["message"]
        )

    def test_fault_rule_validation(self) -> None:
        """Out-of-range values are refused when the rule is built."""
        with pytest.raises(ValueError):
            FaultRule("overloaded", probability=1.5)
        with pytest.raises(ValueError):
            FaultRule("meteor")


class Sync:
    is_async = False

    def run(self, fn, *args, **kwargs):
        return fn(*args, **kwargs)


BODY = b'{"model":"claude-sonnet-4-6","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hello"}]}'


class TestLatencyAndHeaders:
    def test_latency_from_headers_and_config(self) -> None:
        """ttft delays the headers; per-token delay is spread over the deltas by their tokens."""
        emulator = Emulator(
            seed=1, clock=ManualClock(), latency=Latency(ttft=0.25, per_token=0.001)
        )
        answer = emulator.handle("POST", "/v1/messages", AUTH, BODY)
        assert answer.delay == 0.25
        delays = [d for d, _ in answer.chunks()]
        assert delays[0] == 0 and any(d > 0 for d in delays)
        assert sum(delays) == pytest.approx(
            0.001 * sum(f.tokens for f in answer.frames or [])
        )
        override = emulator.handle(
            "POST", "/v1/messages", {**AUTH, "x-emulator-ttft": "0.5"}, BODY
        )
        assert (override.delay, override.per_token) == (0.5, 0.0)

    def test_headers_and_remaining_counts(self, emulator: Emulator) -> None:
        """Every response has request-id, organization id and rate-limit headers whose remaining goes down."""
        remaining = []
        for _ in range(3):
            answer = emulator.handle("POST", "/v1/messages", AUTH, BODY)
            headers = dict(answer.headers)
            assert headers["content-type"] == "text/event-stream; charset=utf-8"
            assert headers["request-id"].startswith("req_011C")
            assert headers["anthropic-organization-id"]
            assert headers["anthropic-ratelimit-requests-reset"].endswith("Z")
            remaining.append(int(headers["anthropic-ratelimit-requests-remaining"]))
        assert remaining == [3999, 3998, 3997]

    def test_enforced_limits(self, clock: ManualClock) -> None:
        """With enforce=True the third request in a minute of a 2-rpm limit gets 429 until the window resets."""
        emulator = Emulator(
            seed=1, clock=clock, rate_limits=RateLimits(requests=2, enforce=True)
        )
        statuses = [
            emulator.handle("POST", "/v1/messages", AUTH, BODY).status for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        assert (
            dict(emulator.handle("POST", "/v1/messages", AUTH, BODY).headers)[
                "retry-after"
            ]
            == "60"
        )
        clock.advance(60)
        assert emulator.handle("POST", "/v1/messages", AUTH, BODY).status == 200
