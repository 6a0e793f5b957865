"""Injectable clocks and the timestamp formats the API uses.

The emulator never reads the time itself: every component takes a *clock*, a
zero-argument callable returning seconds since the Unix epoch. Production code
uses :func:`time.time`; tests pass a :class:`ManualClock` and advance it instead
of sleeping, so container expiry and rate-limit windows are deterministic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone

Clock = Callable[[], float]
"""A zero-argument callable returning the current time as Unix epoch seconds."""

# 2026-08-21T09:14:00Z, the date the authored fixtures use.
DEFAULT_START = datetime(2026, 8, 21, 9, 14, 0, tzinfo=timezone.utc).timestamp()


class ManualClock:
    """A clock that only moves when told to; thread-safe.

    Args:
        start: the initial time (epoch seconds); defaults to 2026-08-21T09:14:00Z.
    """

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """Return the current (manual) time in epoch seconds."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return the new time.

        Raises:
            ValueError: if ``seconds`` is negative (time never runs backwards).
        """
        if seconds < 0:
            raise ValueError("a ManualClock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock({rfc3339_micro(self())!r})"


def rfc3339_micro(epoch: float) -> str:
    """Format ``epoch`` as the API formats ``container.expires_at``.

    RFC 3339 in UTC with microseconds and a ``Z`` suffix, e.g.
    ``2026-08-21T09:18:37.318204Z``.
    """
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339_seconds(epoch: float) -> str:
    """Format ``epoch`` as the rate-limit ``*-reset`` headers do (whole seconds, ``Z``)."""
    moment = datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
