"""Typed errors of the PTC client.

Every exception the client raises on purpose derives from :class:`PTCError`:

- :class:`APIStatusError` and one subclass per API error type (``rate_limit_error`` →
  :class:`RateLimitError`, …): an error response, or an ``error`` event in the middle of
  a stream (then ``status_code`` is the stream's HTTP status, 200, and ``in_stream`` is
  true). Each carries ``status_code``, ``type``, ``message``, ``request_id`` and
  ``retry_after``.
- :class:`APIConnectionError` (and :class:`APITimeoutError`): no response, or the
  connection broke while the body was read.
- :class:`IncompleteStreamError`: a stream ended cleanly but without ``message_stop``.
- :class:`RunLimitExceeded`: the tool loop ran out of rounds.

The error type wins over the status when both are known, because the API also uses
``invalid_request_error`` for 4xx statuses that have no type of their own (wire
reference §5.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._results import RunResult

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BillingError",
    "GatewayTimeoutError",
    "IncompleteStreamError",
    "InternalServerError",
    "NotFoundError",
    "OverloadedError",
    "PTCError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "RunLimitExceeded",
    "error_for",
]


class PTCError(Exception):
    """Base of every error the PTC client raises."""


class APIConnectionError(PTCError):
    """The request got no (complete) response: connection refused, reset or dropped.

    Args:
        message: What happened.
        retryable: Whether sending again may succeed.
    """

    retryable: bool

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, read, write or pool)."""


class IncompleteStreamError(PTCError):
    """A stream ended without ``message_stop``: the message is not complete.

    Args:
        message: What happened.
        request_id: The ``request-id`` response header, when known.
    """

    retryable = True

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id


class APIStatusError(PTCError):
    """The API answered with an error (status ≥ 400, or an ``error`` stream event).

    Attributes:
        status_code: HTTP status (200 for an error inside a stream).
        type: The API's ``error.type`` (``overloaded_error``, …).
        message: The API's ``error.message``.
        request_id: ``request_id`` of the body, else the ``request-id`` header.
        retry_after: Seconds the server asked to wait (``retry-after-ms`` /
            ``retry-after``), or ``None``.
        in_stream: The error arrived as an ``error`` event after HTTP 200.
        headers: The response headers (lower-case names).
        body: The parsed error body, when there was one.
    """

    status: int | None = None
    """The status this class stands for (``None``: any)."""
    error_type: str | None = None
    """The API error type this class stands for (``None``: any)."""
    retryable_by_default = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        type: str,
        request_id: str | None = None,
        retry_after: float | None = None,
        in_stream: bool = False,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.type = type
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after
        self.in_stream = in_stream
        self.headers: Mapping[str, str] = dict(headers or {})
        self.body = body

    @property
    def retryable(self) -> bool:
        """Whether sending the same request again may succeed.

        An ``x-should-retry`` header decides when present; otherwise 408, 409, 429 and
        5xx statuses (and the matching error types in a stream) are retryable.
        """
        should = self.headers.get("x-should-retry")
        if should == "true":
            return True
        if should == "false":
            return False
        if self.retryable_by_default:
            return True
        return self.status_code in (408, 409, 429) or self.status_code >= 500

    def __str__(self) -> str:
        where = "in stream" if self.in_stream else str(self.status_code)
        rid = f", request_id={self.request_id}" if self.request_id else ""
        return f"{self.type} ({where}{rid}): {self.message}"


class BadRequestError(APIStatusError):
    """400 ``invalid_request_error``: the request is malformed or breaks a rule."""

    status, error_type = 400, "invalid_request_error"


class AuthenticationError(APIStatusError):
    """401 ``authentication_error``: missing or invalid API key."""

    status, error_type = 401, "authentication_error"


class BillingError(APIStatusError):
    """402 ``billing_error``: a billing or payment problem."""

    status, error_type = 402, "billing_error"


class PermissionDeniedError(APIStatusError):
    """403 ``permission_error``: the key may not use this resource."""

    status, error_type = 403, "permission_error"


class NotFoundError(APIStatusError):
    """404 ``not_found_error``: unknown resource (also: a container id never seen)."""

    status, error_type = 404, "not_found_error"


class RequestTooLargeError(APIStatusError):
    """413 ``request_too_large``: the body is over the Messages API limit."""

    status, error_type = 413, "request_too_large"


class RateLimitError(APIStatusError):
    """429 ``rate_limit_error``: wait ``retry_after`` seconds and try again."""

    status, error_type = 429, "rate_limit_error"
    retryable_by_default = True


class InternalServerError(APIStatusError):
    """500 ``api_error``: an unexpected error on the API's side."""

    status, error_type = 500, "api_error"
    retryable_by_default = True


class GatewayTimeoutError(APIStatusError):
    """504 ``timeout_error``: the API timed out while processing."""

    status, error_type = 504, "timeout_error"
    retryable_by_default = True


class OverloadedError(APIStatusError):
    """529 ``overloaded_error``: the API is temporarily overloaded."""

    status, error_type = 529, "overloaded_error"
    retryable_by_default = True


_CLASSES: tuple[type[APIStatusError], ...] = (
    BadRequestError,
    AuthenticationError,
    BillingError,
    PermissionDeniedError,
    NotFoundError,
    RequestTooLargeError,
    RateLimitError,
    InternalServerError,
    GatewayTimeoutError,
    OverloadedError,
)
_BY_TYPE = {cls.error_type: cls for cls in _CLASSES}
_BY_STATUS = {cls.status: cls for cls in _CLASSES}


def error_for(
    *,
    status_code: int,
    error_type: str | None,
    message: str,
    request_id: str | None = None,
    retry_after: float | None = None,
    in_stream: bool = False,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
) -> APIStatusError:
    """Build the typed exception for an API error.

    Args:
        status_code: HTTP status of the response (200 for stream errors).
        error_type: ``error.type`` of the body or event, if any.
        message: ``error.message`` (or a description when there was no body).
        request_id: From the body or the ``request-id`` header.
        retry_after: Seconds to wait, from the headers.
        in_stream: The error came as an ``error`` event.
        headers: Response headers.
        body: Parsed body.

    Returns:
        An instance of the class for the error type, else for the status, else
        :class:`APIStatusError`.
    """
    cls = _BY_TYPE.get(error_type or "") or (
        None if in_stream else _BY_STATUS.get(status_code)
    )
    if error_type is None:
        error_type = (
            cls.error_type if cls is not None and cls.error_type else "api_error"
        )
    return (cls or APIStatusError)(
        message,
        status_code=status_code,
        type=error_type,
        request_id=request_id,
        retry_after=retry_after,
        in_stream=in_stream,
        headers=headers,
        body=body,
    )


class RunLimitExceeded(PTCError):
    """The tool loop used all its rounds before the model finished.

    Attributes:
        result: What the run got so far (the last message, history, summary).
    """

    def __init__(self, message: str, result: RunResult) -> None:
        super().__init__(message)
        self.result = result
