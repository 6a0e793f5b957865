"""promtool accepts the generated rules, and the compose rule unit tests pass against them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .files import DEPLOY_DIR, MIXIN_DIR, RULES_DIR, compose_groups, manifests

pytestmark = pytest.mark.prometheus

MIXIN_FILES = ("prometheus_rules.yaml", "prometheus_alerts.yaml")


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(
            "`promtool` is not on PATH: run scripts/setup (installs Debian's prometheus package)",
            pytrace=False,
        )
    return found


def _run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, check=False
    )


def _count() -> int:
    return sum(len(group["rules"]) for group in compose_groups())


def test_mixin_rule_files_pass_check_rules(promtool: str) -> None:
    """`promtool check rules` accepts both mixin files, which hold every compose rule between them."""
    result = _run(promtool, "check", "rules", *(MIXIN_DIR / f for f in MIXIN_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.findall(r"SUCCESS: (\d+) rules found", result.stdout)
    assert sum(map(int, found)) == _count()


def test_prometheus_rule_spec_passes_check_rules(promtool: str, tmp_path: Path) -> None:
    """The PrometheusRule's spec, as the operator writes it into Prometheus, passes promtool."""
    (rule,) = [o for o in manifests().values() if o["kind"] == "PrometheusRule"]
    path = tmp_path / "prometheusrule.yml"
    path.write_text(yaml.safe_dump(rule["spec"]), encoding="utf-8")
    result = _run(promtool, "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {_count()} rules found" in result.stdout


def test_compose_unit_tests_pass_on_the_mixin(promtool: str, tmp_path: Path) -> None:
    """Every compose/rules/tests/*.yml passes with the mixin's two files in place of compose's.

    So the mixin's split did not change what any rule computes or when any alert fires.
    """
    tests = sorted((RULES_DIR / "tests").glob("*.yml"))
    assert tests
    for test in tests:
        spec = yaml.safe_load(test.read_text(encoding="utf-8"))
        spec["rule_files"] = [str(MIXIN_DIR / f) for f in MIXIN_FILES]
        path = tmp_path / test.name
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        result = _run(promtool, "test", "rules", path)
        assert result.returncode == 0, f"{test.name}\n{result.stdout}{result.stderr}"
        assert "SUCCESS" in result.stdout


def test_plain_prometheus_config_passes_check_config(
    promtool: str, tmp_path: Path
) -> None:
    """deploy/prometheus/prometheus.yml passes `promtool check config`, rule files included.

    Debian's promtool is built without Kubernetes service discovery, so the copy checked here
    has the ``kubernetes_sd_configs`` block replaced by a static target; everything else (the
    relabelling, the rule files it loads) is checked as written.
    """
    source = DEPLOY_DIR / "prometheus" / "prometheus.yml"
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    (scrape,) = config["scrape_configs"]
    assert scrape.pop("kubernetes_sd_configs") == [{"role": "pod"}]
    scrape["static_configs"] = [{"targets": ["127.0.0.1:9464"]}]
    config["rule_files"] = [str(source.parent / f) for f in config["rule_files"]]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    result = _run(promtool, "check", "config", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rule files found" in result.stdout
    relabel = {r["source_labels"][0]: r.get("regex") for r in scrape["relabel_configs"]}
    assert relabel["__meta_kubernetes_pod_label_ptc_observe_scrape"] == "true"
    assert relabel["__meta_kubernetes_pod_container_port_name"] == "metrics"
    assert relabel["__meta_kubernetes_pod_label_app_kubernetes_io_name"] == "(.+)"
