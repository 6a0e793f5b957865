"""The rules that turn parsed stream events into a message (shared by both accumulators).

Indexes map to blocks through a dict, so a start out of order still gets its deltas;
text and thinking deltas are joined lazily (no quadratic string growth); a tool's
``input_json_delta`` pieces are parsed once, at ``content_block_stop``. Anything that
does not fit (a delta for an unknown block, a second ``message_start``, ...) is counted
as an anomaly and skipped.
"""

from __future__ import annotations

import json
from typing import Any

from ..models import (
    APIError,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    ErrorEvent,
    Message,
    MessageDeltaEvent,
    MessageStartEvent,
    MessageStopEvent,
    PingEvent,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    UnknownEvent,
)

__all__ = ["Builder"]

_NOTHING_BEFORE_START = (
    PingEvent,
    UnknownEvent,
    ContentBlockDeltaEvent,
    ContentBlockStopEvent,
)


class Builder:
    """Applies parsed events to a message; the rules of the official SDK accumulators."""

    def __init__(self) -> None:
        self.message: Message | None = None
        self.complete = False
        self.error: APIError | None = None
        self.anomalies = 0
        self.problem = ""  # the first anomaly, for strict accumulate()
        self._blocks: dict[int, Any] = {}  # event index -> content block
        self._text: dict[int, list[str]] = {}  # text/thinking deltas, joined lazily
        self._json: dict[int, list[str]] = {}  # input_json_delta pieces until the stop

    def anomaly(self, what: str) -> None:
        self.anomalies += 1
        self.problem = self.problem or what

    def apply(self, event: StreamEvent) -> None:
        if isinstance(event, ContentBlockDeltaEvent):
            self.delta(event.index, event.delta)
        elif isinstance(event, MessageStartEvent):
            if self.message is not None:
                self.anomaly("a second message_start")
            else:
                self.message = event.message
                self._blocks = dict(enumerate(event.message.content))
        elif isinstance(event, ErrorEvent):
            if self.error is None:
                self.error = _with_request_id(event)
        elif self.message is None:
            # As the SDK's stream helpers do, events before message_start pass; the
            # ones that carry facts (a block start, the stop reason, the end) are lost
            # there and counted. A delta or block stop has nothing to lose: both
            # accumulators (facts only, and capture) let it pass alike.
            if not isinstance(event, _NOTHING_BEFORE_START):
                self.anomaly(f"{event.type} before message_start")
        elif isinstance(event, ContentBlockStartEvent):
            self._start(self.message, event)
        elif isinstance(event, ContentBlockStopEvent):
            self._stop(event.index)
        elif isinstance(event, MessageDeltaEvent):
            self._message_delta(self.message, event)
        elif isinstance(event, MessageStopEvent):
            self.complete = True
        # ping and unknown events carry nothing to accumulate

    def build(self) -> Message | None:
        """The message so far, with the text deltas received until now."""
        for index, pieces in self._text.items():
            block = self._blocks[index]
            if isinstance(block, TextBlock):
                block.text += "".join(pieces)
            else:
                block.thinking += "".join(pieces)
        self._text.clear()
        return self.message

    def _start(self, message: Message, event: ContentBlockStartEvent) -> None:
        index = event.index
        if index in self._blocks:
            self.anomaly(f"content block {index} started twice")
            return
        if index != len(message.content):
            self.anomaly(f"content block {index} out of order")
        self._blocks[index] = event.content_block
        message.content.append(event.content_block)

    def delta(self, index: int, delta: dict[str, Any]) -> None:
        """Apply one ``content_block_delta``."""
        if self.message is None:
            return  # before message_start: see apply
        block = self._blocks.get(index)
        if block is None:
            self.anomaly(f"delta for unknown content block {index}")
            return
        kind = delta.get("type")
        if kind == "text_delta" or kind == "thinking_delta":
            text = delta.get("text" if kind == "text_delta" else "thinking")
            cls = TextBlock if kind == "text_delta" else ThinkingBlock
            if isinstance(block, cls) and isinstance(text, str):
                self._text.setdefault(index, []).append(text)
            else:
                self.anomaly(f"{kind} does not fit content block {index}")
        elif kind == "input_json_delta":
            partial = delta.get("partial_json")
            if isinstance(block, (TextBlock, ThinkingBlock)) or not isinstance(
                partial, str
            ):
                self.anomaly(f"input_json_delta does not fit block {index}")
            else:
                self._json.setdefault(index, []).append(partial)
        elif kind == "signature_delta":
            signature = delta.get("signature")
            if isinstance(block, ThinkingBlock) and isinstance(signature, str):
                block.signature = signature
            else:
                self.anomaly(f"signature_delta does not fit block {index}")
        elif kind == "citations_delta":
            citations = getattr(block, "citations", None)
            if not isinstance(citations, list):
                citations = []
                setattr(block, "citations", citations)  # noqa: B010 (an extra field)
            citations.append(delta.get("citation"))
        # other delta types are new: nothing we know how to accumulate

    def _stop(self, index: int) -> None:
        if index not in self._blocks:
            self.anomaly(f"stop of unknown content block {index}")
            return
        raw = "".join(self._json.pop(index, ()))
        if not raw.strip():
            return  # complete in content_block_start (programmatic tool_use), or empty
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, dict):
            setattr(self._blocks[index], "input", value)  # noqa: B010
        else:
            self.anomaly(f"content block {index}: tool input is not a JSON object")

    def _message_delta(self, message: Message, event: MessageDeltaEvent) -> None:
        delta = event.delta
        for name in ("stop_reason", "stop_sequence", "stop_details"):
            if name in delta.model_fields_set:
                setattr(message, name, getattr(delta, name))
        if delta.container is not None:
            message.container = delta.container
        usage = message.usage
        for name, value in event.usage:  # cumulative: replace, never add
            if value is not None:
                setattr(usage, name, value)


def _with_request_id(event: ErrorEvent) -> APIError:
    """The event's error, with the event's top-level ``request_id`` if it has one."""
    error = event.error
    extra = event.model_extra
    request_id = None if extra is None else extra.get("request_id")
    if error.request_id is None and isinstance(request_id, str):
        return error.model_copy(update={"request_id": request_id})
    return error
