"""Request facts the GenAI conventions ask for: tool descriptions, output type, effort."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ptc_observe.wire.requests import _parse_request_reference, parse_request


def _parse(body: dict[str, Any], *, reference: bool = False, **kw: Any) -> Any:
    raw = json.dumps(body).encode()
    parse = _parse_request_reference if reference else parse_request
    return parse(
        raw,
        method="POST",
        path="/v1/messages",
        server_address="api.anthropic.com",
        server_port=443,
        headers={},
        **kw,
    )


BASE: dict[str, Any] = {
    "model": "claude-opus-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.mark.parametrize("reference", [False, True])
def test_tool_descriptions_are_kept(reference: bool) -> None:
    body = {
        **BASE,
        "tools": [
            {"name": "get_weather", "description": "Weather now", "input_schema": {}},
            {"name": "bare", "input_schema": {}},
        ],
    }
    facts = _parse(body, reference=reference)
    assert facts.description_of("get_weather") == "Weather now"
    assert facts.description_of("bare") is None
    assert facts.description_of("unknown") is None


@pytest.mark.parametrize("reference", [False, True])
def test_output_config_format_and_effort(reference: bool) -> None:
    body = {
        **BASE,
        "output_config": {
            "effort": "high",
            "format": {"type": "json_schema", "schema": {"type": "object"}},
        },
    }
    facts = _parse(body, reference=reference)
    assert facts.output_type == "json"
    assert facts.reasoning_level == "high"


@pytest.mark.parametrize("reference", [False, True])
def test_effort_alone_sets_no_output_type(reference: bool) -> None:
    facts = _parse({**BASE, "output_config": {"effort": "low"}}, reference=reference)
    assert facts.output_type is None
    assert facts.reasoning_level == "low"


@pytest.mark.parametrize("reference", [False, True])
def test_legacy_output_format_is_json(reference: bool) -> None:
    body = {**BASE, "output_format": {"type": "json_schema", "schema": {}}}
    assert _parse(body, reference=reference).output_type == "json"


@pytest.mark.parametrize(
    "config", [None, "high", [1], {"effort": 3}, {"format": "json"}, {"format": None}]
)
def test_odd_output_config_reads_as_absent(config: Any) -> None:
    for reference in (False, True):
        facts = _parse({**BASE, "output_config": config}, reference=reference)
        assert facts.output_type is None
        assert facts.reasoning_level is None


def test_url_is_passed_through() -> None:
    url = "https://api.anthropic.com/v1/messages?beta=true"
    assert _parse(BASE, url=url).url == url
    assert _parse(BASE, url=url, capture_content=True).url == url
