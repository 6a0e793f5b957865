"""Builds ``events.Exchange`` records from the recorded fixtures, on a controlled clock.

The factory plays both clocks of an exchange: ``perf`` (``perf_counter`` seconds, for
durations) and the wall clock (``sent_unix_ns``), so every duration, turnaround and
container deadline in a test is exact. The wall clock starts at 2026-08-21T09:14:00Z,
before the fixtures' container deadlines (09:18:37Z and later).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ptc_observe.events import (
    Exchange,
    Outcome,
    RateLimit,
    Reply,
    RequestFacts,
    RunPosition,
    Timings,
    ToolDeclaration,
    ToolResultSent,
)
from ptc_observe.models import Message
from ptc_observe.wire.accumulate import StreamAccumulator

DATA_DIR = Path(__file__).parent.parent / "data" / "anthropic"
WALL_START = datetime(2026, 8, 21, 9, 14, 0, tzinfo=timezone.utc).timestamp()
PERF_START = 1000.0
MODEL = "claude-sonnet-4-6"
ERROR_FIXTURES = {
    "06_error_429_rate_limit.json": 429,
    "07_error_529_overloaded.json": 529,
}
RATE_LIMITS = (
    RateLimit("requests", 4000, 3999, "2026-08-21T09:14:08Z"),
    RateLimit("input_tokens", 2000000, 1998000, "2026-08-21T09:14:08Z"),
    RateLimit("output_tokens", 400000, 400000, "2026-08-21T09:14:08Z"),
    RateLimit("tokens", 2400000, 2398000, "2026-08-21T09:14:08Z"),
)
PTC_TOOLS = (
    ToolDeclaration("code_execution", "code_execution_20260120"),
    ToolDeclaration("query_sales", None, ("code_execution_20260120",)),
)


def fixture_bytes(name: str) -> bytes:
    """The raw body of a fixture file."""
    return (DATA_DIR / name).read_bytes()


def load_message(name: str) -> Message:
    """The message of a JSON fixture."""
    return Message.model_validate_json(fixture_bytes(name))


class StreamFacts:
    """What the real stream accumulator makes of an SSE fixture."""

    def __init__(self, name: str, *, cut_after: int | None = None) -> None:
        body = fixture_bytes(name)
        if cut_after is not None:
            body = body[:cut_after]
        acc = StreamAccumulator(capture_content=True)
        acc.feed(body)
        acc.close()
        self.message = acc.message
        self.complete = acc.complete
        self.events = acc.events
        self.output_chunks = acc.output_chunks


class ExchangeFactory:
    """Makes exchanges one after the other on a simulated clock.

    ``clock()`` is the wall clock (seconds) to give a ``Correlator``; ``advance()`` moves
    both clocks forward, as the application's own work between exchanges does.
    """

    def __init__(self) -> None:
        self.perf = PERF_START
        self._ids = itertools.count(1)

    @property
    def wall(self) -> float:
        """Wall-clock seconds matching ``perf`` now."""
        return WALL_START + (self.perf - PERF_START)

    def clock(self) -> float:
        """The wall clock, for ``Correlator(clock=...)``."""
        return self.wall

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.perf += seconds

    def make(
        self,
        fixture: str | None = None,
        *,
        message: Message | None = None,
        model: str | None = MODEL,
        stream: bool | None = None,
        duration: float = 1.5,
        ttft: float | None = 0.25,
        outcome: Outcome | None = None,
        status: int | None = None,
        error_type: str | None = None,
        error_message: str | None = None,
        container_id: str | None = None,
        tool_results: Sequence[ToolResultSent] = (),
        tools: Sequence[ToolDeclaration] = (),
        retry_count: int = 0,
        rate_limits: Sequence[RateLimit] = (),
        request_id: str | None = "req_011CZqA7Nd3Wk8Hs2Lq5TxVb",
        parent_context: Any = None,
        server_address: str = "api.anthropic.com",
        server_port: int | None = 443,
        request_content: Any = None,
        max_tokens: int | None = 1024,
        closed_early: bool = False,
        cut_after: int | None = None,
        messages: int = 0,
        request_extra: dict[str, Any] | None = None,
    ) -> Exchange:
        """One exchange sent now, finished ``duration`` later (the clock moves on).

        ``fixture`` picks the response: a JSON message, an SSE stream (optionally cut
        after ``cut_after`` bytes), or one of the error bodies (status and error type
        follow). Keywords override what the fixture implies. ``messages``: how many
        messages the request sent (its ``run.messages``); ``request_extra`` sets
        further ``RequestFacts`` fields (``top_k``, ``url``, ...).
        """
        streamed = False
        complete = True
        sse_events = output_chunks = 0
        first_token: float | None = None
        sent = self.perf
        if fixture is not None and fixture.endswith(".sse"):
            facts = StreamFacts(fixture, cut_after=cut_after)
            message = facts.message
            complete = facts.complete
            streamed = True
            sse_events, output_chunks = facts.events, facts.output_chunks
        elif fixture in ERROR_FIXTURES:
            status = status or ERROR_FIXTURES[fixture]
            error = json.loads(fixture_bytes(fixture))["error"]
            error_type = error_type or error["type"]
            error_message = error_message or error["message"]
            complete = False
        elif fixture is not None:
            message = load_message(fixture)
        if streamed and ttft is not None:
            first_token = sent + ttft
        if outcome is None:
            if error_type is not None or (status is not None and status >= 400):
                outcome = Outcome.ERROR
            elif closed_early:
                outcome = Outcome.CLOSED_EARLY
            elif not complete:
                outcome = Outcome.INCOMPLETE
            else:
                outcome = Outcome.OK
        if outcome is not Outcome.OK:
            complete = complete and outcome is not Outcome.ERROR
        request = RequestFacts(
            method="POST",
            path="/v1/messages",
            server_address=server_address,
            server_port=server_port,
            model=model,
            stream=streamed if stream is None else stream,
            max_tokens=max_tokens,
            tools=tuple(tools),
            container_id=container_id,
            tool_results=tuple(tool_results),
            retry_count=retry_count,
            content=request_content,
            run=RunPosition(messages=messages),
            **(request_extra or {}),
        )
        self.perf = sent + duration
        return Exchange(
            id=next(self._ids),
            request=request,
            timings=Timings(
                sent=sent,
                finished=sent + duration,
                sent_unix_ns=int(round((WALL_START + sent - PERF_START) * 1e9)),
                headers=sent + min(duration, 0.2),
                first_token=first_token,
            ),
            outcome=outcome,
            streamed=streamed,
            complete=complete,
            closed_early=closed_early,
            status_code=200 if status is None and fixture is not None else status,
            reply=None if message is None else Reply.from_message(message),
            error_type=error_type,
            error_message=error_message,
            request_id=request_id,
            rate_limits=tuple(rate_limits),
            sse_events=sse_events,
            output_chunks=output_chunks,
            parent_context=parent_context,
        )


def result(
    tool_use_id: str,
    size: int = 100,
    *,
    is_error: bool = False,
    tool: str | None = None,
    programmatic: bool = False,
) -> ToolResultSent:
    """A ``tool_result`` the application sends back, answering a call of ``tool`` (the
    request's history names it; ``None``: not in the history) by that caller."""
    return ToolResultSent(
        tool_use_id=tool_use_id,
        size_bytes=size,
        is_error=is_error,
        tool_name=tool,
        caller_type=None
        if tool is None
        else ("code_execution_20260120" if programmatic else "direct"),
        caller_tool_id="srvtoolu_01HqJ7mVtX2cR9bW4nYk5eLs" if programmatic else None,
    )
