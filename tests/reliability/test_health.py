"""The observer's own health: its debug log, its error counter, its kill switch.

* A failure inside ptc_observe is logged at DEBUG, once per kind (stage and exception
  type) per minute, with the count of the similar ones suppressed in between; nothing
  is ever logged above DEBUG, and nothing at all unless DEBUG is on for the logger.
* ``ptc_telemetry_errors_total{stage}`` counts every failure of every stage, exactly,
  while the caller's calls go on unchanged.
* ``PTC_OBSERVE_DISABLED=1`` switches observation off for the next request, in a
  running process (read per request, from ``os.environ``); the transport then hands
  back the inner transport's response untouched. Requests already in flight finish
  as they started.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from ptc_observe import Exchange
from ptc_observe.observer import pipeline as observer_module
from ptc_observe.wire import messages as wire_messages

from .conftest import (
    BODY,
    DATA,
    JSON_HEADERS,
    MODEL,
    SSE_HEADERS,
    URL,
    Replies,
    Reply,
    Telemetry,
    dumps,
    fixture_bytes,
    sse_events,
)

PARAMS: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}


class FakeClock:
    """Stands in for the ``time`` module of the observer (only ``monotonic``)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The rate limiter of the debug log reads this clock."""
    fake = FakeClock()
    monkeypatch.setattr(
        observer_module, "time", types.SimpleNamespace(monotonic=fake.monotonic)
    )
    return fake


@pytest.fixture
def debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Records of the ptc_observe loggers at DEBUG."""
    with caplog.at_level(logging.DEBUG, logger="ptc_observe"):
        yield caplog


class Failing:
    """A sink that raises ``kind`` and a tracer that raises RuntimeError, when armed."""

    def __init__(self) -> None:
        self.sink_error: type[Exception] | None = None
        self.trace_error = False

    def trace(self, exchange: Exchange) -> Exchange:
        if self.trace_error:
            raise RuntimeError("tracer down")
        return exchange

    def on_exchange(self, exchange: Exchange) -> None:
        if self.sink_error is not None:
            raise self.sink_error("sink down")


def post(tel: Telemetry, reply: Reply, content: bytes | None = None) -> int:
    """One raw POST through ``tel``'s observer; the status the client got."""
    replies = Replies(reply)
    with httpx2.Client(transport=tel.observer.transport(replies.transport())) as client:
        with client.stream("POST", URL, content=content or dumps(BODY)) as r:
            r.read()
            status: int = r.status_code
            return status


def ok_json() -> Reply:
    return Reply(200, dict(JSON_HEADERS), [fixture_bytes("01_direct_tool_use.json")])


def bad_stream() -> Reply:
    chunks = sse_events(fixture_bytes("09_stream_plain_text.sse"))
    chunks.insert(2, b"event: message_delta\ndata: [1, 2\n\n")
    return Reply(200, dict(SSE_HEADERS), chunks)


def odd_coding() -> Reply:
    headers = {**JSON_HEADERS, "content-encoding": "compress"}
    return Reply(200, headers, [fixture_bytes("01_direct_tool_use.json")])


def failure_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "telemetry error" in r.getMessage()]


class TestDebugLog:
    def test_one_record_per_kind_then_silence(
        self, telemetry: Any, debug: pytest.LogCaptureFixture, clock: FakeClock
    ) -> None:
        """Six kinds of failure, five times each, interleaved: one DEBUG record per kind,
        each naming its stage and carrying the exception; every failure counted."""
        failing = Failing()
        tel: Telemetry = telemetry(failing)
        for _ in range(5):
            post(tel, ok_json(), content=b"{not json")  # request_parse
            post(tel, bad_stream())  # stream_parse
            post(tel, odd_coding())  # decode
            failing.sink_error = RuntimeError
            post(tel, ok_json())  # sink, RuntimeError
            failing.sink_error = ValueError
            post(tel, ok_json())  # sink, ValueError: another kind
            failing.sink_error = None
            failing.trace_error = True
            post(tel, ok_json())  # trace
            failing.trace_error = False
        records = failure_records(debug)
        kinds = sorted(
            (
                r.getMessage().split("stage ")[1].split(" ")[0],
                r.exc_info[1].__class__.__name__,
            )
            for r in records
            if r.exc_info and r.exc_info[1] is not None
        )
        assert kinds == [
            ("decode", "WireError"),
            ("request_parse", "WireError"),
            ("sink", "RuntimeError"),
            ("sink", "ValueError"),
            ("stream_parse", "WireError"),
            ("trace", "RuntimeError"),
        ]
        assert len(records) == 6
        assert all(r.levelno == logging.DEBUG for r in debug.records)
        assert all("(0 similar suppressed)" in r.getMessage() for r in records)
        assert tel.errors() == {
            "request_parse": 5, "stream_parse": 5, "decode": 5, "sink": 10, "trace": 5,
        }  # fmt: skip

    def test_a_minute_later_it_logs_again_with_the_suppressed_count(
        self, telemetry: Any, debug: pytest.LogCaptureFixture, clock: FakeClock
    ) -> None:
        """After the interval, the next failure of a kind logs once more and says how
        many were suppressed; just before it, nothing."""
        failing = Failing()
        failing.sink_error = RuntimeError
        tel: Telemetry = telemetry(failing)
        for _ in range(4):
            post(tel, ok_json())
        clock.now += 59.9
        post(tel, ok_json())
        assert len(failure_records(debug)) == 1
        clock.now += 0.2
        post(tel, ok_json())
        post(tel, ok_json())
        first, second = failure_records(debug)
        assert "(4 similar suppressed)" in second.getMessage()
        assert tel.errors() == {"sink": 7}

    def test_silent_unless_debug_is_on(
        self, telemetry: Any, caplog: pytest.LogCaptureFixture, clock: FakeClock
    ) -> None:
        """With the logger at its default level nothing is logged at all (not even at
        DEBUG), yet every failure is counted."""
        failing = Failing()
        failing.sink_error = RuntimeError
        tel: Telemetry = telemetry(failing)
        with caplog.at_level(logging.INFO, logger="ptc_observe"):
            for _ in range(3):
                post(tel, bad_stream())
                post(tel, ok_json(), content=b"\xff")
        assert [r for r in caplog.records if r.name.startswith("ptc_observe")] == []
        assert tel.errors() == {"stream_parse": 3, "request_parse": 3, "sink": 6}


class TestErrorCounter:
    def test_every_stage_is_counted_exactly(
        self, telemetry: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """All seven stages fail, some many times: the counter, the observer's view and
        the exposition agree, and every call returned what the server sent."""
        failing = Failing()
        tel: Telemetry = telemetry(failing)
        statuses = [
            post(tel, ok_json(), content=b"[") for _ in range(3)
        ]  # request_parse
        statuses += [post(tel, bad_stream()) for _ in range(2)]  # stream_parse
        statuses.append(post(tel, odd_coding()))  # decode

        def parser_bug(body: bytes) -> Any:
            raise KeyError("a bug in the parser")

        with monkeypatch.context() as patch:  # response_parse: a parser bug, contained
            patch.setattr("ptc_observe.observer.recorder.parse_reply", parser_bug)
            statuses.append(post(tel, ok_json()))
        assert wire_messages.parse_reply is not parser_bug

        def correlator_bug(ex: Exchange) -> Exchange:
            raise RuntimeError("a bug in the correlator")

        with monkeypatch.context() as patch:  # correlate
            patch.setattr(tel.observer.correlator, "correlate", correlator_bug)
            statuses += [post(tel, ok_json()) for _ in range(2)]
        failing.trace_error = True
        statuses.append(post(tel, ok_json()))  # trace
        failing.trace_error = False
        failing.sink_error = LookupError
        statuses += [post(tel, ok_json()) for _ in range(4)]  # sink
        assert statuses == [200] * len(statuses)

        expected = {
            "request_parse": 3,
            "stream_parse": 2,
            "decode": 1,
            "response_parse": 1,
            "correlate": 2,
            "trace": 1,
            "sink": 4,
        }
        assert tel.errors() == expected
        assert dict(tel.observer.telemetry_errors) == expected
        exposition = tel.exposition()
        for stage, n in expected.items():
            assert (
                f'ptc_telemetry_errors_total{{stage="{stage}"}} {float(n)}'
                in exposition
            )
        assert len(tel.sink.exchanges) == len(statuses)  # every exchange still recorded


class TestKillSwitch:
    @pytest.mark.parametrize(
        ("value", "disabled"),
        [("1", True), ("true", True), ("TRUE", True), (" yes ", True), ("On", True),
         ("0", False), ("", False), ("false", False), ("no", False), ("off", False),
         ("2", False)],
    )  # fmt: skip
    def test_values(
        self,
        telemetry: Any,
        monkeypatch: pytest.MonkeyPatch,
        value: str,
        disabled: bool,
    ) -> None:
        """1/true/yes/on (any case, spaces around) switch observation off; others do not."""
        tel: Telemetry = telemetry()
        monkeypatch.setenv("PTC_OBSERVE_DISABLED", value)
        assert post(tel, ok_json()) == 200
        assert len(tel.sink.exchanges) == (0 if disabled else 1)

    def test_flipped_at_run_time(
        self, telemetry: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """One long-lived SDK client: switched off, nothing is recorded anywhere and the
        responses are the inner transport's own; switched on again, recording resumes."""
        tel: Telemetry = telemetry()
        replies = Replies(repeat=ok_json())
        transport = tel.observer.transport(replies.transport())
        client = anthropic.Anthropic(
            api_key="sk-ant-test", base_url="http://api.test",
            http_client=httpx2.Client(transport=transport), max_retries=0,
        )  # fmt: skip
        ids = []
        for switch in ("0", "1", "1", "0", "1", "0"):
            monkeypatch.setenv("PTC_OBSERVE_DISABLED", switch)
            ids.append(client.messages.create(**PARAMS).id)
            request = httpx2.Request("POST", "https://api.anthropic.com/v1/messages", content=dumps(BODY))  # fmt: skip
            response = transport.handle_request(request)
            assert (response.stream is replies.bodies[-1]) is (switch == "1")
            response.close()
        assert len(set(ids)) == 1  # the same answer either way
        assert len(tel.sink.exchanges) == 6  # 3 enabled turns x (SDK call + raw call)
        assert tel.value("ptc_exchanges_total") == 6
        assert len([s for s in tel.spans() if s.name.startswith("chat")]) == 6
        monkeypatch.delenv("PTC_OBSERVE_DISABLED")
        client.messages.create(**PARAMS)
        assert len(tel.sink.exchanges) == 7

    @pytest.mark.anyio
    async def test_in_flight_streams_finish_as_they_started(
        self, telemetry: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Checked per request: a stream opened before the switch is still recorded to
        its end; one opened while off is not recorded when the switch goes back on."""
        tel: Telemetry = telemetry()
        chunks = sse_events(fixture_bytes("09_stream_plain_text.sse"))
        replies = Replies(repeat=Reply(200, dict(SSE_HEADERS), chunks))
        async with httpx2.AsyncClient(transport=tel.observer.async_transport(replies.transport())) as client:  # fmt: skip
            async with client.stream("POST", URL, content=dumps(BODY)) as observed:
                first = observed.aiter_raw()
                await first.__anext__()
                monkeypatch.setenv("PTC_OBSERVE_DISABLED", "1")
                async with client.stream("POST", URL, content=dumps(BODY)) as passed:
                    second = passed.aiter_raw()
                    await second.__anext__()
                    monkeypatch.setenv("PTC_OBSERVE_DISABLED", "0")
                    rest = [c async for c in second]
                    assert len(rest) == len(chunks) - 1
                assert [c async for c in first] == chunks[1:]
        (ex,) = tel.sink.exchanges
        assert ex.ok and ex.sse_events == len(chunks)

    def test_set_before_start_needs_no_code_change(self, tmp_path: Any) -> None:
        """A process started with the variable set observes nothing: the same code,
        a changed environment (what a restart without a redeploy gives)."""
        script = tmp_path / "app.py"
        script.write_text(
            textwrap.dedent(
                """
                import sys

                import httpx2
                from ptc_observe import Observer
                from ptc_observe.testing import MemorySink

                body = open(sys.argv[1], "rb").read()
                sink = MemorySink()
                observer = Observer([sink], prometheus=False, opentelemetry=False)
                inner = httpx2.MockTransport(
                    lambda r: httpx2.Response(200, headers={"content-type": "application/json"}, content=body)
                )
                with httpx2.Client(transport=observer.transport(inner)) as client:
                    r = client.post("https://api.anthropic.com/v1/messages", json={"model": "m"})
                print(r.status_code, len(sink.exchanges))
                """
            )
        )
        env = {k: v for k, v in os.environ.items() if k != "PTC_OBSERVE_DISABLED"}
        runs = {}
        for value in ("1", None):
            if value is not None:
                env["PTC_OBSERVE_DISABLED"] = value
            else:
                env.pop("PTC_OBSERVE_DISABLED", None)
            done = subprocess.run(
                [sys.executable, str(script), str(DATA / "01_direct_tool_use.json")],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            runs[value] = done.stdout.split()
        assert runs == {"1": ["200", "0"], None: ["200", "1"]}
