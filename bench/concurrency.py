"""1,000 concurrent async exchanges over real loopback HTTP: bare vs observed, p50 / p99.

``python -m bench.concurrency [--rounds N] [--concurrency C]`` starts the loopback server in its
own process (the emulator's when ``ptc_observe.emulator`` offers one, else ``bench/loopback.py``),
then, in this process, fires C concurrent ``AsyncAnthropic.messages.create`` calls per batch, one
batch per configuration per round, round-robin, and prints JSON. Each configuration keeps its own
client (and its own pool of keep-alive connections, opened by an untimed warm-up batch).
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

__all__ = ["CONFIGS", "main", "run"]

CONFIGS = ("bare", "naive", "ptc_full")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _start_server() -> tuple[subprocess.Popen[str], int, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.loopback"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port, "bench/loopback.py"


def _client(config: Config, port: int, concurrency: int) -> anthropic.AsyncAnthropic:
    limits = httpx2.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency
    )
    inner = httpx2.AsyncHTTPTransport(limits=limits)
    return anthropic.AsyncAnthropic(
        api_key="sk-bench-not-a-key",
        base_url=f"http://127.0.0.1:{port}",
        max_retries=0,
        timeout=120.0,
        http_client=httpx2.AsyncClient(
            transport=config.wrap(httpx2, inner, True), timeout=120.0
        ),
        **config.sdk_kwargs(),
    )


async def _batch(client: anthropic.AsyncAnthropic, concurrency: int) -> list[float]:
    request: dict[str, Any] = workloads.REQUEST

    async def one() -> float:
        start = time.perf_counter()
        await client.messages.create(**request)
        return time.perf_counter() - start

    return list(await asyncio.gather(*(one() for _ in range(concurrency))))


async def _run(
    configs: list[Config], port: int, rounds: int, concurrency: int
) -> dict[str, Any]:
    clients = {c.name: _client(c, port, concurrency) for c in configs}
    for config in configs:
        await _batch(
            clients[config.name], concurrency
        )  # warm-up: opens the connections
    per_round: dict[str, list[dict[str, float]]] = {c.name: [] for c in configs}
    for r in range(rounds):
        shift = r % len(configs)
        for config in configs[shift:] + configs[:shift]:
            started = time.perf_counter()
            latencies = await _batch(clients[config.name], concurrency)
            per_round[config.name].append(
                {
                    "p50": _quantile(latencies, 0.50),
                    "p99": _quantile(latencies, 0.99),
                    "batch": time.perf_counter() - started,
                }
            )
    for client in clients.values():
        await client.close()
    out: dict[str, Any] = {}
    bare = per_round[configs[0].name]
    for name, rows in per_round.items():
        out[name] = {
            "p50_ms": statistics.median(row["p50"] for row in rows) * 1e3,
            "p99_ms": statistics.median(row["p99"] for row in rows) * 1e3,
            "batch_ms": statistics.median(row["batch"] for row in rows) * 1e3,
            # Paired per round, like the in-process figures: cancels slow phases of the machine.
            "p99_ratio": statistics.median(
                row["p99"] / b["p99"] for row, b in zip(rows, bare, strict=True)
            ),
            "p50_ratio": statistics.median(
                row["p50"] / b["p50"] for row, b in zip(rows, bare, strict=True)
            ),
            "rounds": rows,
        }
    return out


def run(
    rounds: int, concurrency: int, config_names: Sequence[str] = CONFIGS
) -> dict[str, Any]:
    """Start the server, measure, stop the server; returns the JSON-ready result."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    telemetry = Telemetry()
    configs = [c for c in make_configs(telemetry, config_names) if not c.unavailable]
    proc, port, server = _start_server()
    try:
        results = asyncio.run(_run(configs, port, rounds, concurrency))
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
    return {
        "server": server,
        "concurrency": concurrency,
        "rounds": rounds,
        "configs": results,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: print the result as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.concurrency")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    args = parser.parse_args(argv)
    print(json.dumps(run(args.rounds, args.concurrency, args.configs.split(","))))


if __name__ == "__main__":
    main()
