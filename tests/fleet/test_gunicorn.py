"""A real multi-worker server: gunicorn workers serving the turns of PTC runs, /metrics exact.

The application (``tests/fleet/app.py``) runs under gunicorn with three worker processes in
prometheus-client's multiprocess mode; each worker observes its own SDK client. The test
plays PTC runs against the emulator (over loopback) the way an application keeps its
sessions: history and container id on the caller's side, each turn a new HTTP request that
any worker may serve. The scraped ``/metrics`` (the aggregate of all workers) must equal
the emulator's ledger exactly, and the tool results what the client sent.
"""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ptc_observe.emulator import Emulator, EmulatorServer

from .driver import RETRIED, Job, Truth, plan, play

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WORKERS = 3
TTL = 3.0
"""The emulator's container idle lifetime, short enough to let containers expire."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Fleet:
    """gunicorn serving tests/fleet/app.py with WORKERS workers, in multiprocess mode."""

    def __init__(self, emulator_url: str, directory: Path) -> None:
        gunicorn = shutil.which("gunicorn") or str(
            Path(sys.executable).with_name("gunicorn")
        )
        assert Path(gunicorn).exists(), (
            "gunicorn is not installed (the dev extra has it)"
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PROMETHEUS_MULTIPROC_DIR": str(directory),
            "PTC_EMULATOR_URL": emulator_url,
            "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")]),
        }
        env.pop("OTEL_SEMCONV_STABILITY_OPT_IN", None)
        self.log = directory.parent / "gunicorn.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    gunicorn,
                    "--workers", str(WORKERS),
                    "--bind", f"127.0.0.1:{self.port}",
                    "--timeout", "60",
                    "--log-level", "warning",
                    "fleet.app:app",
                ],
                env=env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                self.metrics()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(
                        f"gunicorn did not start: {self.output()}"
                    ) from None
                time.sleep(0.1)

    def send(self, shape: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """One turn, on a new connection (so any worker may take it)."""
        body = json.dumps({"shape": shape, "kwargs": kwargs}).encode()
        request = urllib.request.Request(
            f"{self.url}/turn", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            reply: dict[str, Any] = json.loads(response.read())
            return reply

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            text: str = response.read().decode()
            return text

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


Series = dict[str, dict[tuple[tuple[str, str], ...], float]]


def totals(text: str) -> Series:
    """Sample name -> labels (sorted pairs) -> value, from an exposition."""
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            values = out.setdefault(sample.name, {})
            values[key] = values.get(key, 0.0) + sample.value
    return out


def by(series: Series, name: str, *labels: str) -> Counter[Any]:
    """The sum of ``name`` grouped by ``labels``, as whole numbers (zeros dropped)."""
    grouped: Counter[Any] = Counter()
    for key, value in series.get(name, {}).items():
        assert value == int(value), (name, key, value)
        pairs = dict(key)
        group = tuple(pairs.get(label, "") for label in labels)
        grouped[group if len(labels) != 1 else group[0]] += int(value)
    return +grouped


@pytest.fixture
def emulator_server():
    emulator = Emulator(seed=13, container_ttl=TTL)
    server = EmulatorServer(emulator)
    url = server.start()
    try:
        yield emulator, url
    finally:
        server.stop()


def test_gunicorn_workers_sum_to_the_emulators_ledger(emulator_server, tmp_path):
    """PTC runs whose turns hop between three gunicorn workers: /metrics equals the ledger.

    Containers created, reused and expired; client tool calls by caller and tool; server
    tools; code executions; tokens; exchanges; tool results and their bytes by caller: every
    figure is exact, although no worker saw a whole run. Unmatched results (asked in one
    worker, answered in another) are counted as such: turnarounds + unmatched = results.
    """
    emulator, url = emulator_server
    (tmp_path / "metrics").mkdir()
    fleet = Fleet(url, tmp_path / "metrics")
    truth = Truth()
    try:
        jobs = plan(seed=13, count=12, faults=RETRIED)
        # Three runs at a time: the workers are busy, so turns spread over them.
        with ThreadPoolExecutor(3) as pool:
            records = list(pool.map(lambda j: play(fleet.send, j, truth), jobs))
        # Later tasks reuse containers: one still alive, two after they expired.
        first = play(fleet.send, Job(jobs[0].scenario, True), truth)
        assert first.ok and first.container
        again = Job(jobs[0].scenario, True, "create", None, first.container)
        records += [first, play(fleet.send, again, truth)]
        time.sleep(TTL + 0.5)
        stale = [r.container for r in records if r.ok and r.container][-2:]
        reuse = [
            Job(j.scenario, j.programmatic, j.shape, None, c)
            for j, c in zip(jobs[1:3], stale, strict=True)
        ]
        records += [play(fleet.send, j, truth) for j in reuse]
        series = totals(fleet.metrics())
    finally:
        fleet.stop()
    ledger = emulator.ledger.snapshot()

    # The turns really were spread: more than one worker served one run.
    assert len({pid for r in records for pid in r.servers}) > 1
    assert any(len(set(r.servers)) > 1 for r in records)
    assert truth.restarts == 2, [r.error for r in records]
    assert all(r.ok for r in records), [r.error for r in records]

    # Exchanges: every HTTP attempt the emulator answered, SDK retries included.
    assert (
        sum(by(series, "ptc_exchanges_total", "outcome").values()) == ledger["requests"]
    )
    # Containers.
    assert (
        by(series, "ptc_containers_created_total", "")[""]
        == ledger["containers"]["created"]
    )
    assert (
        by(series, "ptc_container_reuses_total", "")[""]
        == ledger["containers"]["reused"]
    )
    assert (
        by(series, "ptc_containers_expired_total", "")[""]
        == ledger["containers"]["expired"]
        == 2
    )
    # Client tool calls by caller and tool.
    sent: Counter[tuple[str, str]] = Counter()
    for caller, tools in ledger["tool_use_blocks"].items():
        for tool, n in tools.items():
            sent["direct" if caller == "direct" else "programmatic", tool] += n
    assert by(series, "ptc_tool_calls_total", "caller", "gen_ai_tool_name") == +sent
    # Server tools and code executions.
    assert sum(
        by(series, "ptc_server_tool_calls_total", "gen_ai_tool_name").values()
    ) == sum(ledger["server_tool_use_blocks"].values())
    code: Counter[str] = Counter()
    for outcome, n in ledger["code_results"].items():  # ok, or the failure's kind
        code["success" if outcome == "ok" else "error"] += n
    assert by(series, "ptc_code_executions_total", "outcome") == +code
    # Tokens.
    kinds = {
        "input": "input",
        "output": "output",
        "cache_write": "cache_creation_input",
        "cache_read": "cache_read_input",
    }
    tokens = by(series, "ptc_tokens_total", "token_kind")
    assert tokens == +Counter({k: ledger["tokens"][v] for k, v in kinds.items()})
    # Tool results and bytes by caller, as the client sent them.
    results = by(series, "ptc_tool_results_total", "caller", "gen_ai_tool_name")
    assert results == +truth.results
    assert by(series, "ptc_tool_result_bytes_total", "caller") == +truth.result_bytes
    unmatched = by(series, "ptc_tool_results_unmatched_total", "caller")
    matched = by(series, "ptc_tool_turnaround_seconds_count", "caller")
    assert matched + unmatched == by(series, "ptc_tool_results_total", "caller")
    assert (
        sum(unmatched.values()) > 0
    )  # answered by another worker than the one that asked
