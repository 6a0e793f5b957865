"""Request parsing: the facts of a Messages API request, never its credentials."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from ptc_observe.events import RequestFacts, ToolDeclaration, ToolResultSent
from ptc_observe.wire import (
    WireError,
    parse_request,
)

TOOLS = [
    {"type": "code_execution_20260120", "name": "code_execution"},
    {
        "name": "query_sales",
        "description": "Run read-only SQL; returns JSON rows.",
        "input_schema": {"type": "object", "properties": {"sql": {"type": "string"}}},
        "allowed_callers": ["code_execution_20260120"],
    },
]
TURN1 = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 4096,
    "messages": [
        {"role": "user", "content": "Compare Q2 revenue for West, East and Central."}
    ],
    "tools": TOOLS,
}
RESUME = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 4096,
    "stream": True,
    "container": "container_011CZq7TfRmB3vKx9NwPd2Lh",
    "tools": TOOLS,
    "messages": [
        {"role": "user", "content": "Compare Q2 revenue for West, East and Central."},
        {"role": "assistant", "content": [{"type": "text", "text": "..."}]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01Fk2YwHs9PqLm4Rt7VbZc3N",
                    "content": '[{"total": 412850.5}]',
                }
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "..."}]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01Wn6DcJ3xRv8Hq2Lt5MpYk9",
                    "content": "Ost: 389 120,00 €",
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01Ee4Vq8Bn2Xk6Rw9Lt3HcPa",
                    "content": [
                        {"type": "text", "text": "ab"},
                        {"type": "text", "text": "ü"},
                    ],
                    "is_error": True,
                },
            ],
        },
    ],
}


class Headers(Mapping[str, str]):
    """Request headers that remember which names were looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values
        self.looked_up: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.looked_up.add(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("headers must not be iterated (credentials could leak)")

    def __len__(self) -> int:
        return len(self._values)


def request(
    body: Any, headers: Mapping[str, str] | None = None, **kwargs: Any
) -> RequestFacts:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_request(
        raw,
        method="POST",
        path="/v1/messages",
        server_address="api.anthropic.com",
        server_port=443,
        headers=headers if headers is not None else {},
        **kwargs,
    )


class TestParseRequest:
    def test_turn1_request(self) -> None:
        """Model, limits and tools with their allowed callers are read."""
        facts = request(TURN1)
        assert (facts.method, facts.path, facts.server_address, facts.server_port) == (
            "POST",
            "/v1/messages",
            "api.anthropic.com",
            443,
        )
        assert facts.model == "claude-sonnet-4-6" and facts.max_tokens == 4096
        assert facts.stream is False
        assert facts.tools == (
            ToolDeclaration("code_execution", "code_execution_20260120", ()),
            ToolDeclaration("query_sales", None, ("code_execution_20260120",)),
        )
        assert facts.has_code_execution
        assert facts.container_id is None and facts.tool_results == ()
        assert facts.body_bytes == len(json.dumps(TURN1).encode())
        assert facts.content is None

    def test_resume_request_reads_only_the_last_messages_results(self) -> None:
        """Tool results of the last message only, with UTF-8 sizes and is_error."""
        facts = request(RESUME)
        assert facts.stream is True
        assert facts.container_id == "container_011CZq7TfRmB3vKx9NwPd2Lh"
        assert facts.tool_results == (
            ToolResultSent(
                "toolu_01Wn6DcJ3xRv8Hq2Lt5MpYk9",
                len("Ost: 389 120,00 €".encode()),
                False,
            ),
            ToolResultSent(
                "toolu_01Ee4Vq8Bn2Xk6Rw9Lt3HcPa", 4, True
            ),  # "ab" + "ü" (2 bytes)
        )

    def test_container_object_and_other_blocks(self) -> None:
        """A container object gives its id; non-text result blocks count as JSON."""
        image = {"type": "image", "source": {"type": "base64", "data": "QUJD"}}
        body = {
            "container": {"id": "container_011CZq8AqT5nVm2Wc9Lx4RhB", "skills": []},
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "see below"},
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_a",
                            "content": [image, {"type": "text", "text": "é"}],
                        },
                        {"type": "tool_result", "tool_use_id": "toolu_b"},
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_c",
                            "content": {"odd": "shape"},
                        },
                        {"type": "tool_result", "content": "no id"},
                    ],
                }
            ],
        }
        facts = request(body)
        image_size = len(json.dumps(image, separators=(",", ":")).encode())
        assert facts.container_id == "container_011CZq8AqT5nVm2Wc9Lx4RhB"
        assert facts.tool_results == (
            ToolResultSent("toolu_a", image_size + 2),
            ToolResultSent("toolu_b", 0),
            ToolResultSent("toolu_c", len(b'{"odd":"shape"}')),
            ToolResultSent("", 5),
        )

    def test_headers_are_read_and_credentials_never(self) -> None:
        """Betas, retry count and helper come from headers; auth headers are not touched."""
        headers = Headers(
            {
                "authorization": "Bearer sk-ant-secret",
                "x-api-key": "sk-ant-secret",
                "anthropic-beta": "advanced-tool-use-2025-11-20, code-execution-2025-08-25,,",
                "x-stainless-retry-count": "2",
                "x-stainless-helper-method": "stream",
            }
        )
        facts = request(TURN1, headers, capture_content=True)
        assert facts.betas == (
            "advanced-tool-use-2025-11-20",
            "code-execution-2025-08-25",
        )
        assert facts.retry_count == 2 and facts.stream_helper == "stream"
        assert headers.looked_up.isdisjoint({"authorization", "x-api-key"})
        assert "sk-ant-secret" not in repr(facts)
        assert facts.content == TURN1

    @pytest.mark.parametrize("value", ["x", "-3", ""])
    def test_bad_retry_count_reads_as_zero(self, value: str) -> None:
        """An unreadable or negative retry count is 0."""
        assert request(TURN1, {"x-stainless-retry-count": value}).retry_count == 0

    def test_sampling_parameters(self) -> None:
        """temperature, top_p, top_k and stop sequences are read when well typed."""
        facts = request(
            {"temperature": 1, "top_p": 0.9, "top_k": 40, "stop_sequences": ["END", 3]}
        )
        assert (facts.temperature, facts.top_p, facts.top_k) == (1.0, 0.9, 40)
        assert facts.stop_sequences == ("END",)

    def test_wrong_types_read_as_absent(self) -> None:
        """Fields of the wrong type are ignored rather than failing the whole request."""
        body = {
            "model": 3,
            "stream": "yes",
            "max_tokens": True,
            "temperature": "hot",
            "top_k": 1.5,
            "stop_sequences": "END",
            "tools": [
                {"name": "ok", "type": "custom", "allowed_callers": "direct"},
                "junk",
                {"type": 5},
            ],
            "container": 42,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": 5, "content": 7},
                        3,
                    ],
                }
            ],
        }
        facts = request(body)
        assert (
            facts.model is None and facts.stream is False and facts.max_tokens is None
        )
        assert (
            facts.temperature is None
            and facts.top_k is None
            and facts.stop_sequences == ()
        )
        assert facts.tools == (
            ToolDeclaration("ok", None, ()),
            ToolDeclaration("", None, ()),
        )
        assert facts.container_id is None
        assert facts.tool_results == (ToolResultSent("", 1),)

    @pytest.mark.parametrize(
        "messages",
        [None, [], "text", [{"role": "user", "content": "plain"}], ["not a dict"]],
    )
    def test_no_results_without_a_block_list(self, messages: Any) -> None:
        """Messages that are missing, empty or plain text carry no tool results."""
        assert request({"messages": messages}).tool_results == ()

    @pytest.mark.parametrize(
        "body",
        [b"", b"not json", b"[1, 2]", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000],
        ids=["empty", "text", "array", "bad-utf8", "deep"],
    )
    def test_unreadable_bodies_raise_wire_error(self, body: bytes) -> None:
        """Anything but a JSON object raises WireError, deep nesting included."""
        with pytest.raises(WireError):
            request(body)

    def test_lone_surrogate_in_a_result_is_measured(self) -> None:
        """A JSON ``\\ud800`` escape in a result does not break the size."""
        body = b'{"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "\\ud800"}]}]}'
        assert request(body).tool_results == (ToolResultSent("t", 3),)
