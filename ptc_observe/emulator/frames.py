"""Server-sent events for streamed responses (``ptc-wire-format.md`` §4).

A streamed response is built from the same message body a non-streamed one
returns, in one of two shapes:

* ``blocks`` (the usual one): ``message_start`` with empty content, then per
  block ``content_block_start`` / ``content_block_delta``* / ``content_block_stop``,
  then ``message_delta`` (stop reason, container, cumulative usage) and
  ``message_stop``; a ``ping`` follows the first block start. Model-written
  blocks stream as deltas (text in word groups; tool inputs as
  ``input_json_delta`` chunks split anywhere, the first one empty). Programmatic
  ``tool_use`` and result blocks arrive complete in ``content_block_start``.
* ``prepopulated``: one ``message_start`` that already carries the whole message
  (content, container, ``stop_reason``), then ``message_stop``, as recorded for
  PTC continuations.

Every event has an ``event:`` line, its JSON ``type`` equals the event name,
and payloads are compact JSON with raw UTF-8.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .tokens import compact_json, count_text

_PIECES = re.compile(r"\s*\S+|\s+$")


@dataclass(frozen=True)
class Frame:
    """One encoded SSE event.

    Attributes:
        event: the event name.
        data: the bytes on the wire (``event: …\\ndata: …\\n\\n``).
        tokens: output tokens it carries (drives the per-token delay).
    """

    event: str
    data: bytes
    tokens: int = 0


def pad_data_line(frame: Frame, spaces: int) -> Frame:
    """The frame with ``spaces`` trailing spaces after its data line's JSON.

    Recorded streams pad their ``data:`` lines this way; a spec-exact SSE parser keeps
    them in the data, and JSON ignores trailing whitespace.
    """
    if spaces <= 0 or not frame.data.endswith(b"\n\n"):
        return frame
    return Frame(frame.event, frame.data[:-2] + b" " * spaces + b"\n\n", frame.tokens)


def encode_event(name: str, payload: dict[str, Any]) -> Frame:
    """Encode one event; ``tokens`` is estimated from its text or JSON delta."""
    data = f"event: {name}\ndata: {compact_json(payload)}\n\n".encode()
    tokens = 0
    delta = payload.get("delta")
    if name == "content_block_delta" and isinstance(delta, dict):
        tokens = count_text(str(delta.get("text", delta.get("partial_json", ""))))
    return Frame(name, data, tokens)


def text_chunks(text: str, rng: random.Random) -> list[str]:
    """Split ``text`` into deltas of one to four words (leading spaces kept)."""
    pieces = _PIECES.findall(text)
    chunks: list[str] = []
    while pieces:
        size = rng.randint(1, 4)
        chunks.append("".join(pieces[:size]))
        pieces = pieces[size:]
    return chunks or [text]


def json_chunks(value: Any, rng: random.Random) -> list[str]:
    """Split a tool input's JSON into ``partial_json`` pieces; the first is ``""``."""
    text = json.dumps(value, ensure_ascii=False)
    chunks = [""]
    while text:
        size = rng.randint(8, 40)
        chunks.append(text[:size])
        text = text[size:]
    return chunks


def message_frames(
    message: dict[str, Any],
    whole: Sequence[bool],
    *,
    rng: random.Random,
    start_usage: dict[str, Any] | None,
    delta_usage: dict[str, Any],
    shape: str = "blocks",
) -> list[Frame]:
    """The events of one streamed response.

    Args:
        message: the complete message body (as a non-streamed response).
        whole: per content block, whether it arrives complete in its start event.
        rng: generator for chunk sizes (seeded per response).
        start_usage: ``message_start.message.usage`` (``None``: sent as ``null``).
        delta_usage: ``message_delta.usage`` (cumulative totals).
        shape: ``"blocks"`` or ``"prepopulated"``.
    """
    if shape == "prepopulated":
        return [
            encode_event(
                "message_start", {"type": "message_start", "message": message}
            ),
            encode_event("message_stop", {"type": "message_stop"}),
        ]
    start = copy.deepcopy(message)
    start.update(
        content=[],
        stop_reason=None,
        stop_sequence=None,
        stop_details=None,
        usage=start_usage,
    )
    if "container" in start:
        start["container"] = None  # the real value arrives in message_delta (§4.3)
    frames = [
        encode_event("message_start", {"type": "message_start", "message": start})
    ]
    for index, (block, complete) in enumerate(
        zip(message["content"], whole, strict=True)
    ):
        block_frames = _block_frames(index, block, complete, rng)
        if index == 0:  # recorded streams ping right after the first block starts
            block_frames.insert(1, encode_event("ping", {"type": "ping"}))
        frames.extend(block_frames)
    delta: dict[str, Any] = {
        "stop_reason": message["stop_reason"],
        "stop_sequence": message["stop_sequence"],
        "stop_details": None,
    }
    if "container" in message:
        delta["container"] = message["container"]
    frames.append(
        encode_event(
            "message_delta",
            {"type": "message_delta", "delta": delta, "usage": delta_usage},
        )
    )
    frames.append(encode_event("message_stop", {"type": "message_stop"}))
    return frames


def _block_frames(
    index: int, block: dict[str, Any], complete: bool, rng: random.Random
) -> list[Frame]:
    def event(name: str, **payload: Any) -> Frame:
        return encode_event(name, {"type": name, "index": index, **payload})

    if complete:
        return [
            event("content_block_start", content_block=block),
            event("content_block_stop"),
        ]
    if block["type"] == "text":
        frames = [
            event("content_block_start", content_block={"type": "text", "text": ""})
        ]
        frames += [
            event("content_block_delta", delta={"type": "text_delta", "text": chunk})
            for chunk in text_chunks(block["text"], rng)
        ]
    else:
        skeleton = {**block, "input": {}}
        frames = [event("content_block_start", content_block=skeleton)]
        frames += [
            event(
                "content_block_delta",
                delta={"type": "input_json_delta", "partial_json": chunk},
            )
            for chunk in json_chunks(block.get("input", {}), rng)
        ]
    frames.append(event("content_block_stop"))
    return frames


def error_frame(
    error_type: str = "overloaded_error", message: str = "Overloaded"
) -> Frame:
    """A mid-stream ``error`` event (no ``request_id``, as in the docs' example)."""
    return encode_event(
        "error", {"type": "error", "error": {"type": error_type, "message": message}}
    )


def fault_cut_point(frames: Sequence[Frame], after: int | None) -> int:
    """How many events to send before a stream fault: ``after`` or half, before ``message_delta``."""
    last = next(
        (i for i, f in enumerate(frames) if f.event == "message_delta"), len(frames) - 1
    )
    wanted = len(frames) // 2 if after is None else after
    return max(0, min(wanted, last))
