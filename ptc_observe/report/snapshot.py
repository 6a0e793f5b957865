"""The snapshot source: one saved ``/metrics`` text (a file, standard input or a URL).

A snapshot holds counters since each process started, not increases over a range; the report
says so. The earliest ``ptc_cost_usd_created`` (the first priced exchange) or else
``process_start_time_seconds`` (prometheus_client's default registry) dates the start, the
file's modification time (or now, for a URL) the end, so a projected month can still be given. Parsing is prometheus_client's own text parser (the OpenMetrics one
when the text ends with ``# EOF``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import parser as openmetrics_parser
from prometheus_client.parser import text_string_to_metric_families

from .errors import NoMetricsError, SourceError
from .families import COST, REQUIRED
from .timerange import Window, iso
from .totals import Collected, group, has_ptc_data

_START = "process_start_time_seconds"
_CREATED = COST.sample.removesuffix("_total") + "_created"
_ACCEPT = (
    "text/plain;version=0.0.4;q=1, application/openmetrics-text;version=1.0.0;q=0.5"
)


def load_snapshot(where: str, *, now: datetime, timeout: float = 10.0) -> Collected:
    """Read and parse a ``/metrics`` text from a path, ``-`` (standard input) or an http(s) URL.

    Raises:
        SourceError: unreadable, not UTF-8, empty, not the Prometheus text format, or the
            URL could not be fetched.
        NoMetricsError: parsed, but no ptc_observe cost or run family is in it.
    """
    text, taken = _read(where, now=now, timeout=timeout)
    if not text.strip():
        raise SourceError(f"{where}: empty, no metrics in it")
    samples = list(_samples(text, where))
    totals = group((name, labels, value) for name, labels, value in samples)
    if not has_ptc_data(totals):
        names = sorted({name for name, _, _ in samples if name.startswith("ptc_")})
        hint = (
            f"it has other ptc_ metrics ({', '.join(names[:4])}...) but no cost or run "
            "families: is it from a ptc_observe without cost metrics?"
            if names
            else "it has no ptc_ metrics at all"
        )
        wanted = ", ".join(f.sample for f in REQUIRED)
        raise NoMetricsError(
            f"{where}: no ptc_observe cost or run metrics ({wanted}); {hint}"
        )
    start, since = _start(samples)
    window = Window(
        description=f"snapshot taken {iso(taken)}: totals {since}",
        start=start,
        end=taken,
        snapshot=True,
    )
    return Collected(totals, window, where)


def _start(
    samples: list[tuple[str, dict[str, str], float]],
) -> tuple[datetime | None, str]:
    """When the snapshot's counting began, and how the report words it.

    The earliest ``ptc_cost_usd_created`` (prometheus_client's creation time of each cost
    series: the first priced exchange) if exposed, else the earliest
    ``process_start_time_seconds``, else unknown.
    """
    created = [v for name, _, v in samples if name == _CREATED and v > 0]
    if created:
        first = _utc(min(created))
        return first, f"since the process started, the first priced at {iso(first)}"
    starts = [v for name, _, v in samples if name == _START and v > 0]
    if starts:
        first = _utc(min(starts))
        return first, f"since the process started at {iso(first)}"
    return None, "since each process started"


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def _read(where: str, *, now: datetime, timeout: float) -> tuple[str, datetime]:
    if where.startswith(("http://", "https://")):
        try:
            response = httpx.get(where, headers={"Accept": _ACCEPT}, timeout=timeout)
        except httpx.HTTPError as e:
            raise SourceError(f"cannot fetch {where}: {_reason(e)}") from None
        if response.status_code != 200:
            raise SourceError(f"{where} answered HTTP {response.status_code}")
        return response.text, now
    if where == "-":
        return sys.stdin.read(), now
    path = Path(where)
    try:
        data = path.read_bytes()
        taken = datetime.fromtimestamp(os.stat(path).st_mtime, tz=timezone.utc)
    except OSError as e:
        raise SourceError(f"cannot read {where}: {e.strerror or e}") from None
    try:
        return data.decode("utf-8"), taken
    except UnicodeDecodeError as e:
        raise SourceError(
            f"{where}: not a Prometheus text file (not UTF-8 at byte {e.start})"
        ) from None


def _reason(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectError):
        return "connection failed (is it running, is the address right?)"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    return f"{type(error).__name__}: {error}"


def _families(text: str) -> Iterator[Metric]:
    if text.rstrip().endswith("# EOF"):
        # The OpenMetrics parser is untyped in prometheus_client.
        yield from openmetrics_parser.text_string_to_metric_families(text)  # type: ignore[no-untyped-call]
    else:
        yield from text_string_to_metric_families(text)


def _samples(text: str, where: str) -> Iterator[tuple[str, dict[str, str], float]]:
    try:
        families = list(_families(text))
    except ValueError as e:
        raise SourceError(
            f"{where}: not in the Prometheus text format{_bad_line(text)}: {e}"
        ) from None
    for family in families:
        for sample in family.samples:
            yield sample.name, sample.labels, sample.value


def _bad_line(text: str) -> str:
    """`` at line N`` for the first line the parser refuses on its own, if one does."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            list(text_string_to_metric_families(line + "\n"))
        except ValueError:
            return f" (line {number}: {line[:80]!r})"
    return ""
