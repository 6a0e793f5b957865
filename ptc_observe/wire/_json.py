"""The JSON readers every parser of ``wire`` shares: errors, parsing, the msgspec guards.

Every parse failure of ``wire`` is a :class:`WireError`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from pydantic_core import from_json as _from_json

from ..models import (
    APIError,
)

__all__ = ["StreamError", "WireError"]


class WireError(ValueError):
    """A body, payload or stream that cannot be read. Every parse failure of ``wire``."""


class StreamError(WireError):
    """A stream that carried an ``error`` event (the exchange failed despite HTTP 200).

    Attributes:
        error: the API error of the event.
    """

    def __init__(self, error: APIError) -> None:
        super().__init__(f"{error.type}: {error.message}")
        self.error = error


def _loads(body: bytes | str) -> Any:
    try:
        # pydantic-core's parser (jiter) builds the same objects about twice as fast
        # as json.loads. It refuses some input json.loads accepts (bad UTF-8, lone
        # surrogate escapes, nesting past its depth limit) and never accepts what
        # json.loads refuses, so a refusal just takes the json.loads path below.
        return _from_json(body, cache_strings="keys")
    except ValueError as exc:
        if "recursion limit" in str(exc):
            # Nesting past jiter's fixed depth limit is malformed, full stop: json.loads
            # would give up at a depth that depends on the caller's stack, so the same
            # payload could parse on one path and fail on another.
            raise WireError("invalid JSON: nested too deeply") from None
    if isinstance(body, bytes):
        # The API speaks UTF-8; bad bytes become U+FFFD rather than a failure (and
        # json.loads on bytes would guess UTF-16/32 from NUL bytes).
        body = body.decode("utf-8", "replace")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: deep nesting
        raise WireError(f"invalid JSON: {type(exc).__name__}") from None


def _object(body: bytes | str, what: str) -> dict[str, Any]:
    obj = _loads(body)
    if not isinstance(obj, dict):
        raise WireError(f"{what} is not a JSON object")
    return obj


# --- the msgspec fast paths ---
#
# msgspec (https://jcristharif.com/msgspec/, a maintained C JSON library) decodes into
# structs that declare only the fact fields and skips everything else without building
# Python objects: the history a request resends on every turn, the text and tool inputs
# of a response. It reads exactly what from_json reads or refuses, except where it
# skips: there it neither limits the nesting depth as jiter does nor refuses integers too
# long for from_json and json.loads, nor checks UTF-8. The guards below send any body
# that could differ there to the reference path (bad UTF-8 in skipped text changes no
# fact: json.loads reads it). Any msgspec error (malformed JSON, NaN, a lone surrogate, a
# field of an unexpected type) takes the reference path too, which decides.
#
# What it buys (docs/performance.md): 1.5 KB request 29 -> 22.5 us, 4 KB reply 29 -> 23;
# a 500 KB conversation ~2.7 -> ~2.2 ms. The depth guard (the opening brackets, counted
# in one pass that deletes every other byte, ~0.65 ns a byte) costs about what msgspec's
# own decoding does; without it a body nested 201 to ~1,000 levels deep would read where
# the reference refuses it.

# from_json (jiter) reads 201 nested levels, a scalar inside counting as one: 200
# arrays or objects around a value (201 around nothing), and refuses one more.
_DEPTH = 200
_DIGITS = 4000  # from_json refuses integers past ~4300 digits; json.loads past 4300
_STRIDE = 500  # a run of _DIGITS digits covers 8 consecutive bytes of body[::_STRIDE]
_DIGIT_MAP = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_DIGIT_RUN = b"0" * (_DIGITS // _STRIDE)


def _no_long_number(body: bytes) -> bool:
    """No run of digits long enough for an integer the reference parsers refuse."""
    if len(body) < _DIGITS:
        return True
    if _DIGIT_RUN not in body[::_STRIDE].translate(_DIGIT_MAP):
        return True  # the sampled bytes rule a long run out (almost always)
    return b"0" * _DIGITS not in body.translate(_DIGIT_MAP)


# Every byte but the opening brackets: deleting them leaves the brackets to count.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[{")


def _depth_bound(raw: bytes) -> int:
    # Nesting can go no deeper than the count of opening brackets (those inside
    # strings included, which only makes the bound looser). One pass (two counts take
    # ~20 % longer); the hot paths write this expression inline.
    return len(raw.translate(None, _NOT_BRACKETS))


def _summary(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):  # it always holds at least one error
        first = exc.errors(include_url=False, include_input=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        return f"{loc}: {first['msg']}"[:200]
    return type(exc).__name__
