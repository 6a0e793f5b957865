"""``ptc-observe demo``: an emulated PTC workload, observed end to end.

Starts the Messages API emulator on loopback (or uses ``--emulator-url``), drives a mixed
workload through the official ``anthropic`` SDK wrapped by ptc_observe (programmatic and
direct tool loops, sync and async clients, JSON and streams, injected faults, container
reuse across tasks, some after the container expired), serves ``/metrics`` while it runs,
and ends with a summary read back from the metrics.

Needs the ``demo`` extra (the official SDK): ``pip install 'ptc-observe[demo]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from .summary import Snapshot, ledger_check, progress_line, render
from .workload import Job, JobResult, arun_job, plan_jobs, run_job

BANNER = (
    "Traffic is EMULATED: a local Messages API emulator stands in for the Claude API"
    " (no network, no API key)."
)


def build_parser() -> argparse.ArgumentParser:
    """The demo's options."""
    parser = argparse.ArgumentParser(
        prog="ptc-observe demo",
        description="Run an emulated PTC workload through the official SDK and show what ptc_observe sees.",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="how long to start new tasks (default: 15)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=4.0,
        metavar="TASKS_PER_SECOND",
        help="tasks started per second (default: 4)",
    )
    parser.add_argument(
        "--seed", type=int, default=7, help="workload and emulator seed (default: 7)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=9464,
        help="port of the /metrics endpoint while the demo runs; 0 picks a free one (default: 9464)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface for /metrics (default: 127.0.0.1; 0.0.0.0 in containers)",
    )
    parser.add_argument(
        "--forever",
        action="store_true",
        help="run until interrupted (for the compose stack)",
    )
    parser.add_argument(
        "--emulator-url",
        metavar="URL",
        help="use a running emulator (ptc-observe emulator) instead of starting one",
    )
    parser.add_argument(
        "--container-ttl",
        type=float,
        default=6.0,
        metavar="SECONDS",
        help="idle lifetime of the local emulator's containers, short so that expiries show (default: 6)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=16,
        help="tasks in flight at most (default: 16)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit code."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.rate <= 0 or args.duration < 0 or args.concurrency < 1:
        print(
            "ptc-observe demo: --rate and --concurrency must be positive, --duration >= 0",
            file=sys.stderr,
        )
        return 2
    try:
        import anthropic  # noqa: F401
        import httpx2  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        print(
            f"ptc-observe demo needs the official SDK: pip install 'ptc-observe[demo]' ({exc})",
            file=sys.stderr,
        )
        return 2
    return Demo(args).run()


class Demo:
    """The demo's moving parts: emulator, observer, metrics endpoint, workload."""

    def __init__(self, args: argparse.Namespace) -> None:
        from prometheus_client import CollectorRegistry

        self.args = args
        self.registry = CollectorRegistry()
        self.stop = threading.Event()
        self.results: deque[JobResult] = deque()
        self.recent_containers: deque[str] = deque(maxlen=32)
        self.running = 0

    # --- set-up ---------------------------------------------------------------

    def _tracing(self) -> tuple[Any, Any, list[str]]:
        """Tracer and meter providers; OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set."""
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        resource = Resource.create(
            {"service.name": os.environ.get("OTEL_SERVICE_NAME", "ptc-observe-demo")}
        )
        notes: list[str] = []
        readers: list[Any] = []
        tracer_provider = TracerProvider(resource=resource)
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        ):
            try:
                from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                    OTLPMetricExporter,
                )
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )
                from opentelemetry.sdk.metrics.export import (
                    PeriodicExportingMetricReader,
                )
                from opentelemetry.sdk.trace.export import BatchSpanProcessor
            except ImportError:
                notes.append(
                    "OTLP endpoint set but the exporter is missing: pip install 'ptc-observe[otlp]'"
                )
            else:
                tracer_provider.add_span_processor(
                    BatchSpanProcessor(OTLPSpanExporter())
                )
                readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
                notes.append(
                    f"exporting spans and metrics over OTLP to {os.environ.get('OTEL_EXPORTER_OTLP_ENDPOINT')}"
                )
        return (
            tracer_provider,
            MeterProvider(resource=resource, metric_readers=readers),
            notes,
        )

    # --- running --------------------------------------------------------------

    def run(self) -> int:
        """Start everything, drive the workload, print the summary."""
        from ..emulator import Emulator, EmulatorServer, Latency
        from ..observer.exposition import start_metrics_server
        from ..observer.pipeline import Observer

        args = self.args
        tracer_provider, meter_provider, notes = self._tracing()
        observer = Observer(
            registry=self.registry,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
        )
        try:
            metrics, _ = start_metrics_server(
                args.port, addr=args.host, registry=self.registry
            )
        except OSError as exc:
            print(
                f"ptc-observe demo: cannot serve /metrics on {args.host}:{args.port}: {exc}",
                file=sys.stderr,
            )
            return 2
        server = None
        emulator = None
        if args.emulator_url:
            base_url = args.emulator_url.rstrip("/")
        else:
            emulator = Emulator(
                seed=args.seed,
                container_ttl=args.container_ttl,
                latency=Latency(ttft=0.04, per_token=0.0004),
            )
            server = EmulatorServer(emulator)
            base_url = server.start()
        metrics_url = f"http://{args.host}:{metrics.server_port}/metrics"
        print(BANNER)
        print(f"emulator  {base_url}")
        print(f"metrics   {metrics_url}")
        for note in notes:
            print(note)
        mode = "until interrupted" if args.forever else f"for {args.duration:g} s"
        print(
            f"workload  {args.rate:g} tasks/s {mode}, seed {args.seed}, through the official anthropic SDK\n",
            flush=True,
        )
        started = time.perf_counter()
        try:
            asyncio.run(self._drive(observer, base_url, started))
        except KeyboardInterrupt:  # pragma: no cover - interactive
            pass
        finally:
            if server is not None:
                server.stop()
        snap = Snapshot.of(self.registry)
        print(
            f"\nsummary after {time.perf_counter() - started:.1f} s, read back from {metrics_url}"
        )
        tasks = list(self.results)
        failed = sum(1 for r in tasks if not r.ok)
        restarts = sum(r.expired_container_restarts for r in tasks)
        print(
            f"tasks            {len(tasks)} run, {failed} failed by injected faults,"
            f" {restarts} restarted after their container expired"
        )
        for line in render(snap):
            print(line)
        if emulator is not None:
            for line in ledger_check(snap, emulator.stats()):
                print(line)
        print(f"\n{BANNER}")
        metrics.shutdown()
        metrics.server_close()
        tracer_provider.shutdown()
        meter_provider.shutdown()
        return 0

    async def _drive(self, observer: Any, base_url: str, started: float) -> None:
        import anthropic
        import httpx2

        from ..emulator import builtin_scenarios

        args = self.args
        rng = random.Random(args.seed)
        scenarios = [s for s in builtin_scenarios() if s.prompt]
        sync_client = anthropic.Anthropic(
            api_key="emulated",
            base_url=base_url,
            max_retries=2,
            http_client=httpx2.Client(transport=observer.transport()),
        )
        async_client = anthropic.AsyncAnthropic(
            api_key="emulated",
            base_url=base_url,
            max_retries=2,
            http_client=httpx2.AsyncClient(transport=observer.async_transport()),
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop.set)
            except (
                NotImplementedError,
                RuntimeError,
            ):  # pragma: no cover - non-main thread
                pass
        limit = asyncio.Semaphore(args.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        last_progress = 0.0
        while not self.stop.is_set():
            elapsed = time.perf_counter() - started
            if not args.forever and elapsed >= args.duration:
                break
            plan = plan_jobs(scenarios, rng, 1)[0]
            job = Job(
                scenario=plan["scenario"],
                programmatic=plan["programmatic"],
                use_async=plan["use_async"],
                stream=plan["stream"],
                fault=plan["fault"],
                cached_system=plan["cached_system"],
                container=self._reuse(rng) if plan["reuse"] else None,
            )
            seed = rng.randrange(2**32)
            await limit.acquire()
            task = asyncio.create_task(
                self._one(job, sync_client, async_client, seed, limit)
            )
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if not args.quiet and elapsed - last_progress >= 2.0:
                last_progress = elapsed
                print(
                    progress_line(elapsed, Snapshot.of(self.registry), self.running),
                    flush=True,
                )
            # Poisson arrivals at --rate tasks per second.
            await asyncio.sleep(rng.expovariate(args.rate))
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        sync_client.close()
        await async_client.close()

    def _reuse(self, rng: random.Random) -> str | None:
        """A container of an earlier task: the newest (likely alive) or the oldest (by
        now often expired, as when a user comes back after a pause)."""
        if not self.recent_containers:
            return None
        return self.recent_containers[-1 if rng.random() < 0.5 else 0]

    async def _one(
        self,
        job: Job,
        sync_client: Any,
        async_client: Any,
        seed: int,
        limit: asyncio.Semaphore,
    ) -> None:
        self.running += 1
        try:
            rng = random.Random(seed)
            if job.use_async:
                result = await arun_job(async_client, job, rng)
            else:
                result = await asyncio.to_thread(run_job, sync_client, job, rng)
            self.results.append(result)
            if result.container:
                self.recent_containers.append(result.container)
            if not self.args.quiet and not result.ok:
                print(
                    f"          task {job.label}: {result.error} (as injected)",
                    flush=True,
                )
        finally:
            self.running -= 1
            limit.release()
