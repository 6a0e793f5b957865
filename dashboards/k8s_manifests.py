"""Kubernetes manifests for the prometheus-operator and Grafana's sidecar (deploy/kubernetes/).

- ``podmonitor.yaml``: a ``PodMonitor`` that scrapes every pod labelled
  ``ptc-observe/scrape: "true"`` on its container port named ``metrics`` (path ``/metrics``),
  in any namespace; the pod's ``app.kubernetes.io/name`` becomes the ``job`` label, which the
  rules and dashboards keep apart.
- ``servicemonitor.yaml``: the same through Services (same label, port named ``metrics``), for
  clusters that scrape Services; use it *instead of* the PodMonitor, never with it, or every
  sample is scraped twice and the dashboards' sums double.
- ``prometheusrule.yaml``: a ``PrometheusRule`` with every group of compose/rules/*.yml.
- ``grafana-dashboards.yaml``: one ``ConfigMap`` per dashboard, labelled
  ``grafana_dashboard: "1"`` for Grafana's dashboard sidecar (the portable dashboards of
  deploy/mixin/, with a ``datasource`` variable).
- ``kustomization.yaml``: the PodMonitor, the rules and the dashboards, for ``kubectl apply -k``
  or an overlay that sets the namespace and the labels your Prometheus selects.

For a Prometheus without the operator, ``prometheus_config`` writes deploy/prometheus/prometheus.yml:
the same pods found by Kubernetes service discovery, the same ``job``, and the mixin's rule files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mixin import JSON, dashboard_json, header, to_yaml

NAME = "ptc-observe"
SCRAPE_LABEL = "ptc-observe/scrape"
METRICS_PORT = "metrics"
METRICS_PATH = "/metrics"
JOB_LABEL = "app.kubernetes.io/name"
SCRAPE_INTERVAL = "30s"
COMMON_LABELS: dict[str, str] = {
    "app.kubernetes.io/name": NAME,
    "app.kubernetes.io/component": "monitoring",
    "app.kubernetes.io/part-of": NAME,
}
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
DASHBOARD_FOLDER_ANNOTATION = {"grafana_folder": "PTC"}
MONITORING_API = "monitoring.coreos.com/v1"


def _metadata(name: str, **extra: Any) -> JSON:
    return {"name": name, "labels": dict(COMMON_LABELS), **extra}


def _scrape_selector() -> JSON:
    return {"matchLabels": {SCRAPE_LABEL: "true"}}


def pod_monitor() -> JSON:
    """The PodMonitor: pods labelled for scraping, their ``metrics`` port, any namespace."""
    return {
        "apiVersion": MONITORING_API,
        "kind": "PodMonitor",
        "metadata": _metadata(NAME),
        "spec": {
            "jobLabel": JOB_LABEL,
            "namespaceSelector": {"any": True},
            "selector": _scrape_selector(),
            "podMetricsEndpoints": [
                {
                    "port": METRICS_PORT,
                    "path": METRICS_PATH,
                    "scheme": "http",
                    "interval": SCRAPE_INTERVAL,
                }
            ],
        },
    }


def service_monitor() -> JSON:
    """The ServiceMonitor: Services labelled for scraping, their ``metrics`` port."""
    return {
        "apiVersion": MONITORING_API,
        "kind": "ServiceMonitor",
        "metadata": _metadata(NAME),
        "spec": {
            "jobLabel": JOB_LABEL,
            "namespaceSelector": {"any": True},
            "selector": _scrape_selector(),
            "endpoints": [
                {
                    "port": METRICS_PORT,
                    "path": METRICS_PATH,
                    "scheme": "http",
                    "interval": SCRAPE_INTERVAL,
                }
            ],
        },
    }


def prometheus_rule(groups: list[JSON]) -> JSON:
    """The PrometheusRule: every rule group, recording rules and alerts, as compose loads them."""
    return {
        "apiVersion": MONITORING_API,
        "kind": "PrometheusRule",
        "metadata": _metadata(f"{NAME}-rules"),
        "spec": {"groups": groups},
    }


def dashboard_config_map(file_name: str, board: Mapping[str, Any]) -> JSON:
    """A ConfigMap holding one dashboard for Grafana's sidecar (``grafana_dashboard: "1"``)."""
    stem = file_name.removesuffix(".json").removeprefix("ptc-")
    metadata = _metadata(f"{NAME}-{stem}-dashboard")
    metadata["labels"].update(DASHBOARD_LABEL)
    metadata["annotations"] = dict(DASHBOARD_FOLDER_ANNOTATION)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {file_name: dashboard_json(board)},
    }


def kustomization(resources: list[str]) -> JSON:
    """The kustomization over ``resources`` (file names in deploy/kubernetes/)."""
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    }


def _meta_label(label: str) -> str:
    """The service-discovery meta label of a pod label (non-alphanumerics become ``_``)."""
    return "__meta_kubernetes_pod_label_" + "".join(
        c if c.isalnum() else "_" for c in label
    )


def prometheus_config() -> JSON:
    """A plain Prometheus config that scrapes what the PodMonitor scrapes, with the mixin's rules."""
    keep = [
        {
            "source_labels": [_meta_label(SCRAPE_LABEL)],
            "regex": "true",
            "action": "keep",
        },
        {
            "source_labels": ["__meta_kubernetes_pod_container_port_name"],
            "regex": METRICS_PORT,
            "action": "keep",
        },
        {
            "source_labels": ["__meta_kubernetes_pod_phase"],
            "regex": "Pending|Succeeded|Failed",
            "action": "drop",
        },
    ]
    labels = [
        {
            "source_labels": [_meta_label(JOB_LABEL)],
            "regex": "(.+)",
            "target_label": "job",
        },
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {
            "source_labels": ["__meta_kubernetes_pod_container_name"],
            "target_label": "container",
        },
    ]
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": "30s"},
        "rule_files": [
            "../mixin/prometheus_rules.yaml",
            "../mixin/prometheus_alerts.yaml",
        ],
        "scrape_configs": [
            {
                "job_name": NAME,
                "metrics_path": METRICS_PATH,
                "scheme": "http",
                "kubernetes_sd_configs": [{"role": "pod"}],
                "relabel_configs": keep + labels,
            }
        ],
    }


def kubernetes_files(boards: Mapping[str, JSON], groups: list[JSON]) -> dict[str, str]:
    """The manifests (path relative to deploy/kubernetes/ -> text).

    Args:
        boards: file name -> portable dashboard.
        groups: the rule groups of compose/rules/*.yml.
    """
    rules_source = "compose/rules/*.yml"
    code_source = "dashboards/k8s_manifests.py"
    files = {
        "podmonitor.yaml": header(code_source) + to_yaml([pod_monitor()]),
        "servicemonitor.yaml": header(code_source) + to_yaml([service_monitor()]),
        "prometheusrule.yaml": header(rules_source)
        + to_yaml([prometheus_rule(groups)]),
        "grafana-dashboards.yaml": header("dashboards/*.py")
        + to_yaml(dashboard_config_map(name, board) for name, board in boards.items()),
    }
    files["kustomization.yaml"] = header(code_source) + to_yaml(
        [
            kustomization(
                ["podmonitor.yaml", "prometheusrule.yaml", "grafana-dashboards.yaml"]
            )
        ]
    )
    return files
