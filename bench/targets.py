"""The issue's targets for ptc_observe metrics+spans, as PASS/FAIL rows, with information rows.

Every verdict is a ratio against figures of the same run (the issue's rule).
The stream target is judged on the marginal cost per SSE event (see ``bench/report.py``'s
``MARGINAL_NOTE``); rows with ``info=True`` are reference figures (the floor, ``naive_span``;
the all-in averages) and never change a verdict or the exit status. The small accessors here
read a scenario of a results JSON (``bench/results/*.json``) and are shared with the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "FLOOR",
    "PTC",
    "Target",
    "evaluate",
    "exit_status",
    "fmt",
    "fmt_marginal",
    "marginal",
    "overhead",
    "per_event",
    "ratio",
    "targets_table",
]

PTC = ("ptc_full", "ptc_otel_metrics", "ptc_metrics", "ptc_spans", "ptc_nosinks")
MIB = 1024
FLOOR = "naive_span"
"""The naive transport plus one GenAI span: the least an observer with metrics and spans does."""


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


def fmt(x: float | None, digits: int = 0) -> str:
    """``x`` with thousands separators and ``digits`` decimals, or a dash when missing."""
    return "—" if x is None else f"{x:,.{digits}f}"


def overhead(scen: dict[str, Any], config: str) -> float | None:
    """``config``'s paired overhead over bare in ``scen`` (us per call), None when not run."""
    row = scen["configs"].get(config)
    return None if row is None else float(row["overhead_us"])


def per_event(scen: dict[str, Any], config: str) -> float | None:
    """The all-in average: overhead / events of the short stream."""
    ov = overhead(scen, config)
    return None if ov is None or not scen["events"] else ov / scen["events"]


def marginal(scen: dict[str, Any], config: str) -> tuple[float, float, float] | None:
    """Marginal us per event and its IQR, when the scenario timed the long stream too."""
    row = scen["configs"].get(config)
    if row is None or "marginal_us_per_event" not in row:
        return None
    lo, hi = row["marginal_iqr_us_per_event"]
    return (float(row["marginal_us_per_event"]), float(lo), float(hi))


def fmt_marginal(m: tuple[float, float, float] | None) -> str:
    """A :func:`marginal` figure as ``median (q1..q3)``, or a dash."""
    return "—" if m is None else f"{m[0]:.2f} ({m[1]:.2f}..{m[2]:.2f})"


def ratio(a: float | None, b: float | None) -> str:
    """``a / b`` as ``1.23x``, or a dash when either is missing (or ``b`` is not positive)."""
    return "—" if a is None or b is None or b <= 0 else f"{a / b:.2f}x"


def evaluate(
    scenarios: dict[str, dict[str, Any]],
    memory: list[dict[str, Any]] | None,
    conc: dict[str, Any] | None,
) -> list[Target]:
    """Issue 16's targets for ``ptc_full`` (Observer() with Prometheus metrics and OTel spans).

    Information rows (``info=True``) come with them: the floor (``naive_span``) next to the
    non-streamed targets, and the all-in average per event of the streams.
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
                    f"1→10 MB extra peak growth {fmt(extra)} KiB (bare {fmt(bare_extra)} KiB)",
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
    """Issue 16's non-streamed targets: ptc_full against the floor and the SDK's tracing,
    metrics only against the naive transport; the floor's ratios as information."""
    ptc, metrics, naive, sdk, floor = (
        overhead(scen, c)
        for c in ("ptc_full", "ptc_metrics", "naive", "sdk_tracing", FLOOR)
    )
    out = [
        Target(
            f"non-streamed {mode}: ptc_full overhead <= 1.3x the floor's",
            f"{fmt(ptc)} us = {ratio(ptc, floor)} the floor ({fmt(floor)} us)",
            f"<= {fmt(None if floor is None else floor * 1.3)} us",
            None if ptc is None or floor is None else ptc <= floor * 1.3,
        ),
        Target(
            f"non-streamed {mode}: ptc_full overhead <= 0.8x SDK tracing",
            f"{fmt(ptc)} us = {ratio(ptc, sdk)} SDK tracing ({fmt(sdk)} us)",
            f"<= {fmt(None if sdk is None else sdk * 0.8)} us",
            None if ptc is None or sdk is None else ptc <= sdk * 0.8,
        ),
        Target(
            f"non-streamed {mode}: metrics only <= 1.15x the naive transport",
            f"{fmt(metrics)} us = {ratio(metrics, naive)} naive ({fmt(naive)} us)",
            f"<= {fmt(None if naive is None else naive * 1.15)} us",
            None if metrics is None or naive is None else metrics <= naive * 1.15,
        ),
    ]
    if floor is not None:
        out.append(
            Target(
                f"non-streamed {mode}, floor: naive transport + one GenAI span",
                f"{fmt(floor)} us = {ratio(floor, sdk)} SDK tracing, "
                f"{ratio(floor, naive)} naive",
                "(reference)",
                None,
                info=True,
            )
        )
    return out


def _stream(scen: dict[str, Any], key: str) -> list[Target]:
    """The marginal per-event target when the long stream was timed; the all-in average as info."""
    per = per_event(scen, "ptc_full")
    row = scen["configs"].get("ptc_full")
    spread = ""
    if row is not None:
        lo, hi = (v / scen["events"] for v in row["overhead_iqr_us"])
        spread = f" (IQR {lo:.2f}..{hi:.2f})"
    all_in = f"{fmt(per, 2)} us/event{spread} over {scen['events']} events"
    m = marginal(scen, "ptc_full")
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
            f"{fmt_marginal(m)} us/event, {scen['events']} → {long_events:,} events; "
            f"all-in average {all_in} (information)",
            "<= 1.00 us/event",
            None if m is None else m[0] <= 1.0,
        )
    ]


def _concurrency(conc: dict[str, Any]) -> list[Target]:
    """ptc_full's p99 within 2 % of the floor's, both as ratios to bare in the same run."""
    row = conc["configs"].get("ptc_full")
    floor = conc["configs"].get(FLOOR)
    measured = "—"
    limit = "<= 1.02x the floor's p99 ratio"
    ok = None
    if row is not None and floor is not None:
        measured = (
            f"{row['p99_ratio']:.3f}x bare (p99 {row['p99_ms']:,.0f} ms); floor "
            f"{floor['p99_ratio']:.3f}x bare (p99 {floor['p99_ms']:,.0f} ms)"
        )
        limit = f"<= {floor['p99_ratio'] * 1.02:.3f}x bare"
        ok = row["p99_ratio"] <= floor["p99_ratio"] * 1.02
    return [
        Target(
            f"{conc['concurrency']} concurrent async exchanges: p99 within 2 % of the floor's",
            measured,
            limit,
            ok,
        )
    ]


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
