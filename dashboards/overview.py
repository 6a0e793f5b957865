"""The "PTC overview" dashboard: tool calls by caller, tokens, latency, errors and rate limits."""

from __future__ import annotations

from builders import (
    JSON,
    Row,
    Target,
    alerts_annotation,
    dashboard,
    gauge,
    heatmap,
    query_variable,
    stat,
    timeseries,
)
from promql import (
    HEADROOM,
    MODEL,
    PERCENT_BAD_HIGH,
    RANGE,
    RI,
    TOOL,
    buckets,
    quantiles,
    ratio,
)
from spend import spend_row


def overview() -> JSON:
    """The PTC overview: tool calls by caller, tokens, latency, errors and rate limits."""
    calls = f"ptc_tool_calls_total{{{TOOL}}}"
    programmatic = f'ptc_tool_calls_total{{caller="programmatic", {TOOL}}}'
    exchanges = f"ptc_exchanges_total{{{MODEL}}}"
    errors = f'ptc_exchanges_total{{outcome="error", {MODEL}}}'
    glance = Row(
        "At a glance (selected time range)",
        [
            stat(
                "Programmatic share of tool calls",
                "Share of client tool calls that Claude made from code execution (caller=programmatic) rather than directly. Their results go to the code-execution container, not into the model's context.",
                Target(
                    ratio(
                        f"increase({programmatic}[{RANGE}])",
                        f"increase({calls}[{RANGE}])",
                    ),
                    instant=True,
                ),
                unit="percentunit",
                decimals=1,
            ),
            stat(
                "Tool-result bytes kept out of context",
                "Bytes of tool results returned to programmatic calls: they stayed in the container instead of the model's context window.",
                Target(
                    f'sum(increase(ptc_tool_result_bytes_total{{caller="programmatic"}}[{RANGE}]))',
                    instant=True,
                ),
                unit="decbytes",
            ),
            stat(
                "Exchanges",
                "Messages API exchanges (HTTP request and response) the SDK made, retries included.",
                Target(f"sum(increase({exchanges}[{RANGE}]))", instant=True),
                decimals=0,
            ),
            stat(
                "Error ratio",
                "Share of exchanges that ended in an error (HTTP error, mid-stream error event, or transport exception).",
                Target(
                    ratio(
                        f"increase({errors}[{RANGE}])",
                        f"increase({exchanges}[{RANGE}])",
                    ),
                    instant=True,
                ),
                unit="percentunit",
                thresholds=PERCENT_BAD_HIGH,
                decimals=2,
            ),
            stat(
                "p95 request duration",
                "95th percentile of gen_ai.client.operation.duration over the range: request sent to response complete (last SSE event for streams).",
                Target(
                    f"histogram_quantile(0.95, sum by (le) (rate(gen_ai_client_operation_duration_seconds_bucket{{{MODEL}}}[{RANGE}])))",
                    instant=True,
                ),
                unit="s",
            ),
            stat(
                "Active containers",
                "Code-execution containers seen and not yet expired.",
                Target("sum(ptc_containers_active)", instant=True),
                decimals=0,
            ),
        ],
    )
    ptc = Row(
        "Programmatic tool calling",
        [
            timeseries(
                "Programmatic share of tool calls",
                "Client tool calls made from code execution, as a share of all client tool calls.",
                [
                    Target(
                        ratio(f"rate({programmatic}[{RI}])", f"rate({calls}[{RI}])"),
                        "programmatic share",
                    )
                ],
                unit="percentunit",
                min_value=0,
                max_value=1,
                width=8,
            ),
            timeseries(
                "Tool calls by tool and caller",
                "Client tool calls per second; caller=programmatic when code execution made the call, direct when the model did.",
                [
                    Target(
                        f"sum by (gen_ai_tool_name, caller) (rate({calls}[{RI}]))",
                        "{{gen_ai_tool_name}} ({{caller}})",
                    )
                ],
                unit="ops",
                stack=True,
                width=16,
            ),
            timeseries(
                "Tool-result bytes: kept out of context vs entered context",
                "Bytes of tool results per second. Results of programmatic calls go to the container (kept out of the model's context); results of direct calls enter the context.",
                [
                    Target(
                        f'sum(rate(ptc_tool_result_bytes_total{{caller="programmatic"}}[{RI}]))',
                        "kept out of context (programmatic)",
                    ),
                    Target(
                        f'sum(rate(ptc_tool_result_bytes_total{{caller="direct"}}[{RI}]))',
                        "entered context (direct)",
                    ),
                ],
                unit="Bps",
                stack=True,
            ),
            timeseries(
                "Tool results: turnaround measured vs answered in another process",
                "Tool results sent back per second by caller (exact over the whole fleet), and those whose asking response another process served: for them no turnaround is measured (the turnaround panels are per process). Zero in a single process; sticky sessions keep it low.",
                [
                    Target(
                        f"sum by (caller) (rate(ptc_tool_results_total[{RI}]))",
                        "results ({{caller}})",
                    ),
                    Target(
                        f"sum by (caller) (rate(ptc_tool_results_unmatched_total[{RI}]))",
                        "answered in another process ({{caller}})",
                    ),
                ],
                unit="ops",
            ),
            timeseries(
                "Server tools by caller",
                "Server-side tool calls (code_execution, bash_code_execution, web_fetch, web_search, ...) per second; programmatic = called by code in a container (e.g. a web_fetch made from a PTC cell), direct = by the model.",
                [
                    Target(
                        f"sum by (gen_ai_tool_name, caller) (rate(ptc_server_tool_calls_total[{RI}]))",
                        "{{gen_ai_tool_name}} ({{caller}})",
                    ),
                ],
                unit="ops",
                stack=True,
            ),
            timeseries(
                "Code executions by variant and outcome",
                "Code-execution results per second of every variant (code_execution = the Python cell PTC runs, bash_code_execution, text_editor_code_execution); error = a *_error result or a non-zero return code.",
                [
                    Target(
                        f"sum by (gen_ai_tool_name, outcome) (rate(ptc_code_executions_total[{RI}]))",
                        "{{gen_ai_tool_name}}: {{outcome}}",
                    ),
                ],
                unit="ops",
                stack=True,
            ),
            timeseries(
                "Tool turnaround by tool and caller",
                "Time from the response asking for a tool call to the request carrying its result (it includes application time). Points are exemplars: click one to open its trace.",
                quantiles(
                    "ptc_tool_turnaround_seconds",
                    "gen_ai_tool_name, caller",
                    TOOL,
                    "{{gen_ai_tool_name}} ({{caller}})",
                    (0.5, 0.95),
                ),
                unit="s",
            ),
            heatmap(
                "Tool turnaround distribution",
                "Tool turnaround histogram over time; exemplars link to traces.",
                buckets("ptc_tool_turnaround_seconds", TOOL),
                unit="s",
            ),
        ],
    )
    tokens = Row(
        "Tokens",
        [
            timeseries(
                "Tokens by type",
                "Tokens per second: input (uncached), output, cache_read and cache_write.",
                [
                    Target(
                        f"sum by (token_kind) (rate(ptc_tokens_total{{{MODEL}}}[{RI}]))",
                        "{{token_kind}}",
                    )
                ],
                unit="suffix: tok/s",
                stack=True,
            ),
            timeseries(
                "Tokens by model and type",
                "Tokens per second for each requested model and token type.",
                [
                    Target(
                        f"sum by (gen_ai_request_model, token_kind) (rate(ptc_tokens_total{{{MODEL}}}[{RI}]))",
                        "{{gen_ai_request_model}} {{token_kind}}",
                    )
                ],
                unit="suffix: tok/s",
            ),
            timeseries(
                "Prompt-cache hit ratio",
                "Cache reads as a share of all input tokens (uncached input + cache read + cache write), per model.",
                [
                    Target(
                        f'sum by (gen_ai_request_model) (rate(ptc_tokens_total{{token_kind="cache_read", {MODEL}}}[{RI}])) / sum by (gen_ai_request_model) (rate(ptc_tokens_total{{token_kind=~"input|cache_read|cache_write", {MODEL}}}[{RI}]))',
                        "{{gen_ai_request_model}}",
                    )
                ],
                unit="percentunit",
                min_value=0,
                max_value=1,
                width=8,
            ),
            timeseries(
                "Reasoning tokens and cache writes by TTL",
                "Reasoning (thinking) tokens per second: a part of the output tokens above, not in addition to them. Cache-write tokens per second by time to live (5m and 1h are priced differently; unknown = not split by the API).",
                [
                    Target(
                        f"sum(rate(ptc_reasoning_tokens_total{{{MODEL}}}[{RI}]))",
                        "reasoning (part of output)",
                    ),
                    Target(
                        f"sum by (ttl) (rate(ptc_cache_write_tokens_total{{{MODEL}}}[{RI}]))",
                        "cache write {{ttl}}",
                    ),
                ],
                unit="suffix: tok/s",
                width=12,
            ),
            timeseries(
                "Billed server tool requests",
                "Server tool requests per second as usage.server_tool_use reports them (what is billed): web_search, web_fetch, ...",
                [
                    Target(
                        f"sum by (server_tool) (rate(ptc_server_tool_requests_total{{{MODEL}}}[{RI}]))",
                        "{{server_tool}}",
                    ),
                ],
                unit="ops",
                stack=True,
                width=12,
            ),
            timeseries(
                "Tokens per exchange (gen_ai.client.token.usage)",
                "Median and 95th percentile of tokens per exchange by token type (input counts cached tokens too, as the semantic conventions define it).",
                quantiles(
                    "gen_ai_client_token_usage",
                    "gen_ai_token_type",
                    MODEL,
                    "{{gen_ai_token_type}}",
                    (0.5, 0.95),
                ),
                width=16,
            ),
        ],
    )
    latency = Row(
        "Latency",
        [
            timeseries(
                "Request duration by model",
                "gen_ai.client.operation.duration percentiles: request sent to response complete. Points are exemplars linking to traces.",
                quantiles(
                    "gen_ai_client_operation_duration_seconds",
                    "gen_ai_request_model",
                    MODEL,
                    "{{gen_ai_request_model}}",
                ),
                unit="s",
            ),
            timeseries(
                "Time to first chunk by model (streams)",
                "gen_ai.client.operation.time_to_first_chunk percentiles: request sent to the first SSE event of streamed responses.",
                quantiles(
                    "gen_ai_client_operation_time_to_first_chunk_seconds",
                    "gen_ai_request_model",
                    MODEL,
                    "{{gen_ai_request_model}}",
                ),
                unit="s",
            ),
            heatmap(
                "Request duration distribution",
                "Request duration histogram over time; exemplars link to traces.",
                buckets("gen_ai_client_operation_duration_seconds", MODEL),
                unit="s",
            ),
            heatmap(
                "Time to first chunk distribution",
                "Time-to-first-chunk histogram over time (streamed exchanges); exemplars link to traces.",
                buckets("gen_ai_client_operation_time_to_first_chunk_seconds", MODEL),
                unit="s",
            ),
        ],
    )
    failures = Row(
        "Errors, retries and rate limits",
        [
            timeseries(
                "Exchanges by outcome",
                "Exchanges per second: ok, error, incomplete (body ended early) and closed_early (the caller closed the stream).",
                [
                    Target(
                        f"sum by (stream, outcome) (rate({exchanges}[{RI}]))",
                        "{{outcome}} (stream={{stream}})",
                    )
                ],
                unit="ops",
                stack=True,
            ),
            timeseries(
                "Errors by type",
                "Errors per second by error type: the Anthropic error type when known, else the HTTP status, else the exception class.",
                [
                    Target(
                        f"sum by (error_type) (rate(ptc_errors_total{{{MODEL}}}[{RI}]))",
                        "{{error_type}}",
                    )
                ],
                unit="ops",
                stack=True,
            ),
            timeseries(
                "Retries by model",
                "HTTP retries per second (the SDK's x-stainless-retry-count above 0).",
                [
                    Target(
                        f"sum by (gen_ai_request_model) (rate(ptc_http_retries_total{{{MODEL}}}[{RI}]))",
                        "{{gen_ai_request_model}}",
                    )
                ],
                unit="ops",
                width=8,
            ),
            gauge(
                "Rate-limit headroom",
                "Share of each rate limit left, from the latest anthropic-ratelimit-*-remaining / -limit headers. The PTCRateLimitHeadroomLow alert fires below 10%.",
                Target(
                    "min by (resource) (ptc_ratelimit_remaining / (ptc_ratelimit_limit > 0))",
                    "{{resource}}",
                    instant=True,
                ),
                unit="percentunit",
                thresholds=HEADROOM,
                min_value=0,
                max_value=1,
            ),
            timeseries(
                "Rate-limit headroom over time",
                "Share of each rate limit left over time (lowest across instances).",
                [
                    Target(
                        "min by (resource) (ptc_ratelimit_remaining / (ptc_ratelimit_limit > 0))",
                        "{{resource}}",
                    )
                ],
                unit="percentunit",
                min_value=0,
                max_value=1,
                thresholds=HEADROOM,
                width=8,
            ),
            timeseries(
                "Telemetry errors by stage",
                "Failures inside ptc_observe itself (parsing, tracing, sinks). The API calls were not affected, but these exchanges are missing from the telemetry.",
                [
                    Target(
                        f"sum by (stage) (rate(ptc_telemetry_errors_total[{RI}]))",
                        "{{stage}}",
                    )
                ],
                unit="ops",
                width=24,
                height=6,
            ),
        ],
    )
    return dashboard(
        uid="ptc-overview",
        title="PTC overview",
        description="Programmatic Tool Calling as ptc_observe sees it: who calls tools, what stays out of the context, tokens, latency, errors and rate limits.",
        rows=[glance, ptc, tokens, spend_row(), latency, failures],
        variables=[
            query_variable(
                "model",
                "Model",
                "label_values(ptc_exchanges_total, gen_ai_request_model)",
                "Requested model (gen_ai.request.model)",
            ),
            query_variable(
                "tool",
                "Tool",
                "label_values(ptc_tool_calls_total, gen_ai_tool_name)",
                "Client tool name (gen_ai.tool.name)",
            ),
        ],
        annotations=[alerts_annotation('alertname=~"PTC.*"')],
    )
