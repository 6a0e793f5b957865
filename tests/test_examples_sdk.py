"""examples/sdk/: the PTC tool loop written with the official SDK (sync and async), run as a
user runs it: ``ptc-observe emulator`` in one process, ``python examples/sdk/NAME.py`` in
another, pointed at it with ``--base-url``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "sdk"


def _env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OTEL_"))
    }
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH")])
    )
    return env


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    """A `ptc-observe emulator --port 0` process; yields its base URL."""
    with subprocess.Popen(
        [sys.executable, "-m", "ptc_observe", "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_env(),
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            assert first.startswith("emulator listening on http://127.0.0.1:"), first
            url = first.split()[-1]
            hint = process.stdout.readline()
            assert f'base_url="{url}"' in hint  # the emulator says how to point the SDK
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def _stats(url: str) -> dict[str, dict[str, dict[str, int]]]:
    with urllib.request.urlopen(f"{url}/_emulator/stats", timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def _programmatic(stats: dict[str, dict[str, dict[str, int]]]) -> int:
    sent = stats["tool_use_blocks"]
    return sum(
        sum(tools.values()) for caller, tools in sent.items() if caller != "direct"
    )


@pytest.mark.parametrize("name", ["ptc_loop", "ptc_loop_async"])
def test_sdk_example_against_the_emulator(emulator_url: str, name: str) -> None:
    """The example plays the PTC loop to end_turn with the SDK alone, and the observer on its
    transport counts the five programmatic calls the emulator's ledger says it sent."""
    before = _programmatic(_stats(emulator_url))
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--base-url", emulator_url],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    calls = [line for line in lines if line.startswith("tool_use get_weather(")]
    assert len(calls) == 5
    assert all(line.endswith("from code_execution_20260120") for line in calls)
    assert any(
        line.startswith("stop_reason: end_turn, container: container_")
        for line in lines
    )
    assert "observer: tool calls programmatic=5 direct=0" in lines
    assert _programmatic(_stats(emulator_url)) - before == 5


def test_sdk_example_without_an_emulator_says_how_to_start_one() -> None:
    """Pointed at a closed port, the example says to start `ptc-observe emulator`, exit 1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**_env(), "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}"}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "ptc_loop.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert "start `ptc-observe emulator` first" in proc.stderr
    assert "Traceback" not in proc.stderr
