"""Typed errors and the retry policy, as pure functions."""

from __future__ import annotations

import random

import pytest

from ptc_observe.client._loop import RetryPolicy, is_container_error
from ptc_observe.client.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BillingError,
    GatewayTimeoutError,
    IncompleteStreamError,
    InternalServerError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    PTCError,
    RateLimitError,
    RequestTooLargeError,
    error_for,
)


class TestErrorFor:
    @pytest.mark.parametrize(
        "status, error_type, cls",
        [
            pytest.param(400, "invalid_request_error", BadRequestError, id="400"),
            pytest.param(401, "authentication_error", AuthenticationError, id="401"),
            pytest.param(402, "billing_error", BillingError, id="402"),
            pytest.param(403, "permission_error", PermissionDeniedError, id="403"),
            pytest.param(404, "not_found_error", NotFoundError, id="404"),
            pytest.param(413, "request_too_large", RequestTooLargeError, id="413"),
            pytest.param(429, "rate_limit_error", RateLimitError, id="429"),
            pytest.param(500, "api_error", InternalServerError, id="500"),
            pytest.param(504, "timeout_error", GatewayTimeoutError, id="504"),
            pytest.param(529, "overloaded_error", OverloadedError, id="529"),
        ],
    )
    def test_one_class_per_type_and_status(
        self, status: int, error_type: str, cls: type[APIStatusError]
    ) -> None:
        """Each documented error maps to its class by type, and by status when there is no body."""
        by_type = error_for(status_code=status, error_type=error_type, message="m")
        by_status = error_for(status_code=status, error_type=None, message="m")
        assert type(by_type) is cls and type(by_status) is cls
        assert by_status.type == error_type
        assert isinstance(by_type, PTCError)

    def test_type_wins_over_status(self) -> None:
        """invalid_request_error on a 409 is a BadRequestError that keeps status 409 (and is retryable by status)."""
        exc = error_for(
            status_code=409, error_type="invalid_request_error", message="conflict"
        )
        assert type(exc) is BadRequestError
        assert exc.status_code == 409 and exc.retryable

    def test_unknown_status_and_type(self) -> None:
        """An unknown status and type is a plain APIStatusError keeping both."""
        exc = error_for(
            status_code=418, error_type="teapot_error", message="short and stout"
        )
        assert type(exc) is APIStatusError
        assert (exc.status_code, exc.type) == (418, "teapot_error")
        assert not exc.retryable

    def test_in_stream_error(self) -> None:
        """A stream error is typed by its error type, keeps status 200 and in_stream."""
        exc = error_for(
            status_code=200,
            error_type="overloaded_error",
            message="Overloaded",
            in_stream=True,
        )
        assert type(exc) is OverloadedError and exc.in_stream and exc.status_code == 200
        assert exc.retryable
        assert str(exc) == "overloaded_error (in stream): Overloaded"

    def test_attributes_and_str(self) -> None:
        """The error carries status, type, message, request id, retry-after and headers."""
        exc = error_for(
            status_code=429,
            error_type="rate_limit_error",
            message="slow down",
            request_id="req_1",
            retry_after=17.0,
            headers={"retry-after": "17"},
        )
        assert (
            exc.status_code,
            exc.type,
            exc.message,
            exc.request_id,
            exc.retry_after,
        ) == (
            429,
            "rate_limit_error",
            "slow down",
            "req_1",
            17.0,
        )
        assert str(exc) == "rate_limit_error (429, request_id=req_1): slow down"

    @pytest.mark.parametrize(
        "status, should, expected",
        [
            pytest.param(400, "true", True, id="400-forced"),
            pytest.param(529, "false", False, id="529-refused"),
            pytest.param(408, None, True, id="408"),
            pytest.param(409, None, True, id="409"),
            pytest.param(503, None, True, id="503"),
            pytest.param(403, None, False, id="403"),
        ],
    )
    def test_retryable(self, status: int, should: str | None, expected: bool) -> None:
        """x-should-retry decides when present; else 408, 409, 429 and 5xx are retryable."""
        headers = {"x-should-retry": should} if should else {}
        exc = error_for(
            status_code=status, error_type=None, message="m", headers=headers
        )
        assert exc.retryable is expected


class TestRetryPolicy:
    def test_backoff_doubles_and_caps(self) -> None:
        """0.5, 1, 2, 4, 8, 8 s times a jitter factor in [0.75, 1]."""
        policy = RetryPolicy(max_retries=10)
        rng = random.Random(1)
        delays = [
            policy.delay(
                n, OverloadedError("x", status_code=529, type="overloaded_error"), rng
            )
            for n in range(6)
        ]
        bases = [0.5, 1, 2, 4, 8, 8]
        for delay, base in zip(delays, bases, strict=True):
            assert delay is not None and 0.75 * base <= delay <= base

    def test_jitter_comes_from_the_rng(self) -> None:
        """The same seed gives the same delays."""
        policy = RetryPolicy()
        error = APIConnectionError("reset")
        assert policy.delay(0, error, random.Random(5)) == policy.delay(
            0, error, random.Random(5)
        )

    def test_retry_after(self) -> None:
        """retry-after is used as is up to max_retry_after; beyond it the error is not retried."""
        policy = RetryPolicy(max_retry_after=30)
        rng = random.Random(0)

        def limited(seconds: float) -> RateLimitError:
            return RateLimitError(
                "x", status_code=429, type="rate_limit_error", retry_after=seconds
            )

        assert policy.delay(0, limited(12.5), rng) == 12.5
        assert policy.delay(0, limited(31), rng) is None
        zero = policy.delay(0, limited(0), rng)  # 0 means "now": fall back to backoff
        assert zero is not None and zero <= 0.5

    def test_what_is_retried(self) -> None:
        """Connection failures, timeouts and cut streams retry; client errors and non-retryable failures do not."""
        policy = RetryPolicy()
        rng = random.Random(0)
        assert policy.delay(0, APITimeoutError("t"), rng) is not None
        assert policy.delay(0, IncompleteStreamError("cut"), rng) is not None
        assert (
            policy.delay(0, APIConnectionError("decode", retryable=False), rng) is None
        )
        assert (
            policy.delay(
                0,
                BadRequestError("b", status_code=400, type="invalid_request_error"),
                rng,
            )
            is None
        )
        assert policy.delay(0, ValueError("not ours"), rng) is None

    def test_retries_are_bounded(self) -> None:
        """No delay once max_retries retries happened."""
        policy = RetryPolicy(max_retries=2)
        error = APITimeoutError("t")
        assert policy.delay(1, error, random.Random(0)) is not None
        assert policy.delay(2, error, random.Random(0)) is None

    def test_invalid_policies(self) -> None:
        """Negative retries and an inverted jitter range are refused."""
        with pytest.raises(ValueError):
            RetryPolicy(max_retries=-1)
        with pytest.raises(ValueError):
            RetryPolicy(jitter=(1.0, 0.5))


class TestContainerError:
    def test_only_with_a_container(self) -> None:
        """Without a container id in the request nothing counts as a container error."""
        exc = error_for(
            status_code=400,
            error_type="invalid_request_error",
            message="container expired",
        )
        assert is_container_error(exc, "container_1")
        assert not is_container_error(exc, None)

    @pytest.mark.parametrize(
        "status, error_type, message, expected",
        [
            pytest.param(
                400,
                "invalid_request_error",
                "container: `c` has expired",
                True,
                id="expired",
            ),
            pytest.param(
                404, "not_found_error", "container: `c` not found", True, id="unknown"
            ),
            pytest.param(
                500, "api_error", "Internal server error", True, id="untyped-500"
            ),
            pytest.param(
                400, "invalid_request_error", "messages.1: bad", False, id="other-400"
            ),
            pytest.param(529, "overloaded_error", "Overloaded", False, id="overloaded"),
        ],
    )
    def test_classification(
        self, status: int, error_type: str, message: str, expected: bool
    ) -> None:
        """Expired (400) and unknown (404) containers, and a persistent 500, are container errors."""
        exc = error_for(status_code=status, error_type=error_type, message=message)
        assert is_container_error(exc, "c") is expected

    def test_stream_errors_are_not_container_errors(self) -> None:
        """An api_error inside a stream says nothing about the container."""
        exc = error_for(
            status_code=200, error_type="api_error", message="boom", in_stream=True
        )
        assert not is_container_error(exc, "c")
