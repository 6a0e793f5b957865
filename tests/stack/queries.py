"""Every PromQL expression the stack runs: dashboard panels, dashboard annotations and rules.

For end-to-end tests that run each query against a real Prometheus scraping the demo::

    from .queries import all_queries

    for q in all_queries():
        result = prometheus_query(q.expr)        # status must be "success"
        if q.expects_data:
            assert result, q.name                # panels should show data once the demo ran

Grafana template variables are replaced by usable values (``$model`` and ``$tool`` by ``.*``,
``$__rate_interval`` and ``$__interval`` by ``1m``, ``$__range`` by ``5m``); pass
``substitutions`` to change them. Files are read from the repository, i.e. exactly what Grafana
and Prometheus load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO_ROOT / "dashboards" / "grafana"
RULE_FILES = (REPO_ROOT / "compose" / "rules" / "ptc_alerts.yml",)

DEFAULT_SUBSTITUTIONS: Mapping[str, str] = {
    "model": ".*",
    "tool": ".*",
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "5m",
}

# $name, ${name} and ${name:format}
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")

Kind = Literal["panel", "annotation", "record", "alert"]


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it comes from.

    Attributes:
        source: file, relative to the repository root.
        name: ``dashboard uid / panel title / refId``, annotation name, or rule name.
        kind: panel, annotation (e.g. firing alerts), record or alert.
        raw: the expression as written.
        expr: the expression with template variables substituted: ready for Prometheus.
        instant: Grafana runs it as an instant query (stat and gauge panels).
    """

    source: str
    name: str
    kind: Kind
    raw: str
    expr: str
    instant: bool = False

    @property
    def expects_data(self) -> bool:
        """True for panel queries, which should show data once a workload ran.

        Rules and annotations are often empty (no alert firing, no errors). Panels on
        ``ptc_telemetry_errors_total`` are not: its series start at 0, one per stage. Panels on
        errors, retries and rate limits need a workload that meets them (the demo's faults).
        """
        return self.kind == "panel"


def substitute(expr: str, substitutions: Mapping[str, str] | None = None) -> str:
    """Replace Grafana template variables in ``expr``.

    Raises:
        KeyError: for a variable with no value (a new variable must be added here).
    """
    values = {**DEFAULT_SUBSTITUTIONS, **(substitutions or {})}

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError(f"no value for template variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(one, expr)


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    # Collapsed rows keep their panels inside the row.
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboards(directory: Path = DASHBOARD_DIR) -> dict[Path, dict[str, Any]]:
    """Every dashboard JSON file in ``directory``, parsed, by path."""
    return {
        path: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }


def panel_queries(
    substitutions: Mapping[str, str] | None = None, directory: Path = DASHBOARD_DIR
) -> list[Query]:
    """Queries of every panel target and every PromQL annotation of every dashboard."""
    out: list[Query] = []
    for path, board in dashboards(directory).items():
        source = str(path.relative_to(REPO_ROOT))
        for panel in _panels(board.get("panels", [])):
            for target in panel.get("targets", []):
                raw = target.get("expr", "")
                out.append(
                    Query(
                        source,
                        f"{board['uid']} / {panel['title']} / {target['refId']}",
                        "panel",
                        raw,
                        substitute(raw, substitutions),
                        bool(target.get("instant")),
                    )
                )
        for annotation in board.get("annotations", {}).get("list", []):
            if "expr" in annotation:
                raw = annotation["expr"]
                out.append(
                    Query(
                        source,
                        f"{board['uid']} / {annotation['name']}",
                        "annotation",
                        raw,
                        substitute(raw, substitutions),
                    )
                )
    return out


def rules(
    paths: tuple[Path, ...] = RULE_FILES,
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every rule (recording and alerting) of the rule files, with its file."""
    for path in paths:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                yield path, rule


def rule_queries(paths: tuple[Path, ...] = RULE_FILES) -> list[Query]:
    """Expressions of every recording and alerting rule."""
    out = []
    for path, rule in rules(paths):
        kind: Kind = "alert" if "alert" in rule else "record"
        expr = str(rule["expr"]).strip()
        out.append(
            Query(
                str(path.relative_to(REPO_ROOT)),
                rule.get("alert") or rule["record"],
                kind,
                expr,
                expr,
                True,
            )
        )
    return out


def all_queries(substitutions: Mapping[str, str] | None = None) -> list[Query]:
    """Every dashboard query (substituted) and every rule expression."""
    return [*panel_queries(substitutions), *rule_queries()]
