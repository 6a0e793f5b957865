"""Every example runs as ``python examples/NAME.py`` and prints what happened."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

EXPECTED: dict[str, list[str]] = {
    "batch_product_search": [
        "allowed_callers: ('code_execution_20260120',)",
        'executed: search_products({"query": "rings"}) caller=code_execution_20260120',
        "  - rings: 3 items",
        "run: rounds=4 retries=0 container_restarts=0 tool_errors=0 stop_reason=end_turn",
        "tool calls by caller: programmatic=3 direct=0",
        "observer: tool calls programmatic=3 direct=0",
        "observer: spans chat=4 code_execution=1 ptc.run=1 tool=3",
    ],
    "database_query_filter": [
        "executed: query_database -> 24 rows (caller=code_execution_20260120)",
        "executed: query_database -> 17 rows (caller=code_execution_20260120)",
        "tool calls by caller: programmatic=2 direct=0",
        "observer: tool calls programmatic=2 direct=0",
        "observer: containers created=1 reused=2 exchanges=3",
    ],
    "container_reuse": [
        "== second run (container reused)",
        "same container: True",
        "observer: tool calls programmatic=6 direct=0",
        "observer: containers created=1 reused=7 exchanges=8",
        "observer: spans chat=8 code_execution=2 ptc.run=2 tool=6",
    ],
    "streaming": [
        "[stream] tool_use get_customer(...) caller=direct",
        '[stream] tool_use get_order_status({"order_id": "O-5617"}) caller=code_execution_20260120',
        "run: rounds=5 retries=1 container_restarts=0 tool_errors=0 stop_reason=end_turn",
        "tool calls by caller: programmatic=3 direct=1",
        "observer: tool calls programmatic=3 direct=1",
        "observer: containers created=1 reused=3 exchanges=6",
    ],
    "async_parallel": [
        "tool results per answering message: [5]",
        "handlers in flight at once: 5",
        "tool calls by caller: programmatic=5 direct=0",
        "observer: tool calls programmatic=5 direct=0",
        "observer: spans chat=2 code_execution=1 ptc.run=1 tool=5",
    ],
}


def test_every_example_is_covered() -> None:
    """Each examples/*.py script (not the shared helper) has expected output here."""
    scripts = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_")}
    assert scripts == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str) -> None:
    """The example exits 0 against the in-process emulator and prints the expected lines."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OTEL_"))
    }
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH")])
    )
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for expected in EXPECTED[name]:
        assert expected in lines, (
            f"{expected!r} not in the output of {name}:\n{proc.stdout}"
        )
    assert "container: container_" in proc.stdout
    assert proc.stderr == ""
