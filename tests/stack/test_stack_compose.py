"""docker-compose.yml: validated by a real Compose implementation, and wired consistently.

There is no Docker engine here; Compose's own `config` loads, interpolates and validates the
file against the Compose specification without one. The other tests read the normalized model
Compose prints and check that the pieces point at each other (ports, hostnames, mounts).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from .helpers import run
from .queries import DASHBOARD_DIR, REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def project(compose_binary: Path) -> dict[str, Any]:
    """The normalized project model (`docker compose config --format json`)."""
    result = run(
        compose_binary,
        "-f",
        COMPOSE_FILE,
        "config",
        "--format",
        "json",
        "--no-path-resolution",
    )
    assert result.returncode == 0, result.stderr
    model: dict[str, Any] = json.loads(result.stdout)
    return model


def _services(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = project["services"]
    return services


def _yaml(path: str) -> Any:
    return yaml.safe_load((REPO_ROOT / path).read_text(encoding="utf-8"))


def _command(service: dict[str, Any]) -> list[str]:
    return [str(part) for part in service.get("command") or []]


def _option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


class TestComposeValidates:
    def test_config_quiet_passes(self, compose_binary: Path) -> None:
        """`docker compose config -q` accepts the file (schema, references, interpolation)."""
        result = run(compose_binary, "-f", COMPOSE_FILE, "config", "-q")
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""

    def test_config_rejects_a_broken_reference(
        self, compose_binary: Path, tmp_path: Path
    ) -> None:
        """The same check fails on a file whose service depends on an unknown service."""
        broken = COMPOSE_FILE.read_text(encoding="utf-8").replace(
            "      emulator:\n        condition: service_healthy",
            "      no-such-service:\n        condition: service_healthy",
        )
        (tmp_path / "docker-compose.yml").write_text(broken, encoding="utf-8")
        result = run(
            compose_binary, "-f", tmp_path / "docker-compose.yml", "config", "-q"
        )
        assert result.returncode != 0
        assert "no-such-service" in result.stderr

    def test_the_whole_stack_is_there(self, project: dict[str, Any]) -> None:
        """Demo, emulator, collector, trace store, Prometheus and Grafana are services."""
        assert {
            "demo",
            "emulator",
            "otel-collector",
            "tempo",
            "prometheus",
            "grafana",
        } <= set(_services(project))


class TestImagesAndPorts:
    def test_images_are_pinned(self, project: dict[str, Any]) -> None:
        """Every pulled image has an explicit version tag; only locally built images are unversioned."""
        for name, service in _services(project).items():
            if "build" in service:
                continue
            image = service["image"]
            tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
            assert re.match(r"v?\d+\.\d+\.\d+$", tag), f"{name}: {image}"

    def test_published_ports_are_loopback_only(self, project: dict[str, Any]) -> None:
        """Grafana allows anonymous viewers: nothing is published beyond 127.0.0.1."""
        for name, service in _services(project).items():
            for port in service.get("ports", []):
                assert port["host_ip"] == "127.0.0.1", (name, port)

    def test_bind_mounts_exist_in_the_repository(self, project: dict[str, Any]) -> None:
        """Every file or directory mounted into a container is in the repository."""
        mounts = [
            (name, volume)
            for name, service in _services(project).items()
            for volume in service.get("volumes", [])
            if volume["type"] == "bind"
        ]
        assert mounts
        for name, volume in mounts:
            assert (REPO_ROOT / volume["source"]).exists(), (name, volume["source"])
            assert volume.get("read_only") is True, (name, volume["source"])

    def test_image_is_built_from_the_dockerfile(self, project: dict[str, Any]) -> None:
        """Demo and emulator share the image built from the repository's Dockerfile."""
        services = _services(project)
        for name in ("demo", "emulator"):
            assert services[name]["image"] == "ptc-observe:local"
            assert services[name]["build"]["dockerfile"] == "Dockerfile"
        dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
        base = re.search(r"^FROM (\S+)", dockerfile, re.M)
        assert base and re.search(r":\d+\.\d+\.\d+-", base.group(1))
        install = re.search(r'pip install "\.\[([\w,]+)\]"', dockerfile)
        assert install and {"demo", "otlp"} <= set(install.group(1).split(","))
        for source in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
            for path in source.split():
                assert (REPO_ROOT / path).exists(), path


def _mount(service: dict[str, Any], source: str) -> str:
    for volume in service.get("volumes", []):
        if volume["type"] == "bind" and Path(volume["source"]) == Path(source):
            return str(volume["target"])
    raise AssertionError(f"{source} is not mounted")


class TestWiring:
    def test_prometheus_keeps_exemplars_and_loads_the_config(
        self, project: dict[str, Any]
    ) -> None:
        """Prometheus runs with exemplar storage and reads the mounted config and rules."""
        prometheus = _services(project)["prometheus"]
        command = _command(prometheus)
        assert "--enable-feature=exemplar-storage" in command
        config_path = _mount(prometheus, "./compose/prometheus.yml")
        assert f"--config.file={config_path}" in command
        rules_dir = _mount(prometheus, "./compose/rules")
        config = _yaml("compose/prometheus.yml")
        for rule_file in config["rule_files"]:
            assert str(Path(config_path).parent / rule_file).startswith(rules_dir)

    def test_scrape_targets_are_services_on_their_ports(
        self, project: dict[str, Any]
    ) -> None:
        """Each scrape target names a service of the stack; the demo's is the port it serves."""
        services = _services(project)
        targets = {
            job["job_name"]: target
            for job in _yaml("compose/prometheus.yml")["scrape_configs"]
            for static in job["static_configs"]
            for target in static["targets"]
        }
        for job, target in targets.items():
            host, _ = target.rsplit(":", 1)
            assert host in services or (job == "prometheus" and host == "localhost")
        demo = _command(services["demo"])
        assert targets["ptc-demo"] == f"demo:{_option(demo, '--port')}"
        assert _option(demo, "--host") == "0.0.0.0"

    def test_demo_talks_to_the_emulator_and_the_collector(
        self, project: dict[str, Any]
    ) -> None:
        """The demo uses the emulator's address and exports OTLP to the collector's HTTP receiver."""
        services = _services(project)
        emulator = _command(services["emulator"])
        demo = services["demo"]
        assert _option(_command(demo), "--emulator-url") == (
            f"http://emulator:{_option(emulator, '--port')}"
        )
        assert _option(emulator, "--host") == "0.0.0.0"
        endpoint = urlsplit(demo["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert demo["environment"]["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        collector = _yaml("compose/otel-collector.yaml")
        http = collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
        assert endpoint.hostname == "otel-collector"
        assert http.endswith(f":{endpoint.port}")

    def test_collector_sends_traces_to_tempo(self) -> None:
        """The collector's trace pipeline exports to Tempo's OTLP gRPC receiver."""
        collector = _yaml("compose/otel-collector.yaml")
        pipeline = collector["service"]["pipelines"]["traces"]
        exporter = collector["exporters"][pipeline["exporters"][0]]
        tempo = _yaml("compose/tempo.yaml")
        grpc = tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"][
            "endpoint"
        ]
        host, port = exporter["endpoint"].rsplit(":", 1)
        assert host == "tempo" and grpc.endswith(f":{port}")

    def test_grafana_datasources_point_at_services(
        self, project: dict[str, Any]
    ) -> None:
        """Grafana's provisioned datasources reach Prometheus and Tempo on their listen ports."""
        config = yaml.safe_load(
            (DASHBOARD_DIR / "provisioning/datasources/datasources.yml").read_text()
        )
        urls = {ds["uid"]: urlsplit(ds["url"]) for ds in config["datasources"]}
        assert (urls["prometheus"].hostname, urls["prometheus"].port) == (
            "prometheus",
            9090,
        )
        tempo_port = _yaml("compose/tempo.yaml")["server"]["http_listen_port"]
        assert (urls["tempo"].hostname, urls["tempo"].port) == ("tempo", tempo_port)

    def test_grafana_loads_the_dashboards_it_is_given(
        self, project: dict[str, Any]
    ) -> None:
        """Provisioning is mounted where Grafana reads it, and the dashboard provider's path is the mounted JSON."""
        grafana = _services(project)["grafana"]
        assert (
            _mount(grafana, "./dashboards/grafana/provisioning")
            == "/etc/grafana/provisioning"
        )
        provider = yaml.safe_load(
            (DASHBOARD_DIR / "provisioning/dashboards/ptc.yml").read_text()
        )["providers"][0]
        assert provider["options"]["path"] == _mount(grafana, "./dashboards/grafana")
