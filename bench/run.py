"""The benchmark driver: ``python -m bench [--quick] [...]`` (``scripts/bench`` installs and runs it).

Runs, in order: the in-process scenarios (every configuration interleaved round-robin, see
``bench/timing.py``), the long-stream memory runs (one fresh process per configuration and size,
``bench/stream10mb.py``), and the concurrency run over loopback (``bench/concurrency.py``, in its
own process). Prints Markdown tables and the PASS/FAIL verdicts, and writes everything as JSON to
``bench/results/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import report, stream10mb, workloads
from .configs import ALL_CONFIGS, Telemetry, make_configs
from .scenarios import SCENARIOS, Scenario
from .timing import Plan, add_plan_options, measure

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
LABELS = {cls.name: cls.label for cls in ALL_CONFIGS}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import anthropic
    import httpx
    import httpx2

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "anthropic": anthropic.__version__,
        "httpx": httpx.__version__,
        "httpx2": httpx2.__version__,
    }


def plan_for(scenario: Scenario, plan: Plan) -> Plan:
    """The plan of one scenario: twice the budget and two more rounds when it times the long stream.

    Its marginal figure is a difference of two overheads divided by 1,798 events, and its long
    batches are a single call on the SDK (~120 ms of bare CPU), so one slow call of the bare
    client shifts every configuration's figure of that round: more rounds keep the median and
    the IQR clear of such a round.
    """
    if not scenario.long_stream:
        return plan
    return dataclasses.replace(
        plan,
        budget_seconds=plan.budget_seconds * 2,
        min_rounds=plan.min_rounds + 2,
        max_rounds=plan.max_rounds + 2,
    )


def _run_concurrency(rounds: int, concurrency: int, server: str) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.concurrency",
            "--rounds",
            str(rounds),
            "--concurrency",
            str(concurrency),
            "--server",
            server,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"concurrency run failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; returns 0 when every target passes, 1 otherwise (2 when a part could not run)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short run (~6 min): fewer rounds, memory runs for bare and ptc_observe only",
    )
    parser.add_argument(
        "--scenarios", help="comma list of scenario names (default: all)"
    )
    parser.add_argument(
        "--configs", help="comma list of configuration names (default: all)"
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the 1 MB / 10 MB stream runs"
    )
    parser.add_argument(
        "--no-concurrency",
        action="store_true",
        help="skip the loopback concurrency run",
    )
    parser.add_argument(
        "--budget",
        type=float,
        help="seconds per scenario (default 16, quick 5; doubled for the scenarios that time the long stream)",
    )
    parser.add_argument("--concurrency", type=int, default=1000)
    add_plan_options(parser)
    parser.add_argument(
        "--server",
        choices=["bench", "emulator"],
        default="bench",
        help="loopback server of the concurrency run (see bench/concurrency.py)",
    )
    parser.add_argument(
        "--out", type=Path, help="JSON output file (default: bench/results/<time>.json)"
    )
    args = parser.parse_args(argv)

    plan = (
        Plan(
            budget_seconds=args.budget or 5.0,
            min_rounds=6,
            max_rounds=15,
            warmup=10,
            gc=args.gc,
            clock=args.clock,
        )
        if args.quick
        else Plan(budget_seconds=args.budget or 16.0, gc=args.gc, clock=args.clock)
    )
    names = args.configs.split(",") if args.configs else None
    wanted = set(args.scenarios.split(",")) if args.scenarios else None
    started = time.perf_counter()
    info = machine()
    print(f"# ptc_observe benchmark ({'quick' if args.quick else 'full'} run)\n")
    print(
        f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']}, anthropic {info['anthropic']}"
    )
    print(
        f"workloads: JSON body {len(workloads.JSON_BODY):,} B; streams of {workloads.SSE_EVENTS} "
        f"and {workloads.LONG_SSE_EVENTS:,} SSE events\n"
    )

    telemetry = Telemetry()
    configs = make_configs(telemetry, names)
    for config in configs:
        if config.unavailable:
            print(f"note: {config.name} not run: {config.unavailable}")
    scenarios: dict[str, dict[str, Any]] = {}
    for scenario in SCENARIOS:
        if wanted and scenario.name not in wanted:
            continue
        res = measure(scenario, configs, telemetry, plan_for(scenario, plan))
        scenarios[scenario.name] = res.as_dict()
        print(
            f"## {scenario.label}  ({res.rounds} rounds x {res.calls_per_batch} calls, {res.seconds:.0f} s)\n"
        )
        print(
            report.scenario_table(scenarios[scenario.name], LABELS) + "\n", flush=True
        )

    memory: list[dict[str, Any]] | None = None
    if not args.no_memory:
        # --quick: only the configurations with a memory target (OpenLLMetry's 10 MB stream
        # alone takes a minute of CPU).
        mem_configs = [
            c.name
            for c in configs
            if not c.unavailable and (not args.quick or c.family != "competitor")
        ]
        memory = stream10mb.run_all(mem_configs)
        print(
            "## One long stream (SDK create(stream=True), sync), fresh process each\n"
        )
        print(report.memory_table(memory, LABELS) + "\n", flush=True)

    conc: dict[str, Any] | None = None
    if not args.no_concurrency:
        conc = _run_concurrency(2 if args.quick else 4, args.concurrency, args.server)
        print(
            f"## {conc['concurrency']} concurrent async exchanges over loopback ({conc['server']})\n"
        )
        print(report.concurrency_table(conc, LABELS) + "\n", flush=True)

    order = [c.name for c in configs]
    if scenarios:
        print("## Overheads (median of per-round paired differences)\n")
        print(report.headline_table(scenarios, LABELS, order) + "\n")
        per_event = report.per_event_table(scenarios, LABELS, order)
        if per_event:
            print("## Per SSE event: all-in average and marginal cost\n")
            print(per_event + "\n")
    targets = report.evaluate(scenarios, memory, conc)
    print("## Targets (ptc_observe metrics+spans)\n")
    print(report.targets_table(targets) + "\n")
    elapsed = time.perf_counter() - started
    print(f"total time {elapsed:.0f} s")

    out = (
        args.out
        or RESULTS
        / f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}{'-quick' if args.quick else ''}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": info,
        "quick": args.quick,
        "plan": plan.__dict__,
        "seconds": elapsed,
        "workloads": {
            "json_body_bytes": len(workloads.JSON_BODY),
            "sse_events": workloads.SSE_EVENTS,
            "long_sse_events": workloads.LONG_SSE_EVENTS,
        },
        "scenarios": scenarios,
        "memory": memory,
        "concurrency": conc,
        "targets": [t.as_dict() for t in targets],
    }
    out.write_text(json.dumps(payload, indent=1))
    print(f"results: {out}")
    return report.exit_status(targets)
