"""Sans-IO wire layer: Messages API bodies, SSE streams and content encodings.

Pure functions and small incremental classes; no HTTP library, no OpenTelemetry, no
Prometheus. Every parse failure is a :class:`WireError`.
"""

from __future__ import annotations

from .accumulate import BATCH_BYTES, StreamAccumulator, accumulate, iter_events
from .decoding import MAX_DECODED_CHUNK, ContentDecoder
from .messages import (
    RATE_LIMIT_RESOURCES,
    StreamError,
    WireError,
    parse_error,
    parse_event,
    parse_message,
    parse_rate_limits,
    parse_reply,
    parse_request,
    parse_retry_after,
)
from .sse import MAX_EVENT_BYTES, ServerSentEvent, SSEDecoder

__all__ = [
    "BATCH_BYTES",
    "MAX_DECODED_CHUNK",
    "MAX_EVENT_BYTES",
    "RATE_LIMIT_RESOURCES",
    "ContentDecoder",
    "SSEDecoder",
    "ServerSentEvent",
    "StreamAccumulator",
    "StreamError",
    "WireError",
    "accumulate",
    "iter_events",
    "parse_error",
    "parse_event",
    "parse_message",
    "parse_rate_limits",
    "parse_reply",
    "parse_request",
    "parse_retry_after",
]
