"""Time ranges for the report: parsing ``--since`` / ``--until`` / ``--range``, and the window
the numbers cover.

Durations are Prometheus-style (``90s``, ``15m``, ``24h``, ``7d``, ``2w``, combined as
``1h30m``). A point in time is RFC 3339 / ISO 8601 (``2026-01-31T12:00:00Z``; without a zone it
is UTC), Unix seconds, ``now``, or a duration meaning that long before now (``--since 24h``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .errors import RangeError

_UNITS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "y": 365 * 86400,
}
_DURATION = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIX = re.compile(r"^\d+(?:\.\d+)?$")

# The report's "month": 30 days.
MONTH_SECONDS = 30 * 86400.0


def parse_duration(text: str) -> timedelta:
    """``24h``, ``1h30m``, ``7d``... as a ``timedelta``.

    Raises:
        RangeError: not a duration, or zero.
    """
    text = text.strip()
    if not _DURATION.match(text):
        raise RangeError(
            f"{text!r} is not a duration: use a number and a unit (ms, s, m, h, d, w, y), "
            "e.g. 90m, 24h, 7d or 1h30m"
        )
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    if seconds <= 0:
        raise RangeError(f"duration {text!r} is zero")
    return timedelta(seconds=seconds)


def parse_time(text: str, now: datetime) -> datetime:
    """A point in time: RFC 3339, Unix seconds, ``now``, or a duration before ``now``.

    Raises:
        RangeError: none of these.
    """
    text = text.strip()
    if text == "now":
        return now
    if _UNIX.match(text):
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    if _DURATION.match(text):
        return now - parse_duration(text)
    try:
        value = datetime.fromisoformat(
            text.replace("Z", "+00:00").replace("z", "+00:00")
        )
    except ValueError:
        raise RangeError(
            f"{text!r} is not a time: use RFC 3339 (2026-01-31T12:00:00Z), Unix seconds, "
            "'now', or a duration before now (24h)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class TimeRange:
    """A closed interval ``[start, end]`` asked of Prometheus."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        """Its length in seconds."""
        return (self.end - self.start).total_seconds()

    @classmethod
    def parse(
        cls,
        *,
        since: str | None,
        until: str | None,
        length: str | None,
        now: datetime,
        default: str = "24h",
    ) -> TimeRange:
        """Build the range from the command-line options.

        ``length`` (``--range``) is the span ending at ``until`` (default now); it cannot be
        combined with ``since``. With neither, the range is the last ``default``.

        Raises:
            RangeError: an unparseable value, both ``since`` and ``length``, an empty or
                reversed range, or a range ending in the future.
        """
        if since is not None and length is not None:
            raise RangeError("give --since or --range, not both")
        end = parse_time(until, now) if until is not None else now
        if since is not None:
            start = parse_time(since, now)
        else:
            start = end - parse_duration(length if length is not None else default)
        if end > now + timedelta(minutes=1):
            raise RangeError(f"--until {iso(end)} is in the future (now is {iso(now)})")
        if start >= end:
            raise RangeError(
                f"the range is empty or reversed: {iso(start)} .. {iso(end)}"
            )
        return cls(start, end)


@dataclass(frozen=True)
class Window:
    """What the report's numbers cover.

    Attributes:
        description: one line for the report header.
        start: where the counted data begins (the first sample in the range, or the
            process start of a snapshot), if known.
        end: the end of the range, or the time the snapshot was taken.
        snapshot: the numbers are a single ``/metrics`` snapshot (totals since the
            process started), not increases over a range.
    """

    description: str
    start: datetime | None
    end: datetime
    snapshot: bool

    @property
    def covered_seconds(self) -> float | None:
        """Seconds the data covers, when the start is known."""
        if self.start is None:
            return None
        return max(0.0, (self.end - self.start).total_seconds())


def iso(value: datetime) -> str:
    """``value`` as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
