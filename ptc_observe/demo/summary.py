"""Read the demo's results back from the Prometheus registry, as a dashboard would.

Everything the demo prints at the end comes from the metrics the observer recorded,
not from the workload's own bookkeeping: the summary is a check that the telemetry
tells the story.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Labels = tuple[tuple[str, str], ...]


@dataclass
class Snapshot:
    """Samples of one scrape: ``name -> labels -> value``."""

    samples: dict[str, dict[Labels, float]] = field(default_factory=dict)

    @classmethod
    def of(cls, registry: Any) -> Snapshot:
        """Collect every sample of ``registry`` now."""
        snap = cls()
        for family in registry.collect():
            for sample in family.samples:
                labels = tuple(sorted(sample.labels.items()))
                snap.samples.setdefault(sample.name, {})[labels] = sample.value
        return snap

    def total(self, name: str, **match: str) -> float:
        """Sum of ``name`` over the series whose labels include ``match``."""
        return sum(
            value
            for labels, value in self.samples.get(name, {}).items()
            if _matches(labels, match)
        )

    def by(self, name: str, label: str, **match: str) -> dict[str, float]:
        """Sum of ``name`` grouped by one label."""
        out: dict[str, float] = defaultdict(float)
        for labels, value in self.samples.get(name, {}).items():
            if _matches(labels, match):
                out[dict(labels).get(label, "")] += value
        return dict(out)

    def quantile(self, histogram: str, q: float, **match: str) -> float | None:
        """Estimate a quantile from ``histogram``'s buckets as ``histogram_quantile`` does."""
        buckets: dict[float, float] = defaultdict(float)
        for labels, value in self.samples.get(f"{histogram}_bucket", {}).items():
            if not _matches(labels, match):
                continue
            le = dict(labels)["le"]
            buckets[math.inf if le == "+Inf" else float(le)] += value
        return histogram_quantile(q, buckets)


def _matches(labels: Labels, match: Mapping[str, str]) -> bool:
    have = dict(labels)
    return all(have.get(k) == v for k, v in match.items())


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Linear interpolation inside the bucket holding rank ``q``, like PromQL.

    Args:
        q: the quantile, 0..1.
        buckets: cumulative counts by upper bound (``inf`` included).

    Returns:
        The estimate, or ``None`` with no observations.
    """
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] == 0:
        return None
    total = buckets[bounds[-1]]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower  # PromQL answers with the highest finite bound
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def _fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _fmt_counts(counts: Mapping[str, float]) -> str:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k or '-'} {v:.0f}" for k, v in items if v) or "none"


# Code that fails in the container is an answer the model reads, not a failed task.
_CODE_ERRORS_NOTE = (
    "  (error: code that failed in the container; the model reads the error and"
    " carries on: not a failed task)"
)


def _error_lines(by_type: Mapping[str, float]) -> list[str]:
    """Failed exchanges in three groups: the API's error types, the HTTP statuses of retried
    attempts (the SDK retries without reading the body, so only the status is known), and
    errors of the connection or the stream."""
    api = {k: v for k, v in by_type.items() if k.endswith("_error")}
    status = {k: v for k, v in by_type.items() if k.isdigit()}
    other = {k: v for k, v in by_type.items() if k not in api and k not in status}
    if not any(by_type.values()):
        return ["errors           none"]
    groups = [
        ("API error types", api),
        ("HTTP status of retried attempts (body not read)", status),
        ("connection or stream", other),
    ]
    lines: list[str] = []
    for title, counts in groups:
        if any(counts.values()):
            head = "errors" if not lines else ""
            lines.append(f"{head:<17}{title}: {_fmt_counts(counts)}")
    return lines


def render(snap: Snapshot) -> list[str]:
    """The end-of-run summary, one line per fact."""
    exchanges = snap.by("ptc_exchanges_total", "outcome")
    callers = snap.by("ptc_tool_calls_total", "caller")
    calls = sum(callers.values())
    share = 100.0 * callers.get("programmatic", 0.0) / calls if calls else 0.0
    tokens = snap.by("ptc_tokens_total", "token_kind")
    result_bytes = snap.by("ptc_tool_result_bytes_total", "caller")
    duration = "gen_ai_client_operation_duration_seconds"
    ttft = "gen_ai_client_operation_time_to_first_chunk_seconds"
    lines = [
        f"exchanges        {sum(exchanges.values()):.0f}  ({_fmt_counts(exchanges)})",
        f"tool calls       {calls:.0f}  (programmatic {callers.get('programmatic', 0):.0f},"
        f" direct {callers.get('direct', 0):.0f}; {share:.0f}% programmatic)",
        f"by tool          {_fmt_counts(snap.by('ptc_tool_calls_total', 'gen_ai_tool_name'))}",
        f"tool results     {result_bytes.get('programmatic', 0) / 1024:.1f} KiB kept in containers,"
        f" {result_bytes.get('direct', 0) / 1024:.1f} KiB sent to the model",
        "tokens           "
        + ", ".join(
            f"{kind} {tokens.get(kind, 0):.0f}"
            for kind in ("input", "output", "cache_read", "cache_write")
        ),
        f"code executions  {_fmt_counts(snap.by('ptc_code_executions_total', 'outcome'))}"
        + _CODE_ERRORS_NOTE
        * bool(snap.total("ptc_code_executions_total", outcome="error")),
        f"  by variant     {_fmt_variants(snap)}",
        _server_tools_line(snap),
        f"containers       created {snap.total('ptc_containers_created_total'):.0f},"
        f" reused {snap.total('ptc_container_reuses_total'):.0f},"
        f" expired {snap.total('ptc_containers_expired_total'):.0f}",
        "latency          "
        + ", ".join(
            f"p{int(q * 100)} {_fmt_seconds(snap.quantile(duration, q))}"
            for q in (0.5, 0.95, 0.99)
        ),
        "first token      "
        + ", ".join(
            f"p{int(q * 100)} {_fmt_seconds(snap.quantile(ttft, q))}"
            for q in (0.5, 0.95, 0.99)
        ),
        f"tool turnaround  p50 {_fmt_seconds(snap.quantile('ptc_tool_turnaround_seconds', 0.5))},"
        f" p95 {_fmt_seconds(snap.quantile('ptc_tool_turnaround_seconds', 0.95))}",
        *_error_lines(snap.by("ptc_errors_total", "error_type")),
        f"retries          {snap.total('ptc_http_retries_total'):.0f}",
        f"telemetry errors {snap.total('ptc_telemetry_errors_total'):.0f}",
    ]
    return lines


def _fmt_variants(snap: Snapshot) -> str:
    """Code executions per variant, with its errors: ``bash_code_execution 20 (4 error)``."""
    parts = []
    for variant, n in sorted(
        snap.by("ptc_code_executions_total", "gen_ai_tool_name").items(),
        key=lambda item: (-item[1], item[0]),
    ):
        if not n:
            continue
        errors = snap.total(
            "ptc_code_executions_total", gen_ai_tool_name=variant, outcome="error"
        )
        parts.append(
            f"{variant} {n:.0f}" + (f" ({errors:.0f} error)" if errors else "")
        )
    return ", ".join(parts) or "none"


def _server_tools_line(snap: Snapshot) -> str:
    """Server tool calls by caller, the programmatic share, and the programmatic ones."""
    callers = snap.by("ptc_server_tool_calls_total", "caller")
    total = sum(callers.values())
    programmatic = callers.get("programmatic", 0.0)
    share = 100.0 * programmatic / total if total else 0.0
    called = _fmt_counts(
        snap.by(
            "ptc_server_tool_calls_total", "gen_ai_tool_name", caller="programmatic"
        )
    )
    return (
        f"server tools     {total:.0f}  (programmatic {programmatic:.0f},"
        f" direct {callers.get('direct', 0):.0f}; {share:.0f}% programmatic)"
        + (f"; called from code: {called}" if programmatic else "")
    )


def progress_line(elapsed: float, snap: Snapshot, running: int) -> str:
    """One short progress line."""
    exchanges = snap.total("ptc_exchanges_total")
    callers = snap.by("ptc_tool_calls_total", "caller")
    calls = sum(callers.values())
    share = 100.0 * callers.get("programmatic", 0.0) / calls if calls else 0.0
    errors = snap.total("ptc_errors_total")
    return (
        f"[{elapsed:5.1f}s] {exchanges:5.0f} exchanges  {calls:5.0f} tool calls"
        f" ({share:3.0f}% programmatic)  {errors:3.0f} errors"
        f"  {running:2d} {'task' if running == 1 else 'tasks'} running"
    )


def ledger_check(snap: Snapshot, stats: Mapping[str, Any]) -> Iterable[str]:
    """Compare what the metrics saw with what the emulator's ledger says it sent: tool
    calls by caller, server tool calls by caller, code-execution results by variant."""
    sent = stats.get("tool_use_blocks", {})
    sent_direct = sum(sent.get("direct", {}).values())
    sent_prog = sum(
        sum(tools.values()) for caller, tools in sent.items() if caller != "direct"
    )
    seen = snap.by("ptc_tool_calls_total", "caller")
    agree = (
        seen.get("direct", 0) == sent_direct
        and seen.get("programmatic", 0) == sent_prog
    )
    yield (
        f"ground truth     the emulator sent {sent_prog} programmatic and {sent_direct} direct"
        f" tool calls: {'matches' if agree else 'DIFFERS FROM'} the metrics"
    )
    servers = stats.get("server_tool_calls", {})
    variants = stats.get("code_execution_results", {})
    server_agree = all(
        snap.total("ptc_server_tool_calls_total", caller=caller, gen_ai_tool_name=name)
        == n
        for caller, names in servers.items()
        for name, n in names.items()
    ) and sum(sum(names.values()) for names in servers.values()) == snap.total(
        "ptc_server_tool_calls_total"
    )
    variant_agree = all(
        snap.total(
            "ptc_code_executions_total", gen_ai_tool_name=variant, outcome=outcome
        )
        == n
        for variant, outcomes in variants.items()
        for outcome, n in outcomes.items()
    ) and sum(sum(o.values()) for o in variants.values()) == snap.total(
        "ptc_code_executions_total"
    )
    server_prog = sum(servers.get("programmatic", {}).values())
    server_direct = sum(servers.get("direct", {}).values())
    results = sum(sum(o.values()) for o in variants.values())
    yield (
        f"                 and {server_prog} programmatic and {server_direct} direct server"
        f" tool calls, {results} code-execution results by variant and outcome:"
        f" {'match' if server_agree and variant_agree else 'DIFFER FROM'} the metrics"
    )
