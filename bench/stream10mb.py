"""Peak memory of one long stream, in a fresh process per configuration and size.

``python -m bench.stream10mb CONFIG BYTES`` builds the configuration, runs one small stream to
load every module and warm every cache, records the peak RSS so far (``ru_maxrss``), then runs
one stream of about ``BYTES`` of SSE text deltas through ``client.messages.create(stream=True)``
(the SDK itself keeps nothing of a raw event stream) and prints, as JSON, how much the peak grew
and how long the stream took (wall and process CPU time; the CPU time is the figure to compare,
as a single run's wall time follows the machine's slow phases). Comparing 1 MB with 10 MB shows whether an observer's memory
grows with the length of the stream (it must not). :func:`run_all` drives the subprocesses.
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["SIZES", "run_all", "run_one"]

SIZES = (1_000_000, 10_000_000)
_WARM_BYTES = 200_000


def _peak_kib() -> int:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_one(config_name: str, total_bytes: int) -> dict[str, Any]:
    """Run in this process (meant to be a fresh one): returns the measurement."""
    from . import workloads
    from .configs import Telemetry, make_configs
    from .scenarios import SCENARIOS

    scenario = next(s for s in SCENARIOS if s.name == "sdk_stream_sync")
    telemetry = Telemetry()
    config = next(
        c for c in make_configs(telemetry, [config_name]) if c.name == config_name
    )
    if config.unavailable:
        return {
            "config": config_name,
            "bytes": total_bytes,
            "unavailable": config.unavailable,
        }
    size = [_WARM_BYTES]

    def chunks() -> Iterable[bytes]:
        return workloads.big_stream_chunks(size[0])

    config.activate()
    try:
        op = scenario.build_sync(config, stream_chunks=chunks)
        op()
        op()
        gc.collect()
        before = _peak_kib()
        size[0] = total_bytes
        start, cpu = time.perf_counter(), time.process_time()
        op()
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu
        after = _peak_kib()
    finally:
        config.deactivate()
    return {
        "config": config_name,
        "bytes": total_bytes,
        "events": workloads.big_stream_events(total_bytes),
        "peak_before_kib": before,
        "peak_after_kib": after,
        "growth_kib": after - before,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "spans": telemetry.exporter.spans,
    }


def _one_subprocess(name: str, size: int, timeout: float) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.stream10mb", name, str(size)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        return {"config": name, "bytes": size, "error": proc.stderr.strip()[-2000:]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_all(
    config_names: Sequence[str],
    sizes: Sequence[int] = SIZES,
    *,
    timeout: float = 600.0,
    parallel: int = 2,
) -> list[dict[str, Any]]:
    """One fresh subprocess per (configuration, size), ``parallel`` at a time.

    Running two at once halves the wall time on this 2-core machine; each process measures
    its own peak RSS and its own CPU time, which the other does not change.
    """
    jobs = [(name, size) for name in config_names for size in sizes]
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = [
            pool.submit(_one_subprocess, name, size, timeout) for name, size in jobs
        ]
        return [f.result() for f in futures]


if __name__ == "__main__":
    print(json.dumps(run_one(sys.argv[1], int(sys.argv[2]))))
