"""Fixtures and reference computations shared by the tests of ``ptc_observe.wire``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ptc_observe.models import (
    ErrorEvent,
    MessageStartEvent,
    MessageStopEvent,
    StreamEvent,
)
from ptc_observe.wire import (
    ServerSentEvent,
    SSEDecoder,
    StreamAccumulator,
    WireError,
    accumulate,
    parse_event,
)

DATA = Path(__file__).resolve().parent.parent / "data"
ANTHROPIC = DATA / "anthropic"
WIRE = DATA / "wire"

SSE_FIXTURES = sorted(ANTHROPIC.glob("*.sse")) + sorted(WIRE.glob("*.sse"))
COMPLETE_STREAMS = [
    p for p in SSE_FIXTURES if not p.name.startswith(("11_", "12_"))
]  # those that end with message_stop
FACT_NAMES = {
    "message_start",
    "content_block_start",
    "message_delta",
    "message_stop",
    "error",
}


def read(path: Path | str) -> bytes:
    """The bytes of a fixture (a path, or a name under data/anthropic or data/wire)."""
    p = Path(path)
    if not p.is_absolute():
        p = ANTHROPIC / p if (ANTHROPIC / p).exists() else WIRE / p
    return p.read_bytes()


def line_end_variants(body: bytes) -> dict[str, bytes]:
    """The body with LF, CRLF and CR line ends (fixtures hold no raw CR or LF in data)."""
    lf = body.replace(b"\r\n", b"\n")
    return {
        "lf": lf,
        "crlf": lf.replace(b"\n", b"\r\n"),
        "cr": lf.replace(b"\n", b"\r"),
    }


def split_at(body: bytes, cuts: Sequence[int]) -> list[bytes]:
    """Cut ``body`` at the given offsets (sorted, duplicates and out-of-range ignored)."""
    points = sorted({c for c in cuts if 0 < c < len(body)})
    chunks, start = [], 0
    for p in points:
        chunks.append(body[start:p])
        start = p
    chunks.append(body[start:])
    return chunks


def decode(
    chunks: Sequence[bytes], **kwargs: Any
) -> tuple[list[ServerSentEvent], SSEDecoder]:
    """Run the spec decoder over the chunks; return its events and the decoder."""
    decoder = SSEDecoder(**kwargs)
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.flush()
    return events, decoder


def message_facts(message: Any) -> dict[str, Any] | None:
    """What the observer reports about a message (None stays None)."""
    if message is None:
        return None
    return {
        "dump": message.model_dump(mode="json"),
        "tool_calls": [
            (c.id, c.name, c.caller.type, c.caller.tool_id) for c in message.tool_calls
        ],
    }


def fast_facts(
    chunks: Sequence[bytes], *, capture_content: bool = False, **kwargs: Any
) -> dict[str, Any]:
    """Facts of a :class:`StreamAccumulator` fed with the chunks.

    The clock reads the index of the chunk being fed, so ``first_token_at`` says which
    chunk completed the first content event.
    """
    now = [-1]
    acc = StreamAccumulator(
        capture_content=capture_content, clock=lambda: float(now[0]), **kwargs
    )
    for i, chunk in enumerate(chunks):
        now[0] = i
        acc.feed(chunk)
    acc.close()
    return {
        "events": acc.events,
        "output_chunks": acc.output_chunks,
        "pings": acc.pings,
        "unknown_events": acc.unknown_events,
        "complete": acc.complete,
        "error": acc.error.model_dump() if acc.error else None,
        "truncated": acc.truncated,
        "dropped": acc._framer.dropped,
        "first_token_at": acc.first_token_at,
        "message": message_facts(acc.message),
    }


def _is_content(event: ServerSentEvent) -> bool:
    if event.event in ("content_block_start", "content_block_delta"):
        return True
    if event.event != "message_start":
        return False
    try:
        parsed = parse_event(event.event, event.data)
    except WireError:
        return False
    return isinstance(parsed, MessageStartEvent) and bool(parsed.message.content)


def reference_facts(
    chunks: Sequence[bytes], *, capture_content: bool = False, **kwargs: Any
) -> dict[str, Any]:
    """The same facts computed the slow way: :class:`SSEDecoder` + :func:`accumulate`."""
    decoder = SSEDecoder(**kwargs)
    events: list[ServerSentEvent] = []
    first_token_at = None
    for i, chunk in enumerate(chunks):
        new = decoder.feed(chunk)
        if first_token_at is None and any(_is_content(e) for e in new):
            first_token_at = float(i)
        events += new
    events += decoder.flush()
    parsed: list[StreamEvent] = []
    for e in events:
        if e.event in FACT_NAMES:
            try:
                parsed.append(parse_event(e.event, e.data))
            except WireError:
                pass
    started = complete = False
    error = None
    for p in parsed:
        if isinstance(p, MessageStartEvent):
            started = True
        elif isinstance(p, MessageStopEvent) and started:
            complete = True
        elif isinstance(p, ErrorEvent) and error is None:
            error = p.error.model_dump()
    message = None
    if started:
        message = accumulate(events if capture_content else parsed, partial=True)
    names = [e.event for e in events]
    return {
        "events": len(events),
        "output_chunks": names.count("content_block_delta"),
        "pings": names.count("ping"),
        "unknown_events": sum(
            n not in FACT_NAMES | {"ping", "content_block_delta", "content_block_stop"}
            for n in names
        ),
        "complete": complete,
        "error": error,
        "truncated": decoder.pending,
        "dropped": decoder.dropped,
        "first_token_at": first_token_at,
        "message": message_facts(message),
    }


# --- small streams written inline by the tests ---


def utc(y: int, mo: int, d: int, h: int, mi: int, s: int, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=timezone.utc)


def run(body: bytes | list[Any], **kwargs: Any) -> StreamAccumulator:
    acc = StreamAccumulator(**kwargs)
    for chunk in [body] if isinstance(body, bytes) else body:
        acc.feed(chunk)
    acc.close()
    return acc


def ev(name: str, obj: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(obj)}\n\n".encode()


START = ev(
    "message_start",
    {
        "type": "message_start",
        "message": {
            "id": "msg_x",
            "model": "claude-sonnet-4-6",
            "content": [],
            "usage": {
                "input_tokens": 10,
                "output_tokens": 1,
                "cache_read_input_tokens": 5,
            },
        },
    },
)
TEXT0 = ev(
    "content_block_start",
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    },
)
STOP0 = ev("content_block_stop", {"type": "content_block_stop", "index": 0})
MSTOP = ev("message_stop", {"type": "message_stop"})


def delta(index: int, d: dict[str, Any]) -> bytes:
    return ev(
        "content_block_delta",
        {"type": "content_block_delta", "index": index, "delta": d},
    )


def text(index: int, t: str) -> bytes:
    return delta(index, {"type": "text_delta", "text": t})
