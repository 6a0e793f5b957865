"""The Prometheus source: the report's families over a time range, from the HTTP API.

Each family is one instant query evaluated at the range's end:
``sum by (<labels>) (increase(<sample>[<range>]))`` (Prometheus's own extrapolated increase,
exact across restarts and processes like every counter), and for the price-data info metric the
label sets seen during the range. Two range queries (coarse, then fine) date the first sample,
so a projected month uses the time the data really covers; a third gives the spend rate over
time for the HTML chart.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from .errors import NoMetricsError, SourceError
from .families import ALL, COST, REQUIRED, Family
from .timerange import TimeRange, Window, iso
from .totals import Collected, Totals, has_ptc_data

# Points of the spend-rate chart over the range.
CHART_POINTS = 120


def selector(sample: str, matchers: str = "") -> str:
    """``sample{matchers}``: the series of ``sample`` restricted by label matchers.

    ``matchers`` is PromQL's list of label matchers, with or without braces
    (``job="api",env=~"prod|staging"``); Prometheus checks its syntax.
    """
    inner = matchers.strip().removeprefix("{").removesuffix("}").strip()
    return f"{sample}{{{inner}}}" if inner else sample


def family_query(family: Family, seconds: float, matchers: str = "") -> str:
    """The PromQL that sums ``family`` over a range of ``seconds`` ending at the query time."""
    window = _duration(seconds)
    by = ", ".join(family.by)
    series = selector(family.sample, matchers)
    if family.info:
        return f"max by ({by}) (last_over_time({series}[{window}]))"
    return f"sum by ({by}) (increase({series}[{window}]))"


def _duration(seconds: float) -> str:
    return f"{max(1, math.ceil(seconds * 1000))}ms"


class PrometheusAPI:
    """A thin client of ``/api/v1/query`` and ``/api/v1/query_range`` with clear errors."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        base = url.rstrip("/").removesuffix("/api/v1")
        if not base.startswith(("http://", "https://")):
            raise SourceError(f"--prometheus {url!r}: give an http:// or https:// URL")
        self.url = base
        self._client = httpx.Client(base_url=base, timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def get(self, path: str, params: dict[str, str]) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data``.

        Raises:
            SourceError: unreachable, not a Prometheus API, or an error answer.
        """
        try:
            response = self._client.get(f"/api/v1/{path}", params=params)
        except httpx.ConnectError:
            raise SourceError(
                f"cannot reach Prometheus at {self.url}: connection failed "
                "(is it running, is the address right?)"
            ) from None
        except httpx.TimeoutException:
            raise SourceError(
                f"Prometheus at {self.url} did not answer in time"
            ) from None
        except httpx.HTTPError as e:
            raise SourceError(f"cannot reach Prometheus at {self.url}: {e}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "status" not in body:
            kind = response.headers.get("content-type", "no content type")
            raise SourceError(
                f"{self.url} does not answer like the Prometheus HTTP API (HTTP "
                f"{response.status_code}, {kind} for /api/v1/{path}): give the server's base "
                "URL, e.g. http://localhost:9090"
            )
        if body["status"] != "success":
            raise SourceError(
                f"Prometheus at {self.url} refused a query ({body.get('errorType')}): "
                f"{body.get('error')}"
            )
        return body.get("data")

    def instant(self, expr: str, at: datetime) -> list[dict[str, Any]]:
        """An instant vector query evaluated at ``at``."""
        data = self.get("query", {"query": expr, "time": f"{at.timestamp():.3f}"})
        return list(data.get("result", [])) if isinstance(data, dict) else []

    def series(
        self, expr: str, rng: TimeRange, step: float
    ) -> list[tuple[float, float]]:
        """``(time, value)`` points of a one-series range query (summed if several)."""
        data = self.get(
            "query_range",
            {
                "query": expr,
                "start": f"{rng.start.timestamp():.3f}",
                "end": f"{rng.end.timestamp():.3f}",
                "step": f"{step:.3f}",
            },
        )
        points: dict[float, float] = {}
        for series in data.get("result", []) if isinstance(data, dict) else []:
            for t, v in series.get("values", []):
                value = float(v)
                if math.isfinite(value):
                    points[float(t)] = points.get(float(t), 0.0) + value
        return sorted(points.items())


def load_prometheus(
    url: str, rng: TimeRange, *, matchers: str = "", timeout: float = 30.0
) -> Collected:
    """The report's totals over ``rng`` from the Prometheus server at ``url``.

    ``matchers`` restricts every query to the series with these labels (``job="api"``).

    Raises:
        SourceError: unreachable, not Prometheus, or a query refused.
        NoMetricsError: no ptc_observe cost or run series in the range.
    """
    api = PrometheusAPI(url, timeout=timeout)
    try:
        totals: Totals = {}
        for family in ALL:
            values: dict[tuple[str, ...], float] = {}
            for item in api.instant(
                family_query(family, rng.seconds, matchers), rng.end
            ):
                value = float(item["value"][1])
                if not math.isfinite(value):
                    continue
                labels = item.get("metric", {})
                values[tuple(labels.get(label, "") for label in family.by)] = value
            if values:
                totals[family.sample] = values
        if not has_ptc_data(totals):
            where = (
                f"matching {{{matchers.strip().strip('{}')}}} "
                if matchers.strip()
                else ""
            )
            wanted = ", ".join(f.sample for f in REQUIRED)
            raise NoMetricsError(
                f"Prometheus at {api.url} has no ptc_observe cost or run metrics ({wanted}) "
                f"{where}between {iso(rng.start)} and {iso(rng.end)}: check that it scrapes "
                "a ptc_observe process with cost metrics, the range and the selector"
            )
        step = max(1.0, rng.seconds / CHART_POINTS)
        start = _first_sample(api, rng, step, matchers)
        window = 4 * step if step > 15 else 60.0
        spend_rate = api.series(
            f"sum(rate({selector(COST.sample, matchers)}[{_duration(window)}])) * 3600",
            rng,
            step,
        )
    finally:
        api.close()
    description = f"{iso(rng.start)} .. {iso(rng.end)} ({_human(rng.seconds)}), increases over the range"
    return Collected(
        totals,
        Window(description=description, start=start, end=rng.end, snapshot=False),
        f"Prometheus {api.url}"
        + (f" {selector('', matchers)}" if matchers.strip() else ""),
        tuple(spend_rate),
    )


def _first_sample(
    api: PrometheusAPI, rng: TimeRange, step: float, matchers: str
) -> datetime:
    """When the cost data in ``rng`` begins, to within ``step / 100`` (at least a second).

    A range query point has a value only if a sample at or before it exists (within the
    lookback), so the first point with data is the first one at or after the first sample:
    found on a coarse grid, then refined over the coarse step before it.
    """
    expr = f"sum({selector(COST.sample, matchers)})"
    coarse = api.series(expr, rng, step)
    if not coarse:
        return rng.start
    first = _utc(coarse[0][0])
    if first <= rng.start or step <= 1.0:
        return max(rng.start, first)
    fine_range = TimeRange(max(rng.start, first - timedelta(seconds=step)), first)
    fine = api.series(expr, fine_range, max(1.0, step / 100))
    return max(rng.start, _utc(fine[0][0])) if fine else first


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            value = seconds / size
            return (
                f"{value:.0f}{unit}" if value == round(value) else f"{value:.1f}{unit}"
            )
    return f"{seconds:.0f}s"
