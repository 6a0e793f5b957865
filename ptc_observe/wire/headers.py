"""Response headers of the Messages API: rate limits and how long to wait before retrying.

Header names are looked up in lower case; unreadable values read as ``None`` and never
raise.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import timezone
from email.utils import parsedate_to_datetime

from ..events import RateLimit

__all__ = ["RATE_LIMIT_RESOURCES", "parse_rate_limits", "parse_retry_after"]


RATE_LIMIT_RESOURCES = {
    "requests": "anthropic-ratelimit-requests",
    "tokens": "anthropic-ratelimit-tokens",
    "input_tokens": "anthropic-ratelimit-input-tokens",
    "output_tokens": "anthropic-ratelimit-output-tokens",
    "priority_input_tokens": "anthropic-priority-input-tokens",
    "priority_output_tokens": "anthropic-priority-output-tokens",
}
"""``RateLimit.resource`` names and the header prefix each one is read from."""

# The three full header names of each resource, built once rather than per response.
_TRIPLETS = tuple(
    (resource, f"{prefix}-limit", f"{prefix}-remaining", f"{prefix}-reset")
    for resource, prefix in RATE_LIMIT_RESOURCES.items()
)


def _header_int(value: str) -> int | None:
    # int() ignores most of the surrounding whitespace str.strip() removes, so no strip
    # (a copy) first; only the separators \x1c-\x1f, which strip() removes and int()
    # refuses, need the second try.
    try:
        return int(value)
    except ValueError:
        try:
            return int(value.strip())
        except ValueError:
            return None


def parse_rate_limits(headers: Mapping[str, str]) -> tuple[RateLimit, ...]:
    """Read the ``anthropic-ratelimit-*`` (and priority tier) triplets of a response.

    Args:
        headers: response headers with lower-case names.

    Returns:
        One :class:`~ptc_observe.events.RateLimit` per resource that has at least one
        of its ``-limit``, ``-remaining``, ``-reset`` headers; unreadable numbers are
        ``None``.
    """
    # 18 dict lookups with the None tests inline. (One pass over the
    # response's headers, matching each name against a table, measured ~60 % slower:
    # a response has more headers than the lookups made here.)
    found = []
    get = headers.get
    for resource, limit_name, remaining_name, reset_name in _TRIPLETS:
        limit = get(limit_name)
        remaining = get(remaining_name)
        reset = get(reset_name)
        if limit is None and remaining is None and reset is None:
            continue
        found.append(
            RateLimit(
                resource,
                None if limit is None else _header_int(limit),
                None if remaining is None else _header_int(remaining),
                None if reset is None else reset.strip(),
            )
        )
    return tuple(found)


def parse_retry_after(
    headers: Mapping[str, str], *, now: float | None = None
) -> float | None:
    """Seconds to wait before retrying, as the response asks.

    ``retry-after-ms`` wins over ``retry-after`` (seconds, or an HTTP date), as in the
    official SDK.

    Args:
        headers: response headers with lower-case names.
        now: the current Unix time, for HTTP dates (default: ``time.time()``).

    Returns:
        Non-negative seconds, or ``None`` when absent or unreadable.
    """
    value = headers.get("retry-after-ms")
    if value is not None:
        seconds = _finite(value)
        if seconds is not None:
            return seconds / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": no zone given; RFC 9110 dates are GMT
        when = when.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _finite(value: str) -> float | None:
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
