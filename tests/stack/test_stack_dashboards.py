"""Grafana dashboards: generated JSON in sync, every panel queryable, only contract metrics used."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .contract import CONTRACT, TARGET_LABELS, family_of, metric, series_names
from .helpers import run
from .promql import read
from .queries import DASHBOARD_DIR, REPO_ROOT, Query, dashboards, panel_queries

BOARDS = {path.name: board for path, board in dashboards().items()}
PANELS = [
    pytest.param(board, panel, id=f"{board['uid']}/{panel['title']}")
    for board in BOARDS.values()
    for panel in board["panels"]
    if panel["type"] != "row"
]
QUERIES = [pytest.param(q, id=q.name) for q in panel_queries()]
DATASOURCES_YML = DASHBOARD_DIR / "provisioning" / "datasources" / "datasources.yml"
GRAFANA_BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range"}


def _provisioned_datasources() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(DATASOURCES_YML.read_text(encoding="utf-8"))
    return {ds["uid"]: ds for ds in config["datasources"]}


class TestGenerator:
    def test_committed_json_is_the_generator_output(self) -> None:
        """dashboards/grafana/*.json is exactly what dashboards/generate.py writes."""
        result = run(sys.executable, "dashboards/generate.py", "--check")
        assert result.returncode == 0, result.stdout + result.stderr

    def test_check_reports_a_hand_edit(self, tmp_path: Path) -> None:
        """--check fails and shows the diff when a committed file was edited by hand."""
        for path in DASHBOARD_DIR.glob("*.json"):
            shutil.copy(path, tmp_path / path.name)
        edited = tmp_path / "ptc-overview.json"
        edited.write_text(edited.read_text().replace('"PTC overview"', '"Edited"'))
        result = run(
            sys.executable, "dashboards/generate.py", "--check", "--output", tmp_path
        )
        assert result.returncode == 1
        assert '-  "title": "Edited"' in result.stdout
        assert (
            "1 generated file(s) out of date: run python dashboards/generate.py"
            in result.stdout
        )

    def test_two_dashboards_with_stable_uids(self) -> None:
        """The overview and container dashboards exist with the uids links and docs use."""
        assert {b["uid"] for b in BOARDS.values()} == {"ptc-overview", "ptc-containers"}


class TestPanels:
    @pytest.mark.parametrize(("board", "panel"), PANELS)
    def test_panel_has_a_datasource_and_queries(
        self, board: dict[str, Any], panel: dict[str, Any]
    ) -> None:
        """Each panel reads the provisioned Prometheus datasource with at least one non-empty query."""
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
        assert panel["targets"], "no query"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(set(ref_ids)) == len(ref_ids)
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            assert target["expr"].strip()
            assert panel["description"]

    @pytest.mark.parametrize(("board", "panel"), PANELS)
    def test_histogram_queries_ask_for_exemplars(
        self, board: dict[str, Any], panel: dict[str, Any]
    ) -> None:
        """Time series and heatmaps over histogram buckets request exemplars (links to traces)."""
        if panel["type"] not in ("timeseries", "heatmap"):
            return
        for target in panel["targets"]:
            if "_bucket" in target["expr"]:
                assert target["exemplar"] is True, target["expr"]

    @pytest.mark.parametrize("query", QUERIES)
    def test_query_reads_only_contract_metrics_and_labels(self, query: Query) -> None:
        """Metric names, matcher labels and grouping labels all exist in the metric contract."""
        reading = read(query.raw)
        allowed = series_names() | ({"ALERTS"} if query.kind == "annotation" else set())
        assert reading.metrics <= allowed
        for selector in reading.selectors:
            family = family_of(selector.metric or "")
            if family is None:
                continue
            labels = set(family.labels) | TARGET_LABELS
            assert selector.labels <= labels, (
                selector.metric,
                selector.labels - labels,
            )
        families = [family_of(name) for name in reading.metrics]
        known = set(TARGET_LABELS) | {"le"}
        known |= {label for f in families if f is not None for label in f.labels}
        assert reading.grouping_labels <= known

    @pytest.mark.parametrize("query", QUERIES)
    def test_query_variables_are_defined(self, query: Query) -> None:
        """Every $variable a query uses is a template variable of its dashboard or a Grafana built-in."""
        board = next(
            b for b in BOARDS.values() if query.name.startswith(b["uid"] + " /")
        )
        defined = {
            v["name"] for v in board["templating"]["list"]
        } | GRAFANA_BUILTIN_VARIABLES
        used = set(re.findall(r"\$\{?(\w+)", query.raw))
        assert used <= defined

    def test_every_contract_metric_is_on_a_dashboard(self) -> None:
        """Each metric family of the contract appears in at least one panel."""
        shown = set().union(*(read(q.raw).metrics for q in panel_queries()))
        missing = [m.name for m in CONTRACT if not set(m.series()) & shown]
        assert missing == []

    def test_overview_covers_the_issue(self) -> None:
        """The overview shows caller share, tools, tokens, result bytes, latency, TTFT, errors, retries, headroom, turnaround."""
        shown = set().union(
            *(
                read(q.raw).metrics
                for q in panel_queries()
                if q.name.startswith("ptc-overview")
            )
        )
        for name in (
            "ptc_tool_calls_total",
            "ptc_tokens_total",
            "ptc_tool_result_bytes_total",
            "gen_ai_client_operation_duration_seconds",
            "gen_ai_client_operation_time_to_first_chunk_seconds",
            "ptc_errors_total",
            "ptc_http_retries_total",
            "ptc_ratelimit_remaining",
            "ptc_tool_turnaround_seconds",
            "ptc_cost_usd_total",
            "ptc_unpriced_tokens_total",
            "ptc_price_data_info",
            "ptc_runs_total",
            "ptc_run_round_trips_total",
            "ptc_run_tokens_total",
            "ptc_run_cost_usd_total",
            "ptc_run_saved_usd_estimate_total",
        ):
            assert set(metric(name).series()) & shown, name

    def test_containers_dashboard_covers_the_issue(self) -> None:
        """The container view shows created, reused, expired, active, lifetime and time left at reuse."""
        shown = set().union(
            *(
                read(q.raw).metrics
                for q in panel_queries()
                if q.name.startswith("ptc-containers")
            )
        )
        for m in CONTRACT:
            if "container" in m.name:
                assert set(m.series()) & shown, m.name


class TestLayoutAndVariables:
    @pytest.mark.parametrize("name", sorted(BOARDS))
    def test_panels_fit_the_grid_without_overlapping(self, name: str) -> None:
        """Panels stay within 24 columns, never overlap, and have unique ids."""
        taken: set[tuple[int, int]] = set()
        ids = []
        for panel in BOARDS[name]["panels"]:
            pos = panel["gridPos"]
            assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24
            cells = {
                (x, y)
                for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])
            }
            assert not cells & taken, panel["title"]
            taken |= cells
            ids.append(panel["id"])
        assert len(set(ids)) == len(ids)

    def test_overview_filters_by_model_and_tool(self) -> None:
        """The overview has multi-value model and tool variables whose "All" matches everything."""
        variables = {
            v["name"]: v for v in BOARDS["ptc-overview.json"]["templating"]["list"]
        }
        assert set(variables) == {"model", "tool"}
        for v in variables.values():
            assert v["multi"] and v["includeAll"] and v["allValue"] == ".*"
            assert v["datasource"]["uid"] == "prometheus"
            assert (
                read(v["query"].removeprefix("label_values(").split(",")[0]).metrics
                <= series_names()
            )


class TestDatasources:
    def test_exemplars_link_to_the_tempo_datasource(self) -> None:
        """The Prometheus datasource turns an exemplar's trace_id into a link to the Tempo datasource."""
        datasources = _provisioned_datasources()
        destinations = datasources["prometheus"]["jsonData"][
            "exemplarTraceIdDestinations"
        ]
        assert destinations == [
            {
                "name": "trace_id",
                "datasourceUid": "tempo",
                "urlDisplayLabel": "View trace",
            }
        ]
        assert datasources["tempo"]["type"] == "tempo"

    def test_dashboards_use_provisioned_datasources_only(self) -> None:
        """Every datasource uid a dashboard names is provisioned (or Grafana's built-in)."""
        text = "".join(p.read_text() for p in DASHBOARD_DIR.glob("*.json"))
        uids = set(re.findall(r'"uid": "([^"]+)"', text)) - {
            b["uid"] for b in BOARDS.values()
        }
        assert uids <= set(_provisioned_datasources()) | {"-- Grafana --"}


@pytest.mark.prometheus
def test_every_query_is_valid_promql(promtool: Path, tmp_path: Path) -> None:
    """promtool parses every dashboard query (variables substituted) as PromQL."""
    queries = panel_queries()
    group = {
        "name": "dashboard-queries",
        "rules": [
            {"record": f"q:{i}:check", "expr": q.expr} for i, q in enumerate(queries)
        ],
    }
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [group]}), encoding="utf-8")
    result = run(promtool, "check", "rules", path, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout
