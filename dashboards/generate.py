"""Generate the dashboards and the deployment files from dashboards/*.py and compose/rules/*.yml.

    python dashboards/generate.py           # rewrite every generated file
    python dashboards/generate.py --check   # exit 1 and print a diff if any is out of date

Written:

- ``dashboards/grafana/*.json``: the dashboards the docker-compose stack's Grafana loads;
- ``deploy/mixin/``: the monitoring mixin, ``prometheus_alerts.yaml``,
  ``prometheus_rules.yaml`` and ``dashboards_out/*.json`` (see ``mixin.py``);
- ``deploy/kubernetes/``: PodMonitor, ServiceMonitor, PrometheusRule, the dashboards as
  ConfigMaps for Grafana's sidecar, and a kustomization (see ``k8s_manifests.py``), and
  ``example/``: the demo and the emulator as a workload to try them with (``k8s_example.py``);
- ``deploy/prometheus/prometheus.yml``: the same scrape and rules for a Prometheus without the
  operator (Kubernetes service discovery).

This script is the source of truth for all of them and tests check that the committed files
never drift from it. Metric names are the ones ptc_observe exposes (see docs/deploy.md); panels
on histograms request exemplars, which the Prometheus datasource links to Tempo by trace id.
A file in deploy/mixin/, deploy/kubernetes/ or deploy/prometheus/ that the generator no longer writes is stale:
``--check`` reports it and a normal run deletes it.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path

from containers import containers
from k8s_example import example_files
from k8s_manifests import kubernetes_files, prometheus_config
from mixin import (
    GENERATE_COMMAND,
    JSON,
    REPO_ROOT,
    RULES_DIR,
    dashboard_json,
    header,
    mixin_files,
    portable_dashboard,
    rule_files,
    rule_groups,
    to_yaml,
)
from overview import overview

OUTPUT_DIR = Path(__file__).resolve().parent / "grafana"
DEPLOY_DIR = REPO_ROOT / "deploy"
# Every file below these (relative to the deploy directory) is generated.
GENERATED_DEPLOY_DIRS = ("mixin", "kubernetes", "prometheus")


def boards() -> dict[str, JSON]:
    """Every dashboard by file name, as the compose stack's Grafana loads it."""
    return {"ptc-overview.json": overview(), "ptc-containers.json": containers()}


def render() -> dict[str, str]:
    """Every dashboard file name with its JSON text, exactly as written to disk."""
    return {name: dashboard_json(board) for name, board in boards().items()}


def render_deploy(rules_dir: Path = RULES_DIR) -> dict[str, str]:
    """Every deployment file (path relative to deploy/) with its text."""
    groups = rule_groups(rule_files(rules_dir))
    portable = {name: portable_dashboard(board) for name, board in boards().items()}
    files = {
        f"mixin/{name}": text for name, text in mixin_files(portable, groups).items()
    }
    files.update(
        (f"kubernetes/{name}", text)
        for name, text in kubernetes_files(portable, groups).items()
    )
    files.update(
        (f"kubernetes/example/{name}", text) for name, text in example_files().items()
    )
    files["prometheus/prometheus.yml"] = header(
        "dashboards/k8s_manifests.py"
    ) + to_yaml([prometheus_config()])
    return files


def _targets(output: Path, deploy: Path) -> dict[Path, str | None]:
    """Each path with the text it must hold, or None for a stale generated file."""
    targets: dict[Path, str | None] = {
        output / name: text for name, text in render().items()
    }
    generated = {deploy / name: text for name, text in render_deploy().items()}
    targets.update(generated)
    for sub in GENERATED_DEPLOY_DIRS:
        root = deploy / sub
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file() and path not in generated:
                    targets[path] = None
    return targets


def main(argv: Sequence[str] | None = None) -> int:
    """Write the generated files, or with ``--check`` compare them with the files on disk."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if the files are out of date"
    )
    parser.add_argument(
        "--output", type=Path, default=OUTPUT_DIR, help="dashboard JSON directory"
    )
    parser.add_argument(
        "--deploy-output", type=Path, default=DEPLOY_DIR, help="deploy/ directory"
    )
    args = parser.parse_args(argv)
    stale = 0
    for path, text in _targets(args.output, args.deploy_output).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale += 1
            if text is None:
                print(f"{path}: stale (the generator no longer writes it)")
                continue
            sys.stdout.writelines(
                difflib.unified_diff(
                    (current or "").splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    f"{path} (committed)",
                    f"{path} (generated)",
                )
            )
        elif text is None:
            path.unlink()
            print(f"deleted {path}")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"{stale} generated file(s) out of date: run {GENERATE_COMMAND}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
