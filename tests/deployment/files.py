"""The deployment files under test: what the generator wrote (deploy/) and what it read.

The generator's modules live in dashboards/ (a script directory, not a package), so they are
imported from there. ``CRD_DIR`` holds the prometheus-operator CRDs vendored as test data (see
its README for source, version and license).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
MIXIN_DIR = DEPLOY_DIR / "mixin"
K8S_DIR = DEPLOY_DIR / "kubernetes"
RULES_DIR = REPO_ROOT / "compose" / "rules"
GRAFANA_DIR = REPO_ROOT / "dashboards" / "grafana"
CRD_DIR = Path(__file__).resolve().parents[1] / "data" / "prometheus-operator-crds"
GENERATE = "dashboards/generate.py"

if str(REPO_ROOT / "dashboards") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "dashboards"))


def load_all(path: Path) -> list[dict[str, Any]]:
    """Every YAML document of ``path`` (empty documents left out)."""
    with path.open(encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object of deploy/kubernetes/ (the kustomization aside), by ``Kind/name``."""
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_all(path):
            objects[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return objects


def example_objects() -> dict[str, dict[str, Any]]:
    """The example workload of deploy/kubernetes/example/, by ``Kind/name``."""
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted((K8S_DIR / "example").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_all(path):
            objects[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return objects


def compose_groups() -> list[dict[str, Any]]:
    """The rule groups of compose/rules/*.yml, in file then group order."""
    groups: list[dict[str, Any]] = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        groups.extend(load_all(path)[0]["groups"])
    return groups
