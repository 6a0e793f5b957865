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
import dataclasses
import os
import random
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from .._cliutil import EXIT_USAGE, bind_error, guarded, silence_stdout
from .ledger import Unreachable, fetch_stats, sent_between
from .options import build_parser, problem
from .schedule import REUSE_WINDOW, Planned, schedule
from .spend import render_spend, spend_check
from .summary import Snapshot, ledger_check, progress_line, render
from .workload import JobResult, arun_job, run_job

__all__ = ["BANNER", "Demo", "build_parser", "main"]

NULL_USAGE_EVERY = 25
"""The local emulator sends every 25th sampled JSON reply with ``usage: null``."""

BANNER = (
    "Traffic is EMULATED: a local Messages API emulator stands in for the Claude API"
    " (no network, no API key)."
)

EXIT_TASK_FAILED = 1
"""A task failed without an injected fault, or the emulator could not be reached."""

# Faults after HTTP 200, which the SDK does not retry: they fail their task, with these errors.
TASK_FAILING_FAULTS: Mapping[str, frozenset[str]] = {
    "stream_error": frozenset(
        {"APIStatusError", "OverloadedError", "InternalServerError"}
    ),
    "stream_cut": frozenset({"RemoteProtocolError", "ReadError", "APIConnectionError"}),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit code (see ``ptc-observe demo --help``)."""
    return guarded(
        "ptc-observe demo", _main, list(sys.argv[1:] if argv is None else argv)
    )


def _main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    wrong = problem(args)
    if wrong is not None:
        print(f"ptc-observe demo: {wrong}", file=sys.stderr)
        return EXIT_USAGE
    try:
        import anthropic  # noqa: F401
        import httpx2  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        print(
            f"ptc-observe demo needs the official SDK: pip install 'ptc-observe[demo]' ({exc})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return Demo(args).run()


def injected(result: JobResult) -> bool:
    """Whether ``result``'s failure is the one its injected fault causes."""
    fault = result.job.fault
    return (
        fault is not None
        and result.error is not None
        and result.error in TASK_FAILING_FAULTS.get(fault, ())
    )


class Demo:
    """The demo's moving parts: emulator, observer, metrics endpoint, workload."""

    def __init__(self, args: argparse.Namespace) -> None:
        from prometheus_client import CollectorRegistry

        self.args = args
        self.registry = CollectorRegistry()
        self.stop = threading.Event()
        self.results: deque[JobResult] = deque()
        self.running = 0
        self.interrupted: str | None = None  # the signal that stopped the run
        self.broken_pipe = False
        self._stopping: asyncio.Event | None = None
        self._tasks: dict[int, asyncio.Task[JobResult | None]] = {}
        self._reusable: deque[int] = deque(maxlen=REUSE_WINDOW)

    def say(self, line: str = "") -> None:
        """Print a line; when stdout's reader went away, stop the run quietly instead."""
        if self.broken_pipe:
            return
        try:
            print(line, flush=True)
        except BrokenPipeError:
            self.broken_pipe = True
            silence_stdout()
            self._request_stop()

    def _request_stop(self) -> None:
        self.stop.set()
        if self._stopping is not None:
            self._stopping.set()

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
        """Start everything, drive the workload, print the summary; returns the exit code."""
        from ..emulator import Emulator, EmulatorServer, Latency
        from ..observer.exposition import start_metrics_server
        from ..observer.pipeline import Observer

        args = self.args
        before: Mapping[str, Any] | None = None
        if args.emulator_url:
            base_url = args.emulator_url.rstrip("/")
            try:
                before = fetch_stats(base_url)
            except Unreachable as exc:
                print(
                    f"ptc-observe demo: cannot reach the emulator at {base_url} ({exc});"
                    " start one with `ptc-observe emulator`, or leave out --emulator-url"
                    " to let the demo start its own",
                    file=sys.stderr,
                )
                return EXIT_TASK_FAILED
        try:
            metrics, _ = start_metrics_server(
                args.port, addr=args.host, registry=self.registry
            )
        except OSError as exc:
            print(
                "ptc-observe demo: "
                + bind_error("/metrics", args.host, args.port, exc),
                file=sys.stderr,
            )
            return EXIT_USAGE
        tracer_provider, meter_provider, notes = self._tracing()
        observer = Observer(
            registry=self.registry,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
        )
        server = None
        emulator = None
        try:
            if not args.emulator_url:
                emulator = Emulator(
                    seed=args.seed,
                    container_ttl=args.container_ttl,
                    latency=Latency(ttft=0.04, per_token=0.0004),
                    # The 2026 wire as recorded: padded data lines, now and then a
                    # JSON reply with usage: null, bash and text-editor calls.
                    pad_data_lines=True,
                    null_usage_every=NULL_USAGE_EVERY,
                    sub_tools=True,
                )
                server = EmulatorServer(emulator)
                base_url = server.start()
            metrics_url = f"http://{args.host}:{metrics.server_port}/metrics"
            self.say(BANNER)
            self.say(f"emulator  {base_url}")
            self.say(f"metrics   {metrics_url}")
            for note in notes:
                self.say(note)
            mode = "until interrupted" if args.forever else f"for {args.duration:g} s"
            self.say(
                f"workload  {args.rate:g} tasks/s {mode}, seed {args.seed},"
                " through the official anthropic SDK\n"
            )
            started = time.perf_counter()
            asyncio.run(self._drive(observer, base_url, started))
            elapsed = time.perf_counter() - started
        finally:
            # Code executions whose result never came (a task cut short) end as
            # unfinished, so their spans are exported before the providers shut down.
            observer.close()
            if server is not None:
                server.stop()
            metrics.shutdown()
            metrics.server_close()
            tracer_provider.shutdown()
            meter_provider.shutdown()
        unexpected = self._summary(metrics_url, elapsed, emulator, before, base_url)
        return self._exit_code(unexpected)

    def _exit_code(self, unexpected: int) -> int:
        if self.broken_pipe:
            return 128 + int(getattr(signal, "SIGPIPE", 13))
        if self.interrupted is not None and not self.args.forever:
            return 128 + int(getattr(signal, self.interrupted, signal.SIGINT))
        return EXIT_TASK_FAILED if unexpected else 0

    def _summary(
        self,
        metrics_url: str,
        elapsed: float,
        emulator: Any,
        before: Mapping[str, Any] | None,
        base_url: str,
    ) -> int:
        """Print the summary; returns the number of tasks that failed unexpectedly."""
        snap = Snapshot.of(self.registry)
        tasks = list(self.results)
        as_injected = sum(1 for r in tasks if not r.ok and injected(r))
        unexpected = sum(1 for r in tasks if not r.ok and not injected(r))
        restarts = sum(r.expired_container_restarts for r in tasks)
        how = ""
        if self.interrupted is not None:
            how = (
                f", interrupted by {self.interrupted} (no task started after it;"
                " the running ones were let finish)"
            )
        self.say(f"\nsummary after {elapsed:.1f} s{how}, read back from {metrics_url}")
        failed = f"{as_injected} failed by injected faults"
        if unexpected:
            failed += f", {unexpected} failed WITHOUT an injected fault (see above)"
        self.say(
            f"tasks            {len(tasks)} run, {failed},"
            f" {restarts} restarted after their container expired"
        )
        for line in render(snap):
            self.say(line)
        for line in render_spend(snap):
            self.say(line)
        if emulator is not None:
            stats = emulator.stats()
            for line in ledger_check(snap, stats):
                self.say(line)
            for line in spend_check(snap, stats):
                self.say(line)
        else:
            for line in self._remote_ledger(snap, before, base_url):
                self.say(line)
        self.say(f"\n{BANNER}")
        return unexpected

    def _remote_ledger(
        self, snap: Snapshot, before: Mapping[str, Any] | None, base_url: str
    ) -> list[str]:
        """The ground-truth line from the ledger of the emulator at ``--emulator-url``."""
        why = None
        after = None
        if before is None:
            why = f"{base_url} has no ledger at /_emulator/stats (not a ptc-observe emulator?)"
        else:
            try:
                after = fetch_stats(base_url)
            except Unreachable as exc:
                why = f"the emulator at {base_url} stopped answering ({exc})"
            if after is None and why is None:
                why = f"{base_url} no longer serves its ledger at /_emulator/stats"
        if before is None or after is None:
            return [f"ground truth     not checked: {why}"]
        lines = list(ledger_check(snap, sent_between(before, after)))
        return [
            *lines,
            "                 (read from the ledger of the emulator at"
            f" {base_url}, before and after the run; other clients of it meanwhile count too)",
        ]

    async def _drive(self, observer: Any, base_url: str, started: float) -> None:
        import anthropic
        import httpx2

        from ..emulator import builtin_scenarios

        args = self.args
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
        self._stopping = stopping = asyncio.Event()
        if self.stop.is_set():
            stopping.set()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass  # not on Windows / not in the main thread
        limit = asyncio.Semaphore(args.concurrency)
        last_progress = 0.0
        try:
            for planned in schedule(scenarios, args.seed, args.rate):
                if not args.forever and planned.at >= args.duration:
                    break
                wait = started + planned.at - time.perf_counter()
                if wait > 0:
                    try:
                        await asyncio.wait_for(stopping.wait(), wait)
                    except asyncio.TimeoutError:
                        pass
                if stopping.is_set() or not await self._slot(limit, stopping):
                    break
                task = asyncio.create_task(
                    self._one(planned, sync_client, async_client, limit)
                )
                self._remember(planned, task)
                elapsed = time.perf_counter() - started
                if not args.quiet and elapsed - last_progress >= 2.0:
                    last_progress = elapsed
                    self.say(
                        progress_line(elapsed, Snapshot.of(self.registry), self.running)
                    )
            running = [t for t in self._tasks.values() if not t.done()]
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.remove_signal_handler(sig)
                except (NotImplementedError, RuntimeError):  # pragma: no cover
                    pass
            sync_client.close()
            await async_client.close()

    def _on_signal(self, sig: signal.Signals) -> None:
        """First Ctrl-C/SIGTERM: start no more tasks; the second: cancel the running ones."""
        if self.interrupted is None:
            self.interrupted = sig.name
            if not self.args.quiet:
                self.say(
                    f"\n{sig.name}: starting no more tasks; waiting for the"
                    f" {self.running} running (Ctrl-C again cancels them)"
                )
            self._request_stop()
            return
        for task in self._tasks.values():
            task.cancel()

    @staticmethod
    async def _slot(limit: asyncio.Semaphore, stopping: asyncio.Event) -> bool:
        """Take a concurrency slot; ``False`` if the run is stopped while waiting."""
        if not limit.locked():
            await limit.acquire()
            return True
        acquire = asyncio.ensure_future(limit.acquire())
        stopped = asyncio.ensure_future(stopping.wait())
        await asyncio.wait({acquire, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if acquire.done() and not acquire.cancelled():
            if stopping.is_set():
                limit.release()
                return False
            return True
        acquire.cancel()
        return False

    def _remember(self, planned: Planned, task: asyncio.Task[JobResult | None]) -> None:
        """Keep the tasks a later one may reuse the container of (the plan's window)."""
        self._tasks[planned.index] = task
        if planned.job.programmatic:
            self._reusable.append(planned.index)
        keep = set(self._reusable)
        for index in [i for i, t in self._tasks.items() if t.done() and i not in keep]:
            del self._tasks[index]

    async def _one(
        self,
        planned: Planned,
        sync_client: Any,
        async_client: Any,
        limit: asyncio.Semaphore,
    ) -> JobResult | None:
        self.running += 1
        try:
            job = planned.job
            if planned.reuse_of is not None:
                earlier = self._tasks.get(planned.reuse_of)
                if earlier is not None:
                    # The plan says: start in that task's container, so wait for its end.
                    await asyncio.wait({earlier})
                    done = None if earlier.cancelled() else earlier.result()
                    if done is not None and done.container:
                        job = dataclasses.replace(job, container=done.container)
            rng = random.Random(planned.seed)
            if job.use_async:
                result = await arun_job(async_client, job, rng)
            else:
                result = await asyncio.to_thread(run_job, sync_client, job, rng)
            self.results.append(result)
            if not self.args.quiet and not result.ok:
                if injected(result):
                    why = f"(as injected: {job.fault})"
                else:
                    why = "(NOT an injected fault)"
                    if result.error_detail:
                        why = f"{result.error_detail} {why}"
                self.say(f"          task {job.label}: {result.error} {why}")
            return result
        finally:
            self.running -= 1
            limit.release()
