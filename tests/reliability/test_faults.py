"""Faults: the caller sees exactly what it would see without ptc_observe.

``tests/test_transport.py`` checks single faults with plain httpx clients (the exception
object at send and mid-stream, early close, a dropped response, one cancellation). This
suite adds, with the official SDK (anthropic 2.x on httpx2), sync and async:

* a table of faults run twice, once through a plain transport and once through the
  observing one, comparing what the caller gets: the result, or the exception's type,
  message, cause chain and the caller's traceback frames (ptc_observe's own frames left
  out, nothing else); with a sink that raises on every exchange attached, and exactly
  one record per HTTP attempt;
* real sockets on loopback: refused connections, a server closing before the status
  line, in the middle of the headers, of a body and of a stream, and a server that
  stalls until the client's timeout;
* early close by the caller, task cancellation at send and mid-stream,
  ``asyncio.wait_for`` timeouts, responses dropped without being closed, a
  ``KeyboardInterrupt`` from the inner transport;
* a sink that blocks: sinks run inline when an exchange finishes, so the blocked
  exchange's caller waits, and other exchanges (other threads) go on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import anyio
import httpx2
import pytest

import ptc_observe
from ptc_observe import Exchange, Outcome
from ptc_observe.observer.recorder import ExchangeRecorder

from .conftest import (
    JSON_HEADERS,
    MODEL,
    SSE_HEADERS,
    FaultServer,
    Replies,
    Reply,
    Telemetry,
    closed_port,
    fixture_bytes,
    sse_events,
)

PACKAGE_DIR = str(Path(ptc_observe.__file__).parent)
# The test harness's own race: in async mode the result crosses a thread through a
# concurrent.futures.Future, whose result() raises from one of two lines depending on
# whether the future was already done when asked.
HARNESS = str(Path(concurrent.futures.__file__).parent)
PARAMS: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "Compare Q2 revenue."}],
}


class RaisingSink:
    """A sink that fails on every exchange."""

    def __init__(self) -> None:
        self.calls = 0

    def on_exchange(self, exchange: Exchange) -> None:
        self.calls += 1
        raise RuntimeError("sink down")


# --- what the caller saw, in comparable form ---


def caller_frames(exc: BaseException | None) -> list[tuple[str, int, str]]:
    """Traceback frames of ``exc``, ptc_observe's own (and the harness's race) left out."""
    if exc is None:
        return []
    return [
        (f.filename, f.lineno or 0, f.name)
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith((PACKAGE_DIR, HARNESS))
    ]


def chain(exc: BaseException | None) -> list[tuple[str, str, str]]:
    """``(link, type, message)`` along ``__cause__`` / ``__context__``."""
    out: list[tuple[str, str, str]] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if exc.__cause__ is not None:
            exc, link = exc.__cause__, "cause"
        elif exc.__context__ is not None and not exc.__suppress_context__:
            exc, link = exc.__context__, "context"
        else:
            break
        out.append((link, type(exc).__qualname__, str(exc)))
    return out


@dataclass
class Seen:
    """What the caller got: a result, or an exception in comparable parts."""

    result: Any = None
    type: str | None = None
    message: str | None = None
    status: int | None = None
    chain: list[tuple[str, str, str]] | None = None
    frames: list[tuple[str, int, str]] | None = None
    cause_frames: list[tuple[str, int, str]] | None = None

    @classmethod
    def of(cls, fn: Callable[[], Any]) -> Seen:
        try:
            result = fn()
        except BaseException as exc:
            return cls(
                type=type(exc).__qualname__,
                message=str(exc),
                status=getattr(exc, "status_code", None),
                chain=chain(exc),
                frames=caller_frames(exc),
                cause_frames=caller_frames(exc.__cause__ or exc.__context__),
            )
        return cls(result=result)


def sdk_call(mode: Any, transport: Any, style: str, **client_options: Any) -> Seen:
    """One SDK call over ``transport``; what the caller saw (messages as plain dicts)."""
    http = mode.http_client(httpx2, transport=transport)
    client_options.setdefault("max_retries", 0)
    client = mode.anthropic(anthropic, http, **client_options)

    def run() -> Any:
        if style == "create":
            return mode.run(client.messages.create, **PARAMS).to_dict()
        if style == "raw_stream":
            events = mode.collect(
                mode.run(client.messages.create, stream=True, **PARAMS)
            )
            return [e.to_dict() for e in events]
        events, final = mode.stream_helper(client.messages.stream(**PARAMS))
        return [e.to_dict() for e in events], final.to_dict()

    try:
        return Seen.of(run)
    finally:
        mode.close(http)


# --- the fault table (MockTransport) ---


def stream_reply(**options: Any) -> Reply:
    return Reply(200, dict(SSE_HEADERS), sse_events(fixture_bytes("08_stream_ptc_turn1.sse")), **options)  # fmt: skip


def json_reply(name: str = "02_ptc_turn1_response.json", status: int = 200, **options: Any) -> Reply:  # fmt: skip
    data = fixture_bytes(name)
    return Reply(status, dict(JSON_HEADERS), [data[:100], data[100:]], **options)


ERROR_EVENT = (
    b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
    b'"message":"Overloaded"}}\n\n'
)
# (id, style, reply factory, expected outcome, expected error type)
FAULTS: list[tuple[str, str, Callable[[], Reply], Outcome, str | None]] = [
    ("ok-json", "create", json_reply, Outcome.OK, None),
    ("ok-stream", "stream", stream_reply, Outcome.OK, None),
    ("connect-error", "create",
     lambda: Reply(raise_at_send=httpx2.ConnectError("connection refused")),
     Outcome.ERROR, "ConnectError"),
    ("timeout-awaiting-headers", "create",
     lambda: Reply(raise_at_send=httpx2.ReadTimeout("timed out")),
     Outcome.ERROR, "ReadTimeout"),
    ("disconnect-before-headers", "stream",
     lambda: Reply(raise_at_send=httpx2.RemoteProtocolError("Server disconnected")),
     Outcome.ERROR, "RemoteProtocolError"),
    ("inner-transport-bug", "create",
     lambda: Reply(raise_at_send=RuntimeError("bug in the inner transport")),
     Outcome.ERROR, "RuntimeError"),
    ("cut-mid-json-body", "create",
     lambda: json_reply(fail_at=1, fail_with=httpx2.RemoteProtocolError("peer closed")),
     Outcome.ERROR, "RemoteProtocolError"),
    ("cut-mid-stream", "stream",
     lambda: stream_reply(fail_at=5, fail_with=httpx2.RemoteProtocolError("peer closed")),
     Outcome.ERROR, "RemoteProtocolError"),
    ("timeout-mid-stream", "raw_stream",
     lambda: stream_reply(fail_at=9, fail_with=httpx2.ReadTimeout("read timed out")),
     Outcome.ERROR, "ReadTimeout"),
    ("bug-mid-stream", "stream",
     lambda: stream_reply(fail_at=3, fail_with=ValueError("bug in the inner stream")),
     Outcome.ERROR, "ValueError"),
    ("error-after-last-chunk", "create",
     lambda: json_reply(fail_at=2, fail_with=httpx2.ReadError("reset")),
     Outcome.ERROR, "ReadError"),
    ("status-529", "create",
     lambda: json_reply("07_error_529_overloaded.json", 529),
     Outcome.ERROR, "overloaded_error"),
    ("status-429-stream", "stream",
     lambda: json_reply("06_error_429_rate_limit.json", 429),
     Outcome.ERROR, "rate_limit_error"),
    ("error-event-mid-stream", "stream",
     lambda: Reply(200, dict(SSE_HEADERS), [*stream_reply().chunks[:4], ERROR_EVENT]),
     Outcome.ERROR, "overloaded_error"),
    ("truncated-stream", "raw_stream",
     lambda: Reply(200, dict(SSE_HEADERS), stream_reply().chunks[:6]),
     Outcome.INCOMPLETE, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("style", "make_reply", "outcome", "error_type"),
    [pytest.param(*row[1:], id=row[0]) for row in FAULTS],
)
def test_caller_sees_the_same_with_and_without_the_observer(
    mode: Any,
    telemetry: Any,
    style: str,
    make_reply: Callable[[], Reply],
    outcome: Outcome,
    error_type: str | None,
) -> None:
    """Same result or same exception (type, message, chain, caller frames); one record."""
    plain = Replies(make_reply())
    without = sdk_call(mode, plain.transport(), style)
    broken = RaisingSink()
    tel: Telemetry = telemetry(broken)
    observed = Replies(make_reply())
    with_ = sdk_call(mode, mode.observing(tel.observer, observed.transport()), style)
    assert with_ == without
    assert [r.content for r in observed.requests] == [r.content for r in plain.requests]
    (ex,) = tel.sink.exchanges
    assert (ex.outcome, ex.error_type) == (outcome, error_type)
    assert broken.calls == 1 and tel.errors() == {"sink": 1}
    assert all(body.closed for body in observed.bodies)


# --- real sockets on loopback ---

LOOPBACK = [
    ("refused", "create", None, Outcome.ERROR, "ConnectError"),
    ("close-before-status", "create", "close_before_status", Outcome.ERROR, "RemoteProtocolError"),
    ("close-mid-headers", "stream", "close_mid_headers", Outcome.ERROR, "RemoteProtocolError"),
    ("close-mid-body", "create", "close_mid_body", Outcome.ERROR, "RemoteProtocolError"),
    ("close-mid-stream", "stream", "close_mid_stream", Outcome.ERROR, "RemoteProtocolError"),
    ("stall-until-timeout", "create", "stall", Outcome.ERROR, "ReadTimeout"),
    ("ok", "create", "ok", Outcome.OK, None),
    ("ok-stream", "stream", "ok_stream", Outcome.OK, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("style", "plan", "outcome", "error_type"),
    [pytest.param(*row[1:], id=row[0]) for row in LOOPBACK],
)
def test_loopback_faults(
    mode: Any,
    telemetry: Any,
    fault_server: FaultServer,
    style: str,
    plan: str | None,
    outcome: Outcome,
    error_type: str | None,
) -> None:
    """Real connection faults: the caller's view is unchanged, one record per attempt."""
    url = fault_server.url if plan else f"http://127.0.0.1:{closed_port()}"
    options = {"base_url": url, "timeout": 0.5}

    def inner() -> Any:
        return (httpx2.AsyncHTTPTransport if mode.is_async else httpx2.HTTPTransport)()

    if plan:
        fault_server.plan(plan)
    without = sdk_call(mode, inner(), style, **options)
    tel: Telemetry = telemetry(RaisingSink())
    if plan:
        fault_server.plan(plan)
    with_ = sdk_call(mode, mode.observing(tel.observer, inner()), style, **options)
    assert with_ == without
    assert (with_.type is None) is (outcome is Outcome.OK)
    (ex,) = tel.sink.exchanges
    assert (ex.outcome, ex.error_type) == (outcome, error_type)
    assert tel.errors() == {"sink": 1}


# --- the caller stops early ---


class TestEarlyClose:
    def test_stream_helper_left_after_two_events(
        self, mode: Any, telemetry: Any
    ) -> None:
        """Leaving ``messages.stream()`` early: closed early, the inner body closed."""
        tel: Telemetry = telemetry()
        replies = Replies(stream_reply())
        http = mode.http_client(httpx2, transport=mode.observing(tel.observer, replies.transport()))  # fmt: skip
        client = mode.anthropic(anthropic, http, max_retries=0)
        if mode.is_async:

            async def run() -> None:
                async with client.messages.stream(**PARAMS) as stream:
                    n = 0
                    async for _ in stream:
                        n += 1
                        if n == 2:
                            break

            mode.run(run)
        else:
            with client.messages.stream(**PARAMS) as stream:
                for n, _ in enumerate(stream):
                    if n == 1:
                        break
        mode.close(http)
        (ex,) = tel.sink.exchanges
        assert ex.outcome is Outcome.CLOSED_EARLY and ex.closed_early
        assert ex.message is not None and ex.message.id
        assert replies.bodies[0].closed
        assert tel.value("ptc_exchanges_total", outcome="closed_early") == 1

    def test_closing_twice_and_reading_after_close(self, telemetry: Any) -> None:
        """close() twice, iterating a closed stream: still exactly one record."""
        tel: Telemetry = telemetry()
        replies = Replies(stream_reply())
        with httpx2.Client(transport=tel.observer.transport(replies.transport())) as c:
            client = anthropic.Anthropic(api_key="k", base_url="http://api.test", http_client=c, max_retries=0)  # fmt: skip
            stream = client.messages.create(stream=True, **PARAMS)
            next(iter(stream))
            stream.close()
            stream.close()
            with pytest.raises((httpx2.StreamClosed, httpx2.StreamConsumed)):
                list(stream.response.iter_raw())
        assert len(tel.sink.exchanges) == 1
        assert tel.sink.last.outcome is Outcome.CLOSED_EARLY


# --- cancellation and timeouts in async code ---


class TestCancellation:
    @pytest.mark.anyio
    @pytest.mark.parametrize("observed", [False, True], ids=["plain", "observed"])
    async def test_cancel_while_awaiting_headers(
        self, telemetry: Any, observed: bool
    ) -> None:
        """A task cancelled while the inner transport waits for headers: cancelled the
        same way; with the observer, one closed-early record."""
        tel: Telemetry = telemetry()
        replies = Replies(Reply(hang_at_send=True))
        inner = replies.transport()
        transport = tel.observer.async_transport(inner) if observed else inner
        async with httpx2.AsyncClient(transport=transport) as http:
            client = anthropic.AsyncAnthropic(api_key="k", base_url="http://api.test", http_client=http, max_retries=0)  # fmt: skip
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(lambda: client.messages.create(**PARAMS))
                    for _ in range(1000):  # until the request reached the server
                        if replies.requests:
                            break
                        await anyio.sleep(0)
                    scope.cancel()
        assert scope.cancelled_caught and len(replies.requests) == 1
        if observed:
            (ex,) = tel.sink.exchanges
            assert (ex.outcome, ex.error_type, ex.status_code) == (
                Outcome.CLOSED_EARLY, None, None,
            )  # fmt: skip
        else:
            assert tel.sink.exchanges == []

    @pytest.mark.anyio
    async def test_cancel_mid_stream_with_the_sdk(self, telemetry: Any) -> None:
        """A task cancelled while reading a stream (SDK helper): one closed-early record
        with the partial message; the inner body closed."""
        tel: Telemetry = telemetry()
        replies = Replies(stream_reply(hang_at=5))
        async with httpx2.AsyncClient(transport=tel.observer.async_transport(replies.transport())) as http:  # fmt: skip
            client = anthropic.AsyncAnthropic(api_key="k", base_url="http://api.test", http_client=http, max_retries=0)  # fmt: skip
            seen = 0
            with anyio.CancelScope() as scope:
                async with client.messages.stream(**PARAMS) as stream:
                    async for _ in stream:
                        seen += 1
                        if replies.bodies[0].pulled == 5:
                            scope.cancel()
        assert scope.cancelled_caught and seen >= 1
        (ex,) = tel.sink.exchanges
        assert ex.outcome is Outcome.CLOSED_EARLY and ex.error_type is None
        assert (
            ex.message is not None and ex.message.id == "msg_011CZq9Qa7Vd3Lx8Hs2KtN5c"
        )
        assert replies.bodies[0].closed

    @pytest.mark.anyio
    @pytest.mark.parametrize("observed", [False, True], ids=["plain", "observed"])
    async def test_wait_for_timeout(self, telemetry: Any, observed: bool) -> None:
        """``asyncio.wait_for`` giving up: the same TimeoutError; one closed-early record."""
        tel: Telemetry = telemetry()
        replies = Replies(Reply(hang_at_send=True))
        inner = replies.transport()
        transport = tel.observer.async_transport(inner) if observed else inner
        async with httpx2.AsyncClient(transport=transport) as http:
            client = anthropic.AsyncAnthropic(api_key="k", base_url="http://api.test", http_client=http, max_retries=0)  # fmt: skip
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(client.messages.create(**PARAMS), 0.05)
        assert len(tel.sink.exchanges) == (1 if observed else 0)
        if observed:
            assert tel.sink.last.outcome is Outcome.CLOSED_EARLY


def test_keyboard_interrupt_from_the_inner_transport(telemetry: Any) -> None:
    """A BaseException at send goes to the caller as it is (the SDK does not catch it);
    the exchange is recorded once, as closed early (the caller gave up)."""
    tel: Telemetry = telemetry()
    interrupt = KeyboardInterrupt()
    replies = Replies(Reply(raise_at_send=interrupt))
    with httpx2.Client(transport=tel.observer.transport(replies.transport())) as http:
        client = anthropic.Anthropic(api_key="k", base_url="http://api.test", http_client=http, max_retries=0)  # fmt: skip
        with pytest.raises(KeyboardInterrupt) as info:
            client.messages.create(**PARAMS)
    assert info.value is interrupt
    (ex,) = tel.sink.exchanges
    assert ex.outcome is Outcome.CLOSED_EARLY


# --- responses never closed ---


def live_recorders() -> int:
    """ExchangeRecorder objects still alive."""
    gc.collect()
    return sum(isinstance(o, ExchangeRecorder) for o in gc.get_objects())


def test_dropped_sdk_streams_are_finished_once_and_freed(telemetry: Any) -> None:
    """200 SDK streams dropped unclosed (half unread, half after one event): each one is
    recorded exactly once, as closed early, and no recorder stays alive."""
    tel: Telemetry = telemetry()
    before = live_recorders()
    replies = Replies(repeat=stream_reply())
    with httpx2.Client(transport=tel.observer.transport(replies.transport())) as http:
        client = anthropic.Anthropic(api_key="k", base_url="http://api.test", http_client=http, max_retries=0)  # fmt: skip
        for i in range(200):
            stream = client.messages.create(stream=True, **PARAMS)
            if i % 2:
                next(iter(stream))
            del stream
        gc.collect()
    assert len(tel.sink.exchanges) == 200
    assert {ex.outcome for ex in tel.sink.exchanges} == {Outcome.CLOSED_EARLY}
    assert len({ex.id for ex in tel.sink.exchanges}) == 200
    assert live_recorders() == before


@pytest.mark.anyio
async def test_dropped_async_sdk_streams(telemetry: Any) -> None:
    """The same with the async SDK: dropped streams finish once each, as closed early."""
    tel: Telemetry = telemetry()
    replies = Replies(repeat=stream_reply())
    async with httpx2.AsyncClient(transport=tel.observer.async_transport(replies.transport())) as http:  # fmt: skip
        client = anthropic.AsyncAnthropic(api_key="k", base_url="http://api.test", http_client=http, max_retries=0)  # fmt: skip
        for _ in range(50):
            stream = await client.messages.create(stream=True, **PARAMS)
            await stream.__aiter__().__anext__()
            del stream
        for _ in range(200):  # the loop finalizes the bodies' async generators
            gc.collect()
            await anyio.sleep(0)
            if len(tel.sink.exchanges) == 50:
                break
    assert len(tel.sink.exchanges) == 50
    assert {ex.outcome for ex in tel.sink.exchanges} == {Outcome.CLOSED_EARLY}


# --- a sink that blocks ---


class BlockingSink:
    """Blocks the exchange whose request names ``model`` until released."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.entered = threading.Event()
        self.release = threading.Event()
        self.seen: list[str | None] = []

    def on_exchange(self, exchange: Exchange) -> None:
        self.seen.append(exchange.request.model)
        if exchange.request.model == self.model:
            self.entered.set()
            self.release.wait(30)  # bounded: the test fails rather than hangs


def test_blocking_sink_holds_its_caller_only(telemetry: Any) -> None:
    """Sinks run inline at finish: the caller whose exchange is in a blocked sink waits;
    other threads' exchanges go through the whole pipeline meanwhile (no lock held)."""
    blocking = BlockingSink("claude-blocked")
    tel: Telemetry = telemetry(blocking)
    replies = Replies(repeat=json_reply("01_direct_tool_use.json"))
    http = httpx2.Client(transport=tel.observer.transport(replies.transport()))
    client = anthropic.Anthropic(api_key="k", base_url="http://api.test", http_client=http, max_retries=0)  # fmt: skip
    done = threading.Event()

    def blocked_call() -> None:
        client.messages.create(**{**PARAMS, "model": "claude-blocked"})
        done.set()

    thread = threading.Thread(target=blocked_call, daemon=True)
    thread.start()
    assert blocking.entered.wait(30)
    others = [client.messages.create(**PARAMS) for _ in range(20)]
    assert len(others) == 20 and not done.is_set()
    assert blocking.seen.count(MODEL) == 20
    # The built-in sinks run before the ones given: the blocked exchange is counted.
    assert tel.value("ptc_exchanges_total", outcome="ok") == 21
    blocking.release.set()
    thread.join(30)
    assert done.is_set()
    assert len(tel.sink.exchanges) == 21
    http.close()
