"""The metric contract the dashboards and rules are written against.

These are the Prometheus series names ptc_observe exposes (standard GenAI metrics without a
prefix, ours with ``ptc_``), their types and label names, plus example label values that the
live test uses to fill a registry. A dashboard or rule that names anything else is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]

_GENAI = (
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_request_model",
    "gen_ai_response_model",
)


@dataclass(frozen=True)
class Metric:
    """One metric family of the contract.

    Args:
        name: the exposed name; counters include ``_total``, histograms are the base name.
        kind: counter, gauge or histogram.
        labels: its label names (``job`` and ``instance`` are added by Prometheus).
    """

    name: str
    kind: Kind
    labels: tuple[str, ...] = ()

    def series(self) -> tuple[str, ...]:
        """The series names Prometheus stores for this family."""
        if self.kind == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


CONTRACT: tuple[Metric, ...] = (
    Metric(
        "gen_ai_client_operation_duration_seconds",
        "histogram",
        (*_GENAI, "error_type"),
    ),
    Metric("gen_ai_client_token_usage", "histogram", (*_GENAI, "gen_ai_token_type")),
    Metric(
        "gen_ai_client_operation_time_to_first_chunk_seconds",
        "histogram",
        (*_GENAI, "error_type"),
    ),
    Metric(
        "ptc_exchanges_total", "counter", ("gen_ai_request_model", "stream", "outcome")
    ),
    Metric("ptc_errors_total", "counter", ("gen_ai_request_model", "error_type")),
    Metric("ptc_tokens_total", "counter", ("gen_ai_request_model", "token_kind")),
    Metric("ptc_tool_calls_total", "counter", ("gen_ai_tool_name", "caller")),
    Metric("ptc_server_tool_calls_total", "counter", ("gen_ai_tool_name", "caller")),
    Metric(
        "ptc_server_tool_requests_total",
        "counter",
        ("gen_ai_request_model", "server_tool"),
    ),
    Metric("ptc_reasoning_tokens_total", "counter", ("gen_ai_request_model",)),
    Metric("ptc_cache_write_tokens_total", "counter", ("gen_ai_request_model", "ttl")),
    Metric("ptc_code_executions_total", "counter", ("gen_ai_tool_name", "outcome")),
    Metric(
        "ptc_code_execution_duration_seconds",
        "histogram",
        ("gen_ai_tool_name", "outcome"),
    ),
    Metric(
        "ptc_code_executions_unfinished_total",
        "counter",
        ("gen_ai_tool_name", "reason"),
    ),
    Metric("ptc_tool_turnaround_seconds", "histogram", ("gen_ai_tool_name", "caller")),
    Metric("ptc_tool_result_bytes_total", "counter", ("caller",)),
    Metric(
        "ptc_tool_results_total", "counter", ("gen_ai_tool_name", "caller", "outcome")
    ),
    Metric("ptc_tool_results_unmatched_total", "counter", ("caller",)),
    Metric("ptc_containers_created_total", "counter"),
    Metric("ptc_container_reuses_total", "counter"),
    Metric("ptc_containers_expired_total", "counter"),
    Metric("ptc_containers_active", "gauge"),
    Metric("ptc_container_lifetime_seconds", "histogram"),
    Metric("ptc_container_remaining_seconds", "histogram"),
    Metric("ptc_http_retries_total", "counter", ("gen_ai_request_model",)),
    Metric("ptc_ratelimit_remaining", "gauge", ("resource",)),
    Metric("ptc_ratelimit_limit", "gauge", ("resource",)),
    Metric("ptc_telemetry_errors_total", "counter", ("stage",)),
    # Issue 14: spend and runs.
    Metric("ptc_cost_usd_total", "counter", ("gen_ai_request_model", "component")),
    Metric("ptc_unpriced_tokens_total", "counter", ("gen_ai_request_model",)),
    Metric("ptc_price_data_info", "gauge", ("source", "version", "updated")),
    Metric("ptc_runs_total", "counter", ("mode",)),
    Metric("ptc_run_round_trips_total", "counter", ("mode",)),
    Metric("ptc_run_tool_calls_total", "counter", ("mode",)),
    Metric("ptc_run_tokens_total", "counter", ("mode", "token_kind")),
    Metric("ptc_run_cost_usd_total", "counter", ("mode",)),
    Metric("ptc_run_duration_seconds", "histogram", ("mode",)),
    Metric("ptc_run_tool_result_bytes_total", "counter", ("mode", "destination")),
    Metric("ptc_run_saved_tokens_estimate_total", "counter", ("mode",)),
    Metric("ptc_run_saved_usd_estimate_total", "counter", ("mode",)),
)

# Series Prometheus makes itself that rules and annotations may use.
PROMETHEUS_SERIES = frozenset({"up", "ALERTS"})

# Labels every scraped series has, plus the histogram bucket bound.
TARGET_LABELS = frozenset({"job", "instance"})

# Example values per label: what the live test's registry emits (closed sets from the contract).
LABEL_VALUES: dict[str, tuple[str, ...]] = {
    "gen_ai_operation_name": ("chat",),
    "gen_ai_provider_name": ("anthropic",),
    "gen_ai_request_model": ("claude-opus-4-5-20251101", "claude-sonnet-4-5-20250929"),
    "gen_ai_response_model": ("claude-opus-4-5-20251101",),
    "error_type": ("", "overloaded_error"),
    "gen_ai_token_type": ("input", "output"),
    "token_kind": ("input", "output", "cache_read", "cache_write"),
    "stream": ("true", "false"),
    "outcome": ("ok", "error", "incomplete", "closed_early"),
    "gen_ai_tool_name": ("get_weather", "lookup_order"),
    "caller": ("direct", "programmatic"),
    "resource": ("requests", "tokens", "input_tokens", "output_tokens"),
    "stage": ("stream_parse", "sink"),
    "server_tool": ("web_search", "web_fetch"),
    "ttl": ("5m", "1h", "unknown"),
    "reason": ("container_ended", "expired"),
    "component": (
        "input",
        "cache_read",
        "cache_write",
        "output",
        "server_tools",
        "container",
    ),
    "mode": ("programmatic", "direct", "none"),
    "destination": ("container", "context"),
    "source": ("genai-prices", "container"),
    "version": ("0.2.3",),
    "updated": ("2026-11-30",),
}

# Label values that differ from LABEL_VALUES for one family.
FAMILY_LABEL_VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    "ptc_tokens_total": {
        "token_kind": ("input", "output", "cache_read", "cache_write")
    },
    "ptc_errors_total": {"error_type": ("rate_limit_error", "overloaded_error", "529")},
    "ptc_server_tool_calls_total": {
        "gen_ai_tool_name": ("code_execution", "web_search")
    },
    "ptc_code_executions_total": {
        "gen_ai_tool_name": (
            "code_execution",
            "bash_code_execution",
            "text_editor_code_execution",
        ),
        "outcome": ("success", "error"),
    },
    "ptc_code_execution_duration_seconds": {
        "gen_ai_tool_name": ("code_execution", "bash_code_execution"),
        "outcome": ("success", "error"),
    },
    "ptc_tool_results_total": {"outcome": ("success", "error")},
    "ptc_code_executions_unfinished_total": {
        "gen_ai_tool_name": ("code_execution",),
    },
}


def metric(name: str) -> Metric:
    """The family with this name (exposed name, e.g. ``ptc_tool_calls_total``)."""
    for m in CONTRACT:
        if m.name == name:
            return m
    raise KeyError(name)


def series_names() -> frozenset[str]:
    """Every series name of the contract (histograms as ``_bucket``, ``_sum``, ``_count``)."""
    return frozenset(s for m in CONTRACT for s in m.series())


def family_of(series: str) -> Metric | None:
    """The family a series name belongs to, or None when it is not in the contract."""
    for m in CONTRACT:
        if series in m.series():
            return m
    return None


def label_values(family: Metric, label: str) -> tuple[str, ...]:
    """The example values the live test uses for ``label`` of ``family``."""
    return FAMILY_LABEL_VALUES.get(family.name, {}).get(label) or LABEL_VALUES[label]
