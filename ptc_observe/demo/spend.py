"""The demo's spend and per-mode summary, read back from the metrics, and its ledger check.

Spend comes from ``ptc_cost_usd_total``, runs from ``ptc_runs_total`` and ``ptc_run_*``
(docs/telemetry.md, "Cost"). The seed's claims about programmatic tool calling are set beside
what this *emulated* traffic shows: the emulator's token counts and latencies are synthetic,
so the comparison says how the telemetry reads, not what the real API does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .summary import Snapshot

__all__ = ["CLAIMS", "render_spend", "spend_check"]

COMPONENTS = (
    "input",
    "cache_read",
    "cache_write",
    "output",
    "server_tools",
    "container",
)
MODES = ("programmatic", "direct", "none")
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")
CLAIMS = "85% fewer tokens and 3-10x lower latency with programmatic tool calling"
"""What the project's seed claims (docs/seed: batch tool calls in code execution)."""
_TOLERANCE = 1e-9


def _usd(value: float) -> str:
    return f"${value:.4f}"


def _per_run(snap: Snapshot, name: str, mode: str, **match: str) -> float | None:
    runs = snap.total("ptc_runs_total", mode=mode)
    return snap.total(name, mode=mode, **match) / runs if runs else None


def _fmt(value: float | None, pattern: str, width: int) -> str:
    return ("-" if value is None else pattern.format(value)).rjust(width)


def render_spend(snap: Snapshot) -> list[str]:
    """Spend by component, price data, runs by mode, the seed's claims beside them."""
    spend = snap.by("ptc_cost_usd_total", "component")
    total = sum(spend.values())
    sources = [
        f"{dict(labels).get('source')} {dict(labels).get('version')} ({dict(labels).get('updated') or 'no date'})"
        for labels in snap.samples.get("ptc_price_data_info", {})
    ]
    lines = [
        f"spend            {_usd(total)}: "
        + ", ".join(f"{c} {_usd(spend.get(c, 0.0))}" for c in COMPONENTS[:-1])
        + f", container {_usd(spend.get('container', 0.0))} (estimate)",
        f"unpriced tokens  {snap.total('ptc_unpriced_tokens_total'):.0f}",
        f"price data       {'; '.join(sorted(sources)) or 'none (pricing off)'}",
        "runs by mode     EMULATED traffic: how the telemetry reads, not evidence about the real API",
        "                 runs  round trips/run  tool calls/run  tokens/run  cost/run  wall p50",
    ]
    for mode in MODES:
        runs = snap.total("ptc_runs_total", mode=mode)
        tokens = _per_run(snap, "ptc_run_tokens_total", mode)
        p50 = snap.quantile("ptc_run_duration_seconds", 0.5, mode=mode)
        lines.append(
            f"  {mode:<14} {runs:5.0f}  "
            f"{_fmt(_per_run(snap, 'ptc_run_round_trips_total', mode), '{:.2f}', 15)}  "
            f"{_fmt(_per_run(snap, 'ptc_run_tool_calls_total', mode), '{:.2f}', 14)}  "
            f"{_fmt(tokens, '{:.0f}', 10)}  "
            f"{_fmt(_per_run(snap, 'ptc_run_cost_usd_total', mode), '${:.5f}', 8)}  "
            f"{_fmt(p50, '{:.2f} s', 8)}"
        )
    lines.append(f"seed's claims    {CLAIMS}")
    lines.append("emulated shows   " + _comparison(snap))
    saved_tokens = snap.total("ptc_run_saved_tokens_estimate_total")
    saved_usd = snap.total("ptc_run_saved_usd_estimate_total")
    lines.append(
        f"saved (ESTIMATE) {saved_tokens:.0f} tokens, {_usd(saved_usd)} of tool results kept in"
        " containers instead of the context (bytes / 4 at the input price)"
    )
    return lines


def _comparison(snap: Snapshot) -> str:
    """Programmatic vs direct runs of this emulated traffic, in the claims' terms."""
    tokens = {m: _per_run(snap, "ptc_run_tokens_total", m) for m in MODES[:2]}
    trips = {m: _per_run(snap, "ptc_run_round_trips_total", m) for m in MODES[:2]}
    walls = {
        m: snap.quantile("ptc_run_duration_seconds", 0.5, mode=m) for m in MODES[:2]
    }
    prog, direct = MODES[0], MODES[1]
    t_prog, t_direct = tokens[prog], tokens[direct]
    if not (t_prog and t_direct):
        return "no programmatic and direct runs to compare"
    change = 100.0 * (1.0 - t_prog / t_direct)
    parts = [
        f"{abs(change):.0f}% {'fewer' if change >= 0 else 'more'} tokens per programmatic run than per direct run"
    ]
    if trips[prog] is not None and trips[direct] is not None:
        parts.append(f"{trips[prog]:.2f} vs {trips[direct]:.2f} round trips per run")
    w_prog, w_direct = walls[prog], walls[direct]
    if w_prog and w_direct:
        parts.append(
            f"wall time p50 {w_direct / w_prog:.1f}x shorter"
            if w_direct >= w_prog
            else f"wall time p50 {w_prog / w_direct:.1f}x longer"
        )
    return "; ".join(parts) + " (emulated)"


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= _TOLERANCE * max(1.0, abs(a), abs(b))


def spend_check(snap: Snapshot, stats: Mapping[str, Any]) -> Iterable[str]:
    """Compare spend and runs by mode with what the emulator's ledger says it sent.

    The ledger prices its usage with the same price data; it has no container time (that
    is the observer's estimate from durations), so token spend is compared.
    """
    ledger_spend = stats.get("spend") or {}
    observed = snap.by("ptc_cost_usd_total", "component")
    token_spend = sum(v for c, v in observed.items() if c != "container")
    sent = sum(ledger_spend.values())
    agree = all(
        _close(observed.get(c, 0.0), ledger_spend.get(c, 0.0)) for c in COMPONENTS[:-1]
    )
    yield (
        f"ground truth     token spend {_usd(token_spend)} in the metrics, {_usd(sent)} by the"
        f" emulator's ledger at the same prices: {'matches' if agree else 'DIFFERS'}"
    )
    runs = stats.get("runs") or {}
    same = True
    parts = []
    for mode in MODES:
        want = runs.get(mode) or {}
        got = {
            "runs": snap.total("ptc_runs_total", mode=mode),
            "round_trips": snap.total("ptc_run_round_trips_total", mode=mode),
            "tool_calls": snap.total("ptc_run_tool_calls_total", mode=mode),
        }
        tokens_want = want.get("tokens") or {}
        for kind in TOKEN_KINDS:
            if snap.total(
                "ptc_run_tokens_total", mode=mode, token_kind=kind
            ) != tokens_want.get(kind, 0):
                same = False
        for key, value in got.items():
            if value != want.get(key, 0):
                same = False
        parts.append(
            f"{mode} {want.get('runs', 0)} runs/{want.get('round_trips', 0)} round trips"
        )
    yield (
        f"ground truth     the ledger counted {', '.join(parts)} (and their tokens):"
        f" {'matches' if same else 'DIFFERS FROM'} the metrics"
    )
