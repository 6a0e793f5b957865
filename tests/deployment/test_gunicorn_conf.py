"""examples/deploy/gunicorn_conf.py, the multi-worker setup docs/deploy.md recommends, under gunicorn.

Two real workers in prometheus-client's multiprocess mode serve a tiny WSGI application over
loopback; the master serves /metrics. Checked: the aggregate counts every worker's requests
and nothing from a previous run's files; a killed worker's live gauge drops out while its
counts stay.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .files import REPO_ROOT

pytestmark = pytest.mark.slow

APP = """
import os
from prometheus_client import Counter, Gauge

HITS = Counter("hits", "Requests served.")
ALIVE = Gauge("workers_alive", "Live workers.", multiprocess_mode="livesum")
ALIVE.set(1)


def app(environ, start_response):
    HITS.inc()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
"""
PREVIOUS_RUN = "from prometheus_client import Counter; Counter('hits', 'x').inc(1000)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        text: str = response.read().decode()
        return text


def _samples(url: str) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(_get(url))
        for sample in family.samples
    }


def _wait(url: str, check: dict[str, float], timeout: float = 60) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    seen: dict[str, float] = {}
    while time.monotonic() < deadline:
        try:
            seen = _samples(url)
        except OSError:
            seen = {}
        if all(seen.get(k) == v for k, v in check.items()):
            return seen
        time.sleep(0.2)
    raise AssertionError(f"{url}: wanted {check}, last saw {seen}")


@dataclass
class Fleet:
    """A running gunicorn: its application and metrics URLs, the master, the metrics files."""

    app: str
    metrics: str
    master: subprocess.Popen[bytes]
    multiproc: Path

    def live_pids(self) -> set[int]:
        """Processes with a livesum gauge file (removed by mark_process_dead)."""
        return {
            int(p.stem.rsplit("_", 1)[1])
            for p in self.multiproc.glob("gauge_livesum_*.db")
        }


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[Fleet]:
    """gunicorn -w 2 with examples/deploy/gunicorn_conf.py, stopped after the test."""
    binary = shutil.which("gunicorn") or str(Path(sys.executable).with_name("gunicorn"))
    if not Path(binary).exists():
        pytest.fail("gunicorn is not installed (the dev extra has it)", pytrace=False)
    (tmp_path / "hits_app.py").write_text(APP, encoding="utf-8")
    multiproc = tmp_path / "multiproc"
    multiproc.mkdir()
    app_port, metrics_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "PTC_METRICS_PORT": str(metrics_port),
        "PTC_METRICS_ADDR": "127.0.0.1",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(tmp_path)]),
    }
    # A previous run left its files: 1000 hits that must not be added in.
    subprocess.run([sys.executable, "-c", PREVIOUS_RUN], env=env, check=True)
    assert list(multiproc.glob("counter_*.db"))
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{app_port}",
            "-c",
            str(REPO_ROOT / "examples" / "deploy" / "gunicorn_conf.py"),
            "hits_app:app",
        ],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield Fleet(
            f"http://127.0.0.1:{app_port}/",
            f"http://127.0.0.1:{metrics_port}/metrics",
            process,
            multiproc,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        log.close()


def test_master_serves_every_worker_and_nothing_stale(gunicorn: Fleet) -> None:
    """20 requests over two workers read 20 at the master's /metrics, not 1020."""
    _wait(gunicorn.metrics, {"workers_alive": 2.0})
    for _ in range(20):
        _get(gunicorn.app)
    samples = _wait(gunicorn.metrics, {"hits_total": 20.0})
    assert samples["workers_alive"] == 2.0


def test_a_dead_worker_leaves_the_live_gauge_and_keeps_its_counts(
    gunicorn: Fleet,
) -> None:
    """A killed worker is replaced: its gauge file goes, two workers count alive, no hit is lost."""
    _wait(gunicorn.metrics, {"workers_alive": 2.0})
    served = {int(_get(gunicorn.app)) for _ in range(20)}
    _wait(gunicorn.metrics, {"hits_total": 20.0})
    before = gunicorn.live_pids()
    victim = next(iter(served))
    assert victim in before and victim != gunicorn.master.pid
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = gunicorn.live_pids()
        if victim not in pids and pids - before:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no replacement, or {victim} not marked dead: {pids}")
    samples = _wait(gunicorn.metrics, {"workers_alive": 2.0, "hits_total": 20.0})
    assert len(gunicorn.live_pids()) == 2
    assert samples["hits_total"] == 20.0
