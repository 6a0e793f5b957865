"""The report as plain text: aligned tables, one section per question."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .model import Report
from .timerange import iso

ESTIMATE_NOTE = (
    "estimates: tool-result bytes kept in code-execution containers, priced as if they had "
    "entered the context once, a lower bound (method: docs/telemetry.md, Cost)"
)
CONTAINER_NOTE = (
    "container: code-execution container time at the configured rate, an estimate "
    "(see docs/telemetry.md)"
)
COMPARISON_NOTE = "per-run averages over different tasks, not matched pairs: a mix of tasks can move them"


def usd(value: float | None) -> str:
    """``$1,234.56``; three significant digits below a dollar (``$0.0215``); ``-`` for none."""
    if value is None:
        return "-"
    if value == 0 or abs(value) >= 0.9995:  # rounds to $1.00 or more
        return f"${value:,.2f}"
    decimals = 2 - math.floor(math.log10(abs(value)))
    return f"${value:.{decimals}f}"


def num(value: float | None, unit: str = "") -> str:
    """A count: integral values without decimals (Prometheus increases may be fractional)."""
    if value is None:
        return "-"
    if unit == "usd":
        return usd(value)
    text = (
        f"{value:,.0f}"
        if abs(value - round(value)) < 0.05 or abs(value) >= 1000
        else f"{value:,.1f}"
    )
    if unit == "s":
        return f"{value:,.2f} s"
    if unit == "bytes":
        return _bytes(value)
    return text


def _bytes(value: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= size:
            return f"{value / size:,.1f} {unit}"
    return f"{value:,.0f} B"


def ratio(value: float | None) -> str:
    """``2.5x``, or ``-``."""
    return "-" if value is None else f"{value:,.2f}x"


def table(
    header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  "
) -> list[str]:
    """Rows aligned in columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return (indent + "  ".join(parts)).rstrip()

    return [line(header), *(line(r) for r in rows)]


def render_text(report: Report) -> str:
    """The whole report as text, ending with a newline."""
    out: list[str] = ["ptc-observe report: spend and PTC savings", ""]
    out += _header(report)
    out += ["", "SPEND", *_spend(report)]
    out += ["", "RUNS BY MODE", *_runs(report)]
    out += ["", f"PROGRAMMATIC VS DIRECT ({COMPARISON_NOTE})", *_comparison(report)]
    out += ["", "ESTIMATED SAVINGS (ESTIMATES)", *_savings(report)]
    return "\n".join(out) + "\n"


def _header(report: Report) -> list[str]:
    w = report.window
    rows = [["source", report.source], ["window", w.description]]
    if w.start is not None:
        rows.append(["data from", f"{iso(w.start)} to {iso(w.end)}"])
    prices = "; ".join(
        f"{p.source} {p.version} (updated {p.updated})" for p in report.prices
    )
    rows.append(["price data", prices or "unknown (no ptc_price_data_info)"])
    return [f"  {k:<11} {v}" for k, v in rows]


def _spend(report: Report) -> list[str]:
    components = report.components()
    by_model = report.spend_by_model()
    rows = [
        [
            model,
            *(usd(report.spend.get((model, c), 0.0)) for c in components),
            usd(total),
        ]
        for model, total in by_model.items()
    ]
    by_component = report.spend_by_component()
    rows.append(
        ["total", *(usd(by_component[c]) for c in components), usd(report.total_spend)]
    )
    out = table(["model", *components, "total"], rows)
    if "container" in components:
        out.append(f"  {CONTAINER_NOTE}")
    projected = report.projected_month_usd
    basis = (
        "at the average rate since the process started"
        if report.window.snapshot
        else "at the range's average rate"
    )
    out.append("")
    out.append(
        f"  projected month (30 days) {usd(projected)} {basis}"
        if projected is not None
        else "  projected month (30 days) - (the window's length is unknown)"
    )
    out.append("")
    if report.unpriced_tokens:
        out.append(
            "  unpriced tokens (models without a known price; not in the spend above)"
        )
        rows = [[m, num(v)] for m, v in sorted(report.unpriced_tokens.items())]
        rows.append(["total", num(report.total_unpriced_tokens)])
        out += table(["model", "tokens"], rows, indent="    ")
    else:
        out.append("  unpriced tokens  none: every model had a price")
    return out


def _runs(report: Report) -> list[str]:
    if not report.modes:
        return ["  no finished runs in the window"]
    rows = []
    for name in report.mode_order():
        m = report.modes[name]
        rows.append(
            [
                name,
                num(m.runs),
                num(m.per_run(m.round_trips)),
                num(m.per_run(m.tool_calls)),
                num(m.per_run(m.total_tokens)),
                usd(m.per_run(m.cost_usd)),
                num(m.mean_duration, "s"),
                num(m.per_run(m.result_bytes.get("container", 0.0)), "bytes"),
                num(m.per_run(m.result_bytes.get("context", 0.0)), "bytes"),
            ]
        )
    header = [
        "mode",
        "runs",
        "round trips/run",
        "tool calls/run",
        "tokens/run",
        "cost/run",
        "wall time/run",
        "kept in container/run",
        "sent to model/run",
    ]
    return table(header, rows)


def _comparison(report: Report) -> list[str]:
    rows = [
        [c.name, num(c.programmatic, c.unit), num(c.direct, c.unit), ratio(c.ratio)]
        for c in report.comparison()
    ]
    return table(["per run", "programmatic", "direct", "direct / programmatic"], rows)


def _savings(report: Report) -> list[str]:
    saved_usd = report.saved_usd_estimate
    programmatic = report.modes.get("programmatic")
    rows = [
        [
            "tokens kept out of the context (estimate)",
            num(report.saved_tokens_estimate),
        ],
        ["what those tokens would have cost (estimate)", usd(saved_usd)],
    ]
    if programmatic is not None and programmatic.cost_usd + saved_usd > 0:
        share = saved_usd / (programmatic.cost_usd + saved_usd)
        rows.append(
            [
                "share of the programmatic runs' cost without PTC (estimate)",
                f"{share:.0%}",
            ]
        )
    return [*table(["", ""], rows)[1:], f"  {ESTIMATE_NOTE}"]
