"""Small builders for Grafana dashboard JSON (schema version 39, Grafana 10.4 and later).

Only what the ptc_observe dashboards use: Prometheus targets, time series, stat, gauge and
heatmap panels, rows, query variables and a grid layout that places panels left to right.
Everything is plain dicts and lists so ``json.dumps`` gives the file Grafana loads; no
randomness and no clock, so the output is byte-for-byte reproducible (tests compare it with
the committed JSON).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

# Stable datasource uids, provisioned in dashboards/grafana/provisioning/datasources/.
PROMETHEUS: JSON = {"type": "prometheus", "uid": "prometheus"}
TEMPO: JSON = {"type": "tempo", "uid": "tempo"}

GRID_WIDTH = 24
SCHEMA_VERSION = 39


@dataclass(frozen=True)
class Target:
    """One PromQL query of a panel.

    Args:
        expr: the PromQL expression; may use ``$model``, ``$tool``, ``$__rate_interval``, ``$__range``.
        legend: Grafana legend format, e.g. ``{{gen_ai_tool_name}}``.
        exemplar: ask Prometheus for exemplars (histogram queries), shown as points linking to traces.
        instant: evaluate once at the end of the range (stat and gauge panels).
        heatmap: return buckets in heatmap format (``le`` as the y axis).
    """

    expr: str
    legend: str = ""
    exemplar: bool = False
    instant: bool = False
    heatmap: bool = False

    def to_json(self, ref_id: str) -> JSON:
        """Render the target with the given refId."""
        return {
            "datasource": PROMETHEUS,
            "editorMode": "code",
            "exemplar": self.exemplar,
            "expr": self.expr,
            "format": "heatmap" if self.heatmap else "time_series",
            "instant": self.instant,
            "legendFormat": self.legend or "__auto",
            "range": not self.instant,
            "refId": ref_id,
        }


def _targets(targets: Sequence[Target]) -> list[JSON]:
    # refIds A, B, C ... in order; Grafana requires them unique within a panel.
    return [t.to_json(chr(ord("A") + i)) for i, t in enumerate(targets)]


def _thresholds(steps: Sequence[tuple[str, float | None]]) -> JSON:
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for color, value in steps],
    }


_GREEN: tuple[tuple[str, float | None], ...] = (("green", None),)


@dataclass
class Panel:
    """A panel before layout: its JSON without ``id`` and ``gridPos``, plus its size."""

    body: JSON
    width: int
    height: int


def timeseries(
    title: str,
    description: str,
    targets: Sequence[Target],
    *,
    unit: str = "short",
    stack: bool = False,
    width: int = 12,
    height: int = 8,
    min_value: float | None = None,
    max_value: float | None = None,
    thresholds: Sequence[tuple[str, float | None]] | None = None,
) -> Panel:
    """A time series panel; ``thresholds`` are drawn as dashed lines when given."""
    defaults: JSON = {
        "color": {"mode": "palette-classic"},
        "custom": {
            "drawStyle": "line",
            "fillOpacity": 20 if stack else 5,
            "lineWidth": 1,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"group": "A", "mode": "normal" if stack else "none"},
            "thresholdsStyle": {"mode": "dashed" if thresholds else "off"},
        },
        "thresholds": _thresholds(thresholds or _GREEN),
        "unit": unit,
    }
    if min_value is not None:
        defaults["min"] = min_value
    if max_value is not None:
        defaults["max"] = max_value
    body: JSON = {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {
                "calcs": ["mean", "max"],
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": True,
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": _targets(targets),
    }
    return Panel(body, width, height)


def stat(
    title: str,
    description: str,
    target: Target,
    *,
    unit: str = "short",
    thresholds: Sequence[tuple[str, float | None]] = _GREEN,
    decimals: int | None = None,
    width: int = 4,
    height: int = 4,
) -> Panel:
    """A single-value panel; make the target ``instant`` when it sums over ``$__range``."""
    defaults: JSON = {
        "color": {"mode": "thresholds"},
        "thresholds": _thresholds(thresholds),
        "unit": unit,
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    body: JSON = {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "auto",
        },
        "targets": _targets([target]),
    }
    return Panel(body, width, height)


def gauge(
    title: str,
    description: str,
    target: Target,
    *,
    unit: str,
    thresholds: Sequence[tuple[str, float | None]],
    min_value: float,
    max_value: float,
    width: int = 8,
    height: int = 8,
) -> Panel:
    """A gauge per series (e.g. one per rate-limit resource)."""
    body: JSON = {
        "type": "gauge",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "fieldConfig": {
            "defaults": {
                "color": {"mode": "thresholds"},
                "max": max_value,
                "min": min_value,
                "thresholds": _thresholds(thresholds),
                "unit": unit,
            },
            "overrides": [],
        },
        "options": {
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showThresholdLabels": False,
            "showThresholdMarkers": True,
        },
        "targets": _targets([target]),
    }
    return Panel(body, width, height)


def heatmap(
    title: str,
    description: str,
    target: Target,
    *,
    unit: str,
    width: int = 12,
    height: int = 8,
) -> Panel:
    """A heatmap of pre-bucketed histogram data (``le`` buckets), exemplars on top."""
    body: JSON = {
        "type": "heatmap",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {
            "calculate": False,
            "cellGap": 1,
            "color": {
                "exponent": 0.5,
                "fill": "dark-orange",
                "mode": "scheme",
                "reverse": False,
                "scale": "exponential",
                "scheme": "Oranges",
                "steps": 64,
            },
            "exemplars": {"color": "rgba(255,0,255,0.7)"},
            "filterValues": {"le": 1e-9},
            "legend": {"show": True},
            "rowsFrame": {"layout": "auto"},
            "showValue": "never",
            "tooltip": {"mode": "single", "showColorScale": False, "yHistogram": True},
            "yAxis": {"axisPlacement": "left", "reverse": False, "unit": unit},
        },
        "targets": _targets([target]),
    }
    return Panel(body, width, height)


@dataclass
class Row:
    """A row header; the panels after it, up to the next row, belong to it."""

    title: str
    panels: list[Panel] = field(default_factory=list)


def layout(rows: Sequence[Row]) -> list[JSON]:
    """Place rows and their panels on Grafana's 24-column grid and number them from 1.

    Panels go left to right and wrap to a new line when they no longer fit; a line is as tall
    as its tallest panel.
    """
    out: list[JSON] = []
    next_id = 1
    y = 0
    for row in rows:
        out.append(
            {
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
                "id": next_id,
                "panels": [],
            }
        )
        next_id += 1
        y += 1
        x = 0
        line_height = 0
        for panel in row.panels:
            if panel.width > GRID_WIDTH:
                raise ValueError(
                    f"panel {panel.body['title']!r} is wider than the grid"
                )
            if x + panel.width > GRID_WIDTH:
                y += line_height
                x, line_height = 0, 0
            body = dict(panel.body)
            body["gridPos"] = {"h": panel.height, "w": panel.width, "x": x, "y": y}
            body["id"] = next_id
            out.append(body)
            next_id += 1
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return out


def query_variable(name: str, label: str, query: str, description: str) -> JSON:
    """A multi-value template variable filled from ``label_values(...)``, "All" meaning ``.*``."""
    return {
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "datasource": PROMETHEUS,
        "definition": query,
        "description": description,
        "hide": 0,
        "includeAll": True,
        "label": label,
        "multi": True,
        "name": name,
        "options": [],
        "query": query,
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
        "type": "query",
    }


def dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    rows: Sequence[Row],
    variables: Sequence[JSON] = (),
    annotations: Sequence[JSON] = (),
    tags: Sequence[str] = ("ptc-observe",),
) -> JSON:
    """A whole dashboard: panels laid out, links to the other dashboards with the same tag."""
    builtin: JSON = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "annotations": {"list": [builtin, *annotations]},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "asDropdown": False,
                "icon": "external link",
                "includeVars": False,
                "keepTime": True,
                "tags": list(tags),
                "targetBlank": False,
                "title": "PTC dashboards",
                "type": "dashboards",
            }
        ],
        "panels": layout(rows),
        "refresh": "10s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": list(tags),
        "templating": {"list": list(variables)},
        "time": {"from": "now-30m", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


def alerts_annotation(selector: str) -> JSON:
    """Mark firing Prometheus alerts (the ``ALERTS`` series) on every time series panel."""
    return {
        "datasource": PROMETHEUS,
        "enable": True,
        "expr": f'ALERTS{{alertstate="firing", {selector}}}',
        "iconColor": "red",
        "name": "Firing PTC alerts",
        "step": "30s",
        "tagKeys": "alertname,severity",
        "textFormat": "",
        "titleFormat": "{{alertname}}",
        "useValueForTime": False,
    }
