"""Opt-in content capture: Messages API bodies in the GenAI semconv message schemas.

Nothing here runs unless content capture is switched on. Every string part is truncated
to a limit *before* JSON serialisation, so the recorded attribute is always valid JSON.
The user's redaction hook sees the schema-shaped value (lists and dicts of strings)
before anything is serialised; a hook that fails drops the content, never the span.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from ...models import (
    Message,
    ServerToolUseBlock,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
)
from . import _semconv as sc

__all__ = [
    "CaptureMode",
    "capture_mode",
    "finish_reason",
    "input_content",
    "output_messages",
    "redacted",
    "to_json",
    "requested_tool_arguments",
    "tool_call_arguments",
    "tool_result_content",
]

logger = logging.getLogger("ptc_observe")

TRUNCATED = "…[truncated]"
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_call",
}


class CaptureMode:
    """Where captured content goes: span attributes, a span event, both, or nowhere."""

    __slots__ = ("event", "span")

    def __init__(self, span: bool, event: bool) -> None:
        self.span = span
        self.event = event

    @property
    def enabled(self) -> bool:
        """True when content is recorded anywhere."""
        return self.span or self.event


def capture_mode(capture: bool | None, environ: Mapping[str, str]) -> CaptureMode:
    """Resolve the capture switch.

    ``capture=None`` reads ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
    (``NO_CONTENT`` | ``SPAN_ONLY`` | ``EVENT_ONLY`` | ``SPAN_AND_EVENT``; ``true`` means
    ``SPAN_ONLY``). ``True`` turns capture on (where the variable says, else on spans);
    ``False`` turns it off whatever the variable says.
    """
    value = environ.get(sc.CAPTURE_CONTENT_ENV, "").strip().upper()
    span = value in ("SPAN_ONLY", "SPAN_AND_EVENT", "TRUE", "1")
    event = value in ("EVENT_ONLY", "SPAN_AND_EVENT")
    if capture is False:
        return CaptureMode(False, False)
    if capture is True and not (span or event):
        return CaptureMode(True, False)
    return CaptureMode(span, event)


def finish_reason(stop_reason: str | None) -> str:
    """The output-message schema's finish reason for an Anthropic ``stop_reason``.

    ``end_turn``/``stop_sequence`` -> ``stop``, ``max_tokens`` -> ``length``,
    ``tool_use`` -> ``tool_call``; others (``pause_turn``, ``refusal``, ...) as they are.
    """
    if stop_reason is None:
        return "error"
    return _FINISH_REASONS.get(stop_reason, stop_reason)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + TRUNCATED


def to_json(value: Any, limit: int) -> str:
    """``value`` as JSON (strings as they are), truncated to ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return _clip(text, limit)


def _text_of(content: Any, limit: int) -> str:
    """The text of a tool_result ``content``: a string, or the text of its text blocks."""
    if isinstance(content, str):
        return _clip(content, limit)
    if isinstance(content, list):
        texts = [
            b.get("text", "")
            for b in content
            if isinstance(b, dict) and b.get("type") == "text"
        ]
        return _clip("".join(t for t in texts if isinstance(t, str)), limit)
    return ""


def _request_part(block: Any, limit: int) -> dict[str, Any]:
    if isinstance(block, str):
        return {"type": "text", "content": _clip(block, limit)}
    if not isinstance(block, dict):
        return {"type": "unknown"}
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "content": _clip(str(block.get("text", "")), limit)}
    if kind == "tool_use":
        return {
            "type": "tool_call",
            "id": block.get("id"),
            "name": block.get("name"),
            "arguments": to_json(block.get("input", {}), limit),
        }
    if kind == "tool_result":
        return {
            "type": "tool_call_response",
            "id": block.get("tool_use_id"),
            "response": _text_of(block.get("content"), limit),
        }
    if kind == "thinking":
        return {
            "type": "reasoning",
            "content": _clip(str(block.get("thinking", "")), limit),
        }
    # Other blocks (images, documents, server tool results) are named, never inlined.
    return {"type": str(kind)}


def input_content(body: Any, limit: int) -> dict[str, str]:
    """Span attributes for the request side: input messages, system, tool definitions.

    Args:
        body: the parsed (already redacted) request body; anything else gives nothing.
        limit: maximum characters per text part.
    """
    if not isinstance(body, dict):
        return {}
    out: dict[str, str] = {}
    messages = body.get("messages")
    if isinstance(messages, list):
        converted = []
        for m in messages:
            if not isinstance(m, dict):
                continue
            content = m.get("content")
            blocks = content if isinstance(content, list) else [content]
            parts = [_request_part(b, limit) for b in blocks if b is not None]
            converted.append({"role": m.get("role", "user"), "parts": parts})
        out[sc.GEN_AI_INPUT_MESSAGES] = json.dumps(converted, ensure_ascii=False)
    system = body.get("system")
    if system:
        blocks = system if isinstance(system, list) else [system]
        parts = [_request_part(b, limit) for b in blocks]
        out[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = json.dumps(parts, ensure_ascii=False)
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        definitions = []
        for t in tools:
            if not isinstance(t, dict):
                continue
            if t.get("type") in (None, "custom"):
                definitions.append(
                    {
                        "type": sc.TOOL_TYPE_FUNCTION,
                        "name": t.get("name"),
                        "description": t.get("description"),
                        "parameters": t.get("input_schema"),
                    }
                )
            else:
                definitions.append({"type": t.get("type"), "name": t.get("name")})
        out[sc.GEN_AI_TOOL_DEFINITIONS] = json.dumps(definitions, ensure_ascii=False)
    return out


def output_messages(message: Message, limit: int) -> list[dict[str, Any]]:
    """The response as the output-messages schema (one assistant message)."""
    parts: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextBlock):
            parts.append({"type": "text", "content": _clip(block.text, limit)})
        elif isinstance(block, ToolUseBlock | ServerToolUseBlock):
            parts.append(
                {
                    "type": "tool_call",
                    "id": block.id,
                    "name": block.name,
                    "arguments": to_json(block.input, limit),
                }
            )
        elif isinstance(block, ThinkingBlock):
            parts.append({"type": "reasoning", "content": _clip(block.thinking, limit)})
        else:
            parts.append({"type": str(getattr(block, "type", "unknown"))})
    return [
        {
            "role": "assistant",
            "parts": parts,
            "finish_reason": finish_reason(message.stop_reason),
        }
    ]


def tool_call_arguments(block: ToolUseBlock, limit: int) -> str:
    """The ``input`` of a tool call as a (truncated) JSON string."""
    return to_json(block.input, limit)


def tool_result_content(body: Any, tool_use_id: str, limit: int) -> str | None:
    """The text of the ``tool_result`` for ``tool_use_id`` in the request's last message."""
    if not isinstance(body, dict):
        return None
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    last = messages[-1]
    content = last.get("content") if isinstance(last, dict) else None
    if not isinstance(content, list):
        return None
    for block in content:
        if (
            isinstance(block, dict)
            and block.get("type") == "tool_result"
            and block.get("tool_use_id") == tool_use_id
        ):
            return _text_of(block.get("content"), limit)
    return None


def requested_tool_arguments(body: Any, tool_use_id: str, limit: int) -> str | None:
    """The ``input`` of the ``tool_use`` block ``tool_use_id`` in the request's history, as JSON.

    The answering request resends the assistant turn that asked for the call; the
    latest assistant turn holding the id is searched from the end.
    """
    if not isinstance(body, dict):
        return None
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if (
                isinstance(block, dict)
                and block.get("type") == "tool_use"
                and block.get("id") == tool_use_id
            ):
                return to_json(block.get("input"), limit)
    return None


def redacted(value: Any, redact: Callable[[Any], Any] | None) -> Any:
    """``redact(value)``; on failure ``None`` (drop the content, log at debug)."""
    if redact is None:
        return value
    try:
        return redact(value)
    except Exception as exc:
        # The type only, no traceback: the hook's message may quote the content.
        logger.debug(
            "ptc_observe: the redaction hook failed (%s); content dropped",
            type(exc).__name__,
        )
        return None
