"""Several processes exporting OTLP metrics to one receiver: the sums equal the ledger.

Three worker processes (``otlp_worker.py``), each with its own observer and an OTLP/HTTP
metric exporter, serve the turns of PTC runs in turn (turn k of the whole workload goes to
worker k mod 3, so every run hops between processes). A small real OTLP/HTTP receiver on
loopback decodes the protobuf export requests with ``opentelemetry-proto``, as a collector
would, and sums the workers' cumulative points; the totals must equal the emulator's ledger.
"""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

import gzip
import http.server
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from ptc_observe.emulator import Emulator, EmulatorServer

from .driver import RETRIED, Truth, plan, play

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("otlp_worker.py")
REPO = Path(__file__).resolve().parents[2]
PROCESSES = 3

Point = tuple[str, tuple[tuple[str, Any], ...]]


class Receiver:
    """An OTLP/HTTP metrics receiver: keeps each process's latest cumulative points."""

    def __init__(self) -> None:
        self.latest: dict[str, dict[Point, float]] = {}
        self.requests = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                receiver.take(request)
                reply = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1/metrics"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def take(self, request: ExportMetricsServiceRequest) -> None:
        with self._lock:
            self.requests += 1
            for rm in request.resource_metrics:
                resource = {a.key: a.value.string_value for a in rm.resource.attributes}
                points = self.latest.setdefault(resource["service.instance.id"], {})
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        kind = metric.WhichOneof("data")
                        for dp in getattr(metric, kind).data_points:
                            attrs = tuple(
                                sorted(
                                    (a.key, a.value.string_value or a.value.int_value)
                                    for a in dp.attributes
                                )
                            )
                            if kind == "histogram":
                                points[(f"{metric.name}.count", attrs)] = dp.count
                                points[(f"{metric.name}.sum", attrs)] = dp.sum
                            elif kind == "sum":
                                value = (
                                    dp.as_int if dp.HasField("as_int") else dp.as_double
                                )
                                points[(metric.name, attrs)] = value

    def total(self, name: str, *keys: str) -> Counter[Any]:
        """``name`` summed over every process, grouped by the attribute ``keys``."""
        out: Counter[Any] = Counter()
        with self._lock:
            for points in self.latest.values():
                for (metric, attrs), value in points.items():
                    if metric != name:
                        continue
                    found = dict(attrs)
                    group = tuple(found.get(k, "") for k in keys)
                    assert value == int(value), (name, attrs, value)
                    out[group if len(keys) != 1 else group[0]] += int(value)
        return +out

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Worker:
    """One worker process: turns in on stdin, answers out on stdout."""

    def __init__(self, name: str, emulator_url: str, metrics_url: str) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")]),
        }
        env.pop("OTEL_SEMCONV_STABILITY_OPT_IN", None)
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), name, emulator_url, metrics_url],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def send(self, shape: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"shape": shape, "kwargs": kwargs}) + "\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return reply

    def finish(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=60)
        self.proc.stdout.close()
        return code


def test_processes_exporting_otlp_sum_to_the_ledger():
    """Three processes, one OTLP receiver: operations, tokens, code executions, server
    tool calls, containers, client tool calls and tool results summed over the processes
    equal what the emulator sent and the client answered."""
    emulator = Emulator(seed=21)
    server = EmulatorServer(emulator)
    receiver = Receiver()
    url = server.start()
    workers = [Worker(f"worker-{n}", url, receiver.url) for n in range(PROCESSES)]
    turns = [0]

    def send(shape: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        worker = workers[turns[0] % PROCESSES]  # consecutive turns: another process
        turns[0] += 1
        return worker.send(shape, kwargs)

    truth = Truth()
    try:
        records = [
            play(send, job, truth) for job in plan(seed=21, count=10, faults=RETRIED)
        ]
        assert [w.finish() for w in workers] == [0] * PROCESSES
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()
        server.stop()
        receiver.stop()
    ledger = emulator.ledger.snapshot()

    assert any(len(set(r.servers)) > 1 for r in records)
    assert sorted(receiver.latest) == [f"worker-{n}" for n in range(PROCESSES)]
    # Every HTTP attempt is one operation.
    operations = receiver.total("gen_ai.client.operation.duration.count")
    assert sum(operations.values()) == ledger["requests"]
    # Tokens: input includes cache reads and writes (the conventions' meaning).
    tokens = receiver.total("gen_ai.client.token.usage.sum", "gen_ai.token.type")
    t = ledger["tokens"]
    assert tokens == +Counter(
        {
            "input": t["input"] + t["cache_creation_input"] + t["cache_read_input"],
            "output": t["output"],
        }
    )
    code: Counter[str] = Counter()
    for outcome, n in ledger["code_results"].items():
        code["success" if outcome == "ok" else "error"] += n
    assert receiver.total("ptc.code_executions", "outcome") == +code
    assert sum(receiver.total("ptc.server_tool_calls", "caller").values()) == sum(
        ledger["server_tool_use_blocks"].values()
    )
    # The fleet-exact counters: containers, client tool calls, tool results and bytes.
    for name, event in (
        ("ptc.containers_created", "created"),
        ("ptc.container_reuses", "reused"),
        ("ptc.containers_expired", "expired"),
    ):
        assert sum(receiver.total(name).values()) == ledger["containers"][event], name
    sent: Counter[tuple[str, str]] = Counter()
    for caller, tools in ledger["tool_use_blocks"].items():
        for tool, n in tools.items():
            sent["direct" if caller == "direct" else "programmatic", tool] += n
    assert receiver.total("ptc.tool_calls", "caller", "gen_ai.tool.name") == +sent
    assert (
        receiver.total("ptc.tool_results", "caller", "gen_ai.tool.name")
        == +truth.results
    )
    assert receiver.total("ptc.tool_result_bytes", "caller") == +truth.result_bytes
    # Turn k and k+1 are always in different processes: no result can be matched.
    unmatched = receiver.total("ptc.tool_results_unmatched", "caller")
    assert unmatched == receiver.total("ptc.tool_results", "caller")
