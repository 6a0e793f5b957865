"""An observing transport mounted on the other library's client (httpx vs httpx2), or an
async one on a sync client, fails at once with a clear TypeError naming the mismatch, not
deep in the inner transport as a bare APIConnectionError after the SDK's retries."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import anthropic
import httpx
import httpx2
import pytest
from prometheus_client import CollectorRegistry

from ptc_observe import Observer
from ptc_observe.emulator import EmulatorServer
from ptc_observe.observer.transport import TransportMismatchError

ARGS = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.fixture
def observer() -> Observer:
    return Observer(registry=CollectorRegistry())


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(seed=1) as running:
        yield running


def test_httpx_transport_on_an_httpx2_sdk_client(
    observer: Observer, server: EmulatorServer
) -> None:
    """SDK 2.x with an observing transport around httpx.HTTPTransport(): a TypeError naming
    both libraries and the fix, raised by the first attempt (no retries, nothing sent)."""
    client = anthropic.Anthropic(
        base_url=server.url,
        api_key="emulated",
        max_retries=2,
        http_client=httpx2.Client(transport=observer.transport(httpx.HTTPTransport())),
    )
    with client, pytest.raises(TypeError) as raised:
        client.messages.create(**ARGS)  # type: ignore[call-overload]
    error = raised.value
    assert isinstance(error, TransportMismatchError)
    assert not isinstance(error, anthropic.APIConnectionError)
    text = str(error)
    assert "wraps an httpx transport (httpx.HTTPTransport)" in text
    assert "mounted on an httpx2 client" in text
    assert "observer.transport()" in text
    assert server.emulator.stats()["requests"] == 0  # no attempt reached the server


def test_httpx2_transport_on_an_httpx_client(observer: Observer) -> None:
    """The reverse (httpx code, anthropic 0.x) fails on the first request, with the fix."""
    with httpx.Client(transport=observer.transport()) as client:
        with pytest.raises(TransportMismatchError, match=r"httpx\.HTTPTransport\(\)"):
            client.post("http://127.0.0.1:9/v1/messages", json=ARGS)


def test_async_transport_on_a_sync_client(observer: Observer) -> None:
    """observer.async_transport() on a sync client says to use observer.transport(): on
    entering the client (mounting), and on the first request without ``with``."""
    with pytest.raises(TransportMismatchError, match=r"use observer\.transport\(\)"):
        with httpx2.Client(transport=observer.async_transport()):
            pass
    client = httpx2.Client(transport=observer.async_transport())
    with pytest.raises(TransportMismatchError, match=r"use observer\.transport\(\)"):
        client.get("http://127.0.0.1:9/")


@pytest.mark.anyio
async def test_sync_transport_on_an_async_client(observer: Observer) -> None:
    """observer.transport() on an async client says to use observer.async_transport()."""
    with pytest.raises(
        TransportMismatchError, match=r"use observer\.async_transport\(\)"
    ):
        async with httpx2.AsyncClient(transport=observer.transport()):
            pass
    client = httpx2.AsyncClient(transport=observer.transport())
    with pytest.raises(
        TransportMismatchError, match=r"use observer\.async_transport\(\)"
    ):
        await client.get("http://127.0.0.1:9/")


def test_a_plain_type_error_without_the_sdk(
    observer: Observer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the SDK not imported the error is the plain TypeError subclass."""
    monkeypatch.delitem(sys.modules, "anthropic")
    with httpx.Client(transport=observer.transport()) as client:
        with pytest.raises(TransportMismatchError) as raised:
            client.get("http://127.0.0.1:9/")
    assert type(raised.value) is TransportMismatchError


def test_matching_libraries_still_work(
    observer: Observer, server: EmulatorServer
) -> None:
    """The check lets the right pairs through: httpx2 on httpx2, httpx on httpx."""
    client = anthropic.Anthropic(
        base_url=server.url,
        api_key="emulated",
        http_client=httpx2.Client(transport=observer.transport()),
    )
    with client:
        assert client.messages.create(**ARGS).stop_reason  # type: ignore[call-overload]
    with httpx.Client(transport=observer.transport(httpx.HTTPTransport())) as plain:
        assert plain.get(f"{server.url}/_emulator/stats").status_code == 200
