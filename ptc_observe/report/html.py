"""The report as one self-contained HTML page: inline CSS and SVG charts, no script, no network.

Every value that comes from the metrics (model names, label values, the source) is escaped.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape

from . import svg
from .families import TOKEN_KINDS
from .model import Report
from .text import COMPARISON_NOTE, CONTAINER_NOTE, ESTIMATE_NOTE, num, ratio, usd
from .timerange import iso

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:980px;
color:#1f2328;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .3rem}h2{font-size:1.15rem;margin:2rem 0 .6rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
.meta{color:#57606a;margin:0}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.6rem .9rem;min-width:170px}
.card b{display:block;font-size:1.3rem}.card span{color:#57606a;font-size:.85rem}
table{border-collapse:collapse;margin:.4rem 0 1rem}th,td{padding:.25rem .6rem;border-bottom:1px solid #eaeef2}
th{text-align:left;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
figure.chart{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.3rem}
svg text{font-size:12px;fill:#1f2328}svg text.value,svg text.legend{fill:#57606a}
svg .axis{stroke:#d0d7de}.note{color:#57606a;font-size:.85rem;margin:.2rem 0}
.estimate{border-left:3px solid #edc948;padding-left:.8rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:0 1.5rem}
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(
        f"<th{' class=n' if i else ''}>{escape(h)}</th>" for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=n' if i else ''}>{escape(c)}</td>" for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _in_unit(value: float, unit: str) -> str:
    return num(value, unit)


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


def render_html(report: Report) -> str:
    """The whole page."""
    parts = [_head(report), _spend(report), _runs(report), _savings(report)]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>ptc_observe: spend and PTC savings</title>"
        f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def _head(report: Report) -> str:
    w = report.window
    prices = "; ".join(
        f"{p.source} {p.version} (updated {p.updated})" for p in report.prices
    )
    meta = [
        f"source: {report.source}",
        f"window: {w.description}",
        f"price data: {prices or 'unknown (no ptc_price_data_info)'}",
    ]
    projected = report.projected_month_usd
    cards = [
        _card(usd(report.total_spend), "spend in the window"),
        _card(usd(projected), "projected month (30 days)"),
        _card(num(report.total_unpriced_tokens), "unpriced tokens (not in the spend)"),
        _card(usd(report.saved_usd_estimate), "estimated savings (estimate)"),
    ]
    return (
        "<h1>Spend and PTC savings</h1>"
        + "".join(f'<p class="meta">{escape(m)}</p>' for m in meta)
        + f'<div class="cards">{"".join(cards)}</div>'
    )


def _spend(report: Report) -> str:
    components = report.components()
    by_model = report.spend_by_model()
    rows = [
        [m, *(usd(report.spend.get((m, c), 0.0)) for c in components), usd(t)]
        for m, t in by_model.items()
    ]
    by_component = report.spend_by_component()
    rows.append(
        ["total", *(usd(by_component[c]) for c in components), usd(report.total_spend)]
    )
    model_rows = [
        (m, {c: report.spend.get((m, c), 0.0) for c in components}) for m in by_model
    ]
    out = [
        "<h2>Spend</h2>",
        svg.stacked_bars(
            "spend-by-model",
            "Spend by model and component (USD)",
            model_rows,
            components,
            usd,
        ),
        svg.bars(
            "spend-by-component",
            "Spend by component (USD)",
            list(by_component.items()),
            usd,
        ),
    ]
    if not report.window.snapshot:
        out.append(
            svg.line(
                "spend-rate",
                "Spend rate over the range (USD per hour)",
                report.spend_series,
                usd,
                lambda t: iso(datetime.fromtimestamp(t, tz=timezone.utc)),
            )
        )
    out.append(_table(["model", *components, "total"], rows))
    if "container" in components:
        out.append(f'<p class="note">{escape(CONTAINER_NOTE)}.</p>')
    if report.unpriced_tokens:
        out.append(
            "<p>Unpriced tokens (models without a known price; not in the spend):</p>"
        )
        out.append(
            _table(
                ["model", "tokens"],
                [[m, num(v)] for m, v in sorted(report.unpriced_tokens.items())],
            )
        )
    else:
        out.append("<p>Unpriced tokens: none, every model had a price.</p>")
    return "".join(out)


def _runs(report: Report) -> str:
    if not report.modes:
        return "<h2>Runs by mode</h2><p>No finished runs in the window.</p>"
    modes = report.mode_order()
    stats = [report.modes[m] for m in modes]
    rows = [
        [
            m.mode,
            num(m.runs),
            num(m.per_run(m.round_trips)),
            num(m.per_run(m.tool_calls)),
            num(m.per_run(m.total_tokens)),
            usd(m.per_run(m.cost_usd)),
            num(m.mean_duration, "s"),
        ]
        for m in stats
    ]
    token_rows = [
        (m.mode, {k: m.per_run(v) or 0.0 for k, v in m.tokens.items()}) for m in stats
    ]
    kinds = [k for k in TOKEN_KINDS if any(k in m.tokens for m in stats)]
    kinds += sorted({k for m in stats for k in m.tokens} - set(kinds))
    out = [
        "<h2>Runs by mode</h2>",
        _table(
            [
                "mode",
                "runs",
                "round trips/run",
                "tool calls/run",
                "tokens/run",
                "cost/run",
                "wall time/run",
            ],
            rows,
        ),
        svg.bars(
            "runs-by-mode",
            "Finished runs by mode",
            [(m.mode, m.runs) for m in stats],
            num,
        ),
        svg.stacked_bars(
            "tokens-per-run", "Tokens per run by kind", token_rows, kinds, num
        ),
        "<h2>Programmatic vs direct</h2>",
        f'<p class="note">{escape(COMPARISON_NOTE)}.</p>',
    ]
    comparison = report.comparison()
    out.append(
        _table(
            ["per run", "programmatic", "direct", "direct / programmatic"],
            [
                [
                    c.name,
                    num(c.programmatic, c.unit),
                    num(c.direct, c.unit),
                    ratio(c.ratio),
                ]
                for c in comparison
            ],
        )
    )
    charts = []
    for i, c in enumerate(comparison[:4]):
        items = [
            (k, v)
            for k, v in (("programmatic", c.programmatic), ("direct", c.direct))
            if v is not None
        ]
        charts.append(
            svg.bars(
                f"compare-{i}",
                c.name.capitalize(),
                items,
                functools.partial(_in_unit, unit=c.unit),
            )
        )
    out.append(f'<div class="grid">{"".join(charts)}</div>')
    return "".join(out)


def _savings(report: Report) -> str:
    saved = report.saved_usd_estimate
    programmatic = report.modes.get("programmatic")
    out = [
        '<h2>Estimated savings (estimates)</h2><div class="estimate">',
        _table(
            ["", "estimate"],
            [
                [
                    "tokens kept out of the context (estimate)",
                    num(report.saved_tokens_estimate),
                ],
                ["what those tokens would have cost (estimate)", usd(saved)],
            ],
        ),
    ]
    if programmatic is not None:
        out.append(
            svg.bars(
                "savings",
                "Programmatic runs: cost vs estimated cost without PTC (USD, estimate)",
                [
                    ("cost of the programmatic runs", programmatic.cost_usd),
                    ("estimated cost without PTC", programmatic.cost_usd + saved),
                ],
                usd,
                note="the second bar is an estimate",
            )
        )
    out.append(f'<p class="note">{escape(ESTIMATE_NOTE)}.</p></div>')
    return "".join(out)
