"""An independent reader of recorded Messages API bodies: what the counts must be.

Written for the replay test from the API's documented shapes with the standard library
only (``json`` and a few lines of SSE framing), never with ptc_observe's parser, so the
replay compares ptc_observe with a second reading of the same bytes. The rules it applies
are the documented ones (docs/telemetry.md, "Code execution, server tools and usage
details"):

* a code execution is any block whose type ends in ``code_execution_tool_result``; its
  variant is the type without ``_tool_result``; it is an ``error`` when its content is not
  an object with a string ``type``, when that type ends in ``_error``, or when its
  ``return_code`` is a non-zero integer;
* a ``server_tool_use`` or ``tool_use`` is ``programmatic`` when its ``caller`` is an object
  whose ``type`` is not ``direct`` and that has a ``tool_id``, else ``direct``;
* blocks count only in a complete message (a JSON body, or a stream up to
  ``message_stop``); tokens count whatever usage arrived;
* a stream's usage is ``message_start``'s, with each non-null field of every
  ``message_delta`` usage replacing it; ``usage: null`` is no usage;
* the cache-write TTL split is capped by the cache-write total, the rest is ``unknown``;
* containers follow from each exchange alone (docs/telemetry.md, "Fleets"): a complete
  message naming a container its request did not is a creation; a request naming a
  container answered by a complete message is a reuse.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

CODE_RESULT = "code_execution_tool_result"


def sse_payloads(body: bytes) -> list[tuple[str, Any]]:
    """(event name, parsed data) of each event of an SSE body."""
    text = body.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    events = []
    for block in text.split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


@dataclass
class Read:
    """One body as read: its message (None for an error body), completeness, error."""

    message: dict[str, Any] | None
    complete: bool
    error: dict[str, Any] | None


def read(body: bytes, stream: bool) -> Read:
    """The final (or, for a cut or failed stream, partial) message of a body."""
    if not stream:
        obj = json.loads(body)
        if obj.get("type") == "error":
            return Read(None, False, obj)
        return Read(obj, True, None)
    message: dict[str, Any] | None = None
    complete = False
    error: dict[str, Any] | None = None
    for name, data in sse_payloads(body):
        if name == "error":
            error = error or data
        elif name == "message_start":
            message = dict(data["message"])
            message["content"] = list(message.get("content") or [])
            message["usage"] = dict(message.get("usage") or {})
        elif message is None:
            continue
        elif name == "content_block_start":
            message["content"].append(data["content_block"])
        elif name == "message_delta":
            delta = data.get("delta") or {}
            if delta.get("stop_reason") is not None:
                message["stop_reason"] = delta["stop_reason"]
            if delta.get("container") is not None:
                message["container"] = delta["container"]
            for key, value in (data.get("usage") or {}).items():
                if value is not None:
                    message["usage"][key] = value
        elif name == "message_stop":
            complete = True
    return Read(message, complete, error)


def message_of(body: bytes, stream: bool) -> dict[str, Any] | None:
    """The message of a body (None for an error body)."""
    return read(body, stream).message


def _caller(block: dict[str, Any]) -> str:
    caller = block.get("caller")
    if (
        isinstance(caller, dict)
        and caller.get("type", "direct") != "direct"
        and caller.get("tool_id")
    ):
        return "programmatic"
    return "direct"


def _outcome(content: Any) -> str:
    if not isinstance(content, dict) or not isinstance(content.get("type"), str):
        return "error"
    code = content.get("return_code")
    if content["type"].endswith("_error"):
        return "error"
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        return "error"
    return "success"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass
class Expected:
    """The counts a set of exchanges must produce."""

    code_executions: Counter[tuple[str, str]] = field(default_factory=Counter)
    server_tools: Counter[tuple[str, str]] = field(default_factory=Counter)
    tool_calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    tokens: Counter[str] = field(default_factory=Counter)
    cache_write_ttl: Counter[str] = field(default_factory=Counter)
    server_tool_requests: Counter[str] = field(default_factory=Counter)
    containers: list[str | None] = field(default_factory=list)
    """The container id each exchange's response names (None: none)."""
    errors: Counter[str] = field(default_factory=Counter)
    """Error exchanges by the API's error type."""
    request_ids: list[str | None] = field(default_factory=list)
    """The ``request_id`` each error body gives (None for messages)."""
    created: int = 0
    """Complete messages naming a container their request did not."""
    reuses: int = 0
    """Requests naming a container that a complete message answered."""

    def add(self, body: bytes, stream: bool, request: bytes | None = None) -> None:
        """Count one recorded response body (and the request that asked for it)."""
        got = read(body, stream)
        message = got.message
        if got.error is not None:
            self.errors[got.error["error"]["type"]] += 1
        self.request_ids.append(
            got.error.get("request_id") if got.error is not None else None
        )
        container = (message or {}).get("container")
        found = container.get("id") if isinstance(container, dict) else None
        self.containers.append(found)
        if message is not None and got.complete and got.error is None:
            self._sighting(request, found)
        if message is None:
            return
        if got.complete:  # a cut or failed stream's blocks never reach the application
            self._blocks(message)
        self._usage(message.get("usage") or {})

    def _sighting(self, request: bytes | None, found: str | None) -> None:
        sent = json.loads(request).get("container") if request else None
        if isinstance(sent, dict):
            sent = sent.get("id")
        if not isinstance(sent, str):
            sent = None
        if found is not None and found != sent:
            self.created += 1
        elif sent is not None:
            self.reuses += 1

    def _blocks(self, message: dict[str, Any]) -> None:
        for block in message.get("content") or []:
            kind = block.get("type")
            if not isinstance(kind, str):
                continue
            if kind.endswith(CODE_RESULT):
                variant = kind[: -len("_tool_result")]
                self.code_executions[variant, _outcome(block.get("content"))] += 1
            elif kind == "server_tool_use":
                self.server_tools[block["name"], _caller(block)] += 1
            elif kind == "tool_use":
                self.tool_calls[block["name"], _caller(block)] += 1

    def _usage(self, usage: dict[str, Any]) -> None:
        self.tokens["input"] += _int(usage.get("input_tokens"))
        self.tokens["output"] += _int(usage.get("output_tokens"))
        self.tokens["cache_read"] += _int(usage.get("cache_read_input_tokens"))
        written = _int(usage.get("cache_creation_input_tokens"))
        self.tokens["cache_write"] += written
        details = usage.get("output_tokens_details") or {}
        self.tokens["reasoning"] += _int(details.get("thinking_tokens"))
        split = usage.get("cache_creation") or {}
        five = min(_int(split.get("ephemeral_5m_input_tokens")), written)
        hour = min(_int(split.get("ephemeral_1h_input_tokens")), written - five)
        self.cache_write_ttl["5m"] += five
        self.cache_write_ttl["1h"] += hour
        self.cache_write_ttl["unknown"] += written - five - hour
        for key, count in (usage.get("server_tool_use") or {}).items():
            if key.endswith("_requests") and _int(count):
                self.server_tool_requests[key[: -len("_requests")]] += count
