"""The code-execution tracker: one record per code execution, from its start to its result.

A code execution starts in the response that carries its ``server_tool_use`` and ends in
the response that carries its ``*_tool_result``. For a plain bash or text-editor call both
are in one response; for programmatic tool calling (PTC) the code pauses at every tool
call, so its result comes back several exchanges later, after every resume of the run.
The :class:`CodeExecutionTracker` follows each one across those exchanges, in bounded
memory, and puts a :class:`~ptc_observe.events.CodeExecution` snapshot on every exchange
that shows it (``Exchange.code_executions``): the OpenTelemetry sink makes one
``execute_tool {variant}`` span of it, the Prometheus sink observes its duration.

What shows a code execution in a (complete) response: its ``server_tool_use`` (a start),
a ``tool_use`` or ``server_tool_use`` whose ``caller.tool_id`` is its id (a call it made),
its result (the end). Within one process that is exact. Across processes it is honest: a
process that first sees a code execution mid-run (another worker served its start) starts
the record there with ``start_observed=False``; its result still ends it and its outcome
is still right, but its duration is only the part this process saw (the Prometheus sink
does not observe such durations).

Bounds: at most ``Limits.max_code_executions`` open records (the least recently seen ends
as ``unfinished`` with reason ``evicted``), each ended as ``unfinished`` (``expired``)
``Limits.code_execution_ttl_seconds`` after its last sighting, or (``container_ended``)
when the correlator ends its container. :meth:`CodeExecutionTracker.close` ends the rest
(``closed``). Listeners hear every record that ends without its result.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from ..events import CodeExecution, ContainerEnded, Exchange, Reply
from ..models import DIRECT
from .correlator import Limits

__all__ = [
    "CODE_EXECUTION_TOOLS",
    "CodeExecutionTracker",
    "END_CLOSED",
    "END_CONTAINER",
    "END_EVICTED",
    "END_EXPIRED",
    "END_RESULT",
    "UNFINISHED",
]

CODE_EXECUTION_TOOLS = frozenset(
    {"code_execution", "bash_code_execution", "text_editor_code_execution"}
)
"""The ``server_tool_use`` names of code executions (the variants)."""
DEFAULT_VARIANT = "code_execution"
"""The variant of a code execution known only from the calls it made (only Python cells
call tools)."""
UNFINISHED = "unfinished"
END_RESULT = "result"
END_EXPIRED = "expired"
END_CONTAINER = "container_ended"
END_EVICTED = "evicted"
END_CLOSED = "closed"
SWEEP_INTERVAL_SECONDS = 1.0

_Seen = tuple[int, int, int, float, str | None]
"""What one exchange tells the code executions it shows: ``(seen_ns, end_ns, exchange
id, deadline, container id)`` (:func:`_seen`)."""

# A fresh record (``track(fresh=True)``: just built, not yet shared) gets its field set
# in place, as the correlator does; any other is copied with dataclasses.replace.
_set_field = object.__setattr__


class _Open:
    """The mutable state of one open code execution."""

    __slots__ = (
        "calls",
        "container_id",
        "deadline",
        "exchanges",
        "id",
        "last_ns",
        "name",
        "server_calls",
        "start_observed",
        "started_by",
        "started_ns",
    )

    def __init__(
        self,
        id: str,
        name: str,
        started_ns: int,
        started_by: int,
        start_observed: bool,
    ) -> None:
        self.id = id
        self.name = name
        self.started_ns = started_ns
        self.started_by = started_by
        self.start_observed = start_observed
        self.container_id: str | None = None
        self.calls = 0
        self.server_calls = 0
        self.exchanges = 0
        self.deadline = 0.0
        self.last_ns = started_ns

    def record(
        self,
        outcome: str | None = None,
        return_code: int | None = None,
        end_reason: str | None = None,
        ended_ns: int | None = None,
    ) -> CodeExecution:
        return CodeExecution(
            self.id,
            self.name,
            self.started_ns,
            self.started_by,
            self.start_observed,
            self.container_id,
            self.calls,
            self.server_calls,
            self.exchanges,
            outcome,
            return_code,
            end_reason,
            ended_ns,
        )


def _seen(ex: Exchange, reply: Reply, deadline: float) -> _Seen:
    """What one exchange tells every code execution it shows (built once per exchange)."""
    timings = ex.timings
    sent = timings.sent
    at = timings.headers if timings.headers is not None else sent
    container = reply.container
    return (
        # Timings.unix_ns, inline.
        timings.sent_unix_ns + int((at - sent) * 1e9),
        timings.sent_unix_ns + int((timings.finished - sent) * 1e9),
        ex.id,
        deadline,
        container.id if container is not None else ex.request.container_id,
    )


def _snapshot(
    state: _Open,
    outcome: str | None,
    return_code: int | None,
    end_reason: str | None,
    ended_ns: int | None,
) -> CodeExecution:
    """The record of ``state`` as of now (``_Open.record``, one call less)."""
    return CodeExecution(
        state.id,
        state.name,
        state.started_ns,
        state.started_by,
        state.start_observed,
        state.container_id,
        state.calls,
        state.server_calls,
        state.exchanges,
        outcome,
        return_code,
        end_reason,
        ended_ns,
    )


def _shows_code_execution(reply: Reply) -> bool:
    """True when the reply has a code-execution start, call or result (cheap checks)."""
    if reply.code_results:
        return True
    for server_use in reply.server_tool_uses:
        if server_use.name in CODE_EXECUTION_TOOLS or server_use.caller_tool_id:
            return True
    for use in reply.tool_uses:
        if use.caller_tool_id is not None:
            return True
    return False


class CodeExecutionTracker:
    """Follows code executions across exchanges; thread safe.

    Args:
        limits: ``max_code_executions`` and ``code_execution_ttl_seconds`` bound the state.
        clock: wall clock in seconds (``time.time``), for the time to live.
    """

    def __init__(
        self, limits: Limits | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.limits = limits if limits is not None else Limits()
        self._clock = clock
        self._lock = threading.Lock()
        self._open: OrderedDict[str, _Open] = OrderedDict()
        self._listeners: list[Callable[[CodeExecution], None]] = []
        self._next_sweep = 0.0

    # --- public API ---

    def add_listener(self, fn: Callable[[CodeExecution], None]) -> None:
        """Call ``fn`` with every code execution that ends without its result."""
        self._listeners.append(fn)

    def track(self, ex: Exchange, *, fresh: bool = False) -> Exchange:
        """Fill ``ex.code_executions`` with the code executions ``ex`` shows.

        Args:
            ex: the finished (correlated) exchange.
            fresh: nothing else holds ``ex`` yet: write into it instead of a copy.

        Returns:
            ``ex`` itself when it shows no code execution (most exchanges) or ``fresh``,
            else a copy with ``code_executions`` set.
        """
        reply = ex.reply
        shows = ex.complete and reply is not None and _shows_code_execution(reply)
        if not shows:
            if not self._open:
                return ex  # the hot path: nothing open, nothing shown
            if not ex.request.tool_results:
                # Nothing to follow or link: only a due sweep (once a second) is work.
                now = self._clock()
                if now >= self._next_sweep:
                    due: list[CodeExecution] = []
                    with self._lock:
                        self._sweep_locked(now, due)
                    self._fire(due)
                return ex
        ended: list[CodeExecution] = []
        records: tuple[CodeExecution, ...] = ()
        with self._lock:
            now = self._clock()
            if now >= self._next_sweep:
                self._sweep_locked(now, ended)
            if shows:
                assert reply is not None
                records = self._follow(ex, reply, now, ended)
            else:
                # No usable reply (an error, a cut stream): the request still says which
                # code execution it resumed, so its span links there too.
                records = self._answered(ex)
        if ended:
            self._fire(ended)
        if not records:
            return ex
        if fresh:
            _set_field(ex, "code_executions", records)
            return ex
        return dataclasses.replace(ex, code_executions=records)

    def on_container_ended(self, ended: ContainerEnded) -> None:
        """End the open code executions of a container that expired or was evicted."""
        gone: list[CodeExecution] = []
        with self._lock:
            due = [s for s in self._open.values() if s.container_id == ended.id]
            for state in due:
                del self._open[state.id]
                gone.append(_unfinished(state, END_CONTAINER))
        self._fire(gone)

    def sweep(self) -> None:
        """End the code executions past their time to live."""
        ended: list[CodeExecution] = []
        with self._lock:
            self._sweep_locked(self._clock(), ended)
        self._fire(ended)

    def close(self) -> None:
        """End every open code execution (reason ``closed``); the tracker stays usable."""
        with self._lock:
            gone = [_unfinished(s, END_CLOSED) for s in self._open.values()]
            self._open.clear()
        self._fire(gone)

    def open_count(self) -> int:
        """Code executions started and not yet ended."""
        return len(self._open)

    # --- following ---

    def _follow(
        self, ex: Exchange, reply: Reply, now: float, ended: list[CodeExecution]
    ) -> tuple[CodeExecution, ...]:
        # The order of the passes decides which block names a code execution first
        # (its start before the calls it made) and the order of the records.
        touched: dict[str, _Open] = {}
        seen = _seen(ex, reply, now + self.limits.code_execution_ttl_seconds)
        server_uses = reply.server_tool_uses
        for start in server_uses:
            name = start.name
            if name in CODE_EXECUTION_TOOLS and start.id not in touched:
                self._touch(touched, start.id, name, True, seen)
        for use in reply.tool_uses:
            caller = use.caller_tool_id
            if caller is not None:
                state = touched.get(caller) or self._touch(
                    touched, caller, None, False, seen
                )
                state.calls += 1
        for server_use in server_uses:
            caller = server_use.caller_tool_id
            # ServerToolUse.is_programmatic, inline.
            if caller is not None and server_use.caller_type != DIRECT:
                state = touched.get(caller) or self._touch(
                    touched, caller, None, False, seen
                )
                state.server_calls += 1
        results = reply.code_results
        if not results:
            # Most replies: code ran and paused (or made its calls); nothing ended.
            records: tuple[CodeExecution, ...] = ()
            for state in touched.values():
                records += (_snapshot(state, None, None, None, None),)
        else:
            opened = self._open
            done: dict[str, CodeExecution] = {}
            for result in results:
                code_id = result.tool_use_id
                variant = result.variant
                known = variant if variant in CODE_EXECUTION_TOOLS else None
                state = touched.get(code_id) or self._touch(
                    touched, code_id, known, False, seen
                )
                opened.pop(code_id, None)
                done[code_id] = _snapshot(
                    state, result.outcome, result.return_code, END_RESULT, seen[1]
                )
            for code_id, state in touched.items():
                if code_id not in done:
                    done[code_id] = _snapshot(state, None, None, None, None)
            records = tuple(done.values())
        excess = len(self._open) - self.limits.max_code_executions
        while excess > 0:
            _, old = self._open.popitem(last=False)
            ended.append(_unfinished(old, END_EVICTED))
            excess -= 1
        return records

    def _touch(
        self,
        touched: dict[str, _Open],
        code_id: str,
        name: str | None,
        observed: bool,
        seen: _Seen,
    ) -> _Open:
        """The state of ``code_id`` as this exchange shows it (once per exchange)."""
        seen_ns, end_ns, ex_id, deadline, container_id = seen
        opened = self._open
        state = opened.get(code_id)
        if state is None:
            state = _Open(code_id, name or DEFAULT_VARIANT, seen_ns, ex_id, observed)
            opened[code_id] = state
        else:
            opened.move_to_end(code_id)
            if name is not None:
                state.name = name
        state.exchanges += 1
        state.deadline = deadline
        state.last_ns = end_ns
        if container_id is not None:
            state.container_id = container_id
        touched[code_id] = state
        return state

    def _answered(self, ex: Exchange) -> tuple[CodeExecution, ...]:
        """Snapshots of the open code executions whose calls ``ex``'s request answers."""
        opened = self._open
        found: dict[str, CodeExecution] = {}
        for result in ex.request.tool_results:
            code_id = result.caller_tool_id
            if code_id is not None and code_id not in found:
                state = opened.get(code_id)
                if state is not None:
                    found[code_id] = state.record()
        return tuple(found.values())

    # --- sweeping ---

    def _sweep_locked(self, now: float, ended: list[CodeExecution]) -> None:
        self._next_sweep = now + SWEEP_INTERVAL_SECONDS
        opened = self._open
        # Least recently seen first, and one time to live for all: stop at the first live one.
        while opened:
            state = next(iter(opened.values()))
            if state.deadline > now:
                break
            opened.popitem(last=False)
            ended.append(_unfinished(state, END_EXPIRED))

    def _fire(self, ended: list[CodeExecution]) -> None:
        error: Exception | None = None
        for record in ended:
            for listener in self._listeners:
                try:
                    listener(record)
                except Exception as exc:  # re-raised below for the caller's guard
                    error = error or exc
        if error is not None:
            raise error


def _unfinished(state: _Open, reason: str) -> CodeExecution:
    """The record of a code execution ended without its result: it ends where it was
    last seen (it ran at least that long; nothing on the wire says more)."""
    return state.record(UNFINISHED, None, reason, state.last_ns)
