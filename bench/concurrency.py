"""1,000 concurrent async exchanges over real loopback HTTP: bare vs observed, p50 / p99.

``python -m bench.concurrency [--rounds N] [--concurrency C] [--server emulator|bench]`` starts
the loopback server in its own process (by default ``bench/loopback.py``, which serves the 4 KB
fixture body at next to no CPU cost; ``emulator`` = ``python -m ptc_observe.emulator``, answering
a first PTC turn, which spends ~4 ms of CPU per request and so becomes the bottleneck, hiding the
client's costs), then, in this process, fires C concurrent
``AsyncAnthropic.messages.create`` calls per batch, one batch per configuration per round,
round-robin, and prints JSON. Each configuration keeps its own client (and its own pool of
keep-alive connections, opened by an untimed warm-up batch). Latency is wall time per exchange,
from the call to the parsed message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import anthropic
import httpx2

from . import workloads
from .configs import Config, Telemetry, make_configs

__all__ = ["CONFIGS", "POOL", "main", "run"]

CONFIGS = ("bare", "naive_span", "ptc_full")
"""bare, the floor (the naive transport + one GenAI span) and ptc_observe metrics+spans."""
POOL = 100
"""Connections per client. httpcore2's pool scans every connection for every queued request
(``_assign_requests_to_connections``): with 1,000 connections that scan took ~70 % of the
client's CPU under cProfile and would hide any observer's cost. 1,000 concurrent exchanges
over 100 keep-alive connections keep the client busy with the exchanges themselves."""


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _start_server(kind: str) -> tuple[subprocess.Popen[str], int, str]:
    """Start the loopback server in its own process; returns it, its port and its name.

    ``emulator``: ``python -m ptc_observe.emulator --port 0`` (asyncio + h11), which prints
    ``emulator listening on http://127.0.0.1:PORT``. ``bench``: ``bench/loopback.py``, which
    prints the port and serves the fixture bodies with the least work a server can do.
    """
    if kind == "emulator":
        cmd = [
            sys.executable,
            "-m",
            "ptc_observe.emulator",
            "--port",
            "0",
            "--seed",
            "1",
        ]
        name = "ptc_observe.emulator (EmulatorServer)"
    else:
        cmd = [sys.executable, "-m", "bench.loopback"]
        name = "bench/loopback.py"
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    match = re.search(r"(\d+)$", line)
    if match is None:
        _stop_server(proc)
        raise RuntimeError(f"{kind} server did not report its port: {line!r}")
    return proc, int(match.group(1)), name


def _stop_server(proc: subprocess.Popen[str]) -> None:
    # bench/loopback.py stops when its stdin closes; the emulator on SIGTERM.
    assert proc.stdin is not None
    proc.stdin.close()
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _client(config: Config, port: int, pool: int) -> anthropic.AsyncAnthropic:
    limits = httpx2.Limits(max_connections=pool, max_keepalive_connections=pool)
    inner = httpx2.AsyncHTTPTransport(limits=limits)
    transport = config.wrap(httpx2, inner, True)
    return anthropic.AsyncAnthropic(
        api_key="sk-bench-not-a-key",
        base_url=f"http://127.0.0.1:{port}",
        max_retries=0,
        timeout=120.0,
        http_client=httpx2.AsyncClient(transport=transport, timeout=120.0),
        **config.sdk_kwargs(),
    )


async def _batch(
    client: anthropic.AsyncAnthropic, n: int, request: dict[str, Any]
) -> list[float]:
    async def one() -> float:
        start = time.perf_counter()
        await client.messages.create(**request)
        return time.perf_counter() - start

    return list(await asyncio.gather(*(one() for _ in range(n))))


def _summary(
    rows: list[dict[str, float]], bare: list[dict[str, float]]
) -> dict[str, Any]:
    def med(key: str) -> float:
        return statistics.median(row[key] for row in rows)

    def ratio(key: str) -> float:
        # Paired per round, like the in-process figures: cancels slow phases of the machine.
        return statistics.median(
            row[key] / b[key] for row, b in zip(rows, bare, strict=True)
        )

    return {
        "p50_ms": med("p50") * 1e3,
        "p99_ms": med("p99") * 1e3,
        "batch_ms": med("batch") * 1e3,
        "client_cpu": med("client_cpu"),
        "p50_ratio": ratio("p50"),
        "p99_ratio": ratio("p99"),
        "rounds": rows,
    }


async def _run(
    configs: list[Config],
    port: int,
    rounds: int,
    concurrency: int,
    pool: int,
    request: dict[str, Any],
) -> dict[str, Any]:
    clients = {c.name: _client(c, port, pool) for c in configs}
    for config in configs:
        await _batch(
            clients[config.name], concurrency, request
        )  # warm-up: opens connections
    per_round: dict[str, list[dict[str, float]]] = {c.name: [] for c in configs}
    for r in range(rounds):
        shift = r % len(configs)
        for config in configs[shift:] + configs[:shift]:
            started, cpu = time.perf_counter(), time.process_time()
            latencies = await _batch(clients[config.name], concurrency, request)
            wall = time.perf_counter() - started
            per_round[config.name].append(
                {
                    "p50": _quantile(latencies, 0.50),
                    "p99": _quantile(latencies, 0.99),
                    "batch": wall,
                    # Near 1: the client is the bottleneck, so its overhead shows in the tail.
                    "client_cpu": (time.process_time() - cpu) / wall,
                }
            )
    for client in clients.values():
        await client.close()
    bare = per_round[configs[0].name]
    return {name: _summary(rows, bare) for name, rows in per_round.items()}


def run(
    rounds: int,
    concurrency: int,
    config_names: Sequence[str] = CONFIGS,
    *,
    server: str = "bench",
    pool: int = POOL,
) -> dict[str, Any]:
    """Start the server, measure, stop the server; returns the JSON-ready result."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    telemetry = Telemetry()
    configs = [c for c in make_configs(telemetry, config_names) if not c.unavailable]
    request = workloads.TURN1_REQUEST if server == "emulator" else workloads.REQUEST
    proc, port, name = _start_server(server)
    try:
        results = asyncio.run(_run(configs, port, rounds, concurrency, pool, request))
    finally:
        _stop_server(proc)
    return {
        "server": name,
        "concurrency": concurrency,
        "pool": pool,
        "rounds": rounds,
        "configs": results,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: print the result as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.concurrency")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument(
        "--server",
        choices=["bench", "emulator"],
        default="bench",
        help="bench/loopback.py (default) or the emulator (server-bound here: see docs/performance.md)",
    )
    parser.add_argument("--pool", type=int, default=POOL, help="connections per client")
    args = parser.parse_args(argv)
    names = args.configs.split(",")
    result = run(
        args.rounds, args.concurrency, names, server=args.server, pool=args.pool
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
