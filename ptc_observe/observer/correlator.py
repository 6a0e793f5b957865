"""The correlator: what only shows across exchanges.

One exchange cannot tell how long the application took to run a tool, or how long a
code-execution container lived. The :class:`Correlator` remembers, in bounded memory, the
tool calls responses asked for (until a later request carries their ``tool_result``) and
the containers it has seen, and fills those facts into each
:class:`~ptc_observe.events.Exchange` before the sinks see it:

* ``tool_turnarounds``: each ``tool_result`` matched with the response that asked for it;
* ``answers``: the ids of those asking exchanges (tracers link the spans);
* ``unmatched_results``: the results whose asking response this process never saw;
* ``container``: the container the exchange used. Created / reused / expired follow from
  the exchange alone (:func:`~.fleet.container_use`), so they stay exact when the traffic
  is spread over processes; the time left at a reuse and the lifetime need memory and are
  given only where this process knows them (see ``docs/telemetry.md``, fleets).

Memory stays bounded under any traffic: at most ``Limits.max_containers`` containers (the
least recently seen are evicted) and ``Limits.max_pending_tool_calls`` tool calls, each
forgotten after ``Limits.pending_ttl_seconds``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..events import (
    ContainerEnded,
    ContainerSighting,
    Exchange,
    Outcome,
    Reply,
    ToolResultSent,
    ToolTurnaround,
)
from ..models import DIRECT
from .fleet import container_use

__all__ = ["Correlator", "Limits"]

SWEEP_INTERVAL_SECONDS = 1.0

# A fresh record (``correlate(fresh=True)``: just built, not yet shared) gets the
# correlator's facts in place, the way a frozen dataclass's own __init__ sets its
# fields; any other record is copied with dataclasses.replace.
_set_field = object.__setattr__


@dataclass(frozen=True)
class Limits:
    """Bounds on the state ptc_observe keeps, and on label cardinality.

    Args:
        max_containers: containers tracked at once; the least recently seen is evicted
            (and counted as ended) beyond this.
        max_pending_tool_calls: tool calls remembered while waiting for their result.
        pending_ttl_seconds: how long an unanswered tool call is remembered.
        max_label_values: distinct model and tool names per label before new ones are
            folded into ``_other``.
        container_ttl_seconds: how long after its last sighting a container whose
            ``expires_at`` was never seen counts as ended.
        max_code_executions: code executions followed at once (started, result not yet
            seen); the least recently seen ends as ``unfinished`` beyond this.
        code_execution_ttl_seconds: how long after its last sighting a code execution
            without a result ends as ``unfinished`` (its container's end ends it sooner).
    """

    max_containers: int = 10_000
    max_pending_tool_calls: int = 100_000
    pending_ttl_seconds: float = 3600.0
    max_label_values: int = 100
    container_ttl_seconds: float = 3600.0
    max_code_executions: int = 10_000
    code_execution_ttl_seconds: float = 3600.0


class _Container:
    __slots__ = (
        "created_at",
        "expires_at",
        "expires_ts",
        "first_seen",
        "last_seen",
        "messages",
    )

    def __init__(self, first_seen: float) -> None:
        self.first_seen = first_seen
        self.last_seen = first_seen
        self.created_at: float | None = None
        """Wall time of the creating response, if this process saw it."""
        self.expires_at: datetime | None = None
        self.expires_ts: float | None = None
        self.messages: int | None = None
        """Messages of the request whose response gave ``expires_at``."""


# A pending tool call is ``[use, asked, answered]``: the reply's own ToolUse record, the
# asking exchange's ``(asked_at, asked_by, deadline)`` (one tuple shared by every call of
# that reply) and whether a result came already. No object is built per call.
_USE = 0
_ASKED = 1
_ANSWERED = 2
_DEADLINE = 2  # in the ``asked`` tuple


class Correlator:
    """Tracks containers and pending tool calls across exchanges; thread safe.

    Args:
        limits: size and time bounds of the state.
        clock: wall clock in seconds (``time.time``); used for expiry and time to live.
    """

    def __init__(
        self, limits: Limits | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.limits = limits if limits is not None else Limits()
        self._clock = clock
        self._lock = threading.Lock()
        self._containers: OrderedDict[str, _Container] = OrderedDict()
        self._pending: OrderedDict[str, list[Any]] = OrderedDict()
        self._listeners: list[Callable[[ContainerEnded], None]] = []
        self._next_sweep = 0.0

    # --- public API ---

    def add_listener(self, fn: Callable[[ContainerEnded], None]) -> None:
        """Call ``fn`` for every container that leaves the tracker (expired or evicted)."""
        self._listeners.append(fn)

    def correlate(self, ex: Exchange, *, fresh: bool = False) -> Exchange:
        """Fill ``tool_turnarounds``, ``answers`` and ``container`` into ``ex``.

        Args:
            ex: the finished exchange.
            fresh: ``ex`` was just built and nothing else holds it yet (the observer's
                pipeline, before any sink sees it): the facts are written into it instead
                of into a copy, which saves copying its 25 fields.

        Returns:
            ``ex`` itself when nothing applies or ``fresh``, else a copy with those
            fields set.
        """
        request = ex.request
        reply = ex.reply
        results = request.tool_results
        asks = reply is not None and reply.stop_reason == "tool_use"
        sights = request.container_id is not None or (
            reply is not None and reply.container is not None
        )
        ended: list[ContainerEnded] = []
        turnarounds: tuple[ToolTurnaround, ...] = ()
        answers: tuple[int, ...] = ()
        unmatched: tuple[ToolResultSent, ...] = ()
        sighting = None
        with self._lock:
            now = self._clock()
            if now >= self._next_sweep:
                self._sweep_locked(now, ended)
            if results:
                turnarounds, answers, unmatched = self._match_results(ex, results)
            if asks:
                assert reply is not None
                self._register_calls(ex, reply, now)
            if sights:
                sighting = self._sight_container(ex, ended)
        if ended:
            self._fire(ended)
        if fresh:
            # A fresh record holds the defaults: write only what differs.
            if turnarounds:
                _set_field(ex, "tool_turnarounds", turnarounds)
            if answers:
                _set_field(ex, "answers", answers)
            if unmatched:
                _set_field(ex, "unmatched_results", unmatched)
            if sighting is not None:
                _set_field(ex, "container", sighting)
            return ex
        if not (turnarounds or answers or unmatched or sighting):
            return ex
        return dataclasses.replace(
            ex,
            tool_turnarounds=turnarounds,
            answers=answers,
            unmatched_results=unmatched,
            container=sighting,
        )

    def active_containers(self, *, sweep: bool = True) -> int:
        """Known containers not yet expired.

        Args:
            sweep: expire due containers first (exact); ``False`` returns the count as of
                the last sweep (at most a second old while traffic flows) in O(1).
        """
        if sweep:
            self.sweep()
        return len(self._containers)

    def sweep(self) -> None:
        """Expire due containers and forget stale tool calls; fires ContainerEnded."""
        ended: list[ContainerEnded] = []
        with self._lock:
            self._sweep_locked(self._clock(), ended)
        self._fire(ended)

    def state_sizes(self) -> dict[str, int]:
        """Sizes of the bounded state, for monitoring and tests."""
        return {
            "containers": len(self._containers),
            "pending_tool_calls": len(self._pending),
        }

    # --- tool calls ---

    def _match_results(
        self, ex: Exchange, results: tuple[ToolResultSent, ...]
    ) -> tuple[tuple[ToolTurnaround, ...], tuple[int, ...], tuple[ToolResultSent, ...]]:
        # Tuples grow in place of lists: a request carries a handful of results, most
        # often one, so this builds no list and converts nothing.
        turnarounds: tuple[ToolTurnaround, ...] = ()
        answers: tuple[int, ...] = ()
        unmatched: tuple[ToolResultSent, ...] = ()
        pending = self._pending
        sent = ex.timings.sent
        for result in results:
            entry = pending.get(result.tool_use_id)
            if entry is None:
                # Asked in a response another process saw (or one forgotten): the call is
                # known from the request itself, its turnaround and asking span are not.
                unmatched += (result,)
                continue
            asked_at, asked_by, _ = entry[_ASKED]
            if asked_by not in answers:
                answers += (asked_by,)
            # A retry resends the same results: link it, but the tool ran only once.
            if entry[_ANSWERED]:
                continue
            entry[_ANSWERED] = True
            use = entry[_USE]
            caller_tool_id = use.caller_tool_id
            # ToolUse.is_programmatic, inline.
            programmatic = caller_tool_id is not None and use.caller_type != DIRECT
            seconds = sent - asked_at
            turnarounds += (
                ToolTurnaround(
                    result.tool_use_id,
                    use.name,
                    "programmatic" if programmatic else DIRECT,
                    use.caller_type,
                    caller_tool_id if programmatic else None,
                    seconds if seconds > 0.0 else 0.0,
                    result.size_bytes,
                    result.is_error,
                    asked_by,
                ),
            )
        return turnarounds, answers, unmatched

    def _register_calls(self, ex: Exchange, reply: Reply, now: float) -> None:
        pending = self._pending
        asked = (ex.timings.finished, ex.id, now + self.limits.pending_ttl_seconds)
        for use in reply.tool_uses:
            call_id = use.id
            # A repeated id moves to the end (newest); a new one is appended there anyway.
            if call_id in pending:
                del pending[call_id]
            pending[call_id] = [use, asked, False]
        excess = len(pending) - self.limits.max_pending_tool_calls
        while excess > 0:
            pending.popitem(last=False)
            excess -= 1

    # --- containers ---

    def _sight_container(
        self, ex: Exchange, ended: list[ContainerEnded]
    ) -> ContainerSighting | None:
        request = ex.request
        requested = request.container_id
        reply = ex.reply
        answered = reply.container if reply is not None else None
        containers = self._containers
        if ex.outcome is Outcome.OK:
            # fleet.container_use for a complete response, inline (the common case): a
            # container other than the requested one was created, else the request's
            # container (if any) was reused.
            created = answered is not None and answered.id != requested
            reused = not created and requested is not None
        else:
            created, reused, expired = container_use(ex)
            if expired:
                # The API refused the container: it is gone here too.
                assert requested is not None
                gone = containers.pop(requested, None)
                if gone is None:
                    return ContainerSighting(requested, None, False, False, True, None)
                self._end(requested, gone, "expired", ended)
                return ContainerSighting(
                    requested, gone.expires_at, False, False, True, None
                )

        cid = answered.id if answered is not None else requested
        assert cid is not None
        state = containers.get(cid)
        if not (created or reused):
            # Refused for another reason, retried, or cut: the container was not used.
            known = state.expires_at if state is not None else None
            return ContainerSighting(cid, known, False, False, False, None)
        timings = ex.timings
        sent_ts = timings.sent_unix_ns / 1e9
        end_ts = sent_ts + (timings.finished - timings.sent)
        remaining: float | None = None
        if state is not None:
            deadline = state.expires_ts
            if deadline is not None and sent_ts >= deadline:
                # Named after the deadline this process knows, and served: restored from
                # its checkpoint, or kept alive by turns served elsewhere. The life this
                # process followed ends here; it follows the container anew.
                del containers[cid]
                self._end(cid, state, "expired", ended)
                state = None
            else:
                containers.move_to_end(cid)
                seen_messages = state.messages
                if (
                    reused
                    and deadline is not None
                    and seen_messages is not None
                    and 0 < request.run.messages - seen_messages <= 2
                ):
                    # The request continues the one whose response gave this deadline
                    # (its answer, then at most the user's message), which is still
                    # ahead: no other process can have moved it since, so the time left
                    # is exact.
                    remaining = deadline - sent_ts
        added = state is None
        if state is None:
            # A request naming an id sights it at send; a response, at its end.
            state = _Container(sent_ts if requested == cid else end_ts)
            containers[cid] = state
        if created:
            state.created_at = end_ts
        if end_ts > state.last_seen:
            state.last_seen = end_ts
        if answered is not None:
            when = answered.expires_at
            if when != state.expires_at:
                # Resumes repeat the same expiry: convert it only when it changes.
                state.expires_ts = when.timestamp()
            state.expires_at = when
            state.messages = request.run.messages
        if added:
            excess = len(containers) - self.limits.max_containers
            while excess > 0:
                old_id, old = containers.popitem(last=False)
                self._end(old_id, old, "evicted", ended)
                excess -= 1
        return ContainerSighting(
            cid, state.expires_at, created, reused, False, remaining
        )

    def _end(
        self, cid: str, state: _Container, reason: str, ended: list[ContainerEnded]
    ) -> None:
        lifetime: float | None = None
        born = state.created_at
        if born is not None:
            # Creation to the last expires_at this process knows (the container's end;
            # later turns served elsewhere may have moved it further), else last sighting.
            until = (
                state.expires_ts if state.expires_ts is not None else state.last_seen
            )
            lifetime = until - born if until > born else 0.0
        ended.append(ContainerEnded(cid, lifetime, reason))

    # --- sweeping ---

    def _sweep_locked(self, now: float, ended: list[ContainerEnded]) -> None:
        self._next_sweep = now + SWEEP_INTERVAL_SECONDS
        pending = self._pending
        # Insertion order is deadline order (one TTL for all), so stop at the first live one.
        while pending:
            first = next(iter(pending.values()))
            if first[_ASKED][_DEADLINE] > now:
                break
            pending.popitem(last=False)
        idle = self.limits.container_ttl_seconds
        due = [
            cid
            for cid, state in self._containers.items()
            if (
                state.expires_ts
                if state.expires_ts is not None
                else state.last_seen + idle
            )
            <= now
        ]
        for cid in due:
            self._end(cid, self._containers.pop(cid), "expired", ended)

    def _fire(self, ended: list[ContainerEnded]) -> None:
        # Every listener hears every event even if one fails; the first failure is re-raised
        # for the caller's guard to count.
        error: Exception | None = None
        for event in ended:
            for listener in self._listeners:
                try:
                    listener(event)
                except Exception as exc:  # re-raised below
                    error = error or exc
        if error is not None:
            raise error
