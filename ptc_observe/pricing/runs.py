"""Runs read from the wire: one user turn served by a tool loop, by mode.

A run starts with a request whose last message is the user's own turn and ends with the
response that asks for no tool call. Each request resends the conversation, so its
:class:`~ptc_observe.events.RunPosition` (read by the wire layer from its own history)
says how many round trips and tool calls came before, whichever process saw them. So:

* per exchange, under the run's mode *as known at that exchange* (``programmatic``: a
  programmatic call so far, this response's included; ``direct``: tool calls, none
  programmatic; ``none``): its tokens, cost, and the bytes of the tool results its request
  carries (programmatic ones went to the container, direct ones into the context), with
  the ESTIMATE of what the container-kept bytes would have cost in context;
* on the exchange that ends the run, under the run's final mode: one run, its round
  trips and tool calls (from the final request's history), and its wall time when this
  process saw every exchange of it (linked through the tool calls each request answers).

Every figure comes from one exchange, so counters summed over processes stay exact.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from ..events import Exchange, RunFacts
from ..models import DIRECT

__all__ = [
    "BYTES_PER_TOKEN",
    "MODE_DIRECT",
    "MODE_NONE",
    "MODE_PROGRAMMATIC",
    "RunTracker",
]

MODE_PROGRAMMATIC = "programmatic"
MODE_DIRECT = "direct"
MODE_NONE = "none"
BYTES_PER_TOKEN = 4
"""The estimate's exchange rate: about 4 bytes of UTF-8 text per token (Anthropic's rule
of thumb of ~4 characters a token, for mostly ASCII tool results)."""
_CONTINUES = frozenset({"tool_use", "pause_turn"})


class RunTracker:
    """Builds each complete exchange's :class:`~ptc_observe.events.RunFacts`.

    The only memory is for wall time: the start of each run still going, keyed by the
    exchange that last continued it, at most ``max_open_runs`` (oldest dropped: those runs
    then get no duration). Thread safe.
    """

    def __init__(self, max_open_runs: int = 100_000) -> None:
        self._open: OrderedDict[int, tuple[float, int]] = OrderedDict()
        self._max = max_open_runs
        self._lock = threading.Lock()

    def step(self, ex: Exchange, input_rate: tuple[int, int] | None) -> RunFacts | None:
        """The run facts of ``ex``; ``None`` unless it carries a complete response.

        Args:
            input_rate: USD per uncached input token of the exchange's model, as an
                exact ``(numerator, denominator)`` (``None``: unpriced), for the savings
                estimate.
        """
        reply = ex.reply
        if reply is None or not ex.complete:
            return None
        request = ex.request
        pos = request.run
        programmatic = pos.programmatic_calls
        direct = pos.direct_calls
        for use in reply.tool_uses:
            # ToolUse.is_programmatic, inline: this runs for every call of every reply.
            if use.caller_tool_id is not None and use.caller_type != DIRECT:
                programmatic += 1
            else:
                direct += 1
        mode = (
            MODE_PROGRAMMATIC if programmatic else MODE_DIRECT if direct else MODE_NONE
        )
        kept = sent = 0
        for result in request.tool_results:
            if result.caller_tool_id is not None and result.caller_type != DIRECT:
                kept += result.size_bytes
            else:
                sent += result.size_bytes
        saved_usd = 0.0
        if kept and input_rate is not None and input_rate[0]:
            # Exact: the float nearest rate * kept / 4 (int / int is correctly rounded).
            saved_usd = input_rate[0] * kept / (input_rate[1] * BYTES_PER_TOKEN)
        finished = not reply.tool_uses and reply.stop_reason not in _CONTINUES
        if not finished:
            if ex.answers or not pos.exchanges_before and not pos.round_trips:
                self._continue(ex, pos.exchanges_before == 0 and pos.round_trips == 0)
            return RunFacts(
                mode,
                False,
                0,
                0,
                kept,
                sent,
                kept / BYTES_PER_TOKEN,
                saved_usd,
            )
        return RunFacts(
            mode,
            True,
            pos.round_trips,
            pos.programmatic_calls + pos.direct_calls,
            kept,
            sent,
            kept / BYTES_PER_TOKEN,
            saved_usd,
            self._wall_time(ex),
        )

    def _continue(self, ex: Exchange, starts_run: bool) -> None:
        """Remember the start of the run ``ex`` continues, keyed by ``ex`` (the next
        request of the run answers ``ex``'s tool calls)."""
        timings = ex.timings
        with self._lock:
            start: tuple[float, int] | None = None
            if starts_run:
                start = (timings.sent, 1)
            else:
                opened = self._open
                for asked_by in ex.answers:
                    found = opened.pop(asked_by, None)
                    if found is not None:
                        start = (found[0], found[1] + 1)
                        break
            if start is not None:
                self._open[ex.id] = start
                if len(self._open) > self._max:
                    self._open.popitem(last=False)

    def _wall_time(self, ex: Exchange) -> float | None:
        """Seconds since the run's first request, when this process saw all of it
        (``ex`` ends the run)."""
        pos = ex.request.run
        timings = ex.timings
        if pos.starts_run:
            return timings.finished - timings.sent  # a run of one exchange
        if not ex.answers:
            return None  # nothing links it to a run this process saw begin
        start: tuple[float, int] | None = None
        with self._lock:
            for asked_by in ex.answers:
                found = self._open.pop(asked_by, None)
                if found is not None:
                    start = found
                    break
        if start is None or start[1] != pos.exchanges_before:
            return None  # some exchange of the run went through another process
        return timings.finished - start[0]
