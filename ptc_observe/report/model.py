"""The spend and PTC-savings report, computed from ``Totals`` whichever source they came from.

Every number here is a sum of counters over the window (Prometheus: ``increase()`` over the
range; a snapshot: totals since process start) or a ratio of two such sums: per run values are
``sum(x) / sum(runs)`` of the same mode, never an average of averages. Savings are the
``*_estimate`` counters the observer records, passed through and labelled as estimates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import families as F
from .timerange import MONTH_SECONDS, Window
from .totals import Collected


@dataclass(frozen=True, order=True)
class PriceData:
    """One price data set seen in the window (``ptc_price_data_info``)."""

    source: str
    version: str
    updated: str


@dataclass
class ModeStats:
    """Sums over the finished runs of one mode (programmatic, direct, none)."""

    mode: str
    runs: float = 0.0
    round_trips: float = 0.0
    tool_calls: float = 0.0
    tokens: dict[str, float] = field(default_factory=dict)
    cost_usd: float = 0.0
    duration_sum: float = 0.0
    duration_count: float = 0.0
    result_bytes: dict[str, float] = field(default_factory=dict)
    saved_tokens_estimate: float = 0.0
    saved_usd_estimate: float = 0.0

    @property
    def total_tokens(self) -> float:
        """Tokens of every kind over the mode's runs."""
        return sum(self.tokens.values())

    def per_run(self, total: float) -> float | None:
        """``total / runs``, or ``None`` without runs."""
        return total / self.runs if self.runs > 0 else None

    @property
    def mean_duration(self) -> float | None:
        """Mean wall time of the runs one process saw whole, in seconds."""
        return (
            self.duration_sum / self.duration_count if self.duration_count > 0 else None
        )


@dataclass(frozen=True)
class Comparison:
    """One per-run quantity, programmatic vs direct."""

    name: str
    unit: str
    programmatic: float | None
    direct: float | None

    @property
    def ratio(self) -> float | None:
        """``direct / programmatic`` (how many times more a direct run used), when both exist."""
        if self.programmatic is None or self.direct is None or self.programmatic == 0:
            return None
        return self.direct / self.programmatic


@dataclass
class Report:
    """Everything the text and HTML renderers show."""

    source: str
    window: Window
    spend: dict[tuple[str, str], float]
    unpriced_tokens: dict[str, float]
    tokens: dict[tuple[str, str], float]
    modes: dict[str, ModeStats]
    prices: list[PriceData]
    spend_series: list[tuple[float, float]] = field(default_factory=list)

    @property
    def total_spend(self) -> float:
        """USD over every model and component."""
        return sum(self.spend.values())

    def spend_by_model(self) -> dict[str, float]:
        """USD per model with any spend, largest first."""
        out: dict[str, float] = defaultdict(float)
        for (model, _), usd in self.spend.items():
            out[model] += usd
        ranked = sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))
        return {model: usd for model, usd in ranked if usd > 0}

    def spend_by_component(self) -> dict[str, float]:
        """USD per cost component, in the documented component order."""
        out: dict[str, float] = defaultdict(float)
        for (_, component), usd in self.spend.items():
            out[component] += usd
        return {c: out[c] for c in _ordered(out, F.COMPONENTS)}

    def components(self) -> list[str]:
        """Components present, in order."""
        return _ordered({c for _, c in self.spend}, F.COMPONENTS)

    @property
    def projected_month_usd(self) -> float | None:
        """Spend at the window's average rate over 30 days; ``None`` if the window is unknown."""
        seconds = self.window.covered_seconds
        if not seconds or seconds < 1:
            return None
        return self.total_spend / seconds * MONTH_SECONDS

    @property
    def total_unpriced_tokens(self) -> float:
        """Tokens of models without a known price."""
        return sum(self.unpriced_tokens.values())

    def mode_order(self) -> list[str]:
        """Modes present, in order."""
        return _ordered(self.modes, F.MODES)

    def comparison(self) -> list[Comparison]:
        """Per-run quantities of programmatic runs beside direct ones."""
        p = self.modes.get("programmatic", ModeStats("programmatic"))
        d = self.modes.get("direct", ModeStats("direct"))

        def row(name: str, unit: str, pick: str) -> Comparison:
            return Comparison(
                name, unit, p.per_run(_pick(p, pick)), d.per_run(_pick(d, pick))
            )

        rows = [
            row("round trips per run", "", "round_trips"),
            row("tool calls per run", "", "tool_calls"),
            row("tokens per run", "", "tokens"),
            row("cost per run", "usd", "cost"),
            row("tool-result bytes into the context per run", "bytes", "context_bytes"),
        ]
        rows.append(
            Comparison("wall time per run", "s", p.mean_duration, d.mean_duration)
        )
        return rows

    @property
    def saved_tokens_estimate(self) -> float:
        """Estimated tokens kept out of the context, over every mode."""
        return sum(m.saved_tokens_estimate for m in self.modes.values())

    @property
    def saved_usd_estimate(self) -> float:
        """Estimated USD those tokens would have cost."""
        return sum(m.saved_usd_estimate for m in self.modes.values())


def _pick(stats: ModeStats, what: str) -> float:
    if what == "tokens":
        return stats.total_tokens
    if what == "cost":
        return stats.cost_usd
    if what == "context_bytes":
        return stats.result_bytes.get("context", 0.0)
    value: float = getattr(stats, what)
    return value


def _ordered(keys: Iterable[str], order: tuple[str, ...]) -> list[str]:
    present = set(keys)
    return [k for k in order if k in present] + sorted(present - set(order))


def build_report(collected: Collected) -> Report:
    """Turn a source's totals into the report."""
    t = collected.totals

    def get(family: F.Family) -> dict[tuple[str, ...], float]:
        return t.get(family.sample, {})

    modes: dict[str, ModeStats] = {}

    def mode(name: str) -> ModeStats:
        return modes.setdefault(name, ModeStats(name))

    scalar = {
        F.RUNS: "runs",
        F.RUN_ROUND_TRIPS: "round_trips",
        F.RUN_TOOL_CALLS: "tool_calls",
        F.RUN_COST: "cost_usd",
        F.RUN_DURATION_SUM: "duration_sum",
        F.RUN_DURATION_COUNT: "duration_count",
        F.RUN_SAVED_TOKENS: "saved_tokens_estimate",
        F.RUN_SAVED_USD: "saved_usd_estimate",
    }
    for family, attr in scalar.items():
        for (m,), value in get(family).items():
            stats = mode(m)
            setattr(stats, attr, getattr(stats, attr) + value)
    for (m, kind), value in get(F.RUN_TOKENS).items():
        tokens = mode(m).tokens
        tokens[kind] = tokens.get(kind, 0.0) + value
    for (m, destination), value in get(F.RUN_RESULT_BYTES).items():
        result_bytes = mode(m).result_bytes
        result_bytes[destination] = result_bytes.get(destination, 0.0) + value

    return Report(
        source=collected.source,
        window=collected.window,
        spend={(k[0], k[1]): v for k, v in get(F.COST).items()},
        unpriced_tokens={k[0]: v for k, v in get(F.UNPRICED).items() if v > 0},
        tokens={(k[0], k[1]): v for k, v in get(F.TOKENS).items()},
        modes={n: modes[n] for n in _ordered(modes, F.MODES) if modes[n].runs > 0},
        prices=sorted(PriceData(*k) for k in get(F.PRICE_INFO)),
        spend_series=list(collected.spend_series),
    )
