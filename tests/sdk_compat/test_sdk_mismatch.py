"""The installed SDK line with the other library's observing transport: refused at once.

anthropic 0.x runs on httpx, 1.x and 2.x on httpx2. An observing transport built for the
other library and mounted on the SDK's client raises ``TransportMismatchError`` (a
``TypeError`` and, with the SDK imported, an ``anthropic.AnthropicError``) from the first
attempt: the SDK neither retries it nor turns it into ``APIConnectionError``.
(``scripts/sdk0-compat`` runs this directory with the last 0.x release too.)
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import httpx2
import pytest

from ptc_observe import Observer
from ptc_observe.observer.transport import TransportMismatchError

SDK_MAJOR = int(anthropic.__version__.split(".")[0])
LIB: Any = httpx if SDK_MAJOR == 0 else httpx2
OTHER: Any = httpx2 if SDK_MAJOR == 0 else httpx


def test_the_other_librarys_transport_is_refused_unretried() -> None:
    """The SDK's own client holding an observing transport of the other library: one
    attempt, a TransportMismatchError naming both libraries, no APIConnectionError."""
    attempts = 0

    def count(request: Any) -> Any:
        nonlocal attempts
        attempts += 1
        return OTHER.Response(200, json={})

    from prometheus_client import CollectorRegistry

    observer = Observer(registry=CollectorRegistry())
    inner = OTHER.MockTransport(count)
    client = anthropic.Anthropic(
        api_key="emulated",
        base_url="http://127.0.0.1:9",
        max_retries=3,
        http_client=LIB.Client(transport=observer.transport(inner)),
    )
    with client, pytest.raises(TransportMismatchError) as raised:
        client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=16,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert isinstance(raised.value, TypeError)
    assert isinstance(raised.value, anthropic.AnthropicError)
    assert not isinstance(raised.value, anthropic.APIConnectionError)
    mine, theirs = OTHER.__name__, LIB.__name__
    assert f"wraps an {mine} transport" in str(raised.value)
    assert f"mounted on an {theirs} client" in str(raised.value)
    assert attempts == 0  # the inner transport never saw the foreign request
