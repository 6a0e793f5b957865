"""An example workload for a cluster: the demo and the emulator (deploy/kubernetes/example/).

It shows what an application needs to be scraped by the PodMonitor (the
``ptc-observe/scrape`` label, a container port named ``metrics``, ``app.kubernetes.io/name``
for the ``job``) and gives a platform team something to try the manifests with on a test
cluster: ``docker build -t ptc-observe:local .``, load the image into the cluster (``kind
load docker-image ptc-observe:local``), then ``kubectl apply -k deploy/kubernetes/example``.
The emulator answers like the Messages API, so no API key and no egress are needed.
"""

from __future__ import annotations

from typing import Any

from k8s_manifests import JOB_LABEL, METRICS_PATH, METRICS_PORT, SCRAPE_LABEL
from mixin import JSON, header, to_yaml

NAMESPACE = "ptc-observe-example"
IMAGE = "ptc-observe:local"
# The Dockerfile's user `ptc`; numeric so that runAsNonRoot can be verified by the kubelet.
IMAGE_UID = 10001
EMULATOR = "ptc-emulator"
EMULATOR_PORT = 8787
DEMO = "ptc-demo"
DEMO_METRICS_PORT = 9464


def _security_context() -> JSON:
    return {
        "runAsNonRoot": True,
        "runAsUser": IMAGE_UID,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _deployment(
    name: str, labels: dict[str, str], args: list[str], port: JSON, probe: JSON
) -> JSON:
    # The monitors take the job from JOB_LABEL: the demo's series get job="ptc-demo".
    selector = {JOB_LABEL: name}
    container: dict[str, Any] = {
        "name": name,
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "ports": [port],
        "readinessProbe": probe,
        "securityContext": _security_context(),
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {**selector}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": {**selector, **labels}},
                "spec": {"containers": [container]},
            },
        },
    }


def _service(name: str, labels: dict[str, str], port_name: str, port: int) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {JOB_LABEL: name, **labels}},
        "spec": {
            "selector": {JOB_LABEL: name},
            "ports": [{"name": port_name, "port": port, "targetPort": port_name}],
        },
    }


def emulator() -> list[JSON]:
    """The Messages API emulator: a Deployment and the Service the demo calls."""
    port = {"name": "http", "containerPort": EMULATOR_PORT}
    probe = {"tcpSocket": {"port": "http"}, "periodSeconds": 5}
    args = ["emulator", "--host", "0.0.0.0", "--port", str(EMULATOR_PORT)]
    return [
        _deployment(EMULATOR, {}, args, port, probe),
        _service(EMULATOR, {}, "http", EMULATOR_PORT),
    ]


def demo() -> list[JSON]:
    """The demo workload, labelled and ported for the PodMonitor (and the ServiceMonitor)."""
    scrape = {SCRAPE_LABEL: "true"}
    port = {"name": METRICS_PORT, "containerPort": DEMO_METRICS_PORT}
    probe = {
        "httpGet": {"path": METRICS_PATH, "port": METRICS_PORT},
        "periodSeconds": 10,
    }
    args = [
        "demo",
        "--host",
        "0.0.0.0",
        "--port",
        str(DEMO_METRICS_PORT),
        "--forever",
        "--emulator-url",
        f"http://{EMULATOR}:{EMULATOR_PORT}",
    ]
    return [
        _deployment(DEMO, scrape, args, port, probe),
        _service(DEMO, scrape, METRICS_PORT, DEMO_METRICS_PORT),
    ]


def example_files() -> dict[str, str]:
    """The example's files (path relative to deploy/kubernetes/example/ -> text)."""
    source = "dashboards/k8s_example.py"
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE},
    }
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        "resources": ["namespace.yaml", "emulator.yaml", "demo.yaml"],
    }
    return {
        "namespace.yaml": header(source) + to_yaml([namespace]),
        "emulator.yaml": header(source) + to_yaml(emulator()),
        "demo.yaml": header(source) + to_yaml(demo()),
        "kustomization.yaml": header(source) + to_yaml([kustomization]),
    }
