"""The :class:`Emulator`: a sans-IO ``POST /v1/messages`` that behaves like the API.

``Emulator.handle(method, target, headers, body)`` returns an
:class:`~ptc_observe.emulator.responses.EmulatorResponse` (status, headers, body
or SSE events, delays); :mod:`.mock` serves it through ``MockTransport`` and
:mod:`.server` over loopback HTTP. Everything is deterministic for a seed and
a request sequence, except ``expires_at`` and rate-limit resets, which follow
the injected clock::

    emulator = Emulator(seed=7, clock=ManualClock())
    client = anthropic.Anthropic(
        api_key="test", http_client=httpx2.Client(transport=emulator.mock_transport(httpx2))
    )
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import TYPE_CHECKING, Any

from .clock import Clock
from .containers import (
    DEFAULT_MAX_AGE,
    DEFAULT_TOOL_RESULT_TIMEOUT,
    DEFAULT_TTL,
    ContainerStore,
)
from .errors import EmulatorError, invalid_request
from .faults import STATUS_FAULTS, FaultInjector, FaultRule, Latency, rules_from_headers
from .frames import error_frame, fault_cut_point, message_frames, pad_data_line
from .ids import IdFactory
from .ledger import Ledger
from .messages import MessagesEndpoint
from .ratelimits import RateLimiter, RateLimits
from .responses import EmulatorResponse, error_response, json_response
from .scenarios import Scenario, builtin_scenarios, load_scenario
from .tokens import DEFAULT_CACHE_MIN_TOKENS, PromptCache

if TYPE_CHECKING:
    from types import ModuleType

    from .mock import AsyncMockHandler, SyncMockHandler

MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_ORGANIZATION_ID = "5d9e2b1c-0000-4000-8000-000000000000"
_NO_LATENCY = Latency()
_DEFAULT_LIMITS = RateLimits()


@dataclass(frozen=True)
class RequestRecord:
    """One request as the emulator saw it (kept in :attr:`Emulator.log`).

    Attributes:
        index: 1-based arrival number.
        method, path: the request line (path without the query).
        status, outcome, reason: what was answered (see :class:`~.ledger.Ledger`).
        stream: whether a stream was requested.
        retry_count: the SDK's ``x-stainless-retry-count`` header, if sent.
        received_at: ``time.monotonic()`` on arrival (real time, for retry spacing).
        request_id: the ``req_…`` id sent back.
        body: the parsed JSON body, or ``None``.
    """

    index: int
    method: str
    path: str
    status: int
    outcome: str
    reason: str | None
    stream: bool
    retry_count: int | None
    received_at: float
    request_id: str
    body: Any


class Emulator:
    """A faithful local Claude Messages API, deterministic for a seed.

    Args:
        seed: seeds ids, chunk sizes, parallel-call order and fault dice.
        scenarios: scenarios (objects or file paths) tried first, in order.
        builtin_scenarios: also try the shipped scenarios (after ``scenarios``).
        clock: the time source (epoch seconds); default :func:`time.time`.
        container_ttl: idle lifetime of a container in seconds (rolling).
        container_max_age: hard lifetime of a container in seconds (30 days).
        tool_result_timeout: seconds a paused programmatic call waits before
            the code sees ``TimeoutError`` (~270 s in the docs).
        expired_container_error: ``"invalid_request"`` (400, default) or
            ``"api_error"`` (the untyped 500 observed in the wild).
        continuation_stream: shape of streamed PTC continuations:
            ``"prepopulated"`` (as recorded) or ``"blocks"``.
        final_container: ``container`` in the response that carries the code
            result and ends the run: ``"absent"`` (as recorded), ``"null"`` or ``"object"``.
        faults: fault rules applied to every request (after header and scenario rules).
        latency: default time to first token and per-token delay.
        rate_limits: limits reported in headers (and enforced if asked).
        cache_min_tokens: shortest cacheable prompt prefix.
        organization_id: value of ``anthropic-organization-id``.
        log_size: how many :class:`RequestRecord` to keep (each holds the parsed body).
        pad_data_lines: pad each SSE ``data:`` line with 1-8 trailing spaces, as
            recorded streams are (seeded per response).
        sub_tools: before a final answer the model may check something with the bash
            and text-editor sub-tools of a declared ``code_execution_20250825`` or
            later tool (``bash_code_execution`` / ``text_editor_code_execution``
            blocks, answered in the same response; seeded per task).
        null_usage_every: send every Nth sampled non-streamed message with
            ``usage: null``; 0 never. (Streams never get it: the SDK's
            ``messages.stream()`` fails on a ``message_start`` without usage.)
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        scenarios: Sequence[Scenario | str | PathLike[str]] = (),
        builtin_scenarios: bool = True,
        clock: Clock | None = None,
        container_ttl: float = DEFAULT_TTL,
        container_max_age: float = DEFAULT_MAX_AGE,
        tool_result_timeout: float = DEFAULT_TOOL_RESULT_TIMEOUT,
        expired_container_error: str = "invalid_request",
        continuation_stream: str = "prepopulated",
        final_container: str = "absent",
        faults: Sequence[FaultRule] = (),
        latency: Latency = _NO_LATENCY,
        rate_limits: RateLimits = _DEFAULT_LIMITS,
        cache_min_tokens: int = DEFAULT_CACHE_MIN_TOKENS,
        organization_id: str = DEFAULT_ORGANIZATION_ID,
        log_size: int = 1000,
        pad_data_lines: bool = False,
        null_usage_every: int = 0,
        sub_tools: bool = False,
    ) -> None:
        _check_choice(
            "expired_container_error",
            expired_container_error,
            ("invalid_request", "api_error"),
        )
        _check_choice(
            "continuation_stream", continuation_stream, ("prepopulated", "blocks")
        )
        _check_choice("final_container", final_container, ("absent", "null", "object"))
        self.seed = seed
        self.clock: Clock = clock or time.time
        self.scenarios: list[Scenario] = [
            s if isinstance(s, Scenario) else load_scenario(s) for s in scenarios
        ]
        if builtin_scenarios:
            self.scenarios += _builtins()
        self.faults = list(faults)
        self.latency = latency
        self.organization_id = organization_id
        self.ledger = Ledger()
        self.log: deque[RequestRecord] = deque(maxlen=log_size)
        self._ids = IdFactory(seed)
        self.containers = ContainerStore(
            self._ids, self.clock, ttl=container_ttl, max_age=container_max_age
        )
        self.rate_limiter = RateLimiter(rate_limits, self.clock)
        self._injector = FaultInjector(seed)
        self._lock = threading.Lock()
        self._count = 0
        self._messages = MessagesEndpoint(
            ids=self._ids,
            seed=seed,
            clock=self.clock,
            ledger=self.ledger,
            containers=self.containers,
            cache=PromptCache(self.clock, min_tokens=cache_min_tokens),
            rate_limiter=self.rate_limiter,
            tool_result_timeout=tool_result_timeout,
            expired_container_status=400
            if expired_container_error == "invalid_request"
            else 500,
            final_container=final_container,
            null_usage_every=null_usage_every,
            sub_tools=sub_tools,
        )
        self.continuation_stream = continuation_stream
        self.pad_data_lines = pad_data_lines

    def handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | Sequence[tuple[str, str]],
        body: bytes,
    ) -> EmulatorResponse:
        """Answer one HTTP request (sans-IO).

        Args:
            method: ``GET``, ``POST``, ...
            target: path with optional query, e.g. ``/v1/messages?beta=true``.
            headers: request headers (any case).
            body: the raw request body.
        """
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        lowered = {k.lower(): v for k, v in pairs}
        path = target.split("?", 1)[0]
        if path.startswith("/_emulator/"):
            return self._admin(method, path)
        with self._lock:
            return self._handle_api(method.upper(), path, lowered, body)

    def _handle_api(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> EmulatorResponse:
        self._count += 1
        self.ledger.record_request()
        received = time.monotonic()
        request_id = self._ids.request()
        parsed: Any = None
        stream = False
        try:
            if method != "POST" or path not in (
                "/v1/messages",
                "/v1/messages/count_tokens",
            ):
                raise EmulatorError(404, "Not Found", reason="unknown_endpoint")
            self._check_auth(headers)
            version = headers.get("anthropic-version")
            if not version:
                raise invalid_request(
                    "anthropic-version: header is required", "missing_version"
                )
            if len(raw) > MAX_BODY_BYTES:
                raise EmulatorError(
                    413,
                    "Request exceeds the maximum allowed number of bytes.",
                    reason="too_large",
                )
            try:
                parsed = json.loads(raw or b"null")
            except ValueError as exc:
                raise invalid_request(
                    f"There was an error parsing the body of your request: {exc}",
                    "bad_json",
                ) from exc
            stream = isinstance(parsed, dict) and bool(parsed.get("stream"))
            if path == "/v1/messages/count_tokens":
                response = self._messages.count_tokens(
                    parsed, request_id, self._base_headers()
                )
                outcome, reason, status = "count_tokens", None, 200
            else:
                response, outcome = self._create(
                    parsed, raw, headers, version, request_id
                )
                reason, status = None, response.status
            self.ledger.record_response(status, outcome)
        except EmulatorError as error:
            response = error_response(
                error, request_id, self._error_headers(error.status)
            )
            outcome, reason, status = error.error_type, error.reason, error.status
            self.ledger.record_response(status, outcome, reason)
        retry = headers.get("x-stainless-retry-count")
        self.log.append(
            RequestRecord(
                index=self._count,
                method=method,
                path=path,
                status=status,
                outcome=outcome,
                reason=reason,
                stream=stream,
                retry_count=int(retry) if retry and retry.isdigit() else None,
                received_at=received,
                request_id=request_id,
                body=parsed,
            )
        )
        return response

    def _create(
        self,
        parsed: Any,
        raw: bytes,
        headers: dict[str, str],
        version: str,
        request_id: str,
    ) -> tuple[EmulatorResponse, str]:
        view = self._messages.validate(parsed, version)
        scenario = self._select_scenario(view, headers)
        header_rules, header_latency, fault_key = rules_from_headers(headers)
        latency = header_latency or scenario.latency or self.latency
        retry_after = self.rate_limiter.retry_after()
        if retry_after is not None:
            raise self._rate_limited(retry_after, "rate_limit_enforced")
        key = fault_key or hashlib.sha256(raw).hexdigest()
        rules = [*header_rules, *scenario.faults, *self.faults]
        fault = self._injector.pick(
            rules, key=key, round_trip=view.round_trip, stream=view.stream
        )
        if fault is not None and fault.kind == "rate_limit":
            raise self._rate_limited(fault.retry_after, "fault_rate_limit")
        if fault is not None and fault.kind in STATUS_FAULTS:
            message = (
                "Overloaded" if fault.kind == "overloaded" else "Internal server error"
            )
            raise EmulatorError(
                STATUS_FAULTS[fault.kind], message, reason=f"fault_{fault.kind}"
            )
        faulted = fault is not None
        result = self._messages.create(view, scenario, commit=not faulted)
        headers_out = [("request-id", request_id), *self._base_headers()]
        shape = headers.get("x-emulator-continuation", self.continuation_stream)
        if not view.stream:
            response = json_response(200, result.body, headers_out)
            response.delay = latency.ttft + latency.per_token * result.output_tokens
            if fault is not None:  # only stream_cut applies to a non-streamed body
                response.cut_at, response.end = len(response.body) // 2, "drop"
                return response, "stream_cut"
            return response, str(result.body["stop_reason"])
        rng = random.Random(f"{self.seed}:frames:{result.body['id']}")
        frames = message_frames(
            result.body,
            result.whole,
            rng=rng,
            start_usage=result.start_usage,
            delta_usage=result.delta_usage,
            shape="blocks"
            if result.sampled or shape != "prepopulated"
            else "prepopulated",
        )
        if self.pad_data_lines:
            frames = [pad_data_line(f, rng.randint(1, 8)) for f in frames]
        response = EmulatorResponse(
            200,
            [
                ("content-type", "text/event-stream; charset=utf-8"),
                ("cache-control", "no-cache"),
                *headers_out,
            ],
            frames=frames,
            delay=latency.ttft,
            per_token=latency.per_token,
        )
        if fault is None:
            return response, str(result.body["stop_reason"])
        cut = fault_cut_point(frames, fault.after_frames)
        assert response.frames is not None
        response.frames = frames[:cut]
        if cut:
            # message_start went out: its usage is what the client saw (and what the API
            # bills for a stream cut short), so the ledger's spend counts it too.
            self.ledger.record_partial_usage(view.model, result.start_usage)
        if fault.kind == "stream_error":
            response.frames.append(error_frame())
            return response, "stream_error"
        response.end = "drop" if fault.kind == "stream_cut" else "truncate"
        return (
            response,
            "stream_cut" if fault.kind == "stream_cut" else "stream_truncated",
        )

    def _select_scenario(self, view: Any, headers: Mapping[str, str]) -> Scenario:
        wanted = headers.get("x-emulator-scenario")
        if wanted:
            for scenario in self.scenarios:
                if scenario.name == wanted:
                    return scenario
            raise invalid_request(
                f"x-emulator-scenario: unknown scenario `{wanted}`", "emulator_header"
            )
        return self._messages.policy.scenario_for(view, self.scenarios)

    def _rate_limited(self, retry_after: float, reason: str) -> EmulatorError:
        seconds = f"{retry_after:g}"
        return EmulatorError(
            429,
            "This request would exceed your account's rate limit. Please try again later.",
            reason=reason,
            headers=[
                ("retry-after", seconds),
                *self.rate_limiter.headers(input_exhausted=True),
            ],
        )

    def _check_auth(self, headers: Mapping[str, str]) -> None:
        key = headers.get("x-api-key", "").strip()
        bearer = headers.get("authorization", "")
        token = bearer[7:].strip() if bearer.lower().startswith("bearer ") else ""
        if not key and not token:
            raise EmulatorError(
                401, "x-api-key header is required", reason="missing_auth"
            )

    def _base_headers(self) -> list[tuple[str, str]]:
        return [
            ("anthropic-organization-id", self.organization_id),
            *self.rate_limiter.headers(),
        ]

    def _error_headers(self, status: int) -> list[tuple[str, str]]:
        if status in (400, 404, 413, 429):  # a 429 adds its own rate-limit headers
            return [("anthropic-organization-id", self.organization_id)]
        return []  # 401, 500 and 529 carry only request-id and content-type

    def _admin(self, method: str, path: str) -> EmulatorResponse:
        if method.upper() == "GET" and path == "/_emulator/stats":
            return json_response(200, self.stats(), [])
        if method.upper() == "POST" and path == "/_emulator/reset":
            self.ledger.reset()
            return json_response(200, {"ok": True}, [])
        return json_response(
            404,
            {
                "type": "error",
                "error": {"type": "not_found_error", "message": "Not Found"},
            },
            [],
        )

    def stats(self) -> dict[str, Any]:
        """The ledger snapshot plus ``live_containers`` (what ``GET /_emulator/stats`` returns)."""
        return {
            **self.ledger.snapshot(),
            "live_containers": len(self.containers.live()),
        }

    def mock_transport(self, httpx_module: ModuleType | None = None) -> Any:
        """A ``MockTransport`` for a *sync* client of ``httpx_module`` (default ``httpx2``)."""
        from .mock import mock_transport

        return mock_transport(self, httpx_module)

    def async_mock_transport(self, httpx_module: ModuleType | None = None) -> Any:
        """A ``MockTransport`` for an *async* client of ``httpx_module`` (default ``httpx2``)."""
        from .mock import async_mock_transport

        return async_mock_transport(self, httpx_module)

    def sync_handler(self, httpx_module: ModuleType | None = None) -> SyncMockHandler:
        """The sync request handler behind :meth:`mock_transport`."""
        from .mock import SyncMockHandler

        return SyncMockHandler(self, httpx_module)

    def async_handler(self, httpx_module: ModuleType | None = None) -> AsyncMockHandler:
        """The async request handler behind :meth:`async_mock_transport`."""
        from .mock import AsyncMockHandler

        return AsyncMockHandler(self, httpx_module)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, not {value!r}")


_BUILTINS: list[Scenario] | None = None


def _builtins() -> list[Scenario]:
    global _BUILTINS
    if _BUILTINS is None:  # parsed once per process; scenarios are immutable
        _BUILTINS = builtin_scenarios()
    return list(_BUILTINS)
