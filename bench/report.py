"""Tables and targets: turns the measurements into Markdown and PASS/FAIL verdicts.

Every verdict is a ratio against figures of the same run (the issue's rule), except the one
absolute figure the issue names (120 us), which is reported as such and depends on the machine.

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
from dataclasses import dataclass
from typing import Any

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

PTC = ("ptc_full", "ptc_otel_metrics", "ptc_metrics", "ptc_spans", "ptc_nosinks")
MIB = 1024
FLOOR = "naive_span"
"""The naive transport plus one GenAI span: the least an observer with metrics and spans does."""

MARGINAL_NOTE = (
    "all-in us/event = overhead / events of the short stream (includes the fixed per-exchange "
    "cost); marginal us/event = per round, (overhead on the long stream - overhead on the short "
    "one) / (extra events), median over rounds (IQR): what one more SSE event costs. The stream "
    "target is judged on the marginal cost."
)


@dataclass
class Target:
    """One verdict."""

    name: str
    measured: str
    limit: str
    ok: bool | None
    """``None`` when the figures needed are missing (and for information rows)."""
    info: bool = False
    """An information row (a reference figure), not one of the issue's targets."""

    @property
    def verdict(self) -> str:
        """PASS, FAIL, n/a, or info for an information row."""
        if self.info:
            return "info"
        return "n/a" if self.ok is None else ("PASS" if self.ok else "FAIL")

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "name": self.name,
            "measured": self.measured,
            "limit": self.limit,
            "verdict": self.verdict,
        }


def _fmt(x: float | None, digits: int = 0) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def _overhead(scen: dict[str, Any], config: str) -> float | None:
    row = scen["configs"].get(config)
    return None if row is None else float(row["overhead_us"])


def _per_event(scen: dict[str, Any], config: str) -> float | None:
    """The all-in average: overhead / events of the short stream."""
    ov = _overhead(scen, config)
    return None if ov is None or not scen["events"] else ov / scen["events"]


def _marginal(scen: dict[str, Any], config: str) -> tuple[float, float, float] | None:
    """Marginal us per event and its IQR, when the scenario timed the long stream too."""
    row = scen["configs"].get(config)
    if row is None or "marginal_us_per_event" not in row:
        return None
    lo, hi = row["marginal_iqr_us_per_event"]
    return (float(row["marginal_us_per_event"]), float(lo), float(hi))


def _fmt_marginal(m: tuple[float, float, float] | None) -> str:
    return "—" if m is None else f"{m[0]:.2f} ({m[1]:.2f}..{m[2]:.2f})"


def _calls(n: int | None) -> str:
    return "? calls" if n is None else f"{n} call" + ("" if n == 1 else "s")


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None or b <= 0 else f"{a / b:.2f}x"


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
                    f" (median {_fmt(median)}) | — |" if name == "bare" else " — | — |"
                )
            else:
                llo, lhi = row["long_overhead_iqr_us"]
                line += f" {row['long_overhead_us']:+,.0f} ({llo:+,.0f}..{lhi:+,.0f}) |"
                line += f" {_fmt_marginal(_marginal(scen, name))} |"
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
        base.append(_fmt(scenarios[key]["configs"]["bare"]["median_us"]))
    lines.append("| " + " | ".join(base) + " |")
    for name in configs:
        if name == "bare":
            continue
        cells = [labels.get(name, name)]
        for key, _, per_ev in cols:
            scen = scenarios[key]
            cells.append(
                _fmt(_per_event(scen, name), 2)
                if per_ev
                else _fmt(_overhead(scen, name))
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
            cells.append(_fmt(_per_event(scen, name), 2))
            cells.append(_fmt_marginal(_marginal(scen, name)))
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
            f"{ten['growth_kib'] - one['growth_kib']:+,} | {ten['cpu_seconds']:.2f} | {_fmt(ratio, 1)} |"
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


def evaluate(
    scenarios: dict[str, dict[str, Any]],
    memory: list[dict[str, Any]] | None,
    conc: dict[str, Any] | None,
) -> list[Target]:
    """The issue's targets for ``ptc_full`` (Observer() with Prometheus metrics and OTel spans).

    Information rows (``info=True``) come with them: the floor (``naive_span``) next to the
    non-streamed and concurrency targets, and the all-in average per event of the streams.
    """
    out: list[Target] = []
    for key in ("sdk_create_sync", "sdk_create_async"):
        scen = scenarios.get(key)
        if scen is None:
            continue
        out += _non_streamed(scen, key.rsplit("_", 1)[1])
    for key in (
        "sdk_stream_sync",
        "sdk_stream_async",
        "sdk_helper_sync",
        "sdk_helper_async",
        "httpx2_stream_sync",
        "httpx_stream_sync",
    ):
        scen = scenarios.get(key)
        if scen is not None:
            out += _stream(scen, key)
    if memory:
        by = {(r["config"], r["bytes"]): r.get("growth_kib") for r in memory}
        bare_extra = _extra(by, "bare")
        for name in PTC:
            extra = _extra(by, name)
            if extra is None and (name, 1_000_000) not in by:
                continue
            out.append(
                Target(
                    f"10 MB stream, flat memory ({name})",
                    f"1→10 MB extra peak growth {_fmt(extra)} KiB (bare {_fmt(bare_extra)} KiB)",
                    "<= bare + 1,024 KiB",
                    None
                    if extra is None or bare_extra is None
                    else extra <= bare_extra + MIB,
                )
            )
    if conc:
        out += _concurrency(conc)
    return out


def _non_streamed(scen: dict[str, Any], mode: str) -> list[Target]:
    """The three non-streamed targets, then the floor's two information rows."""
    ptc, naive, sdk, floor = (
        _overhead(scen, c) for c in ("ptc_full", "naive", "sdk_tracing", FLOOR)
    )
    out = [
        Target(
            f"non-streamed {mode}: overhead <= naive + 10 %",
            f"{_fmt(ptc)} us vs naive {_fmt(naive)} us",
            f"<= {_fmt(None if naive is None else naive * 1.1)} us",
            None if ptc is None or naive is None else ptc <= naive * 1.1,
        ),
        Target(
            f"non-streamed {mode}: overhead <= 0.4x SDK tracing",
            f"{_fmt(ptc)} us vs SDK tracing {_fmt(sdk)} us",
            f"<= {_fmt(None if sdk is None else sdk * 0.4)} us",
            None if ptc is None or sdk is None else ptc <= sdk * 0.4,
        ),
        Target(
            f"non-streamed {mode}: overhead <= 120 us (absolute, this machine)",
            f"{_fmt(ptc)} us",
            "<= 120 us",
            None if ptc is None else ptc <= 120,
        ),
    ]
    if floor is None:
        return out
    out += [
        Target(
            f"non-streamed {mode}, floor: naive transport + one GenAI span vs SDK tracing",
            f"{_fmt(floor)} us = {_ratio(floor, sdk)} SDK tracing ({_fmt(sdk)} us)",
            f"(ptc_full's target: 0.40x; ptc_full is {_ratio(ptc, floor)} the floor)",
            None,
            info=True,
        ),
        Target(
            f"non-streamed {mode}, floor: naive transport + one GenAI span vs naive",
            f"{_fmt(floor)} us = {_ratio(floor, naive)} naive ({_fmt(naive)} us)",
            "(ptc_full's target: 1.10x)",
            None,
            info=True,
        ),
    ]
    return out


def _stream(scen: dict[str, Any], key: str) -> list[Target]:
    """The marginal per-event target when the long stream was timed; the all-in average as info."""
    per = _per_event(scen, "ptc_full")
    row = scen["configs"].get("ptc_full")
    spread = ""
    if row is not None:
        lo, hi = (v / scen["events"] for v in row["overhead_iqr_us"])
        spread = f" (IQR {lo:.2f}..{hi:.2f})"
    all_in = f"{_fmt(per, 2)} us/event{spread} over {scen['events']} events"
    marginal = _marginal(scen, "ptc_full")
    long_events = scen.get("long_events")
    if not long_events:
        return [
            Target(
                f"stream all-in average per SSE event ({key})",
                all_in + " (no long stream timed here: no marginal figure)",
                "(information: includes the fixed per-exchange cost)",
                None,
                info=True,
            )
        ]
    return [
        Target(
            f"stream marginal per-event cost ({key})",
            f"{_fmt_marginal(marginal)} us/event, {scen['events']} → {long_events:,} events; "
            f"all-in average {all_in} (information)",
            "<= 1.00 us/event",
            None if marginal is None else marginal[0] <= 1.0,
        )
    ]


def _concurrency(conc: dict[str, Any]) -> list[Target]:
    """The p99 target for ptc_full, and the floor's p99 as information when it was run."""
    row = conc["configs"].get("ptc_full")
    out = [
        Target(
            f"{conc['concurrency']} concurrent async exchanges: p99",
            "—"
            if row is None
            else f"{row['p99_ratio']:.3f}x bare (p99 {row['p99_ms']:,.0f} ms)",
            "<= 1.05x bare",
            None if row is None else row["p99_ratio"] <= 1.05,
        )
    ]
    floor = conc["configs"].get(FLOOR)
    if floor is not None:
        out.append(
            Target(
                f"{conc['concurrency']} concurrent async exchanges, floor: naive transport + one GenAI span p99",
                f"{floor['p99_ratio']:.3f}x bare (p99 {floor['p99_ms']:,.0f} ms)",
                "(ptc_full's target: 1.05x)",
                None,
                info=True,
            )
        )
    return out


def _extra(by: dict[tuple[str, int], Any], name: str) -> float | None:
    one, ten = by.get((name, 1_000_000)), by.get((name, 10_000_000))
    return None if one is None or ten is None else float(ten - one)


def exit_status(targets: list[Target]) -> int:
    """0 when every target passes, 1 when one fails, 2 when one could not be judged.

    Information rows are not targets and never change the status.
    """
    verdicts = [t for t in targets if not t.info]
    if not verdicts or any(t.ok is None for t in verdicts):
        return 2
    return 0 if all(t.ok for t in verdicts) else 1


def targets_table(targets: list[Target]) -> str:
    """The verdicts as a Markdown table (information rows unbolded, marked ``info``)."""
    lines = ["| target | measured | limit | verdict |", "|---|---|---|---|"]
    lines += [
        f"| {t.name} | {t.measured} | {t.limit} | "
        + (t.verdict if t.info else f"**{t.verdict}**")
        + " |"
        for t in targets
    ]
    if any(t.info for t in targets):
        lines.append("")
        lines.append(
            "Rows marked info are reference figures, not targets. The floor is "
            f"`{FLOOR}` (bench/naive.py): the naive transport plus one OpenTelemetry GenAI "
            "chat span per exchange, the least an observer that records metrics and a span does."
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
