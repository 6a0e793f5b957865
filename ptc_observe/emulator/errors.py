"""Error envelopes shaped like the API's (``ptc-wire-format.md`` §5.1).

Every failure inside the emulator is raised as :class:`EmulatorError` and turned
into ``{"type": "error", "error": {"type", "message"}, "request_id"}`` with the
matching HTTP status by the request handler. ``reason`` is the emulator's own
finer label (e.g. ``container_expired``); it never reaches the wire but is
counted in the ledger so tests can tell apart errors that share a type.
"""

from __future__ import annotations

from typing import Any

# HTTP status -> the API's error type for that status.
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class EmulatorError(Exception):
    """A request the emulator answers with an API error.

    Args:
        status: HTTP status code.
        message: the ``error.message`` text.
        reason: a short label for the ledger (not sent on the wire).
        error_type: the ``error.type``; defaults to the type for ``status``.
        headers: extra response headers (e.g. ``retry-after``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        reason: str,
        error_type: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.error_type = error_type or ERROR_TYPES.get(status, "api_error")
        self.headers = list(headers or [])


def invalid_request(message: str, reason: str) -> EmulatorError:
    """A 400 ``invalid_request_error`` with ``message``."""
    return EmulatorError(400, message, reason=reason)


def error_body(error_type: str, message: str, request_id: str | None) -> dict[str, Any]:
    """The JSON body of an error response.

    Args:
        error_type: ``error.type``, e.g. ``overloaded_error``.
        message: ``error.message``.
        request_id: the ``req_…`` id, or ``None`` to omit it (mid-stream errors).
    """
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": error_type, "message": message},
    }
    if request_id is not None:
        body["request_id"] = request_id
    return body
