"""Process helpers for the stack tests: run a command, and a real Prometheus on loopback.

``PrometheusServer`` is meant for end-to-end tests too: give it the ``host:port`` of a process
serving ``/metrics`` (the demo, or a test registry) and query it once it has scraped::

    with PrometheusServer(prometheus_binary, tmp_path, ["127.0.0.1:9464"]) as prom:
        prom.wait_for_scrapes(3)
        prom.query('sum(rate(ptc_exchanges_total[1m]))')
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from .queries import REPO_ROOT


def run(
    *args: object, cwd: Path = REPO_ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command with its output captured as text; a non-zero exit does not raise."""
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrometheusError(RuntimeError):
    """The Prometheus API answered with an error, or the server did not come up."""


class PrometheusServer:
    """A real Prometheus server bound to 127.0.0.1, scraping ``targets`` as job ``ptc-demo``.

    Args:
        binary: the ``prometheus`` executable.
        workdir: an empty directory for the config, the TSDB and the log.
        targets: ``host:port`` of processes serving ``/metrics``.
        rule_files: rule files to load (evaluated every scrape interval).
        scrape_interval: also the rule evaluation interval.
        startup_timeout: seconds to wait for the server to be ready.
    """

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        targets: Sequence[str],
        *,
        rule_files: Sequence[Path] = (),
        scrape_interval: str = "1s",
        startup_timeout: float = 60.0,
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.targets = list(targets)
        self.rule_files = list(rule_files)
        self.scrape_interval = scrape_interval
        self.startup_timeout = startup_timeout
        self.port = 0
        self.log_path = workdir / "prometheus.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        config = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
            },
            "rule_files": [str(p) for p in self.rule_files],
            "scrape_configs": [
                {"job_name": "ptc-demo", "static_configs": [{"targets": self.targets}]}
            ],
        }
        path = self.workdir / "prometheus.yml"
        path.write_text(json.dumps(config, indent=2), encoding="utf-8")  # JSON is YAML
        return path

    def __enter__(self) -> PrometheusServer:
        config = self._write_config()
        self.port = free_port()
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(self.binary),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--enable-feature=exemplar-storage",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise PrometheusError(f"prometheus exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise PrometheusError(
            f"prometheus not ready after {self.startup_timeout}s:\n{self.log()}"
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=15)
        self._process = None

    def log(self, tail: int = 40) -> str:
        """The last lines of the server's log."""
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(lines[-tail:])

    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data``.

        Raises:
            PrometheusError: the API answered ``status: error`` (bad query, ...).
        """
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as e:  # 400/422 carry the error in the body
            body = json.loads(e.read())
        if body.get("status") != "success":
            raise PrometheusError(
                f"{path} {params}: {body.get('errorType')}: {body.get('error')}"
            )
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Evaluate an instant query now; the result vector (or a one-element scalar list)."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def wait_for_scrapes(self, count: int, timeout: float = 60.0) -> None:
        """Wait until every target was scraped successfully at least ``count`` times.

        Raises:
            PrometheusError: not reached within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        expr = 'min(sum_over_time(up{job="ptc-demo"}[10m]))'
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result and float(result[0]["value"][1]) >= count:
                return
            time.sleep(0.5)
        raise PrometheusError(
            f"fewer than {count} scrapes after {timeout}s:\n{self.log()}"
        )
