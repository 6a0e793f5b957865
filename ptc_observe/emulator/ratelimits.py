"""Rate-limit headers (``ptc-wire-format.md`` §5.3), with remaining counts that go down.

The API reports ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}
-{limit,remaining,reset}``; token ``remaining`` values are rounded down to
thousands and ``reset`` is RFC 3339. The real limiter is a continuously
refilling bucket; the emulator uses fixed one-minute windows of the injected
clock, which keeps tests exact. Limits are only *enforced* (429 with
``retry-after`` until the window resets) when ``RateLimits.enforce`` is set.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from .clock import Clock, rfc3339_seconds

WINDOW = 60.0


@dataclass(frozen=True)
class RateLimits:
    """Per-minute limits of the emulated organization.

    Args:
        requests: requests per minute.
        input_tokens: input tokens per minute (fresh input plus cache writes).
        output_tokens: output tokens per minute.
        enforce: answer 429 once a limit is used up (otherwise only report).
    """

    requests: int = 4000
    input_tokens: int = 2_000_000
    output_tokens: int = 400_000
    enforce: bool = False


class RateLimiter:
    """Tracks usage per one-minute window and writes the headers; thread-safe.

    Args:
        limits: the limits.
        clock: the injected clock.
    """

    def __init__(self, limits: RateLimits, clock: Clock) -> None:
        self.limits = limits
        self._clock = clock
        self._window = -1.0
        self._used = {"requests": 0, "input": 0, "output": 0}
        self._lock = threading.Lock()

    def _roll(self, now: float) -> float:
        start = math.floor(now / WINDOW) * WINDOW
        if start != self._window:
            self._window = start
            self._used = {"requests": 0, "input": 0, "output": 0}
        return start + WINDOW

    def retry_after(self) -> float | None:
        """Seconds until the window resets if an enforced limit is used up, else ``None``."""
        if not self.limits.enforce:
            return None
        now = self._clock()
        with self._lock:
            reset = self._roll(now)
            exhausted = (
                self._used["requests"] >= self.limits.requests
                or self._used["input"] >= self.limits.input_tokens
                or self._used["output"] >= self.limits.output_tokens
            )
        return max(1.0, math.ceil(reset - now)) if exhausted else None

    def record(
        self, *, requests: int = 1, input_tokens: int = 0, output_tokens: int = 0
    ) -> None:
        """Charge one request and its tokens to the current window."""
        with self._lock:
            self._roll(self._clock())
            self._used["requests"] += requests
            self._used["input"] += input_tokens
            self._used["output"] += output_tokens

    def headers(self, *, input_exhausted: bool = False) -> list[tuple[str, str]]:
        """The ``anthropic-ratelimit-*`` headers for the current window."""
        now = self._clock()
        with self._lock:
            reset = rfc3339_seconds(self._roll(now))
            used = dict(self._used)
        lim = self.limits
        req_left = max(0, lim.requests - used["requests"])
        in_left = 0 if input_exhausted else max(0, lim.input_tokens - used["input"])
        out_left = max(0, lim.output_tokens - used["output"])
        rows = [
            ("requests", lim.requests, req_left),
            ("input-tokens", lim.input_tokens, _thousands(in_left)),
            ("output-tokens", lim.output_tokens, _thousands(out_left)),
            (
                "tokens",
                lim.input_tokens + lim.output_tokens,
                _thousands(in_left + out_left),
            ),
        ]
        headers: list[tuple[str, str]] = []
        for name, limit, left in rows:
            headers += [
                (f"anthropic-ratelimit-{name}-limit", str(limit)),
                (f"anthropic-ratelimit-{name}-remaining", str(left)),
                (f"anthropic-ratelimit-{name}-reset", reset),
            ]
        return headers


def _thousands(value: int) -> int:
    return (value // 1000) * 1000
