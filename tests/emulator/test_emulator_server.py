"""The loopback HTTP server: keep-alive, routing, stats, the CLI and 200 concurrent streams."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest

from ptc_observe.emulator import Emulator, EmulatorServer, ManualClock, builtin_scenario
from ptc_observe.emulator.server import main

from .helpers import AUTH, MODEL, accumulate, answer_calls, parse_sse

BODY = {
    "model": MODEL,
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hello"}],
}


class TestHttp:
    def test_keep_alive_and_chunked_streams(self, server: EmulatorServer) -> None:
        """JSON and streamed responses share one kept-alive connection; streams are chunked."""
        with httpx.Client(base_url=server.url) as client:
            plain = client.post("/v1/messages", json=BODY, headers=AUTH)
            streamed = client.post(
                "/v1/messages", json={**BODY, "stream": True}, headers=AUTH
            )
            again = client.post("/v1/messages?beta=true", json=BODY, headers=AUTH)
        assert plain.headers["content-length"] == str(len(plain.content))
        assert streamed.headers["transfer-encoding"] == "chunked"
        assert parse_sse(streamed.content)[-1][0] == "message_stop"
        assert again.status_code == 200
        assert server.connections_accepted == 1

    def test_stats_endpoint_is_the_ledger(
        self, server: EmulatorServer, emulator: Emulator
    ) -> None:
        """GET /_emulator/stats returns the ledger snapshot as JSON; POST /_emulator/reset zeroes it."""
        with httpx.Client(base_url=server.url) as client:
            client.post("/v1/messages", json=BODY, headers=AUTH)
            client.get("/v1/models", headers=AUTH)
            stats = client.get("/_emulator/stats").json()
            assert stats == emulator.stats()
            assert stats["responses"] == {
                "200": {"end_turn": 1},
                "404": {"not_found_error": 1},
            }
            assert client.post("/_emulator/reset").json() == {"ok": True}
            assert client.get("/_emulator/stats").json()["requests"] == 0

    @pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
    def test_connection_close_gets_the_whole_stream(
        self, server: EmulatorServer, version: str
    ) -> None:
        """A client that asks to close (or speaks HTTP/1.0) still gets the complete stream."""
        body = json.dumps({**BODY, "stream": True}).encode()
        head = f"POST /v1/messages {version}\r\nhost: x\r\nx-api-key: k\r\nanthropic-version: 2023-06-01\r\n"
        raw = _exchange(
            server,
            head.encode()
            + b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
            + body,
        )
        assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b'event: message_stop\ndata: {"type":"message_stop"}\n\n' in raw

    def test_garbage_gets_a_400(self, server: EmulatorServer) -> None:
        """Bytes that are not HTTP get a 400 in the API's error shape, then the connection closes."""
        raw = _exchange(server, b"GARBAGE\r\n\r\n")
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 Bad Request")
        assert json.loads(body)["error"]["type"] == "invalid_request_error"

    def test_529_reason_phrase(self, server: EmulatorServer) -> None:
        """Status 529 goes out with the reason phrase "Overloaded"."""
        with httpx.Client(base_url=server.url) as client:
            response = client.post(
                "/v1/messages",
                json=BODY,
                headers={**AUTH, "x-emulator-fault": "overloaded"},
            )
        assert response.status_code == 529 and response.reason_phrase == "Overloaded"

    def test_stop_is_idempotent_and_restart_is_refused(
        self, emulator: Emulator
    ) -> None:
        """stop() twice is fine; start() on a running server raises."""
        server = EmulatorServer(emulator)
        server.start()
        with pytest.raises(RuntimeError):
            server.start()
        server.stop()
        server.stop()


def _exchange(server: EmulatorServer, request: bytes) -> bytes:
    """Send raw bytes, read until the server closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


class TestCli:
    def test_module_entry_point_serves(self, tmp_path: Path) -> None:
        """``python -m ptc_observe.emulator --port 0`` serves a scenario file until terminated."""
        scenario = tmp_path / "one.json"
        scenario.write_text(
            json.dumps(
                {
                    "name": "lookup",
                    "prompt": "look up the answer",
                    "phases": [
                        {
                            "kind": "code",
                            "calls": [{"tool": "lookup", "input": {"q": "answer"}}],
                        }
                    ],
                }
            )
        )
        command = [
            sys.executable,
            "-m",
            "ptc_observe.emulator",
            "--port",
            "0",
            "--seed",
            "3",
            "--scenario",
            str(scenario),
            "--container-ttl",
            "120",
        ]
        cwd = Path(__file__).parents[2]
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, cwd=cwd
        ) as process:
            try:
                assert process.stdout is not None
                line = process.stdout.readline()
                assert line.startswith("emulator listening on http://127.0.0.1:")
                url = line.split()[-1]
                tools = [
                    {"type": "code_execution_20260120", "name": "code_execution"},
                    {
                        "name": "lookup",
                        "description": "d",
                        "input_schema": {"type": "object"},
                        "allowed_callers": ["code_execution_20260120"],
                    },
                ]
                body = {
                    **BODY,
                    "tools": tools,
                    "messages": [{"role": "user", "content": "look up the answer"}],
                }
                message = httpx.post(
                    f"{url}/v1/messages", json=body, headers=AUTH, timeout=10
                ).json()
                assert message["content"][-1]["input"] == {"q": "answer"}
                assert message["container"]["id"].startswith("container_011C")
            finally:
                process.terminate()
                code = process.wait(timeout=10)
        assert code == 0

    def test_main_reports_bad_scenario_files(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A scenario file that does not parse makes main() return 2 with a message."""
        bad = tmp_path / "bad.json"
        bad.write_text('{"name": "x", "phases": [{"kind": "telepathy"}]}')
        assert main(["--scenario", str(bad), "--port", "0"]) == 2
        assert "telepathy" in capsys.readouterr().err


@pytest.mark.slow
def test_two_hundred_concurrent_streaming_clients() -> None:
    """200 async clients stream PTC loops at once over loopback without an error."""
    scenario = builtin_scenario("parallel_weather")
    emulator = Emulator(seed=5, clock=ManualClock())

    async def one(client: httpx2.AsyncClient) -> str:
        messages: list[dict[str, Any]] = [{"role": "user", "content": scenario.prompt}]
        container = None
        for _ in range(4):
            body = {
                "model": MODEL,
                "max_tokens": 1024,
                "stream": True,
                "messages": messages,
                "tools": scenario.tool_definitions(),
                **({"container": container} if container else {}),
            }
            # Hold every first response for a second so that all 200 streams are open together.
            headers = {
                **AUTH,
                **({"x-emulator-ttft": "1"} if container is None else {}),
            }
            async with client.stream(
                "POST", "/v1/messages", json=body, headers=headers
            ) as response:
                assert response.status_code == 200
                data = b"".join([chunk async for chunk in response.aiter_raw()])
            events = parse_sse(data)
            assert events[-1][0] == "message_stop"
            message = accumulate(payload for _, payload in events)
            container = (
                message["container"]["id"] if message.get("container") else container
            )
            if message["stop_reason"] != "tool_use":
                return str(message["content"][-1]["text"])
            messages = [
                *messages,
                {"role": "assistant", "content": message["content"]},
                {"role": "user", "content": answer_calls(scenario, message["content"])},
            ]
        raise AssertionError("loop did not end")

    async def run(url: str) -> list[str]:
        limits = httpx2.Limits(max_connections=1000)
        async with httpx2.AsyncClient(
            base_url=url, limits=limits, timeout=60
        ) as client:
            return await asyncio.gather(*(one(client) for _ in range(200)))

    with EmulatorServer(emulator) as server:
        answers = asyncio.run(run(server.url))
        peak = server.peak_connections
    assert (
        len(answers) == 200
        and len(set(answers)) == 1
        and answers[0].startswith("Tomorrow's highs:")
    )
    stats = emulator.stats()
    assert stats["responses"] == {"200": {"tool_use": 200, "end_turn": 200}}
    assert stats["tool_use_blocks"] == {
        "code_execution_20260120": {"get_weather": 1000}
    }
    assert stats["containers"] == {"created": 200, "reused": 200, "expired": 0}
    assert peak == 200
