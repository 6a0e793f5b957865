"""A clear error for an observing transport mounted on the other library's client.

httpx2 (anthropic >= 1.0) and httpx (anthropic 0.x, other httpx code) share the transport API
but not their classes: an observing transport built around ``httpx.HTTPTransport()`` and given
to an ``httpx2.Client`` (or the reverse, or an async transport given to a sync client) cannot
work. Neither client checks its transport, so without a check the first request fails deep in
the inner transport, and the official SDK reports that as a bare ``APIConnectionError`` after
its retries. The observing transport checks the request it is handed and raises
:class:`TransportMismatchError` naming both sides and the fix.

The error is a ``TypeError``. While the official SDK is imported it is also an
``anthropic.AnthropicError`` (the SDK's public base class), which the SDK passes to the caller
as it is, at once, instead of wrapping it in ``APIConnectionError`` and retrying.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["TransportMismatchError", "mismatch", "wrong_kind"]


class TransportMismatchError(TypeError):
    """An observing transport was given a request it cannot send (another HTTP library's
    client, or a sync client for an async transport)."""


def _error(message: str) -> TransportMismatchError:
    sdk = sys.modules.get("anthropic")
    base = getattr(sdk, "AnthropicError", None)
    if isinstance(base, type) and issubclass(base, Exception):
        cls = _with_sdk_base(base)
        return cls(message)
    return TransportMismatchError(message)


_SDK_CLASSES: dict[type, type[TransportMismatchError]] = {}


def _with_sdk_base(base: type) -> type[TransportMismatchError]:
    cls = _SDK_CLASSES.get(base)
    if cls is None:
        cls = type(
            "TransportMismatchError",
            (TransportMismatchError, base),
            {"__module__": __name__, "__doc__": TransportMismatchError.__doc__},
        )
        _SDK_CLASSES[base] = cls
    return cls


def _library(obj: Any) -> str:
    return type(obj).__module__.split(".", 1)[0]


def mismatch(request_type: type, inner: Any, request: Any) -> TransportMismatchError:
    """The error for ``request`` handed to a transport built for ``request_type``'s library
    around ``inner``."""
    mine = request_type.__module__.split(".", 1)[0]
    theirs = _library(request)
    inner = type(inner)
    fix = (
        "observer.transport() (httpx2's own transport) for httpx2.Client and anthropic >= 1.0"
        if theirs == "httpx2"
        else "observer.transport(httpx.HTTPTransport()) for httpx.Client and anthropic 0.x"
    )
    return _error(
        f"ptc_observe: this observing transport wraps an {mine} transport"
        f" ({inner.__module__}.{inner.__qualname__}) but was mounted on an {theirs} client"
        f" (it was handed an {theirs}.Request): a transport and its client must come from the"
        f" same library. Use {fix}."
    )


def wrong_kind(transport: Any, *, asynchronous_client: bool) -> TransportMismatchError:
    """The error for an async transport on a sync client, or the reverse."""
    if asynchronous_client:
        return _error(
            "ptc_observe: a sync observing transport (observer.transport()) was mounted on an"
            " async client; use observer.async_transport() for httpx2.AsyncClient /"
            " anthropic.AsyncAnthropic"
        )
    return _error(
        "ptc_observe: an async observing transport (observer.async_transport()) was mounted"
        " on a sync client; use observer.transport() for httpx2.Client / anthropic.Anthropic"
    )
