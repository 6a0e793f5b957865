"""Server-sent events: a spec-exact incremental decoder and a fast byte-level framer.

Both follow the WHATWG HTML "Server-sent events" parsing rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):

* lines end at CR, LF or CRLF, found at the byte level *before* UTF-8 decoding, so
  U+2028, U+2029 and NEL inside JSON never end a line; a CR at the end of one chunk
  followed by an LF at the start of the next is one line end;
* one leading byte order mark is ignored;
* a line starting with ``:`` is a comment; ``field: value`` loses one leading space;
* ``data`` lines are joined with ``\\n``; a blank line dispatches the event, and an event
  without ``data`` is not dispatched;
* at the end of the body an event without its blank line is discarded.

:class:`SSEDecoder` yields :class:`ServerSentEvent` objects. ``_Framer`` (used by
:class:`~ptc_observe.wire.accumulate.StreamAccumulator`) only cuts the normalised bytes
into event blocks, so that hot paths can skip events without decoding them.

Memory is bounded: an event whose block (its lines joined with ``\\n``) is longer than
``max_event_bytes`` is dropped and counted in ``dropped``, never buffered whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_EVENT_BYTES", "SSEDecoder", "ServerSentEvent"]

MAX_EVENT_BYTES = 16 * 1024 * 1024
"""Default bound on one event (16 MiB); larger events are dropped and counted."""

_BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event.

    ``event`` is ``"message"`` when the stream gave no ``event:`` line; ``id`` is the
    last event id seen so far in the stream (it persists across events, per the spec);
    ``retry`` is the reconnection time given inside this event, if any.
    """

    event: str
    data: str
    id: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        """The data parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        import json

        return json.loads(self.data)


class _Prelude:
    """Byte-level steps shared by both decoders: drop a leading BOM, map CR/CRLF to LF."""

    __slots__ = ("_cr", "_head")

    def __init__(self) -> None:
        self._head: bytes | None = b""  # None once the BOM question is settled
        self._cr = False  # the previous chunk ended with CR

    def normalize(self, chunk: bytes) -> bytes:
        """Return ``chunk`` with the BOM removed and every line end turned into LF."""
        if self._head is not None:
            head = self._head + chunk
            if len(head) < 3 and _BOM.startswith(head):
                self._head = head  # could still become a BOM: wait for more bytes
                return b""
            self._head = None
            chunk = head[3:] if head.startswith(_BOM) else head
        if not chunk:
            return chunk
        if self._cr:
            self._cr = False
            if chunk[0] == 0x0A:  # the LF of a CRLF split across two chunks
                chunk = chunk[1:]
        if b"\r" in chunk:
            # A CR ending this chunk is a line end now; remember it so that an LF
            # opening the next chunk is not read as a second (blank) line.
            self._cr = chunk[-1] == 0x0D
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return chunk

    @property
    def held(self) -> bool:
        """True when the first bytes (a possible BOM) are still held back."""
        return bool(self._head)


class SSEDecoder:
    """Incremental, spec-exact SSE decoder: any split of the bytes gives the same events.

    Args:
        max_event_bytes: events larger than this are dropped (counted in ``dropped``).
    """

    def __init__(self, *, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        self._prelude = _Prelude()
        self._partial: list[bytes] = []  # the unfinished line
        self._partial_len = 0
        self._event_len = -1  # bytes of the current event's lines; -1: none yet
        self._skipping = False  # inside a dropped event, waiting for a blank line
        self._event = ""
        self._data: list[str] = []
        self._retry: int | None = None
        self._last_id: str | None = None
        self._pending = False
        self.dropped = 0
        """Events dropped because they were larger than ``max_event_bytes``."""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode the next bytes of the body; return the events they completed."""
        chunk = self._prelude.normalize(chunk)
        if not chunk:
            return []
        out: list[ServerSentEvent] = []
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if lines:
            if self._partial:
                self._partial.append(lines[0])
                lines[0] = b"".join(self._partial)
            elif self._partial_len:
                # The first line goes on with a dropped line: not blank, nothing to keep.
                lines[0] = b"-"
            self._partial, self._partial_len = [], 0
            self._lines(lines, out)
        if tail:
            if not self._skipping:
                self._partial.append(tail)
            self._partial_len += len(tail)
            self._check_partial()
        return out

    def flush(self) -> list[ServerSentEvent]:
        """End of body: an event still missing its blank line is discarded (spec)."""
        self._pending = bool(
            self._partial_len
            or self._event_len >= 0
            or self._skipping
            or self._prelude.held
        )
        self._partial, self._partial_len = [], 0
        self._skipping = False
        self._reset()
        return []

    @property
    def pending(self) -> bool:
        """True when ``flush`` found bytes of an unfinished event (a truncated body)."""
        return self._pending

    def _check_partial(self) -> None:
        # An unfinished line that already makes its event too large: drop the event
        # now instead of buffering the line until it ends.
        if self._skipping:
            return
        size = self._partial_len
        if self._event_len >= 0:
            size += self._event_len + 1
        if size > self._max:
            self._drop()
            self._partial = []  # keep counting the line's length, not its bytes

    def _lines(self, lines: list[bytes], out: list[ServerSentEvent]) -> None:
        # One loop over the complete lines (a method call per line costs more than
        # the work). Fields are split on bytes and only values decoded: the field
        # names and the separators are ASCII, so this equals parsing decoded lines.
        limit = self._max
        for raw in lines:
            if self._skipping:
                # Only the end of the dropped event matters: the next blank line.
                if not raw:
                    self._skipping = False
                continue
            if not raw:
                self._dispatch(out)
                continue
            size = len(raw) if self._event_len < 0 else self._event_len + 1 + len(raw)
            if size > limit:
                self._drop()
                continue
            self._event_len = size
            if raw[0] == 0x3A:  # ":" starts a comment
                continue
            field, _, value = raw.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if field == b"data":
                self._data.append(value.decode("utf-8", "replace"))
            elif field == b"event":
                self._event = value.decode("utf-8", "replace")
            elif field == b"id":
                if b"\0" not in value:  # spec: an id containing NULL is ignored
                    self._last_id = value.decode("utf-8", "replace")
            elif field == b"retry" and value.isdigit():  # bytes: ASCII digits only
                self._retry = int(value)

    def _dispatch(self, out: list[ServerSentEvent]) -> None:
        if self._data:
            out.append(
                ServerSentEvent(
                    event=self._event or "message",
                    data="\n".join(self._data),
                    id=self._last_id,
                    retry=self._retry,
                )
            )
        self._reset()

    def _drop(self) -> None:
        self.dropped += 1
        self._skipping = True
        self._reset()

    def _reset(self) -> None:
        self._event = ""
        self._data = []
        self._retry = None
        self._event_len = -1


class _Framer:
    """Cut the normalised body into event blocks without decoding them (the fast path).

    ``feed`` returns ``(data, end)``: ``data[:end]`` holds whole blocks, each followed by
    a blank line (``\\n\\n``); bytes after ``end`` wait for the next chunk. Blocks may
    start with extra ``\\n`` (blank lines, which dispatch nothing). Oversized blocks are
    dropped here when they are still incomplete, and by the caller (:meth:`oversize`)
    when they arrive whole, with the same rule as :class:`SSEDecoder`.
    """

    __slots__ = (
        "_max",
        "_prelude",
        "_size",
        "_skip_lf",
        "_skipping",
        "_tail",
        "_tail_lf",
        "dropped",
    )

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        self._prelude = _Prelude()
        self._tail: list[bytes] = []  # bytes of the unfinished block (no "\n\n" inside)
        self._size = 0
        self._tail_lf = False  # the tail ends with "\n": half of a blank line
        self._skipping = False  # inside a dropped block, waiting for "\n\n"
        self._skip_lf = False
        self.dropped = 0

    def feed(self, chunk: bytes) -> tuple[bytes, int]:
        """Take the next bytes; return ``(data, end)`` with the completed blocks."""
        chunk = self._prelude.normalize(chunk)
        if chunk and self._skipping:
            chunk = self._skip(chunk)
        if not chunk:
            return b"", 0
        tail = self._tail
        i = chunk.rfind(b"\n\n")
        if i >= 0:
            if tail:
                tail.append(chunk)
                data = b"".join(tail)
                cut = len(data) - len(chunk) + i
            else:
                data, cut = chunk, i
        elif self._tail_lf and chunk[0] == 0x0A:  # "\n" | "\n" across the chunks
            tail.append(chunk)
            data = b"".join(tail)
            cut = self._size - 1
        else:
            # No block ends here: keep the pieces (joining them each time would be
            # quadratic for a long line arriving in small chunks).
            tail.append(chunk)
            self._size += len(chunk)
            self._tail_lf = chunk[-1] == 0x0A
            if self._size > self._max:
                self._check_tail()
            return b"", 0
        end = cut + 2
        rest = data[end:]
        self._tail = [rest] if rest else []
        self._size = len(rest)
        self._tail_lf = rest[-1:] == b"\n"
        if self._size > self._max:
            self._check_tail()
        return data, end

    def flush(self) -> bool:
        """End of body; True when bytes of an unfinished event were left (discarded)."""
        pending = (
            self._skipping
            or self._prelude.held
            or bool(b"".join(self._tail).strip(b"\n"))
        )
        self._tail, self._size, self._tail_lf, self._skipping = [], 0, False, False
        return pending

    def oversize(self, block: bytes) -> bool:
        """True (and counted) when a whole block is larger than the bound."""
        if len(block.lstrip(b"\n")) > self._max:
            self.dropped += 1
            return True
        return False

    def _check_tail(self) -> None:
        # Leading blank lines are not part of the event, nor is a final "\n" that may
        # be the first half of the blank line ending it.
        data = b"".join(self._tail).lstrip(b"\n")
        if len(data) - (data[-1:] == b"\n") > self._max:
            self.dropped += 1
            self._skipping = True
            self._skip_lf = data[-1:] == b"\n"
            self._tail, self._size, self._tail_lf = [], 0, False
        else:
            self._tail, self._size = [data], len(data)

    def _skip(self, chunk: bytes) -> bytes:
        # Discard the dropped block up to its blank line; return what follows it.
        if self._skip_lf and chunk[0] == 0x0A:
            start = 1
        else:
            j = chunk.find(b"\n\n")
            if j < 0:
                self._skip_lf = chunk[-1] == 0x0A
                return b""
            start = j + 2
        self._skipping = False
        return chunk[start:]


def _parse_block(block: bytes) -> tuple[bytes, bytes] | None:
    """``(event name, data)`` of one block from :class:`_Framer`, or None (no data).

    Same field rules as :class:`SSEDecoder`, on bytes (field names are ASCII, so this
    agrees with parsing the decoded line).
    """
    nl = block.find(b"\n")
    if (
        nl > 0
        and block.startswith(b"event: ")
        and block.startswith(b"data:", nl + 1)
        and block.find(b"\n", nl + 1) < 0
    ):
        # The form every Anthropic event has: "event: NAME\ndata: JSON".
        data = block[nl + 6 :]
        return block[7:nl] or b"message", data[1:] if data[:1] == b" " else data
    name = b""
    lines: list[bytes] | None = None
    for line in block.split(b"\n"):
        if not line or line[0] == 0x3A:  # leading blank line, or a comment
            continue
        field, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            if lines is None:
                lines = []
            lines.append(value)
        elif field == b"event":
            name = value
    if lines is None:
        return None
    return name or b"message", b"\n".join(lines)
