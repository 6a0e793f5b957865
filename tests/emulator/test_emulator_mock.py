"""In-process serving through ``MockTransport`` for both httpx and httpx2, sync and async."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import httpx2
import pytest

from ptc_observe.emulator import Emulator, Latency, ManualClock, builtin_scenario

from .helpers import AUTH, MODEL, parse_sse, raw_loop

MODULES = [pytest.param(httpx, id="httpx"), pytest.param(httpx2, id="httpx2")]
STREAM = {
    "model": MODEL,
    "max_tokens": 100,
    "stream": True,
    "messages": [{"role": "user", "content": "hello there"}],
}


def client_for(mode: Any, module: Any, emulator: Emulator) -> Any:
    transport = (
        emulator.async_mock_transport(module)
        if mode.is_async
        else emulator.mock_transport(module)
    )
    return mode.http_client(module, transport=transport, base_url="http://api.test")


def poster(mode: Any, client: Any):
    def post(body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        response = mode.run(client.post, "/v1/messages", json=body, headers=AUTH)
        return response.status_code, dict(response.headers), response.content

    return post


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("programmatic", [True, False], ids=["ptc", "direct"])
def test_tool_loop(mode: Any, module: Any, stream: bool, programmatic: bool) -> None:
    """Complete loops over each library's MockTransport give the scenario's answer."""
    emulator = Emulator(seed=4, clock=ManualClock())
    client = client_for(mode, module, emulator)
    try:
        messages = raw_loop(
            poster(mode, client),
            builtin_scenario("sales_by_region"),
            stream=stream,
            programmatic=programmatic,
        )
    finally:
        mode.close(client)
    assert len(messages) == 4
    assert messages[-1]["content"][-1]["text"].startswith(
        "Q2 revenue by region:\n- West: total=412850.5"
    )
    callers = {
        b["caller"]["type"]
        for m in messages
        for b in m["content"]
        if b["type"] == "tool_use"
    }
    assert callers == ({"code_execution_20260120"} if programmatic else {"direct"})


@pytest.mark.parametrize("module", MODULES)
def test_streams_chunk_by_chunk(mode: Any, module: Any) -> None:
    """The body arrives one SSE event per chunk, not buffered."""
    emulator = Emulator(seed=4, clock=ManualClock())
    client = client_for(mode, module, emulator)

    def sync_read() -> list[bytes]:
        with client.stream(
            "POST", "/v1/messages", json=STREAM, headers=AUTH
        ) as response:
            return list(response.iter_raw())

    async def async_read() -> list[bytes]:
        async with client.stream(
            "POST", "/v1/messages", json=STREAM, headers=AUTH
        ) as response:
            return [chunk async for chunk in response.aiter_raw()]

    try:
        chunks = mode.run(async_read) if mode.is_async else sync_read()
    finally:
        mode.close(client)
    events = parse_sse(b"".join(chunks))
    assert len(chunks) == len(events) > 5
    assert all(
        chunk.startswith(b"event: ") and chunk.endswith(b"\n\n") for chunk in chunks
    )


@pytest.mark.parametrize("module", MODULES)
def test_cut_stream_raises_the_modules_error(mode: Any, module: Any) -> None:
    """A cut stream raises that library's RemoteProtocolError mid-body."""
    emulator = Emulator(seed=4, clock=ManualClock())
    client = client_for(mode, module, emulator)
    headers = {**AUTH, "x-emulator-fault": "stream_cut", "x-emulator-fault-after": "2"}

    def sync_read() -> None:
        with client.stream(
            "POST", "/v1/messages", json=STREAM, headers=headers
        ) as response:
            for _ in response.iter_raw():
                pass

    async def async_read() -> None:
        async with client.stream(
            "POST", "/v1/messages", json=STREAM, headers=headers
        ) as response:
            async for _ in response.aiter_raw():
                pass

    try:
        with pytest.raises(module.RemoteProtocolError):
            mode.run(async_read) if mode.is_async else sync_read()
    finally:
        mode.close(client)


def test_async_handler_runs_under_trio() -> None:
    """The async handler sleeps with anyio, so it also serves clients on trio."""

    async def main() -> dict[str, Any]:
        emulator = Emulator(
            seed=4, clock=ManualClock(), latency=Latency(ttft=0.01, per_token=0.0001)
        )
        async with httpx2.AsyncClient(
            transport=emulator.async_mock_transport(httpx2), base_url="http://t"
        ) as client:
            response = await client.post("/v1/messages", json=STREAM, headers=AUTH)
            return {
                "status": response.status_code,
                "events": parse_sse(response.content),
            }

    result = anyio.run(main, backend="trio")
    assert result["status"] == 200 and result["events"][-1][0] == "message_stop"


def test_default_module_is_httpx2() -> None:
    """Without a module argument the transports are httpx2's (what anthropic >= 1.0 uses)."""
    emulator = Emulator(seed=4)
    assert isinstance(emulator.mock_transport(), httpx2.MockTransport)
    assert isinstance(emulator.async_mock_transport(), httpx2.MockTransport)
    body = json.dumps(STREAM | {"stream": False}).encode()
    with httpx2.Client(transport=emulator.mock_transport()) as client:
        assert (
            client.post("http://t/v1/messages", content=body, headers=AUTH).json()[
                "type"
            ]
            == "message"
        )
