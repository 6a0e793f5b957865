"""--since / --until / --range parsing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ptc_observe.report import RangeError, TimeRange
from ptc_observe.report.timerange import parse_duration, parse_time

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("24h", 86400),
        ("7d", 604800),
        ("1h30m", 5400),
        ("500ms", 0.5),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "24", "h", "1.5h", "-1h", "0s", "24 hours"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(RangeError):
        parse_duration(text)


def test_times() -> None:
    """RFC 3339 (with or without zone), Unix seconds, now, and a duration before now."""
    assert parse_time("2026-12-01T00:00:00Z", NOW) == datetime(
        2026, 12, 1, tzinfo=timezone.utc
    )
    assert parse_time("2026-12-01T01:00:00+01:00", NOW) == datetime(
        2026, 12, 1, tzinfo=timezone.utc
    )
    assert parse_time("2026-12-01T00:00:00", NOW) == datetime(
        2026, 12, 1, tzinfo=timezone.utc
    )
    assert parse_time("0", NOW) == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert parse_time("now", NOW) == NOW
    assert parse_time("2h", NOW) == NOW - timedelta(hours=2)
    with pytest.raises(RangeError, match="not a time"):
        parse_time("yesterday", NOW)


def test_ranges() -> None:
    """--range ends at --until (default now); with nothing given, the last 24h."""
    assert (
        TimeRange.parse(since=None, until=None, length=None, now=NOW).seconds == 86400
    )
    rng = TimeRange.parse(since=None, until="1h", length="2h", now=NOW)
    assert (rng.start, rng.end) == (NOW - timedelta(hours=3), NOW - timedelta(hours=1))
    rng = TimeRange.parse(
        since="2026-12-03T10:00:00Z", until=None, length=None, now=NOW
    )
    assert rng.seconds == 7200


@pytest.mark.parametrize(
    ("since", "until", "length", "match"),
    [
        ("1h", None, "2h", "not both"),
        ("1h", "2h", None, "empty or reversed"),
        (None, "2026-12-04T00:00:00Z", "1h", "in the future"),
        (None, None, "soon", "not a duration"),
    ],
)
def test_bad_ranges(
    since: str | None, until: str | None, length: str | None, match: str
) -> None:
    with pytest.raises(RangeError, match=match):
        TimeRange.parse(since=since, until=until, length=length, now=NOW)
