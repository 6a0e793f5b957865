"""Prometheus config and rules: promtool's checks and unit tests, plus what every rule must carry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .contract import PROMETHEUS_SERIES, series_names
from .helpers import run
from .promql import metric_names
from .queries import RULE_FILES, rules

PROMETHEUS_YML = Path("compose/prometheus.yml")
RULES_YML = Path("compose/rules/ptc_alerts.yml")
RULE_TESTS_YML = Path("compose/rules/tests/ptc_alerts_test.yml")

ALERTS = [rule for _, rule in rules() if "alert" in rule]
RECORDS = [rule for _, rule in rules() if "record" in rule]


@pytest.mark.prometheus
class TestPromtool:
    def test_scrape_config_is_valid(self, promtool: Path, repo_root: Path) -> None:
        """`promtool check config` accepts compose/prometheus.yml and the rule files it loads."""
        result = run(promtool, "check", "config", PROMETHEUS_YML)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 rule files found" in result.stdout

    def test_rules_are_valid(self, promtool: Path) -> None:
        """`promtool check rules` accepts every rule."""
        result = run(promtool, "check", "rules", RULES_YML)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"SUCCESS: {len(ALERTS) + len(RECORDS)} rules found" in result.stdout

    def test_rule_unit_tests_pass(self, promtool: Path) -> None:
        """`promtool test rules` passes the alert and recording-rule unit tests."""
        result = run(promtool, "test", "rules", RULE_TESTS_YML)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout

    def test_unit_tests_catch_a_changed_threshold(
        self, promtool: Path, repo_root: Path, tmp_path: Path
    ) -> None:
        """The unit tests fail when an alert threshold changes, so they really pin the rules."""
        (tmp_path / "tests").mkdir()
        text = (repo_root / RULES_YML).read_text(encoding="utf-8")
        changed = text.replace(
            "ptc:ratelimit_headroom:ratio < 0.1", "ptc:ratelimit_headroom:ratio < 0.01"
        )
        assert changed != text
        (tmp_path / "ptc_alerts.yml").write_text(changed, encoding="utf-8")
        (tmp_path / "tests" / "t.yml").write_text(
            (repo_root / RULE_TESTS_YML).read_text(encoding="utf-8"), encoding="utf-8"
        )
        result = run(promtool, "test", "rules", tmp_path / "tests" / "t.yml")
        assert result.returncode != 0
        assert "PTCRateLimitHeadroomLow" in result.stdout + result.stderr


class TestAlerts:
    @pytest.mark.parametrize("rule", [pytest.param(r, id=r["alert"]) for r in ALERTS])
    def test_alert_is_documented_for_the_person_paged(
        self, rule: dict[str, Any]
    ) -> None:
        """Every alert has a severity and summary, description and runbook annotations."""
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}
        for key in ("summary", "description", "runbook"):
            assert len(rule["annotations"].get(key, "")) > 20, key

    @pytest.mark.parametrize("rule", [pytest.param(r, id=r["alert"]) for r in ALERTS])
    def test_alert_has_a_firing_unit_test(
        self, rule: dict[str, Any], repo_root: Path
    ) -> None:
        """Every alert is exercised by a promtool unit test that expects it to fire."""
        suite = yaml.safe_load((repo_root / RULE_TESTS_YML).read_text(encoding="utf-8"))
        firing = {
            case["alertname"]
            for test in suite["tests"]
            for case in test.get("alert_rule_test", [])
            if case.get("exp_alerts")
        }
        assert rule["alert"] in firing

    @pytest.mark.parametrize("rule", [pytest.param(r, id=r["alert"]) for r in ALERTS])
    def test_alert_is_listed_in_the_deploy_guide(
        self, rule: dict[str, Any], repo_root: Path
    ) -> None:
        """docs/deploy.md names every alert (its threshold table is what operators read)."""
        assert f"`{rule['alert']}`" in (repo_root / "docs" / "deploy.md").read_text(
            encoding="utf-8"
        )

    def test_alerts_cover_the_issue(self) -> None:
        """Errors, overloads, rate-limit headroom, container expiries, telemetry errors and scrape down are alerted on."""
        records = {r["record"]: str(r["expr"]) for r in RECORDS}

        def metrics(expr: str) -> set[str]:
            # Follow recording rules down to the metrics they read.
            out: set[str] = set()
            for name in metric_names(expr):
                out |= metrics(records[name]) if name in records else {name}
            return out

        alerted = set().union(*(metrics(str(r["expr"])) for r in ALERTS))
        exprs = " ".join(str(r["expr"]) for r in ALERTS)
        assert {
            "ptc_exchanges_total",
            "ptc_errors_total",
            "ptc_ratelimit_remaining",
            "ptc_containers_expired_total",
            "ptc_telemetry_errors_total",
            "up",
        } <= alerted
        assert "overloaded_error" in exprs


class TestRuleNames:
    @pytest.mark.parametrize(
        "rule",
        [pytest.param(r, id=r.get("alert") or r["record"]) for _, r in rules()],
    )
    def test_rule_reads_only_contract_metrics(self, rule: dict[str, Any]) -> None:
        """A rule reads metrics of the contract, Prometheus' own series, or recording rules defined here."""
        recorded = {r["record"] for r in RECORDS}
        allowed = series_names() | PROMETHEUS_SERIES | recorded
        assert metric_names(str(rule["expr"])) <= allowed

    @pytest.mark.parametrize("rule", [pytest.param(r, id=r["record"]) for r in RECORDS])
    def test_recording_rule_name_follows_the_convention(
        self, rule: dict[str, Any]
    ) -> None:
        """Recording rules are named level:metric:operations and keep the job label."""
        level, metric, operations = rule["record"].split(":")
        assert level == "ptc" and metric and operations
        # The budget is a constant the operator sets (it applies to every job).
        if rule["record"] == "ptc:budget_usd:month":
            return
        assert "job" in str(rule["expr"]) or "ptc_ratelimit" in str(rule["expr"])

    def test_rule_files_are_the_ones_prometheus_loads(self, repo_root: Path) -> None:
        """compose/prometheus.yml loads exactly the rule files these tests read."""
        config = yaml.safe_load(
            (repo_root / PROMETHEUS_YML).read_text(encoding="utf-8")
        )
        loaded = {(repo_root / "compose" / f).resolve() for f in config["rule_files"]}
        assert loaded == {p.resolve() for p in RULE_FILES}
