"""The 2026 wire shapes the emulated model adds to its answers, as real traffic shows them.

Recorded responses (``tests/data/real``, see its PROVENANCE.md) show more than PTC's
``code_execution``: the ``code_execution_20250825`` / ``20260120`` tools also give the model
a bash shell and a file editor (``bash_code_execution`` and ``text_editor_code_execution``
``server_tool_use`` blocks, each answered in the same response), code can call server
tools (a ``web_fetch`` whose ``caller`` names the code execution), and a request with
``thinking`` enabled gets a ``thinking`` block whose tokens the usage reports in
``output_tokens_details.thinking_tokens``. The policy calls these builders; every choice
comes from the response's own seeded generator, so a seed still fixes every byte.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from .tokens import count_text

__all__ = [
    "BASH_VERSIONS",
    "bash_and_editor",
    "thinking_block",
    "thinking_enabled",
    "web_fetch_pair",
    "web_fetch_tool",
]

BASH_VERSIONS = (
    "code_execution_20250825",
    "code_execution_20260120",
    "code_execution_20260521",
)
"""Code-execution tools that come with the bash and text-editor sub-tools."""
BASH_SHARE = 0.35
"""Share of final answers (with such a tool) that first check something in the shell."""
BASH_ERROR_SHARE = 0.2
"""Share of those shell runs that exit non-zero."""
WEB_FETCH_SHARE = 0.5
"""Share of finished code runs (with a declared web_fetch tool) that fetched a page."""


def thinking_enabled(body: Mapping[str, Any]) -> bool:
    """Whether the request turns extended thinking on (``enabled`` or ``adaptive``)."""
    thinking = body.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") in (
        "enabled",
        "adaptive",
    )


def thinking_block(prompt: str, rng: random.Random) -> dict[str, Any]:
    """A ``thinking`` block (with an opaque signature) about ``prompt``."""
    steps = rng.randint(2, 5)
    words = prompt.split()[:12]
    topic = " ".join(words) if words else "the task"
    text = " ".join(
        f"Step {i}: consider {topic} and which tool answers it best."
        for i in range(1, steps + 1)
    )
    signature = "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789") for _ in range(64)
    )
    return {"type": "thinking", "thinking": text, "signature": signature}


def thinking_tokens(block: Mapping[str, Any]) -> int:
    """The tokens of a thinking block (a part of the output tokens)."""
    return count_text(str(block.get("thinking", "")))


def bash_and_editor(
    new_id: Callable[[], str], rng: random.Random
) -> list[tuple[dict[str, Any], bool]] | None:
    """A text-editor ``create`` and a ``bash`` run of the file, each with its result.

    Returns ``(block, whole)`` pairs in order (``server_tool_use`` blocks are written by
    the model; results arrive whole), or ``None`` when the model does not use the shell
    this time.
    """
    if rng.random() >= BASH_SHARE:
        return None
    editor_id, bash_id = new_id(), new_id()
    path = f"/tmp/check_{rng.randint(100, 999)}.py"
    failed = rng.random() < BASH_ERROR_SHARE
    source = "import sys\nprint('rows checked: ok')\n" + (
        "sys.exit(1)\n" if failed else ""
    )
    return [
        (
            {
                "type": "server_tool_use",
                "id": editor_id,
                "name": "text_editor_code_execution",
                "input": {"command": "create", "path": path, "file_text": source},
            },
            False,
        ),
        (
            {
                "type": "text_editor_code_execution_tool_result",
                "tool_use_id": editor_id,
                "content": {
                    "type": "text_editor_code_execution_create_result",
                    "is_file_update": False,
                },
            },
            True,
        ),
        (
            {
                "type": "server_tool_use",
                "id": bash_id,
                "name": "bash_code_execution",
                "input": {"command": f"python3 {path}"},
            },
            False,
        ),
        (
            {
                "type": "bash_code_execution_tool_result",
                "tool_use_id": bash_id,
                "content": {
                    "type": "bash_code_execution_result",
                    "stdout": "rows checked: ok\n",
                    "stderr": "",
                    "return_code": 1 if failed else 0,
                    "content": [],
                },
            },
            True,
        ),
    ]


def web_fetch_tool(tools_by_name: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The name of a declared ``web_fetch_*`` server tool, if any."""
    for name, tool in tools_by_name.items():
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith("web_fetch_"):
            return name
    return None


def web_fetch_pair(
    new_id: Callable[[], str],
    code_id: str,
    caller_type: str,
    rng: random.Random,
) -> list[tuple[dict[str, Any], bool]] | None:
    """A ``web_fetch`` the code in ``code_id`` made, and its result (both whole).

    ``None`` when this code run fetched nothing.
    """
    if rng.random() >= WEB_FETCH_SHARE:
        return None
    fetch_id = new_id()
    caller = {"type": caller_type, "tool_id": code_id}
    url = f"https://status.example.com/regions/{rng.randint(1, 40)}"
    return [
        (
            {
                "type": "server_tool_use",
                "id": fetch_id,
                "name": "web_fetch",
                "input": {"url": url},
                "caller": caller,
            },
            True,
        ),
        (
            {
                "type": "web_fetch_tool_result",
                "tool_use_id": fetch_id,
                "caller": caller,
                "content": {
                    "type": "web_fetch_result",
                    "url": url,
                    "retrieved_at": "2026-01-20T10:00:00Z",
                    "content": {
                        "type": "document",
                        "source": {
                            "type": "text",
                            "media_type": "text/plain",
                            "data": "All systems operational.",
                        },
                        "title": "Status",
                    },
                },
            },
            True,
        ),
    ]
