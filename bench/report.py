"""Tables and targets: turns the measurements into Markdown and PASS/FAIL verdicts.

Every verdict is a ratio against figures of the same run (the issue's rule).

Two per-event figures are reported for streams. The **all-in average** is a stream's overhead
divided by its events (201): it carries the fixed per-exchange cost (hundreds of us), so it
cannot reach 1 us/event even if events cost nothing. The **marginal cost** is what one more SSE
event costs: per round, (overhead on the 1,999-event stream - overhead on the 201-event stream)
/ 1,798, from batches of the same round, median over rounds. The stream target ("parse only
what carries facts; text deltas must not cost a JSON parse each") is judged on the marginal
cost; the all-in average is printed beside it as information. Rows whose verdict is ``info``
(the floor an observer with metrics and one span pays, the all-in averages) are not targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .targets import (
    Target,
    evaluate,
    exit_status,
    fmt,
    fmt_marginal,
    marginal,
    overhead,
    per_event,
    targets_table,
)

__all__ = [
    "MARGINAL_NOTE",
    "Target",
    "concurrency_table",
    "evaluate",
    "exit_status",
    "headline_table",
    "memory_table",
    "per_event_table",
    "render",
    "scenario_table",
    "targets_table",
]

MARGINAL_NOTE = (
    "all-in us/event = overhead / events of the short stream (includes the fixed per-exchange "
    "cost); marginal us/event = per round, (overhead on the long stream - overhead on the short "
    "one) / (extra events), median over rounds (IQR): what one more SSE event costs. The stream "
    "target is judged on the marginal cost."
)


def _calls(n: int | None) -> str:
    return "? calls" if n is None else f"{n} call" + ("" if n == 1 else "s")


def scenario_table(scen: dict[str, Any], labels: dict[str, str]) -> str:
    """One scenario: median per call, paired overhead (with IQR), ratio, per-event costs, spans.

    A scenario that timed the long stream too gets its overhead on that stream and the marginal
    cost per event (see :data:`MARGINAL_NOTE`), printed under the table.
    """
    streamed = bool(scen["events"])
    long_events = int(scen.get("long_events") or 0)
    head = "| configuration | median us/call | overhead us (IQR) | x bare |"
    if streamed:
        head += " all-in us/event |" if long_events else " us/event |"
    if long_events:
        head += (
            f" overhead us, {long_events:,} events (IQR) | marginal us/event (IQR) |"
        )
    head += " spans/call |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    bare = scen["configs"]["bare"]["median_us"]
    for name, row in scen["configs"].items():
        lo, hi = row["overhead_iqr_us"]
        ov = (
            "—"
            if name == "bare"
            else f"{row['overhead_us']:+,.0f} ({lo:+,.0f}..{hi:+,.0f})"
        )
        line = f"| {labels.get(name, name)} | {row['median_us']:,.0f} | {ov} | {row['median_us'] / bare:.2f} |"
        if streamed:
            line += (
                " — |"
                if name == "bare"
                else f" {row['overhead_us'] / scen['events']:.2f} |"
            )
        if long_events:
            if name == "bare" or "long_overhead_us" not in row:
                median = row.get("long_median_us")
                line += (
                    f" (median {fmt(median)}) | — |" if name == "bare" else " — | — |"
                )
            else:
                llo, lhi = row["long_overhead_iqr_us"]
                line += f" {row['long_overhead_us']:+,.0f} ({llo:+,.0f}..{lhi:+,.0f}) |"
                line += f" {fmt_marginal(marginal(scen, name))} |"
        line += f" {row['spans_per_call']:.2f} |"
        lines.append(line)
    for name, why in scen["skipped"].items():
        lines.append(
            f"| {labels.get(name, name)} | not run: {why} |"
            + " |" * (head.count("|") - 3)
        )
    if long_events:
        lines.append("")
        lines.append(
            f"{scen['events']} and {long_events:,} events, both timed in each round "
            f"({_calls(scen.get('long_calls_per_batch'))} per long batch). "
            + MARGINAL_NOTE
        )
    return "\n".join(lines)


def headline_table(
    scenarios: dict[str, dict[str, Any]], labels: dict[str, str], configs: Sequence[str]
) -> str:
    """Overheads of every configuration across the scenarios, in one table."""
    cols = [
        ("sdk_create_sync", "create sync us", False),
        ("sdk_create_async", "create async us", False),
        ("sdk_stream_sync", "stream sync us/ev all-in", True),
        ("sdk_stream_async", "stream async us/ev all-in", True),
        ("sdk_helper_sync", ".stream() sync us/ev all-in", True),
        ("httpx2_create_sync", "httpx2 POST us", False),
        ("httpx2_stream_sync", "httpx2 stream us/ev all-in", True),
        ("httpx_create_sync", "httpx POST us", False),
    ]
    cols = [c for c in cols if c[0] in scenarios]
    head = "| overhead over bare | " + " | ".join(c[1] for c in cols) + " |"
    lines = [head, "|---|" + "---|" * len(cols)]
    base = ["bare (median per call, us)"]
    for key, _, _ in cols:
        base.append(fmt(scenarios[key]["configs"]["bare"]["median_us"]))
    lines.append("| " + " | ".join(base) + " |")
    for name in configs:
        if name == "bare":
            continue
        cells = [labels.get(name, name)]
        for key, _, per_ev in cols:
            scen = scenarios[key]
            cells.append(
                fmt(per_event(scen, name), 2) if per_ev else fmt(overhead(scen, name))
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_event_table(
    scenarios: dict[str, dict[str, Any]], labels: dict[str, str], configs: Sequence[str]
) -> str:
    """Per SSE event, for every scenario that timed the long stream: all-in and marginal cost.

    Returns an empty string when no scenario timed the long stream.
    """
    keys = [k for k, scen in scenarios.items() if scen.get("long_events")]
    if not keys:
        return ""
    head = "| us per SSE event |"
    for key in keys:
        head += f" {key} all-in | {key} marginal (IQR) |"
    lines = [head, "|---|" + "---|---|" * len(keys)]
    for name in configs:
        if name == "bare" or not any(name in scenarios[k]["configs"] for k in keys):
            continue
        cells = [labels.get(name, name)]
        for key in keys:
            scen = scenarios[key]
            cells.append(fmt(per_event(scen, name), 2))
            cells.append(fmt_marginal(marginal(scen, name)))
        lines.append("| " + " | ".join(cells) + " |")
    first = scenarios[keys[0]]
    lines.append("")
    lines.append(
        f"Short stream {first['events']} events, long stream {first['long_events']:,} events. "
        + MARGINAL_NOTE
    )
    return "\n".join(lines)


def memory_table(rows: list[dict[str, Any]], labels: dict[str, str]) -> str:
    """Peak RSS growth at 1 MB and 10 MB, and the time of the 10 MB stream against bare."""
    by: dict[str, dict[int, dict[str, Any]]] = {}
    for row in rows:
        by.setdefault(row["config"], {})[row["bytes"]] = row
    bare10 = by.get("bare", {}).get(10_000_000, {}).get("cpu_seconds")
    lines = [
        "| configuration | growth 1 MB (KiB) | growth 10 MB (KiB) | extra growth 1→10 MB (KiB) | 10 MB CPU s | x bare |",
        "|---|---|---|---|---|---|",
    ]
    for name, sizes in by.items():
        one, ten = sizes.get(1_000_000, {}), sizes.get(10_000_000, {})
        if "growth_kib" not in one or "growth_kib" not in ten:
            why = (
                one.get("unavailable")
                or one.get("error")
                or ten.get("error")
                or "missing"
            )
            lines.append(
                f"| {labels.get(name, name)} | not run: {str(why).splitlines()[-1][:80]} | | | | |"
            )
            continue
        ratio = ten["cpu_seconds"] / bare10 if bare10 else None
        lines.append(
            f"| {labels.get(name, name)} | {one['growth_kib']:,} | {ten['growth_kib']:,} | "
            f"{ten['growth_kib'] - one['growth_kib']:+,} | {ten['cpu_seconds']:.2f} | {fmt(ratio, 1)} |"
        )
    return "\n".join(lines)


def concurrency_table(conc: dict[str, Any], labels: dict[str, str]) -> str:
    """p50 / p99 of the concurrent batches and their paired ratios to bare."""
    lines = [
        "| configuration | p50 ms | p99 ms | batch ms | client CPU busy | p50 x bare | p99 x bare |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in conc["configs"].items():
        lines.append(
            f"| {labels.get(name, name)} | {row['p50_ms']:,.0f} | {row['p99_ms']:,.0f} | {row['batch_ms']:,.0f} | "
            f"{row['client_cpu']:.0%} | "
            f"{row['p50_ratio']:.3f} | {row['p99_ratio']:.3f} |"
        )
    return "\n".join(lines)


def render(payload: dict[str, Any], labels: dict[str, str]) -> str:
    """Every table of a results JSON (``bench/results/*.json``) as Markdown."""
    scenarios = payload["scenarios"]
    parts: list[str] = []
    order = list(labels)
    if scenarios:
        parts += [
            "### Overheads over the bare client",
            headline_table(scenarios, labels, order),
        ]
        per_event = per_event_table(scenarios, labels, order)
        if per_event:
            parts += ["### Per SSE event: all-in average and marginal cost", per_event]
    parts += ["### Targets (ptc_observe metrics+spans)"]
    parts += [
        targets_table(
            evaluate(scenarios, payload.get("memory"), payload.get("concurrency"))
        )
    ]
    if payload.get("memory"):
        parts += [
            "### One long stream, fresh process each",
            memory_table(payload["memory"], labels),
        ]
    conc = payload.get("concurrency")
    if conc:
        parts += [
            f"### {conc['concurrency']} concurrent async exchanges ({conc['server']})"
        ]
        parts += [concurrency_table(conc, labels)]
    for scen in scenarios.values():
        head = f"### {scen['label']} ({scen['rounds']} rounds x {scen['calls_per_batch']} calls)"
        parts += [head, scenario_table(scen, labels)]
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    import json
    import sys

    from .configs import ALL_CONFIGS

    print(
        render(
            json.loads(open(sys.argv[1]).read()), {c.name: c.label for c in ALL_CONFIGS}
        )
    )
