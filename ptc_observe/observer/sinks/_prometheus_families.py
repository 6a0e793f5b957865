"""The Prometheus metric families of the sink, and caches of their bound children.

Kept apart from :mod:`ptc_observe.observer.sinks.prometheus` so the hot path there stays short.
Every cache is keyed by *bounded* label values only, so it cannot grow past the label
bounds whatever the traffic.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from ...events import Outcome
from . import _semconv as sc
from ._labels import BoundedValues
from ._prometheus_cells import EXEMPLAR_INTERVAL_SECONDS, LocalMetrics
from ._prometheus_cost import CostFamilies
from ._prometheus_standard import Hist, StandardMetrics

__all__ = [
    "EXEMPLAR_INTERVAL_SECONDS",
    "Bundle",
    "ErrorChildren",
    "Families",
    "Gen2Bundle",
    "Hist",
    "ToolChildren",
]

_GENAI = (sc.L_OPERATION, sc.L_PROVIDER, sc.L_REQUEST_MODEL, sc.L_RESPONSE_MODEL)
_CHAT = (sc.OPERATION_CHAT, sc.PROVIDER_ANTHROPIC)
_STREAM = {True: "true", False: "false"}


class Gen2Bundle:
    """gen2 children of one (model, response model) pair, success case."""

    __slots__ = ("operation", "usage")

    def __init__(self, f: Families, genai: tuple[str, ...]) -> None:
        g = f.gen2
        assert g is not None
        modality = sc.TOKEN_MODALITY_UNKNOWN
        self.usage = tuple(c.labels(*genai, modality) for c in g["usage"])
        # Per-operation token histograms: completed operations only, no error_type.
        self.operation = tuple(f.mk.series(h, genai) for h in g["operation"])


class Bundle:
    """Every child one exchange of a (model, response model, stream) triple touches."""

    __slots__ = (
        "duration",
        "duration2",
        "exchanges",
        "gen2",
        "cache_write_ttl",
        "model",
        "reasoning",
        "response_model",
        "retries",
        "server_requests",
        "token_input",
        "token_output",
        "tokens_cache_read",
        "tokens_cache_write",
        "tokens_input",
        "tokens_output",
    )

    def __init__(
        self, f: Families, model: str, response_model: str, stream: bool
    ) -> None:
        self.model = model
        self.response_model = response_model
        genai = (*_CHAT, model, response_model)
        self.duration = f.mk.series(f.duration, (*genai, ""))
        self.token_input = f.mk.series(f.token_usage, (*genai, sc.TOKEN_TYPE_INPUT))
        self.token_output = f.mk.series(f.token_usage, (*genai, sc.TOKEN_TYPE_OUTPUT))
        s = _STREAM[stream]
        self.exchanges = {o: f.exchanges.labels(model, s, o.value).inc for o in Outcome}
        self.tokens_input = f.tokens.labels(model, sc.TOKEN_TYPE_INPUT)
        self.tokens_output = f.tokens.labels(model, sc.TOKEN_TYPE_OUTPUT)
        self.tokens_cache_read = f.tokens.labels(model, sc.TOKEN_TYPE_CACHE_READ)
        self.tokens_cache_write = f.tokens.labels(model, sc.TOKEN_TYPE_CACHE_WRITE)
        self.reasoning = f.reasoning_tokens.labels(model).inc
        ttl = f.cache_write_tokens
        self.cache_write_ttl = (
            ttl.labels(model, sc.TTL_5M).inc,
            ttl.labels(model, sc.TTL_1H).inc,
            ttl.labels(model, sc.TTL_UNKNOWN).inc,
        )
        self.server_requests: dict[str, Any] = {}
        """``ptc_server_tool_requests_total`` adders by raw server tool name (admitted)."""
        for name in sc.SERVER_TOOL_REQUESTS_KNOWN:  # series from 0, as for tokens
            if f.server_tool_kinds(name) == name:
                requests = f.server_tool_requests.labels(model, name)
                self.server_requests[name] = requests.inc
        self.retries = f.http_retries.labels(model).inc
        g = f.gen2
        self.duration2 = f.mk.series(g["duration"], (*genai, "")) if g else None
        self.gen2 = Gen2Bundle(f, genai) if g else None


class ErrorChildren:
    """Children for a failed exchange of one (model, response model, error type)."""

    __slots__ = ("duration", "duration2", "errors")

    def __init__(
        self, f: Families, model: str, response_model: str, error: str
    ) -> None:
        genai = (*_CHAT, model, response_model)
        self.errors = f.errors.labels(model, error).inc
        self.duration = f.mk.series(f.duration, (*genai, error))
        g = f.gen2
        self.duration2 = f.mk.series(g["duration"], (*genai, error)) if g else None


class ToolChildren:
    """Children for the turnaround of one (tool, caller)."""

    __slots__ = ("execute_tool", "turnaround")

    def __init__(self, f: Families, tool: str, caller: str) -> None:
        self.turnaround = f.mk.bound(f.tool_turnaround.labels(tool, caller))
        g = f.gen2
        if g:
            h = g["execute_tool"]
            op = sc.OPERATION_EXECUTE_TOOL
            ok, failed = (
                f.mk.series(h, (op, tool, "")),
                f.mk.series(h, (op, tool, sc.ERROR_TYPE_TOOL)),
            )
            self.execute_tool: tuple[Any, Any] | None = (ok, failed)
        else:
            self.execute_tool = None


class Families:
    """The metric families registered in one registry, with child caches."""

    def __init__(
        self, registry: CollectorRegistry, max_label_values: int, multiprocess: bool
    ) -> None:
        self.registry = registry
        self.models = BoundedValues(max_label_values)
        self.tools = BoundedValues(max_label_values)
        self.error_types = BoundedValues(max_label_values)
        self.stages = BoundedValues(64)
        self.server_tool_kinds = BoundedValues(64)
        self.variants = BoundedValues(max_label_values)
        self.resources = BoundedValues(64)
        self.gen2: dict[str, Any] | None = None
        self.active_collector: object | None = None
        self.mk: LocalMetrics | StandardMetrics = (
            StandardMetrics() if multiprocess else LocalMetrics()
        )
        """The back end, decided once: our cells, or prometheus_client's metrics."""
        self.lock = self.mk.lock
        """The sink holds it around each exchange; cells change only under it."""
        self._lock = self.lock
        mk = self.mk
        r = registry
        D, T = sc.DURATION_BUCKETS, sc.TOKEN_BUCKETS
        # gen1 standard GenAI metrics.
        self.duration = mk.histogram(
            sc.P_OPERATION_DURATION,
            "GenAI operation duration: request sent to response complete (whole stream).",
            (*_GENAI, sc.L_ERROR_TYPE), registry=r, buckets=D,
        )  # fmt: skip
        self.token_usage = mk.histogram(
            sc.P_TOKEN_USAGE,
            "Tokens per operation; input includes cache reads and writes.",
            (*_GENAI, sc.L_TOKEN_TYPE), registry=r, buckets=T,
        )  # fmt: skip
        self.ttfc = mk.histogram(
            sc.P_TIME_TO_FIRST_CHUNK,
            "Streamed operations: request sent to the first content event.",
            (*_GENAI, sc.L_ERROR_TYPE), registry=r, buckets=D,
        )  # fmt: skip
        # Ours.
        m, tool = sc.L_REQUEST_MODEL, sc.L_TOOL_NAME
        self.exchanges = mk.counter(
            sc.P_EXCHANGES, "Messages API exchanges (HTTP attempts) by outcome.",
            (m, sc.L_STREAM, sc.L_OUTCOME), registry=r,
        )  # fmt: skip
        self.errors = mk.counter(
            sc.P_ERRORS, "Failed exchanges (error or incomplete stream) by error type.",
            (m, sc.L_ERROR_TYPE), registry=r,
        )  # fmt: skip
        self.tokens = mk.counter(
            sc.P_TOKENS,
            "Tokens by type: input (uncached), output, cache_read, cache_write. Sum these for totals and cost.",
            (m, sc.L_TOKEN_KIND), registry=r,
        )  # fmt: skip
        self.tool_calls = mk.counter(
            sc.P_TOOL_CALLS, "Client tool calls the model asked for, by caller (direct or programmatic).",
            (tool, sc.L_CALLER), registry=r,
        )  # fmt: skip
        self.server_tool_calls = mk.counter(
            sc.P_SERVER_TOOL_CALLS,
            "Server tool calls (server_tool_use blocks: code_execution, web_search, ...) by caller.",
            (tool, sc.L_CALLER), registry=r,
        )  # fmt: skip
        self.server_tool_requests = mk.counter(
            sc.P_SERVER_TOOL_REQUESTS,
            "Billed server tool requests (usage.server_tool_use: web_search, web_fetch, ...).",
            (m, sc.L_SERVER_TOOL), registry=r,
        )  # fmt: skip
        self.reasoning_tokens = mk.counter(
            sc.P_REASONING_TOKENS,
            "Reasoning (thinking) tokens: part of the output tokens, not in addition to them.",
            (m,), registry=r,
        )  # fmt: skip
        self.cache_write_tokens = mk.counter(
            sc.P_CACHE_WRITE_TOKENS,
            "Cache-write tokens by time to live (5m, 1h, unknown); they sum to ptc_tokens_total{token_kind=\"cache_write\"}.",
            (m, sc.L_TTL), registry=r,
        )  # fmt: skip
        self.code_executions = mk.counter(
            sc.P_CODE_EXECUTIONS,
            "Code execution results by variant (code_execution, bash_code_execution, text_editor_code_execution) and outcome (success, error).",
            (tool, sc.L_OUTCOME), registry=r,
        )  # fmt: skip
        for variant in sc.CODE_EXECUTION_VARIANTS:  # series from 0 for rate()
            self.variants(variant)
            for outcome in (sc.CODE_EXECUTION_SUCCESS, sc.CODE_EXECUTION_ERROR):
                self.code_executions.labels(variant, outcome)
        self.code_execution_duration = mk.histogram(
            sc.P_CODE_EXECUTION_DURATION,
            "Code execution from the response that started it to the one with its result (PTC: the whole run), by variant and outcome; only code executions this process saw start.",
            (tool, sc.L_OUTCOME), registry=r, buckets=sc.CODE_EXECUTION_BUCKETS,
        )  # fmt: skip
        self.code_executions_unfinished = mk.counter(
            sc.P_CODE_EXECUTIONS_UNFINISHED,
            "Code executions given up without a result, by variant and reason (expired, container_ended, evicted, closed).",
            (tool, sc.L_REASON), registry=r,
        )  # fmt: skip
        self.code_execution_cells: dict[tuple[str, str], Any] = {}
        self.tool_turnaround = mk.histogram(
            sc.P_TOOL_TURNAROUND,
            "End of the response that asked for a tool to the request carrying its result (application time included).",
            (tool, sc.L_CALLER), registry=r, buckets=sc.TURNAROUND_BUCKETS,
        )  # fmt: skip
        self.tool_results = mk.counter(
            sc.P_TOOL_RESULTS,
            "Tool results sent back (requests answered in full), by the caller and tool of the call each answers.",
            (tool, sc.L_CALLER, sc.L_OUTCOME), registry=r,
        )  # fmt: skip
        self.tool_result_bytes = mk.counter(
            sc.P_TOOL_RESULT_BYTES,
            "UTF-8 bytes of tool results sent back; programmatic ones went to the container, not the context.",
            (sc.L_CALLER,), registry=r,
        )  # fmt: skip
        unmatched = mk.counter(
            sc.P_TOOL_RESULTS_UNMATCHED,
            "Tool results whose asking response this process did not see (another process served it): no turnaround.",
            (sc.L_CALLER,), registry=r,
        )  # fmt: skip
        self.add_result_bytes = {
            True: self.tool_result_bytes.labels(sc.CALLER_PROGRAMMATIC).inc,
            False: self.tool_result_bytes.labels(sc.CALLER_DIRECT).inc,
        }
        self.add_unmatched = {
            True: unmatched.labels(sc.CALLER_PROGRAMMATIC).inc,
            False: unmatched.labels(sc.CALLER_DIRECT).inc,
        }
        self.containers_created = mk.counter(
            sc.P_CONTAINERS_CREATED, "Complete responses naming a code-execution container their request did not (created by the API).", registry=r
        )  # fmt: skip
        self.container_reuses = mk.counter(
            sc.P_CONTAINER_REUSES, "Requests naming a container answered by a complete response.", registry=r
        )  # fmt: skip
        self.containers_expired = mk.counter(
            sc.P_CONTAINERS_EXPIRED,
            "Requests naming a container the API refused (a 400/404 about the container: expired or unknown).",
            registry=r,
        )  # fmt: skip
        self.container_lifetime = mk.histogram(
            sc.P_CONTAINER_LIFETIME,
            "Creation to last known expires_at of a container, observed once, by the process that saw it created.",
            registry=r, buckets=sc.CONTAINER_LIFETIME_BUCKETS,
        )  # fmt: skip
        self.container_remaining = mk.histogram(
            sc.P_CONTAINER_REMAINING, "Time left before expires_at when a container is reused.",
            registry=r, buckets=sc.CONTAINER_REMAINING_BUCKETS,
        )  # fmt: skip
        self.container_remaining_cells = mk.bound(mk.single(self.container_remaining))
        self.container_lifetime_cell = mk.single(self.container_lifetime)
        self.add_created = mk.single(self.containers_created).inc
        self.add_reuse = mk.single(self.container_reuses).inc
        self.add_expired = mk.single(self.containers_expired).inc
        self.http_retries = mk.counter(
            sc.P_HTTP_RETRIES, "HTTP attempts that were SDK retries (x-stainless-retry-count > 0).",
            (m,), registry=r,
        )  # fmt: skip
        self.ratelimit_remaining = mk.gauge(
            sc.P_RATELIMIT_REMAINING, "anthropic-ratelimit-*-remaining of the latest response.",
            (sc.L_RESOURCE,), registry=r, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.ratelimit_limit = mk.gauge(
            sc.P_RATELIMIT_LIMIT, "anthropic-ratelimit-*-limit of the latest response.",
            (sc.L_RESOURCE,), registry=r, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.telemetry_errors = mk.counter(
            sc.P_TELEMETRY_ERRORS, "Failures inside ptc_observe by stage (the API calls are unaffected).",
            (sc.L_STAGE,), registry=r,
        )  # fmt: skip
        # Every known stage starts at 0, so dashboards and alerts have a series before the
        # first failure (a healthy process would otherwise never export the family's samples).
        for stage in sc.TELEMETRY_STAGES:
            self.telemetry_errors.labels(self.stages(stage))
        self.costs = CostFamilies(r, mk)
        """Spend, unpriced tokens, price-data info and runs."""
        # Multiprocess: no custom collectors, so a per-process gauge summed over live processes.
        self.active_gauge = (
            mk.gauge(
                sc.P_CONTAINERS_ACTIVE,
                "Code-execution containers seen and not yet expired.",
                registry=r,
                multiprocess_mode="livesum",
            )  # fmt: skip
            if multiprocess
            else None
        )
        self._reset_caches()

    def enable_gen2(self) -> None:
        """Register the gen2 GenAI families (idempotent)."""
        if self.gen2 is not None:
            return
        r, D, T = self.registry, sc.DURATION_BUCKETS, sc.TOKEN_BUCKETS
        genai_error = (*_GENAI, sc.L_ERROR_TYPE)
        usage_labels = (*_GENAI, sc.L_TOKEN_MODALITY)

        mk = self.mk

        def usage(name: str, what: str) -> Any:
            return mk.counter(name, f"{what} tokens (gen2).", usage_labels, registry=r)

        self.gen2 = {
            "duration": mk.histogram(
                sc.P2_INFERENCE_DURATION, "Inference duration (gen2).", genai_error,
                registry=r, buckets=D,
            ),
            "ttfc": mk.histogram(
                sc.P2_TIME_TO_FIRST_CHUNK, "Time to first chunk (gen2).", genai_error,
                registry=r, buckets=D,
            ),
            "usage": (
                usage(sc.P2_USAGE_INPUT, "Input (including cached)"),
                usage(sc.P2_USAGE_OUTPUT, "Output"),
                usage(sc.P2_USAGE_CACHE_READ, "Cache read input"),
                usage(sc.P2_USAGE_CACHE_WRITE, "Cache write input"),
            ),
            "operation": (
                mk.histogram(
                    sc.P2_OPERATION_INPUT, "Input tokens per completed operation (gen2).",
                    _GENAI, registry=r, buckets=T,
                ),
                mk.histogram(
                    sc.P2_OPERATION_OUTPUT, "Output tokens per completed operation (gen2).",
                    _GENAI, registry=r, buckets=T,
                ),
            ),
            "execute_tool": mk.histogram(
                sc.P2_EXECUTE_TOOL_DURATION,
                "Inferred tool execution time (gen2): includes application time.",
                (sc.L_OPERATION, sc.L_TOOL_NAME, sc.L_ERROR_TYPE), registry=r, buckets=D,
            ),
        }  # fmt: skip
        self._reset_caches()

    def _reset_caches(self) -> None:
        self._bundles: dict[tuple[str, str, bool], Bundle] = {}
        self._raw_bundles: dict[tuple[str | None, str | None, bool], Bundle] = {}
        self._errors: dict[tuple[str, str, str], ErrorChildren] = {}
        self._tools: dict[tuple[str, str], ToolChildren] = {}
        self._tool_calls: dict[tuple[str, bool], Any] = {}
        self._server_tools: dict[tuple[str, bool], Any] = {}
        self._code_executions: dict[tuple[str, bool], Any] = {}
        self._tool_results: dict[tuple[str | None, bool, bool], Any] = {}
        self._ratelimits: dict[str, tuple[Any, Any]] = {}
        self._ttfc: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self.ratelimit_last: dict[str, tuple[int | None, int | None]] = {}
        """(remaining, limit) last written per admitted resource."""

    # --- cached children (keys: bounded label values, or raw values only once admitted) ---

    def bundle(self, model: str, response_model: str, stream: bool) -> Bundle:
        """Children of a (bounded model, bounded response model, stream) triple."""
        key = (model, response_model, stream)
        b = self._bundles.get(key)
        if b is None:
            with self._lock:
                b = self._bundles[key] = Bundle(self, model, response_model, stream)
        return b

    def bundle_for(
        self, requested: str | None, answered: str | None, stream: bool
    ) -> Bundle:
        """The bundle of an exchange's raw model names: the request's (else the
        response's) for ``gen_ai_request_model``, the response's for the response model.

        One dict lookup instead of bounding both names on every exchange; a key is cached
        only when both names were admitted as they are, so the cache stays within the
        label bounds.
        """
        key = (requested, answered, stream)
        b = self._raw_bundles.get(key)
        if b is None:
            raw = requested if requested is not None else answered
            model = self.models(raw)
            response_model = self.models(answered)
            b = self.bundle(model, response_model, stream)
            if model == (raw or "") and response_model == (answered or ""):
                self._raw_bundles[key] = b
        return b

    def error_children(
        self, model: str, response_model: str, error: str
    ) -> ErrorChildren:
        """Children of a failed exchange; ``error`` is bounded here."""
        key = (model, response_model, error)
        e = self._errors.get(key)
        if e is None:
            label = self.error_types(error)
            e = ErrorChildren(self, model, response_model, label)
            if label == error:
                self._errors[key] = e
        return e

    def ttfc_children(
        self, model: str, response_model: str, error: str
    ) -> tuple[Any, Any]:
        """(gen1, gen2 or None) time-to-first-chunk children; bound on first use only,
        so exchanges that never stream create no empty series."""
        key = (model, response_model, error)
        c = self._ttfc.get(key)
        if c is None:
            genai = (
                *_CHAT,
                model,
                response_model,
                self.error_types(error) if error else "",
            )
            g = self.gen2
            c = (
                self.mk.bound(self.ttfc.labels(*genai)),
                self.mk.bound(g["ttfc"].labels(*genai)) if g else None,
            )
            if not error or genai[-1] == error:
                self._ttfc[key] = c
        return c

    def tool_children(self, tool: str, caller: str) -> ToolChildren:
        """Turnaround children of a (tool name, caller); the name is bounded here."""
        key = (tool, caller)
        t = self._tools.get(key)
        if t is None:
            label = self.tools(tool)
            t = ToolChildren(self, label, caller)
            if label == tool:
                self._tools[key] = t
        return t

    def tool_call_child(self, tool: str, programmatic: bool) -> Any:
        """``ptc_tool_calls_total`` child of a (tool name, caller)."""
        key = (tool, programmatic)
        c = self._tool_calls.get(key)
        if c is None:
            label = self.tools(tool)
            caller = sc.CALLER_PROGRAMMATIC if programmatic else sc.CALLER_DIRECT
            c = self.tool_calls.labels(label, caller).inc
            if label == tool:
                self._tool_calls[key] = c
        return c

    def tool_result_child(
        self, tool: str | None, programmatic: bool, is_error: bool
    ) -> Any:
        """``ptc_tool_results_total`` adder of a (tool name, caller, outcome)."""
        key = (tool, programmatic, is_error)
        c = self._tool_results.get(key)
        if c is None:
            label = self.tools(tool)
            caller = sc.CALLER_PROGRAMMATIC if programmatic else sc.CALLER_DIRECT
            outcome = sc.RESULT_ERROR if is_error else sc.RESULT_SUCCESS
            c = self.tool_results.labels(label, caller, outcome).inc
            if label == (tool or ""):
                self._tool_results[key] = c
        return c

    def server_tool_child(self, tool: str, programmatic: bool) -> Any:
        """``ptc_server_tool_calls_total`` adder of a (server tool name, caller)."""
        key = (tool, programmatic)
        c = self._server_tools.get(key)
        if c is None:
            label = self.tools(tool)
            caller = sc.CALLER_PROGRAMMATIC if programmatic else sc.CALLER_DIRECT
            c = self.server_tool_calls.labels(label, caller).inc
            if label == tool:
                self._server_tools[key] = c
        return c

    def code_execution_child(self, variant: str, succeeded: bool) -> Any:
        """``ptc_code_executions_total`` adder of a (variant, outcome)."""
        key = (variant, succeeded)
        c = self._code_executions.get(key)
        if c is None:
            label = self.tools(variant)
            outcome = (
                sc.CODE_EXECUTION_SUCCESS if succeeded else sc.CODE_EXECUTION_ERROR
            )
            c = self.code_executions.labels(label, outcome).inc
            if label == variant:
                self._code_executions[key] = c
        return c

    def server_request_child(self, b: Bundle, name: str) -> Any:
        """``ptc_server_tool_requests_total`` adder of a model's bundle and a tool name."""
        c = b.server_requests.get(name)
        if c is None:
            label = self.server_tool_kinds(name)
            c = self.server_tool_requests.labels(b.model, label).inc
            if label == name:
                b.server_requests[name] = c
        return c

    def ratelimit_children(self, resource: str) -> tuple[Any, Any]:
        """(remaining, limit) gauge children of a rate-limit resource."""
        c = self._ratelimits.get(resource)
        if c is None:
            label = self.resources(resource)
            c = (
                self.ratelimit_remaining.labels(label),
                self.ratelimit_limit.labels(label),
            )
            if label == resource:
                self._ratelimits[resource] = c
        return c
