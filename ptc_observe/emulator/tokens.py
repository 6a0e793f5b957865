"""The emulator's token estimator and prompt cache. An emulation, not a tokenizer.

Real counts come from Claude's tokenizer, which is not public. The emulator
instead charges about one token per 4 bytes of UTF-8 and adds fixed overheads
for structure, so counts are plausible, deterministic and easy to reproduce:

* text: ``ceil(len(text.encode("utf-8")) / 4)`` (:func:`count_text`);
* every request: :data:`REQUEST_OVERHEAD`; every message: :data:`MESSAGE_OVERHEAD`;
  every content block: :data:`BLOCK_OVERHEAD` plus its text (tool inputs as
  compact JSON, tool names, tool results, code stdout and stderr);
* tools: the tool-use system prompt once (:data:`TOOL_SYSTEM_PROMPT`, the
  figures Anthropic publishes for Claude 4 models), plus per user-defined tool
  :data:`TOOL_OVERHEAD` and its JSON definition; the code-execution tool costs
  :data:`CODE_EXECUTION_TOOL`, other server tools :data:`SERVER_TOOL`;
* images cost :data:`IMAGE` each whatever their size.

What the *model* reads is not the whole request: under programmatic tool
calling, the ``tool_use`` blocks the code issued and their ``tool_result``
blocks stay in the container (``ptc-wire-format.md`` §3.4), so
:func:`context_segments` leaves them out; the code's final result enters the
context instead. :class:`PromptCache` turns ``cache_control`` breakpoints into
cache writes and reads over that context.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .clock import Clock

BYTES_PER_TOKEN = 4
REQUEST_OVERHEAD = 7
MESSAGE_OVERHEAD = 4
BLOCK_OVERHEAD = 3
TOOL_OVERHEAD = 8
TOOL_SYSTEM_PROMPT = {"auto": 346, "none": 346, "any": 313, "tool": 313}
CODE_EXECUTION_TOOL = 1450
SERVER_TOOL = 300
IMAGE = 1600
DEFAULT_CACHE_MIN_TOKENS = 1024
"""Shortest cacheable prefix (Sonnet and Opus; Haiku's is larger)."""

CACHE_TTLS = {"5m": 300.0, "1h": 3600.0}


def count_text(text: str) -> int:
    """Tokens for ``text``: one per started group of 4 UTF-8 bytes."""
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


def compact_json(value: Any) -> str:
    """``value`` as compact JSON with raw UTF-8, as the API writes tool inputs."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def tool_result_text(content: Any) -> str:
    """The text of a ``tool_result.content`` (a string or a list of blocks)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content if isinstance(content, list) else [content]:
        if isinstance(block, Mapping) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def block_tokens(block: Mapping[str, Any]) -> int:
    """Tokens the model reads for one content block."""
    kind = block.get("type")
    if kind == "text":
        return BLOCK_OVERHEAD + count_text(str(block.get("text", "")))
    if kind in ("tool_use", "server_tool_use"):
        name = str(block.get("name", ""))
        return (
            BLOCK_OVERHEAD
            + count_text(name)
            + count_text(compact_json(block.get("input", {})))
        )
    if kind == "tool_result":
        content = block.get("content")
        images = 0
        if isinstance(content, list):
            images = sum(
                1
                for b in content
                if isinstance(b, Mapping) and b.get("type") == "image"
            )
        return BLOCK_OVERHEAD + count_text(tool_result_text(content)) + images * IMAGE
    if kind == "code_execution_tool_result":
        result = block.get("content") or {}
        text = str(result.get("stdout", "")) + str(result.get("stderr", ""))
        if result.get("type") == "code_execution_tool_result_error":
            text = str(result.get("error_code", ""))
        return BLOCK_OVERHEAD + count_text(text)
    if kind == "image":
        return BLOCK_OVERHEAD + IMAGE
    if kind in ("thinking", "redacted_thinking"):
        return BLOCK_OVERHEAD + count_text(
            str(block.get("thinking", block.get("data", "")))
        )
    # Documents, search results, unknown future blocks: their JSON is a fair proxy.
    return BLOCK_OVERHEAD + count_text(compact_json(_without_cache_control(block)))


def output_tokens(blocks: Iterable[Mapping[str, Any]]) -> int:
    """Tokens the model *writes* for ``blocks`` (pass only model-written ones)."""
    total = 0
    for block in blocks:
        if block.get("type") == "text":
            total += count_text(str(block.get("text", "")))
        else:
            total += block_tokens(block)
    return total


def tool_tokens(tool: Mapping[str, Any]) -> int:
    """Tokens for one entry of ``tools``."""
    kind = str(tool.get("type", "custom"))
    if kind.startswith("code_execution_"):
        return CODE_EXECUTION_TOOL
    if kind not in ("custom", ""):
        return SERVER_TOOL
    return TOOL_OVERHEAD + count_text(compact_json(_without_cache_control(tool)))


@dataclass(frozen=True)
class Segment:
    """One cacheable piece of the model's context, in prompt order.

    Attributes:
        tokens: estimated tokens.
        key: canonical JSON of the piece, for prefix hashing.
        cache_control: the piece's ``cache_control``, if it is a breakpoint.
    """

    tokens: int
    key: str
    cache_control: Mapping[str, Any] | None = None


def context_segments(
    body: Mapping[str, Any], *, drop_ids: Iterable[str] = ()
) -> list[Segment]:
    """The model's context for request ``body`` as ordered segments.

    Args:
        body: the request body (``tools``, ``system``, ``messages``).
        drop_ids: ids of ``tool_use`` blocks that stay in the container (programmatic
            calls); they and the ``tool_result`` blocks answering them are left out.

    Returns:
        Segments for the fixed overhead, each tool, each system block and each
        message block (a message's overhead is charged to its first block).
    """
    dropped = set(drop_ids)
    tools = [t for t in body.get("tools") or [] if isinstance(t, Mapping)]
    overhead = REQUEST_OVERHEAD
    if tools:
        choice = body.get("tool_choice") or {}
        overhead += TOOL_SYSTEM_PROMPT.get(str(choice.get("type", "auto")), 346)
    segments = [Segment(overhead, "overhead")]
    for tool in tools:
        segments.append(_segment(tool_tokens(tool), tool))
    system = body.get("system")
    if isinstance(system, str) and system:
        segments.append(Segment(count_text(system), compact_json(system)))
    elif isinstance(system, list):
        for block in system:
            if isinstance(block, Mapping):
                segments.append(_segment(count_text(str(block.get("text", ""))), block))
    for message in body.get("messages") or []:
        segments.extend(_message_segments(message, dropped))
    top = body.get("cache_control")
    if isinstance(top, Mapping) and len(segments) > 1:
        # Automatic caching: the breakpoint moves to the last cacheable block.
        last = segments[-1]
        segments[-1] = Segment(last.tokens, last.key, top)
    return segments


def _message_segments(message: Mapping[str, Any], dropped: set[str]) -> list[Segment]:
    content = message.get("content")
    blocks: Sequence[Any] = (
        [{"type": "text", "text": content}]
        if isinstance(content, str)
        else (content or [])
    )
    kept: list[Segment] = []
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "tool_use" and block.get("id") in dropped:
            continue
        if block.get("type") == "tool_result" and block.get("tool_use_id") in dropped:
            continue
        kept.append(_segment(block_tokens(block), block))
    if kept:
        first = kept[0]
        role_key = f"{message.get('role')}:{first.key}"
        kept[0] = Segment(
            first.tokens + MESSAGE_OVERHEAD, role_key, first.cache_control
        )
    return kept


def _segment(tokens: int, piece: Mapping[str, Any]) -> Segment:
    control = piece.get("cache_control")
    key = json.dumps(_without_cache_control(piece), sort_keys=True, ensure_ascii=False)
    return Segment(tokens, key, control if isinstance(control, Mapping) else None)


def _without_cache_control(piece: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in piece.items() if k != "cache_control"}


def count_context(segments: Sequence[Segment]) -> int:
    """Total tokens of ``segments``."""
    return sum(s.tokens for s in segments)


@dataclass(frozen=True)
class CacheUsage:
    """How one sampled request's input splits between fresh, written and read tokens."""

    input_tokens: int
    cache_creation_5m: int
    cache_creation_1h: int
    cache_read: int

    @property
    def cache_creation(self) -> int:
        """All tokens written to the cache (both TTLs)."""
        return self.cache_creation_5m + self.cache_creation_1h


class PromptCache:
    """Prompt-cache bookkeeping shared by all requests of one emulator.

    A breakpoint is a segment with ``cache_control``. The longest prefix ending at
    a breakpoint that is still cached is read; every later breakpoint whose
    prefix reaches ``min_tokens`` is written with its TTL (``5m`` default, ``1h``).
    A read refreshes the entry's lifetime, as the API does.

    Args:
        clock: the injected clock.
        min_tokens: shortest cacheable prefix.
    """

    def __init__(
        self, clock: Clock, *, min_tokens: int = DEFAULT_CACHE_MIN_TOKENS
    ) -> None:
        self._clock = clock
        self.min_tokens = min_tokens
        self._entries: dict[str, tuple[float, float]] = {}  # hash -> (expires, ttl)
        self._lock = threading.Lock()

    def account(
        self, model: str, segments: Sequence[Segment], extra_tokens: int = 0
    ) -> CacheUsage:
        """Split the input of one sampled request and update the cache.

        Args:
            model: caches are per model.
            segments: the context, from :func:`context_segments`.
            extra_tokens: uncacheable tokens read after the request (a code result).
        """
        now = self._clock()
        cumulative: list[int] = []
        hashes: list[str] = []
        running = hashlib.sha256(model.encode())
        total = 0
        for segment in segments:
            total += segment.tokens
            running.update(segment.key.encode())
            cumulative.append(total)
            hashes.append(running.copy().hexdigest())
        breakpoints = [i for i, s in enumerate(segments) if s.cache_control is not None]
        read, read_index = 0, -1
        created = {"5m": 0, "1h": 0}
        with self._lock:
            for i in reversed(breakpoints):
                entry = self._entries.get(hashes[i])
                if entry is not None and entry[0] > now:
                    read, read_index = cumulative[i], i
                    self._entries[hashes[i]] = (now + entry[1], entry[1])
                    break
            written_to = read
            for i in breakpoints:
                if i <= read_index or cumulative[i] < self.min_tokens:
                    continue
                control = segments[i].cache_control or {}
                ttl_name = "1h" if control.get("ttl") == "1h" else "5m"
                created[ttl_name] += cumulative[i] - written_to
                written_to = cumulative[i]
                self._entries[hashes[i]] = (
                    now + CACHE_TTLS[ttl_name],
                    CACHE_TTLS[ttl_name],
                )
            if len(self._entries) > 4096:
                self._entries = {h: e for h, e in self._entries.items() if e[0] > now}
        fresh = total + extra_tokens - read - created["5m"] - created["1h"]
        return CacheUsage(fresh, created["5m"], created["1h"], read)
