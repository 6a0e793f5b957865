"""Span attributes of an exchange, built as plain dicts (one pass through the SDK).

Split from :mod:`ptc_observe.observer.sinks.otel`; every name comes from ``_semconv``.
"""

from __future__ import annotations

from typing import Any

from ...events import Exchange, Outcome
from ...models import DIRECT
from . import _semconv as sc

__all__ = [
    "add_http_response_attributes",
    "add_ptc_attributes",
    "attempt_base",
    "chat_attributes",
    "chat_base",
    "http_attributes",
    "ptc_attributes",
    "sdk_usage",
    "start_attributes",
    "status",
]


def _server(ex: Exchange, attrs: dict[str, Any]) -> dict[str, Any]:
    """``server.address`` and, whenever it is set, ``server.port`` (443 included)."""
    req = ex.request
    if req.server_address:
        attrs[sc.SERVER_ADDRESS] = req.server_address
        if req.server_port is not None:
            attrs[sc.SERVER_PORT] = req.server_port
    return attrs


# The name and fixed attributes of a ``chat`` span by (model, address, port): a client
# talks to one server about a few models. Bounded: cleared when full.
_BASE: dict[tuple[str | None, str | None, int | None], tuple[str, dict[str, Any]]] = {}
_BASE_MAX = 1024


def chat_base(
    model: str | None, address: str | None, port: int | None
) -> tuple[str, dict[str, Any]]:
    """The span name ``chat {model}`` and the attributes model and server decide
    (operation, provider, model, server address and port), built once per combination.

    The dict is shared: copy it before adding to it.
    """
    key = (model, address, port)
    found = _BASE.get(key)
    if found is None:
        attrs: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OPERATION_CHAT,
            sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_ANTHROPIC,
        }
        if model:
            attrs[sc.GEN_AI_REQUEST_MODEL] = model
        if address:
            attrs[sc.SERVER_ADDRESS] = address
            if port is not None:
                attrs[sc.SERVER_PORT] = port
        name = f"{sc.OPERATION_CHAT} {model}" if model else sc.OPERATION_CHAT
        if len(_BASE) >= _BASE_MAX:
            _BASE.clear()
        found = _BASE[key] = (name, attrs)
    return found


def start_attributes(
    ex: Exchange, latest: bool = False, base: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What a sampler sees: operation, provider, model, server, request parameters.

    ``base`` is :func:`chat_base`'s dict for the exchange when the caller has it.
    ``gen_ai.request.top_k`` is a double in semantic-conventions v1.41.1 (gen1) and an
    int in semconv-genai main (gen2): it follows the generation emitted.
    """
    req = ex.request
    if base is None:
        base = chat_base(ex.model, req.server_address, req.server_port)[1]
    attrs = base.copy()
    if req.stream:
        attrs[sc.GEN_AI_REQUEST_STREAM] = True
    # Plain tests, no table of (key, value) pairs: this runs once per span.
    if req.max_tokens is not None:
        attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] = req.max_tokens
    if req.temperature is not None:
        attrs[sc.GEN_AI_REQUEST_TEMPERATURE] = req.temperature
    if req.top_p is not None:
        attrs[sc.GEN_AI_REQUEST_TOP_P] = req.top_p
    if req.top_k is not None:
        attrs[sc.GEN_AI_REQUEST_TOP_K] = req.top_k if latest else float(req.top_k)
    if req.stop_sequences:
        attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = req.stop_sequences
    if req.output_type is not None:
        attrs[sc.GEN_AI_OUTPUT_TYPE] = req.output_type
    if req.reasoning_level is not None:
        attrs[sc.GEN_AI_REQUEST_REASONING_LEVEL] = req.reasoning_level
    return attrs


def sdk_usage(ex: Exchange) -> dict[str, Any]:
    """Token counts for the SDK's span, from a complete response.

    The SDK records usage on its span itself, but leaves ``output_tokens`` out of a stream
    without ``message_delta`` (PTC continuations arrive whole in ``message_start``). It sets
    its own values after ours, so where it has them they win; usage stays on one span.
    """
    reply = ex.reply
    if reply is None or not ex.complete:
        return {}
    usage = reply.usage
    attrs: dict[str, Any] = {}
    if usage.input_tokens is not None:
        attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = usage.total_input_tokens
    if usage.output_tokens is not None:
        attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
    if usage.reasoning_tokens is not None:
        attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
    return attrs


# The name and fixed attributes of an attempt span by (method, path, URL, address, port):
# one client sends to one URL. Bounded: cleared when full.
_HTTP: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}


def attempt_base(ex: Exchange) -> tuple[str, dict[str, Any]]:
    """The attempt span's name ``{method} {path}`` and its HTTP attributes that the
    request line and server decide, built once per combination (shared: copy it)."""
    req = ex.request
    key = (req.method, req.path, req.url, req.server_address, req.server_port)
    found = _HTTP.get(key)
    if found is None:
        attrs: dict[str, Any] = {
            sc.HTTP_REQUEST_METHOD: req.method,
            sc.URL_PATH: req.path,
        }
        if req.url:
            attrs[sc.URL_FULL] = req.url
        _server(ex, attrs)
        if len(_HTTP) >= _BASE_MAX:
            _HTTP.clear()
        found = _HTTP[key] = (f"{req.method} {req.path}", attrs)
    return found


def http_attributes(ex: Exchange, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Start attributes of an attempt span: HTTP only, no ``gen_ai.*``.

    ``base`` is :func:`attempt_base`'s dict for the exchange when the caller has it.
    """
    attrs = (attempt_base(ex)[1] if base is None else base).copy()
    retries = ex.request.retry_count
    if retries:
        attrs[sc.HTTP_REQUEST_RESEND_COUNT] = retries
    return attrs


def add_http_response_attributes(ex: Exchange, attrs: dict[str, Any]) -> dict[str, Any]:
    """Add ``http.response.status_code`` and ``anthropic.request.id`` (when a response
    arrived) to ``attrs``; returns ``attrs``."""
    if ex.status_code is not None:
        attrs[sc.HTTP_RESPONSE_STATUS_CODE] = ex.status_code
    if ex.request_id:
        attrs[sc.ANTHROPIC_REQUEST_ID] = ex.request_id
    return attrs


def chat_attributes(ex: Exchange, latest: bool) -> dict[str, Any]:
    """Every attribute of a ``chat`` span, in one dict (one pass through the SDK's checks).

    The start attributes, then what is known at the end (HTTP status, request id,
    response id/model, finish reason, usage, time to first chunk), then our ``ptc.*``
    facts, built into the start dict without intermediate dicts.
    """
    return add_end_attributes(ex, latest, start_attributes(ex, latest))


def add_end_attributes(
    ex: Exchange, latest: bool, attrs: dict[str, Any]
) -> dict[str, Any]:
    """Add what a ``chat`` span learns after its start to ``attrs``; returns ``attrs``.

    Split from :func:`start_attributes` so that a span the sampler dropped is given only
    what the sampler needed (see ``OTelSink``).
    """
    if ex.status_code is not None:
        attrs[sc.HTTP_RESPONSE_STATUS_CODE] = ex.status_code
    if ex.request_id:
        attrs[sc.ANTHROPIC_REQUEST_ID] = ex.request_id
    reply = ex.reply
    if reply is not None:
        if reply.id:
            attrs[sc.GEN_AI_RESPONSE_ID] = reply.id
        if reply.model:
            attrs[sc.GEN_AI_RESPONSE_MODEL] = reply.model
        if reply.stop_reason:
            attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [reply.stop_reason]
        usage = reply.usage
        if usage.input_tokens is not None:
            attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = usage.total_input_tokens
        if usage.output_tokens is not None:
            attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
        cache_read = usage.cache_read_input_tokens
        if cache_read is not None:
            attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
        cache_write = usage.cache_creation_input_tokens
        if cache_write is not None:
            attrs[
                sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS
                if latest
                else sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
            ] = cache_write
        reasoning = usage.reasoning_tokens
        if reasoning is not None:
            attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
        five = usage.cache_write_5m_tokens
        if five is not None:
            attrs[sc.PTC_USAGE_CACHE_WRITE_5M] = five
        hour = usage.cache_write_1h_tokens
        if hour is not None:
            attrs[sc.PTC_USAGE_CACHE_WRITE_1H] = hour
    if (
        sc.GEN_AI_RESPONSE_FINISH_REASONS not in attrs
        and (ex.outcome is Outcome.ERROR or ex.outcome is Outcome.INCOMPLETE)
        and ex.status_code is not None
        and 200 <= ex.status_code < 300
    ):
        # A response that began (2xx) and was cut or failed before its stop reason.
        attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = _ERROR_FINISH
    if ex.streamed:
        ttfc = ex.timings.time_to_first_token
        if ttfc is not None:
            attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ttfc
    return add_ptc_attributes(ex, attrs)


_ERROR_FINISH = (sc.FINISH_REASON_ERROR,)

# ISO strings of recent container expiries: a PTC run names the same expiry on every
# resume, and ``isoformat`` is the dearest value to compute. Bounded: cleared when full.
_ISO: dict[Any, str] = {}
_ISO_MAX = 1024


def _iso(when: Any) -> str:
    text = _ISO.get(when)
    if text is None:
        if len(_ISO) >= _ISO_MAX:
            _ISO.clear()
        text = _ISO[when] = when.isoformat()
    return text


def ptc_attributes(ex: Exchange) -> dict[str, Any]:
    """Our own facts: outcome, tool calls by caller, container, stream completeness."""
    return add_ptc_attributes(ex, {})


def add_ptc_attributes(ex: Exchange, attrs: dict[str, Any]) -> dict[str, Any]:
    """Add :func:`ptc_attributes` to ``attrs``; returns ``attrs``."""
    attrs[sc.PTC_OUTCOME] = ex.outcome.value
    reply = ex.reply
    if reply is not None:
        direct = programmatic = 0
        for use in reply.tool_uses:
            # ToolUse.is_programmatic, inlined (no property call per tool call).
            if use.caller_type != DIRECT and use.caller_tool_id is not None:
                programmatic += 1
            else:
                direct += 1
        attrs[sc.PTC_TOOL_CALLS_DIRECT] = direct
        attrs[sc.PTC_TOOL_CALLS_PROGRAMMATIC] = programmatic
        servers = reply.server_tool_uses
        if servers:
            direct = programmatic = 0
            for server in servers:
                if server.caller_type != DIRECT and server.caller_tool_id is not None:
                    programmatic += 1
                else:
                    direct += 1
            attrs[sc.PTC_SERVER_TOOL_CALLS_DIRECT] = direct
            attrs[sc.PTC_SERVER_TOOL_CALLS_PROGRAMMATIC] = programmatic
    sighting = ex.container
    if sighting is not None:
        attrs[sc.PTC_CONTAINER_ID] = sighting.id
        if sighting.expires_at is not None:
            attrs[sc.PTC_CONTAINER_EXPIRES_AT] = _iso(sighting.expires_at)
        attrs[sc.PTC_CONTAINER_REUSED] = sighting.reused
        if sighting.expired:
            attrs[sc.PTC_CONTAINER_EXPIRED] = True
    if ex.streamed:
        attrs[sc.PTC_STREAM_COMPLETE] = ex.complete
    cost = ex.cost
    if cost is not None:
        if cost.price_id is not None:
            attrs[sc.PTC_COST_USD] = cost.total
        else:
            attrs[sc.PTC_COST_UNPRICED_TOKENS] = cost.unpriced_tokens
    run = ex.run
    if run is not None:
        attrs[sc.PTC_RUN_MODE] = run.mode
    return attrs


def status(ex: Exchange) -> tuple[str, str | None] | None:
    """``(error.type, status description)`` of a failed exchange, else ``None``.

    OK and CLOSED_EARLY leave the status unset (closing early is the caller's choice);
    ``ptc.stream.complete`` / ``ptc.outcome`` say what happened.
    """
    outcome = ex.outcome
    if outcome is Outcome.ERROR:
        return ex.error_type or sc.ERROR_TYPE_OTHER, ex.error_message
    if outcome is Outcome.INCOMPLETE:
        return (
            ex.error_type or sc.ERROR_TYPE_INCOMPLETE,
            "the stream ended before message_stop",
        )
    return None
