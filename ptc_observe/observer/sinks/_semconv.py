"""Every telemetry name ptc_observe emits, in one place.

The OpenTelemetry GenAI conventions are in Development status and renamed things during
2026, so names are never spelled anywhere else: the sinks import them from here, and
``docs/telemetry.md`` documents each one.

Two generations of GenAI names exist (see ``docs/telemetry.md``):

* **gen1**, what released instrumentations emit today (semantic-conventions v1.41.1,
  the last release with GenAI definitions); the default.
* **gen2**, semconv-genai ``main`` as of October 2026; emitted *instead* of the gen1
  names by the OpenTelemetry sink when the environment variable
  ``OTEL_SEMCONV_STABILITY_OPT_IN`` contains ``gen_ai_latest_experimental``
  (:func:`latest_experimental`): the opt-in means "the latest, not the old". The
  Prometheus sink adds the gen2 families beside the gen1 ones (dashboards query gen1).

Our own names (nothing in the conventions models tool callers or code-execution
containers) use the ``ptc.`` attribute namespace and the ``ptc_`` metric prefix.
"""

from __future__ import annotations

import os
from typing import Final

# The semconv-genai commit the gen1/gen2 names were checked against (the one Anthropic's own
# SDK spans pin), as a schema-less marker: the repository has no tagged release yet.
SEMCONV_GENAI_REPOSITORY: Final = "open-telemetry/semantic-conventions-genai"
SEMCONV_GENAI_COMMIT: Final = "e57c543b4889619eb2a05702471937db5119165d"

OPT_IN_ENV: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
OPT_IN_LATEST: Final = "gen_ai_latest_experimental"
CAPTURE_CONTENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def latest_experimental(environ: dict[str, str] | None = None) -> bool:
    """Whether the gen2 (latest experimental) GenAI names are wanted.

    Args:
        environ: the environment to read (``os.environ`` by default).

    Returns:
        True when ``OTEL_SEMCONV_STABILITY_OPT_IN`` lists ``gen_ai_latest_experimental``.
    """
    value = (os.environ if environ is None else environ).get(OPT_IN_ENV, "")
    return OPT_IN_LATEST in {part.strip() for part in value.split(",")}


# --- values ---

PROVIDER_ANTHROPIC: Final = "anthropic"
OPERATION_CHAT: Final = "chat"
OPERATION_EXECUTE_TOOL: Final = "execute_tool"
OUTPUT_TYPE_JSON: Final = "json"
FINISH_REASON_ERROR: Final = "error"
"""``gen_ai.response.finish_reasons`` of a response that failed before its stop reason."""
TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"
TOKEN_TYPE_CACHE_READ: Final = "cache_read"
TOKEN_TYPE_CACHE_WRITE: Final = "cache_write"
TOKEN_MODALITY_UNKNOWN: Final = "unknown"
TOOL_TYPE_FUNCTION: Final = "function"
ERROR_TYPE_OTHER: Final = "_OTHER"
ERROR_TYPE_INCOMPLETE: Final = "incomplete_stream"
ERROR_TYPE_TOOL: Final = "tool_error"
CALLER_DIRECT: Final = "direct"
CALLER_PROGRAMMATIC: Final = "programmatic"
CODE_EXECUTION_SUCCESS: Final = "success"
CODE_EXECUTION_ERROR: Final = "error"
CODE_EXECUTION_VARIANTS: Final = (
    "code_execution",
    "bash_code_execution",
    "text_editor_code_execution",
)
SERVER_TOOL_REQUESTS_KNOWN: Final = ("web_search", "web_fetch")
"""``usage.server_tool_use`` counts every response reports (their series start at 0)."""
TTL_5M: Final = "5m"
TTL_1H: Final = "1h"
TTL_UNKNOWN: Final = "unknown"
RESULT_SUCCESS: Final = "success"
RESULT_ERROR: Final = "error"
"""ptc_tool_results_total's outcome: the application's ``is_error`` on the result."""
OTHER_LABEL_VALUE: Final = "_other"

# --- span names ---

SDK_INSTRUMENTATION_SCOPE: Final = "com.anthropic.sdk.python"
"""The official SDK's tracer scope (platform clients append ``.{platform}``)."""
SDK_CALL_SPAN_NAME: Final = "anthropic.messages.create"
INSTRUMENTATION_SCOPE: Final = "ptc_observe"
CONTEXT_EXACT_TOOL_SPANS: Final = "ptc_observe.exact_tool_spans"
"""OpenTelemetry context key: set (True) where exact ``execute_tool`` spans are recorded
(``PTCClient.run``), so the sink does not add inferred ones for the same calls."""

# --- GenAI attributes (gen1 unless marked) ---

GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_REASONING_LEVEL: Final = "gen_ai.request.reasoning.level"  # genai main
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = (
    "gen_ai.usage.cache_creation.input_tokens"
)
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = (
    "gen_ai.usage.cache_write.input_tokens"  # gen2
)
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
GEN_AI_TOKEN_MODALITY: Final = "gen_ai.token.modality"  # gen2
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"
EVENT_INFERENCE_DETAILS: Final = "gen_ai.client.inference.operation.details"
EVENT_OPERATION_EXCEPTION: Final = "gen_ai.client.operation.exception"
EXCEPTION_TYPE: Final = "exception.type"

ERROR_TYPE: Final = "error.type"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
HTTP_REQUEST_RESEND_COUNT: Final = "http.request.resend_count"
URL_PATH: Final = "url.path"
URL_FULL: Final = "url.full"
ANTHROPIC_REQUEST_ID: Final = "anthropic.request.id"

# --- our span attributes and events ---

PTC_TOOL_CALLS_DIRECT: Final = "ptc.tool_calls.direct"
PTC_TOOL_CALLS_PROGRAMMATIC: Final = "ptc.tool_calls.programmatic"
PTC_SERVER_TOOL_CALLS_DIRECT: Final = "ptc.server_tool_calls.direct"
PTC_SERVER_TOOL_CALLS_PROGRAMMATIC: Final = "ptc.server_tool_calls.programmatic"
PTC_USAGE_CACHE_WRITE_5M: Final = "ptc.usage.cache_write_5m.input_tokens"
PTC_USAGE_CACHE_WRITE_1H: Final = "ptc.usage.cache_write_1h.input_tokens"
PTC_CONTAINER_ID: Final = "ptc.container.id"
PTC_CONTAINER_EXPIRES_AT: Final = "ptc.container.expires_at"
PTC_CONTAINER_REUSED: Final = "ptc.container.reused"
PTC_CONTAINER_EXPIRED: Final = "ptc.container.expired"
PTC_STREAM_COMPLETE: Final = "ptc.stream.complete"
PTC_OUTCOME: Final = "ptc.outcome"
PTC_CALLER_TYPE: Final = "ptc.caller.type"
PTC_CALLER_TOOL_ID: Final = "ptc.caller.tool_id"
PTC_TOOL_INFERRED: Final = "ptc.tool.inferred"
PTC_TOOL_RESULT_BYTES: Final = "ptc.tool.result_bytes"
PTC_CODE_EXECUTION_OUTCOME: Final = "ptc.code_execution.outcome"
PTC_CODE_EXECUTION_RETURN_CODE: Final = "ptc.code_execution.return_code"
PTC_LINK_TYPE: Final = "ptc.link.type"
PTC_COST_USD: Final = "ptc.cost.usd"
"""Exchange spend in USD. The GenAI conventions define no cost attribute yet (a proposal,
``gen_ai.usage.cost.*``, is open), so ours, under ``ptc.*``."""
PTC_COST_UNPRICED_TOKENS: Final = "ptc.cost.unpriced_tokens"
PTC_RUN_MODE: Final = "ptc.run.mode"
LINK_ANSWERS: Final = "answers_tool_calls"
LINK_ASKED_BY: Final = "asked_by"
# The code-execution span (one per code execution; see sinks/_code_spans.py).
PTC_CODE_EXECUTION_TOOL_CALLS: Final = "ptc.code_execution.tool_calls"
PTC_CODE_EXECUTION_SERVER_TOOL_CALLS: Final = "ptc.code_execution.server_tool_calls"
PTC_CODE_EXECUTION_EXCHANGES: Final = "ptc.code_execution.exchanges"
PTC_CODE_EXECUTION_START_OBSERVED: Final = "ptc.code_execution.start_observed"
PTC_CODE_EXECUTION_END_REASON: Final = "ptc.code_execution.end_reason"
CODE_EXECUTION_UNFINISHED: Final = "unfinished"
ERROR_TYPE_UNFINISHED: Final = "code_execution_unfinished"
LINK_CODE_EXECUTION: Final = "code_execution"
EVENT_CODE_EXECUTION_CONTENT: Final = "ptc.code_execution.content"
M_CODE_EXECUTION_DURATION: Final = "ptc.code_execution.duration"
P_CODE_EXECUTION_DURATION: Final = "ptc_code_execution_duration_seconds"
P_CODE_EXECUTIONS_UNFINISHED: Final = "ptc_code_executions_unfinished"
L_REASON: Final = "reason"
CODE_EXECUTION_BUCKETS: Final[tuple[float, ...]] = (
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip
EVENT_TOOL_CALL: Final = "ptc.tool_call"
EVENT_CODE_EXECUTION_RESULT: Final = "ptc.code_execution_result"

# --- OpenTelemetry metrics ---

M_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
M_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
M_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
# gen2
M2_INFERENCE_DURATION: Final = "gen_ai.client.inference.duration"
M2_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.inference.time_to_first_chunk"
M2_USAGE_INPUT: Final = "gen_ai.client.inference.usage.input_tokens"
M2_USAGE_OUTPUT: Final = "gen_ai.client.inference.usage.output_tokens"
M2_USAGE_CACHE_READ: Final = "gen_ai.client.inference.usage.cache_read.input_tokens"
M2_USAGE_CACHE_WRITE: Final = "gen_ai.client.inference.usage.cache_write.input_tokens"
M2_OPERATION_INPUT: Final = "gen_ai.client.inference.operation.input_tokens"
M2_OPERATION_OUTPUT: Final = "gen_ai.client.inference.operation.output_tokens"
M2_EXECUTE_TOOL_DURATION: Final = "gen_ai.execute_tool.duration"
# Ours, named so that an OTel Prometheus exporter gives the ptc_* series of the same name
# and labels (dots to underscores, {unit} dropped, _total on counters).
M_CODE_EXECUTIONS: Final = "ptc.code_executions"
M_TOOL_CALLS: Final = "ptc.tool_calls"
M_TOOL_RESULTS: Final = "ptc.tool_results"
M_TOOL_RESULT_BYTES: Final = "ptc.tool_result_bytes"
M_TOOL_RESULTS_UNMATCHED: Final = "ptc.tool_results_unmatched"
M_CONTAINERS_CREATED: Final = "ptc.containers_created"
M_CONTAINER_REUSES: Final = "ptc.container_reuses"
M_CONTAINERS_EXPIRED: Final = "ptc.containers_expired"
M_SERVER_TOOL_CALLS: Final = "ptc.server_tool_calls"
M_SERVER_TOOL_REQUESTS: Final = "ptc.server_tool_requests"
M_REASONING_TOKENS: Final = "ptc.reasoning_tokens"
M_CACHE_WRITE_TOKENS: Final = "ptc.cache_write_tokens"
M_COST_USD: Final = "ptc.cost.usd"
"""Spend in USD by model and component (an OTel Prometheus exporter gives ptc_cost_usd_total)."""
M_UNPRICED_TOKENS: Final = "ptc.unpriced_tokens"
A_COMPONENT: Final = "component"
A_OUTCOME: Final = "outcome"
A_CALLER: Final = "caller"
A_SERVER_TOOL: Final = "server_tool"
A_TTL: Final = "ttl"

# Bucket boundaries from the conventions: D for durations (seconds), T for token counts.
DURATION_BUCKETS: Final[tuple[float, ...]] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
TOKEN_BUCKETS: Final[tuple[float, ...]] = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
# Tool turnaround includes the application's own work (often seconds to minutes; a pending
# programmatic call times out after ~270 s), so D is extended to 10 minutes.
TURNAROUND_BUCKETS: Final[tuple[float, ...]] = (
    *DURATION_BUCKETS, 163.84, 327.68, 655.36,
)  # fmt: skip
# Containers: rolling idle deadline of minutes, lifetime up to 30 days.
CONTAINER_REMAINING_BUCKETS: Final[tuple[float, ...]] = (
    1, 5, 10, 15, 30, 60, 120, 180, 240, 300, 600, 1800, 3600,
)  # fmt: skip
CONTAINER_LIFETIME_BUCKETS: Final[tuple[float, ...]] = (
    1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400, 604800, 2592000,
)  # fmt: skip

# --- Prometheus names (OTel -> Prometheus translation: dots to underscores, `s` -> `_seconds`,
# `{token}` dropped, `_total` on counters; prometheus_client appends `_total` to Counter names) ---

P_OPERATION_DURATION: Final = "gen_ai_client_operation_duration_seconds"
P_TOKEN_USAGE: Final = "gen_ai_client_token_usage"
P_TIME_TO_FIRST_CHUNK: Final = "gen_ai_client_operation_time_to_first_chunk_seconds"
P2_INFERENCE_DURATION: Final = "gen_ai_client_inference_duration_seconds"
P2_TIME_TO_FIRST_CHUNK: Final = "gen_ai_client_inference_time_to_first_chunk_seconds"
P2_USAGE_INPUT: Final = "gen_ai_client_inference_usage_input_tokens"
P2_USAGE_OUTPUT: Final = "gen_ai_client_inference_usage_output_tokens"
P2_USAGE_CACHE_READ: Final = "gen_ai_client_inference_usage_cache_read_input_tokens"
P2_USAGE_CACHE_WRITE: Final = "gen_ai_client_inference_usage_cache_write_input_tokens"
P2_OPERATION_INPUT: Final = "gen_ai_client_inference_operation_input_tokens"
P2_OPERATION_OUTPUT: Final = "gen_ai_client_inference_operation_output_tokens"
P2_EXECUTE_TOOL_DURATION: Final = "gen_ai_execute_tool_duration_seconds"

P_EXCHANGES: Final = "ptc_exchanges"
P_ERRORS: Final = "ptc_errors"
P_TOKENS: Final = "ptc_tokens"
P_TOOL_CALLS: Final = "ptc_tool_calls"
P_SERVER_TOOL_CALLS: Final = "ptc_server_tool_calls"
P_CODE_EXECUTIONS: Final = "ptc_code_executions"
P_SERVER_TOOL_REQUESTS: Final = "ptc_server_tool_requests"
P_REASONING_TOKENS: Final = "ptc_reasoning_tokens"
P_CACHE_WRITE_TOKENS: Final = "ptc_cache_write_tokens"
P_TOOL_TURNAROUND: Final = "ptc_tool_turnaround_seconds"
P_TOOL_RESULT_BYTES: Final = "ptc_tool_result_bytes"
P_TOOL_RESULTS: Final = "ptc_tool_results"
P_TOOL_RESULTS_UNMATCHED: Final = "ptc_tool_results_unmatched"
P_CONTAINERS_CREATED: Final = "ptc_containers_created"
P_CONTAINER_REUSES: Final = "ptc_container_reuses"
P_CONTAINERS_EXPIRED: Final = "ptc_containers_expired"
P_CONTAINERS_ACTIVE: Final = "ptc_containers_active"
P_CONTAINER_LIFETIME: Final = "ptc_container_lifetime_seconds"
P_CONTAINER_REMAINING: Final = "ptc_container_remaining_seconds"
P_HTTP_RETRIES: Final = "ptc_http_retries"
P_RATELIMIT_REMAINING: Final = "ptc_ratelimit_remaining"
P_RATELIMIT_LIMIT: Final = "ptc_ratelimit_limit"
P_TELEMETRY_ERRORS: Final = "ptc_telemetry_errors"

# Prometheus label names.
L_OPERATION: Final = "gen_ai_operation_name"
L_PROVIDER: Final = "gen_ai_provider_name"
L_REQUEST_MODEL: Final = "gen_ai_request_model"
L_RESPONSE_MODEL: Final = "gen_ai_response_model"
L_TOKEN_TYPE: Final = "gen_ai_token_type"
L_TOKEN_KIND: Final = "token_kind"
"""ptc_tokens_total's label: input (uncached), output, cache_read, cache_write; not the
conventions' ``gen_ai.token.type`` (whose enum is input/output and whose input includes cache)."""
L_TOKEN_MODALITY: Final = "gen_ai_token_modality"
L_TOOL_NAME: Final = "gen_ai_tool_name"
L_ERROR_TYPE: Final = "error_type"
L_STREAM: Final = "stream"
L_OUTCOME: Final = "outcome"
L_CALLER: Final = "caller"
L_SERVER_TOOL: Final = "server_tool"
L_TTL: Final = "ttl"
L_RESOURCE: Final = "resource"
L_STAGE: Final = "stage"
TELEMETRY_STAGES: Final = (
    "request_parse",
    "response_parse",
    "stream_parse",
    "decode",
    "correlate",
    "price",
    "trace",
    "sink",
    "exemplar",
)
"""The ``stage`` values of ``ptc_telemetry_errors_total``; their series start at 0.
``exemplar``: an optional exemplar lookup failed; the exchange was still counted."""
