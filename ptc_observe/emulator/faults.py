"""Faults and latency on demand.

A :class:`FaultRule` says what goes wrong: an HTTP error before any work
(``rate_limit`` 429, ``overloaded`` 529, ``server_error`` 500), or a stream that
fails after HTTP 200 (``stream_error``: a mid-stream ``event: error``;
``stream_cut``: the connection drops without ``message_stop``;
``stream_truncate``: the body ends cleanly without ``message_stop``). Rules come
from the :class:`~ptc_observe.emulator.Emulator` constructor, from a scenario,
or per request from ``x-emulator-*`` headers (see :func:`rules_from_headers`).

``count`` limits how often one *request* gets the fault: requests are told
apart by a key (the body hash unless ``x-emulator-fault-key`` is given), so an
SDK retry of the same request succeeds once the count is used up.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import invalid_request

STATUS_FAULTS: dict[str, int] = {
    "rate_limit": 429,
    "overloaded": 529,
    "server_error": 500,
}
STREAM_FAULTS = frozenset({"stream_error", "stream_cut", "stream_truncate"})
FAULT_KINDS = frozenset(STATUS_FAULTS) | STREAM_FAULTS


@dataclass(frozen=True)
class FaultRule:
    """One fault to inject.

    Args:
        kind: one of ``rate_limit``, ``overloaded``, ``server_error``,
            ``stream_error``, ``stream_cut``, ``stream_truncate``.
        count: how many times the same request gets it (``None``: every time).
        probability: chance of firing when otherwise eligible (seeded dice).
        round_trip: only on this round trip of a task loop (1 = the request that
            carries the user's prompt, 2 = the first request with tool results, ...).
        after_frames: stream faults: SSE events sent before the fault
            (default: half the events, always before ``message_delta``).
        retry_after: seconds in the ``retry-after`` header of a 429.

    Raises:
        ValueError: on an unknown kind or an out-of-range value.
    """

    kind: str
    count: int | None = None
    probability: float = 1.0
    round_trip: int | None = None
    after_frames: int | None = None
    retry_after: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}"
            )
        if self.count is not None and self.count < 0:
            raise ValueError("fault count must be >= 0")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("fault probability must be within [0, 1]")
        if self.round_trip is not None and self.round_trip < 1:
            raise ValueError("round_trip is 1-based")
        if self.after_frames is not None and self.after_frames < 0:
            raise ValueError("after_frames must be >= 0")
        if self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from scenario data (keys as the constructor's arguments)."""
        known = {
            "kind",
            "count",
            "probability",
            "round_trip",
            "after_frames",
            "retry_after",
        }
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}")
        return cls(**dict(data))


@dataclass(frozen=True)
class Latency:
    """Timing of responses.

    Args:
        ttft: seconds before the response headers (and ``message_start``) are sent.
        per_token: seconds per output token, spent before each streamed delta
            (non-streaming responses wait for all of them before the headers).
    """

    ttft: float = 0.0
    per_token: float = 0.0

    def __post_init__(self) -> None:
        if self.ttft < 0 or self.per_token < 0:
            raise ValueError("latencies must be >= 0")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Latency:
        """Build from ``{"ttft": s, "per_token": s}``."""
        return cls(
            ttft=float(data.get("ttft", 0.0)),
            per_token=float(data.get("per_token", 0.0)),
        )


class FaultInjector:
    """Decides which rule, if any, fires for a request; thread-safe.

    Args:
        seed: seed of the dice used by ``probability``.
    """

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(f"faults:{seed}")
        self._used: Counter[tuple[FaultRule, str]] = Counter()
        self._lock = threading.Lock()

    def pick(
        self, rules: Sequence[FaultRule], *, key: str, round_trip: int, stream: bool
    ) -> FaultRule | None:
        """Return the first eligible rule that fires, counting its use.

        Args:
            rules: candidate rules, in priority order.
            key: identifies "the same request" for ``count``.
            round_trip: this request's round trip in its task loop.
            stream: whether the request streams (stream faults other than
                ``stream_cut`` only apply to streams).
        """
        with self._lock:
            for rule in rules:
                if rule.round_trip is not None and rule.round_trip != round_trip:
                    continue
                if (
                    rule.kind in STREAM_FAULTS
                    and rule.kind != "stream_cut"
                    and not stream
                ):
                    continue
                if rule.count is not None and self._used[(rule, key)] >= rule.count:
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                if len(self._used) >= 100_000:
                    self._used.clear()  # bounded memory; only very long runs with many keys lose counts
                self._used[(rule, key)] += 1
                return rule
        return None


def rules_from_headers(
    headers: Mapping[str, str],
) -> tuple[list[FaultRule], Latency | None, str | None]:
    """Read per-request fault and latency headers.

    Headers: ``x-emulator-fault`` (a kind, or several comma-separated),
    ``x-emulator-fault-count``, ``x-emulator-fault-probability``,
    ``x-emulator-fault-after`` (stream events before the fault),
    ``x-emulator-fault-round-trip``, ``x-emulator-retry-after`` (seconds),
    ``x-emulator-fault-key``, ``x-emulator-ttft`` and ``x-emulator-token-delay``
    (seconds).

    Returns:
        The rules, the latency override (or ``None``) and the fault key (or ``None``).

    Raises:
        EmulatorError: 400 on a malformed header value.
    """
    try:
        rules: list[FaultRule] = []
        kinds = headers.get("x-emulator-fault")
        if kinds:
            count = headers.get("x-emulator-fault-count")
            after = headers.get("x-emulator-fault-after")
            round_trip = headers.get("x-emulator-fault-round-trip")
            for kind in (k.strip() for k in kinds.split(",")):
                rules.append(
                    FaultRule(
                        kind=kind,
                        count=int(count) if count is not None else None,
                        probability=float(
                            headers.get("x-emulator-fault-probability", "1")
                        ),
                        round_trip=int(round_trip) if round_trip is not None else None,
                        after_frames=int(after) if after is not None else None,
                        retry_after=float(headers.get("x-emulator-retry-after", "1")),
                    )
                )
        latency = None
        if "x-emulator-ttft" in headers or "x-emulator-token-delay" in headers:
            latency = Latency(
                ttft=float(headers.get("x-emulator-ttft", "0")),
                per_token=float(headers.get("x-emulator-token-delay", "0")),
            )
    except ValueError as exc:
        raise invalid_request(f"x-emulator headers: {exc}", "emulator_header") from exc
    return rules, latency, headers.get("x-emulator-fault-key")
