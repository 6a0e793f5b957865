"""The bodies the benchmark serves and sends: a ~4 KB PTC response, PTC streams of ~200 and ~2,000 events.

Everything is built once, at import, from the committed fixtures in ``tests/data/anthropic/``
so that every configuration sees byte-identical traffic. The 10 MB stream is produced lazily
(:func:`big_stream_chunks`) so that the mock server itself holds no more than one chunk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "BASE_URL",
    "JSON_BODY",
    "JSON_HEADERS",
    "LONG_SSE_CHUNKS",
    "LONG_SSE_EVENTS",
    "MESSAGES_PATH",
    "REQUEST",
    "REQUEST_BODY",
    "REQUEST_HEADERS",
    "SSE_CHUNKS",
    "SSE_EVENTS",
    "SSE_HEADERS",
    "STREAM_REQUEST_BODY",
    "TURN1_REQUEST",
    "big_stream_chunks",
    "big_stream_events",
]

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "data" / "anthropic"

BASE_URL = "http://bench.invalid"
MESSAGES_PATH = "/v1/messages"
MODEL = "claude-sonnet-4-6"
CODE_EXECUTION = "code_execution_20260120"

# Response headers as the real API sends them (names per fixtures/INDEX.md, values invented).
_COMMON_HEADERS = {
    "request-id": "req_011CZqA7Nd3Wk8Hs2Lq5TxVb",
    "anthropic-organization-id": "5d9e2b1c-0000-4000-8000-000000000000",
    "anthropic-ratelimit-requests-limit": "4000",
    "anthropic-ratelimit-requests-remaining": "3999",
    "anthropic-ratelimit-requests-reset": "2026-08-21T09:14:08Z",
    "anthropic-ratelimit-input-tokens-limit": "2000000",
    "anthropic-ratelimit-input-tokens-remaining": "1998000",
    "anthropic-ratelimit-input-tokens-reset": "2026-08-21T09:14:08Z",
    "anthropic-ratelimit-output-tokens-limit": "400000",
    "anthropic-ratelimit-output-tokens-remaining": "400000",
    "anthropic-ratelimit-output-tokens-reset": "2026-08-21T09:14:08Z",
    "anthropic-ratelimit-tokens-limit": "2400000",
    "anthropic-ratelimit-tokens-remaining": "2398000",
    "anthropic-ratelimit-tokens-reset": "2026-08-21T09:14:08Z",
}

# One line of plausible sandbox code; repeated to make the ``code`` input (and the body) longer.
_CODE_LINE = (
    '    rows = json.loads(await query_sales({{"sql": f"SELECT SUM(amount) AS total '
    "FROM sales WHERE region = '{{region}}' AND quarter = 'Q{n}'\"}}))\n"
)


def _long_code(lines: int) -> str:
    head = 'import json\n\ntotals = {}\nfor region in ["West", "East", "Central"]:\n'
    body = "".join(_CODE_LINE.format(n=1 + i % 4) for i in range(lines))
    return head + body + "print(json.dumps(totals))\n"


# The fixtures' containers expired long ago; a live API names one that expires after the
# call. A past expiry would make every exchange end its container (and its code execution)
# on the next sighting: work real traffic does not cause. Same format, same length.
LIVE_EXPIRY = (datetime.now(timezone.utc) + timedelta(days=1)).strftime(
    "%Y-%m-%dT%H:%M:%S.%fZ"
)


def _json_body(target: int = 4096) -> bytes:
    """Fixture 02 with a code string long enough to make the compact body ~``target`` bytes."""
    message: dict[str, Any] = json.loads(
        (FIXTURES / "02_ptc_turn1_response.json").read_bytes()
    )
    message["container"]["expires_at"] = LIVE_EXPIRY
    server_block = message["content"][1]
    lines = 0
    while True:
        server_block["input"]["code"] = _long_code(lines)
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
        if len(body) >= target:
            return body
        lines += 1


JSON_BODY = _json_body()
JSON_HEADERS = {**_COMMON_HEADERS, "content-type": "application/json"}
SSE_HEADERS = {**_COMMON_HEADERS, "content-type": "text/event-stream; charset=utf-8"}


def _frame(payload: dict[str, Any]) -> bytes:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"event: {payload['type']}\ndata: {data}\n\n".encode()


def _words(n: int) -> list[str]:
    vocab = (
        " revenue", " for", " each", " region", " in", " Q2", " with", " a", " short",
        " script", " that", " sums", " the", " sales", " table", " and", " reports",
    )  # fmt: skip
    return [vocab[i % len(vocab)] + (" →" if i % 37 == 0 else "") for i in range(n)]


def _message_start() -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "model": MODEL,
            "id": "msg_011CZq9Qa7Vd3Lx8Hs2KtN5c",
            "type": "message",
            "role": "assistant",
            "content": [],
            "container": None,
            "stop_reason": None,
            "stop_sequence": None,
            "stop_details": None,
            "usage": {
                "input_tokens": 1874,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 3,
                "service_tier": "standard",
            },
        },
    }


def _message_end(output_tokens: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "stop_details": None,
                "container": {
                    "id": "container_011CZq9Q8sHb4Nw6Tx2KcLm7",
                    "expires_at": LIVE_EXPIRY,
                },
            },
            "usage": {"input_tokens": 1874, "output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]


def _sse_events(
    text_deltas: int = 160,
    code_deltas: int = 30,
    code_lines: int = 12,
    output_tokens: int = 246,
) -> list[dict[str, Any]]:
    """A streamed PTC turn: text, server_tool_use with streamed code, programmatic tool_use.

    Args:
        text_deltas: ``text_delta`` events of the text block.
        code_deltas: about this many ``input_json_delta`` chunks carry the code (plus an empty one).
        code_lines: length of the code (lines of :data:`_CODE_LINE`), so that a longer stream
            keeps chunks of the same size.
        output_tokens: the usage the final ``message_delta`` reports.
    """
    events: list[dict[str, Any]] = [_message_start()]
    events.append(
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
    )
    events.append({"type": "ping"})
    for word in _words(text_deltas):
        delta = {"type": "text_delta", "text": word}
        events.append({"type": "content_block_delta", "index": 0, "delta": delta})
    events.append({"type": "content_block_stop", "index": 0})
    server_id = "srvtoolu_01Pd6Wq2Nx8Hk4Rt7Lb3VmYs"
    events.append(
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "server_tool_use",
                "id": server_id,
                "name": "code_execution",
                "input": {},
                "caller": {"type": "direct"},
            },
        }
    )
    # The code arrives as input_json_delta chunks split anywhere, the first one empty (ref §4.4).
    code_json = json.dumps({"code": _long_code(code_lines)})
    step = -(-len(code_json) // code_deltas)
    parts = [""] + [code_json[i : i + step] for i in range(0, len(code_json), step)]
    for part in parts:
        delta = {"type": "input_json_delta", "partial_json": part}
        events.append({"type": "content_block_delta", "index": 1, "delta": delta})
    events.append({"type": "content_block_stop", "index": 1})
    events.append(
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_01Jr5Kc2Wq9Tm6Bx3Lv8HnPd",
                "name": "query_sales",
                "input": {
                    "sql": "SELECT SUM(amount) AS total FROM sales WHERE region = 'West' AND quarter = 'Q2'"
                },
                "caller": {"type": CODE_EXECUTION, "tool_id": server_id},
            },
        }
    )
    events.append({"type": "content_block_stop", "index": 2})
    events.extend(_message_end(output_tokens=output_tokens))
    return events


_EVENTS = _sse_events()
SSE_EVENTS = len(_EVENTS)
"""Number of SSE events in the streamed workload (the divisor of the per-event cost)."""
SSE_CHUNKS: tuple[bytes, ...] = tuple(_frame(e) for e in _EVENTS)
"""The streamed workload, one network chunk per event, as a live stream arrives."""

# The same turn ~10x longer: the same message_start, blocks, message_delta and message_stop,
# 10x the text deltas and 10x the code (in 10x the input_json_delta chunks of the same size).
# Timed against the short one in the same rounds, it gives the marginal cost of one more event:
# (overhead_long - overhead_short) / (LONG_SSE_EVENTS - SSE_EVENTS), free of the fixed
# per-exchange cost that the all-in average (overhead / SSE_EVENTS) carries.
_LONG_EVENTS = _sse_events(
    text_deltas=1690, code_deltas=300, code_lines=120, output_tokens=2460
)
LONG_SSE_EVENTS = len(_LONG_EVENTS)
"""Number of SSE events in the long streamed workload."""
LONG_SSE_CHUNKS: tuple[bytes, ...] = tuple(_frame(e) for e in _LONG_EVENTS)
"""The long streamed workload, one network chunk per event."""


def big_stream_events(total_bytes: int, *, text_len: int = 96) -> int:
    """How many SSE events :func:`big_stream_chunks` yields for ``total_bytes``."""
    delta = _frame(
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "x" * text_len},
        }
    )
    return 5 + max(1, total_bytes // len(delta))


def big_stream_chunks(
    total_bytes: int, *, text_len: int = 96, chunk_events: int = 8
) -> Iterator[bytes]:
    """A plain text stream of about ``total_bytes``, generated lazily, ``chunk_events`` events a chunk.

    The text deltas differ from each other (a counter inside the text), so that an observer that keeps
    the whole text cannot share one string object between them.
    """
    yield _frame(_message_start())
    yield _frame(
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
    )
    sample = _frame(
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "x" * text_len},
        }
    )
    count = max(1, total_bytes // len(sample))
    pad = "y" * (text_len - 10)
    batch: list[bytes] = []
    for i in range(count):
        delta = {"type": "text_delta", "text": f"{i:010d}{pad}"}
        batch.append(
            _frame({"type": "content_block_delta", "index": 0, "delta": delta})
        )
        if len(batch) == chunk_events:
            yield b"".join(batch)
            batch.clear()
    if batch:
        yield b"".join(batch)
    yield _frame({"type": "content_block_stop", "index": 0})
    end = _message_end(output_tokens=count)
    end[0]["delta"].update(stop_reason="end_turn", container=None)
    yield b"".join(_frame(e) for e in end)


def _request() -> dict[str, Any]:
    """A PTC resume request: the turn-1 answer, a tool_result for the programmatic call, the container."""
    turn1: dict[str, Any] = json.loads(
        (FIXTURES / "02_ptc_turn1_response.json").read_bytes()
    )
    rows = json.dumps([{"total": 1_284_330.5}])
    return {
        "model": MODEL,
        "max_tokens": 4096,
        "container": turn1["container"]["id"],
        "messages": [
            {
                "role": "user",
                "content": "Compare Q2 revenue for West, East and Central.",
            },
            {"role": "assistant", "content": turn1["content"]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": turn1["content"][2]["id"],
                        "content": rows,
                    }
                ],
            },
        ],
        "tools": [
            {"type": CODE_EXECUTION, "name": "code_execution"},
            {
                "name": "query_sales",
                "description": "Run read-only SQL on the sales DB. Returns a JSON array of row objects.",
                "input_schema": {
                    "type": "object",
                    "properties": {"sql": {"type": "string"}},
                    "required": ["sql"],
                },
                "allowed_callers": [CODE_EXECUTION],
            },
        ],
    }


REQUEST: dict[str, Any] = _request()
"""Keyword arguments for ``client.messages.create`` (without ``stream``)."""
TURN1_REQUEST: dict[str, Any] = {
    **{k: v for k, v in REQUEST.items() if k != "container"},
    "messages": REQUEST["messages"][:1],
}
"""A first PTC turn (no container yet): what the concurrency run sends to the emulator, which
answers it with a programmatic tool call (and would refuse the fixtures' container id)."""
REQUEST_BODY = json.dumps(REQUEST, separators=(",", ":")).encode()
STREAM_REQUEST_BODY = json.dumps(
    {**REQUEST, "stream": True}, separators=(",", ":")
).encode()
# What a raw-httpx caller sends; the same names the SDK sends, lower-case.
REQUEST_HEADERS = {
    "content-type": "application/json",
    "accept": "application/json",
    "anthropic-version": "2026-10-21",
    "x-api-key": "sk-bench-not-a-key",
}


def _with_round(value: Any, n: int) -> Any:
    # The turn-1 content with its ids made unique to round n (as a real run's are).
    if isinstance(value, dict):
        return {
            k: f"{v}_{n}"
            if k in ("id", "tool_use_id", "tool_id")
            else _with_round(v, n)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_with_round(v, n) for v in value]
    return value


def run_request_body(rounds: int, prompt: str = "") -> bytes:
    """A PTC run's request after ``rounds`` tool round trips: the bench's resume request
    (``REQUEST``) with its assistant turn and tool result repeated, ids unique per round.
    ``prompt`` is appended to the user's own message (a different conversation)."""
    first, turn, answer = REQUEST["messages"]
    messages = [{**first, "content": first["content"] + prompt}]
    for n in range(rounds):
        messages += [_with_round(turn, n), _with_round(answer, n)]
    return json.dumps({**REQUEST, "messages": messages}, separators=(",", ":")).encode()
