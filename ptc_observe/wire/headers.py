"""Response headers of the Messages API: rate limits and how long to wait before retrying.

Header names are looked up in lower case; unreadable values read as ``None`` and never
raise. :func:`parse_rate_limits` and :func:`parse_retry_after` read a mapping of text;
:func:`rate_limits_from` and :func:`retry_after_from` read the values themselves, as text
or as the raw bytes a transport received (the observing transport's way: it decodes no
header it does not read).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import timezone
from email.utils import parsedate_to_datetime

from ..events import RateLimit

__all__ = [
    "RATE_LIMIT_HEADERS",
    "RATE_LIMIT_RESOURCES",
    "RESPONSE_HEADERS",
    "HeaderValue",
    "parse_rate_limits",
    "parse_retry_after",
    "rate_limits_from",
    "retry_after_from",
]


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
_RESOURCES = tuple(triplet[0] for triplet in _TRIPLETS)

RATE_LIMIT_HEADERS: tuple[str, ...] = tuple(
    name for triplet in _TRIPLETS for name in triplet[1:]
)
"""The 18 rate-limit header names, resource by resource: ``-limit``, ``-remaining``,
``-reset`` of each :data:`RATE_LIMIT_RESOURCES` entry, in that order."""

RESPONSE_HEADERS: tuple[str, ...] = (
    "content-type",
    "content-encoding",
    "request-id",
    "retry-after-ms",
    "retry-after",
    *RATE_LIMIT_HEADERS,
)
"""Every response header the observer reads (lower case), in the order the recorder takes
their values: the five named first, then :data:`RATE_LIMIT_HEADERS`."""

HeaderValue = str | bytes | None
"""A header value as text, as the raw bytes sent (read as latin-1), or ``None`` if absent."""

# Parsed rate limits by the header values they came from: while the values repeat (the
# emulator, replays, a server that reports limits only, a burst within one reset second at
# unchanged counts) every response would otherwise build the same objects again.
# When the remaining counts move with every response, a miss costs one tuple hash and one
# insert over the parse. Bounded; cleared when full. Keys compare by value.
_RATE_CACHE: dict[tuple[HeaderValue, ...], tuple[RateLimit, ...]] = {}
_RATE_CACHE_SIZE = 256


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _header_int(value: str | bytes) -> int | None:
    # int() ignores most of the surrounding whitespace str.strip() removes, so no strip
    # (a copy) first; only the separators \x1c-\x1f, which strip() removes and int()
    # refuses, need the second try. int() reads bytes directly; what it refuses in
    # bytes (latin-1 spaces) gets the text's second chance, so both read alike.
    try:
        return int(value)
    except ValueError:
        if isinstance(value, bytes):
            return _header_int(value.decode("latin-1"))
        try:
            return int(value.strip())
        except ValueError:
            return None


def rate_limits_from(values: tuple[HeaderValue, ...]) -> tuple[RateLimit, ...]:
    """The rate limits in the values of :data:`RATE_LIMIT_HEADERS` (same order).

    Args:
        values: 18 header values, text or the raw bytes (read as latin-1); ``None``
            where a header is absent.

    Returns:
        As :func:`parse_rate_limits`. The same values give the same (immutable) tuple.

    Raises:
        ValueError: not 18 values.
    """
    found = _RATE_CACHE.get(values)
    if found is not None:
        return found
    limits = []
    for resource, limit, remaining, reset in zip(
        _RESOURCES, values[0::3], values[1::3], values[2::3], strict=True
    ):
        if limit is None and remaining is None and reset is None:
            continue
        limits.append(
            RateLimit(
                resource,
                None if limit is None else _header_int(limit),
                None if remaining is None else _header_int(remaining),
                None if reset is None else _text(reset).strip(),
            )
        )
    found = tuple(limits)
    if len(_RATE_CACHE) >= _RATE_CACHE_SIZE:
        _RATE_CACHE.clear()
    _RATE_CACHE[values] = found
    return found


def parse_rate_limits(headers: Mapping[str, str]) -> tuple[RateLimit, ...]:
    """Read the ``anthropic-ratelimit-*`` (and priority tier) triplets of a response.

    Args:
        headers: response headers with lower-case names.

    Returns:
        One :class:`~ptc_observe.events.RateLimit` per resource that has at least one
        of its ``-limit``, ``-remaining``, ``-reset`` headers; unreadable numbers are
        ``None``.
    """
    return rate_limits_from(tuple(map(headers.get, RATE_LIMIT_HEADERS)))


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
    return retry_after_from(
        headers.get("retry-after-ms"), headers.get("retry-after"), now=now
    )


def retry_after_from(
    milliseconds: HeaderValue, seconds: HeaderValue, *, now: float | None = None
) -> float | None:
    """:func:`parse_retry_after` from the values of ``retry-after-ms`` and ``retry-after``.

    Args:
        milliseconds: the ``retry-after-ms`` value (text or raw bytes) or ``None``.
        seconds: the ``retry-after`` value or ``None``.
        now: the current Unix time, for HTTP dates (default: ``time.time()``).
    """
    if milliseconds is not None:
        number = _finite(_text(milliseconds))
        if number is not None:
            return number / 1000.0
    if seconds is None:
        return None
    value = _text(seconds)
    number = _finite(value)
    if number is not None:
        return number
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
