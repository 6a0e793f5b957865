"""The deployment files are generated from the one source and kept up to date.

Rules: compose/rules/*.yml (what compose's Prometheus loads). Dashboards: dashboards/*.py. The
mixin (deploy/mixin/) and the Kubernetes manifests (deploy/kubernetes/) must carry exactly
those, and ``python dashboards/generate.py --check`` must fail, naming the command to run,
when a committed file drifts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .files import (
    DEPLOY_DIR,
    GENERATE,
    GRAFANA_DIR,
    MIXIN_DIR,
    REPO_ROOT,
    compose_groups,
    load_all,
    manifests,
)

# Client-side `kubectl apply` keeps the whole object in an annotation of at most 256 KiB.
LAST_APPLIED_LIMIT = 262144


def _generate(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, GENERATE, *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _rules(groups: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(g["name"], rule) for g in groups for rule in g["rules"]]


def _prometheus_datasource_uids(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = set()
        if node.get("type") == "prometheus" and "uid" in node:
            found.add(node["uid"])
        for value in node.values():
            found |= _prometheus_datasource_uids(value)
        return found
    if isinstance(node, list):
        return set().union(*map(_prometheus_datasource_uids, node)) if node else set()
    return set()


class TestUpToDate:
    def test_committed_files_are_the_generator_output(self) -> None:
        """Every file under deploy/mixin/ and deploy/kubernetes/ is what the generator writes now."""
        result = _generate("--check")
        assert result.returncode == 0, (
            "generated files are out of date: run `python dashboards/generate.py` and commit\n"
            + result.stdout
            + result.stderr
        )

    def test_check_names_the_command_and_shows_the_drift(self, tmp_path: Path) -> None:
        """A hand edit, a missing file and a stale file all fail --check, which says what to run."""
        deploy = tmp_path / "deploy"
        shutil.copytree(DEPLOY_DIR, deploy)
        edited = deploy / "kubernetes" / "podmonitor.yaml"
        edited.write_text(edited.read_text().replace("interval: 30s", "interval: 5m"))
        (deploy / "mixin" / "prometheus_rules.yaml").unlink()
        (deploy / "mixin" / "dashboards_out" / "old.json").write_text("{}\n")

        result = _generate("--check", "--deploy-output", deploy)

        assert result.returncode == 1
        assert "-      interval: 5m" in result.stdout
        assert "+      interval: 30s" in result.stdout
        assert "old.json: stale (the generator no longer writes it)" in result.stdout
        assert (
            f"{deploy / 'mixin' / 'prometheus_rules.yaml'} (generated)" in result.stdout
        )
        assert (
            "3 generated file(s) out of date: run python dashboards/generate.py"
            in result.stdout
        )

    def test_a_run_repairs_the_drift(self, tmp_path: Path) -> None:
        """Without --check the generator rewrites edited files and deletes stale ones."""
        deploy = tmp_path / "deploy"
        shutil.copytree(DEPLOY_DIR, deploy)
        stale = deploy / "kubernetes" / "gone.yaml"
        stale.write_text("kind: Gone\n")
        (deploy / "mixin" / "prometheus_alerts.yaml").write_text("groups: []\n")
        dashboards = tmp_path / "grafana"
        shutil.copytree(GRAFANA_DIR, dashboards)

        assert (
            _generate("--deploy-output", deploy, "--output", dashboards).returncode == 0
        )

        assert not stale.exists()
        check = _generate("--check", "--deploy-output", deploy, "--output", dashboards)
        assert check.returncode == 0, check.stdout


class TestSameRules:
    def test_mixin_splits_compose_rules_by_kind(self) -> None:
        """prometheus_rules.yaml has every recording rule, prometheus_alerts.yaml every alert, in order."""
        compose = _rules(compose_groups())
        records = _rules(load_all(MIXIN_DIR / "prometheus_rules.yaml")[0]["groups"])
        alerts = _rules(load_all(MIXIN_DIR / "prometheus_alerts.yaml")[0]["groups"])
        assert records == [(g, r) for g, r in compose if "record" in r]
        assert alerts == [(g, r) for g, r in compose if "alert" in r]
        assert records and alerts

    def test_prometheus_rule_carries_the_compose_groups(self) -> None:
        """The PrometheusRule's groups are compose/rules/*.yml's groups, unchanged."""
        (rule,) = [o for o in manifests().values() if o["kind"] == "PrometheusRule"]
        assert rule["spec"]["groups"] == compose_groups()

    def test_a_new_rule_file_is_picked_up(self, tmp_path: Path) -> None:
        """A rule file added to compose/rules/ reaches the mixin and the PrometheusRule."""
        import yaml
        from generate import render_deploy

        for path in sorted((REPO_ROOT / "compose" / "rules").glob("*.yml")):
            shutil.copy(path, tmp_path / path.name)
        extra = {
            "groups": [
                {
                    "name": "zz.extra",
                    "interval": "1m",
                    "rules": [
                        {"record": "ptc:extra:sum", "expr": "sum(ptc_exchanges_total)"},
                        {"alert": "PTCExtra", "expr": "ptc:extra:sum > 1e9"},
                    ],
                }
            ]
        }
        (tmp_path / "zz_extra.yml").write_text(yaml.safe_dump(extra))

        files = render_deploy(tmp_path)

        rule = yaml.safe_load(files["kubernetes/prometheusrule.yaml"])
        assert rule["spec"]["groups"][-1] == extra["groups"][0]
        alerts = yaml.safe_load(files["mixin/prometheus_alerts.yaml"])["groups"]
        assert alerts[-1] == {
            **extra["groups"][0],
            "rules": [extra["groups"][0]["rules"][1]],
        }

    def test_a_group_name_used_twice_is_refused(self, tmp_path: Path) -> None:
        """Two rule files with the same group name would clash in one PrometheusRule: an error."""
        from mixin import rule_groups

        text = "groups:\n  - name: same\n    rules: []\n"
        (tmp_path / "a.yml").write_text(text)
        (tmp_path / "b.yml").write_text(text)
        with pytest.raises(ValueError, match="'same' is defined twice"):
            rule_groups([tmp_path / "a.yml", tmp_path / "b.yml"])


class TestSameDashboards:
    @pytest.mark.parametrize("name", sorted(p.name for p in GRAFANA_DIR.glob("*.json")))
    def test_mixin_dashboard_is_the_compose_one_with_a_datasource_variable(
        self, name: str
    ) -> None:
        """dashboards_out/ holds every dashboard; only the Prometheus datasource became a variable."""
        compose = json.loads((GRAFANA_DIR / name).read_text())
        portable = json.loads((MIXIN_DIR / "dashboards_out" / name).read_text())

        variables = portable["templating"]["list"]
        assert variables[0]["name"] == "datasource"
        assert variables[0]["type"] == "datasource"
        assert variables[0]["query"] == "prometheus"
        assert _prometheus_datasource_uids(portable) == {"${datasource}"}
        assert _prometheus_datasource_uids(compose) == {"prometheus"}
        restored = json.loads(
            json.dumps(portable).replace('"${datasource}"', '"prometheus"')
        )
        restored["templating"]["list"] = restored["templating"]["list"][1:]
        assert restored == compose

    def test_every_dashboard_has_a_config_map_for_the_sidecar(self) -> None:
        """One ConfigMap per dashboard, labelled grafana_dashboard: "1", holding the mixin's JSON."""
        maps = [o for o in manifests().values() if o["kind"] == "ConfigMap"]
        by_file = {}
        for config_map in maps:
            assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
            (file_name, text), *others = config_map["data"].items()
            assert not others
            assert file_name.endswith(".json")
            by_file[file_name] = json.loads(text)
        assert by_file == {
            p.name: json.loads(p.read_text())
            for p in (MIXIN_DIR / "dashboards_out").glob("*.json")
        }

    def test_objects_fit_a_client_side_apply(self) -> None:
        """Each object stays under the 256 KiB last-applied annotation of `kubectl apply`."""
        for key, obj in manifests().items():
            size = len(json.dumps(obj, separators=(",", ":")).encode())
            assert size < LAST_APPLIED_LIMIT, f"{key} is {size} bytes"
