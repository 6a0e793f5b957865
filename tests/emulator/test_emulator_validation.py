"""Request validation: the PTC resume rules and other 4xx answers, with the API's error shape."""

from __future__ import annotations

import copy
import json
from typing import Any

import anthropic
import httpx2
import pytest

from ptc_observe.emulator import Emulator, builtin_scenario

from .conftest import Api
from .helpers import AUTH, MODEL, answer_calls, status_error

WEATHER = builtin_scenario("parallel_weather")


def paused(api):
    """Run turn 1 of the parallel scenario; return (client, resume messages, container id)."""
    client = api.client()
    messages = [{"role": "user", "content": WEATHER.prompt}]
    message = api.mode.run(
        client.messages.create,
        model=MODEL,
        max_tokens=1024,
        messages=messages,
        tools=WEATHER.tool_definitions(),
    )
    content = [b.to_dict(mode="json") for b in message.content]
    resume = [
        *messages,
        {"role": "assistant", "content": content},
        {"role": "user", "content": answer_calls(WEATHER, content)},
    ]
    return client, resume, message.container.id


def rejected(api, client, messages, *, expect=400, **params):
    """Send a resume that must fail; return the error body."""
    params.setdefault("tools", WEATHER.tool_definitions())
    exc = status_error(
        api.mode.raises(
            client.messages.create,
            model=MODEL,
            max_tokens=1024,
            messages=messages,
            **params,
        )
    )
    assert exc.status_code == expect
    body = exc.body
    assert (
        isinstance(body, dict)
        and body["type"] == "error"
        and body["request_id"].startswith("req_011C")
    )
    assert exc.response.headers["request-id"] == body["request_id"]
    return body["error"]


class TestResumeRules:
    def test_container_required_while_calls_are_pending(self, api: Api) -> None:
        """Answering programmatic calls without ``container`` is a 400."""
        client, messages, _ = paused(api)
        error = rejected(api, client, messages)
        assert error["type"] == "invalid_request_error"
        assert error["message"].startswith("container: a container id is required")
        assert api.emulator.ledger.errors("resume_missing_container") == 1

    def test_only_tool_results_next_to_programmatic_results(self, api: Api) -> None:
        """A text block in the message answering programmatic calls is a 400."""
        client, messages, container = paused(api)
        messages[-1]["content"].append({"type": "text", "text": "here you go"})
        error = rejected(api, client, messages, container=container)
        assert error["message"] == (
            "messages.2.content.5: a message answering programmatic tool calls may contain only "
            "`tool_result` blocks; found `text`"
        )

    def test_every_pending_call_needs_a_result(self, api: Api) -> None:
        """Leaving one of the gathered calls unanswered is a 400 with the recorded wording."""
        client, messages, container = paused(api)
        missing = messages[-1]["content"].pop(2)["tool_use_id"]
        error = rejected(api, client, messages, container=container)
        assert error["message"] == (
            f"messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: {missing}. "
            "Each `tool_use` block must have a corresponding `tool_result` block in the next message."
        )
        assert api.emulator.ledger.errors("resume_missing_result") == 1

    def test_results_must_be_text(self, api: Api) -> None:
        """An image inside a programmatic tool_result is a 400."""
        client, messages, container = paused(api)
        image = {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/png",
                "data": "iVBORw0KGgo=",
            },
        }
        messages[-1]["content"][0]["content"] = [
            {"type": "text", "text": "chart:"},
            image,
        ]
        error = rejected(api, client, messages, container=container)
        assert error["message"].startswith(
            "messages.2.content.0.content.1: results of programmatic tool calls"
        )
        assert error["message"].endswith("found `image`")

    def test_text_block_results_are_accepted(self, api: Api) -> None:
        """Text-block content is as good as a string."""
        client, messages, container = paused(api)
        for block in messages[-1]["content"]:
            block["content"] = [{"type": "text", "text": block["content"]}]
        final = api.mode.run(
            client.messages.create,
            model=MODEL,
            max_tokens=1024,
            messages=messages,
            tools=WEATHER.tool_definitions(),
            container=container,
        )
        assert final.stop_reason == "end_turn"

    def test_caller_must_point_at_a_known_server_tool_use(self, api: Api) -> None:
        """A programmatic tool_use whose caller.tool_id is not in the history: the recorded 400."""
        client, messages, container = paused(api)
        call = messages[1]["content"][2]
        call["caller"]["tool_id"] = "srvtoolu_01Unknown000000000000000"
        error = rejected(api, client, messages, container=container)
        assert error["message"] == (
            f"source tool `srvtoolu_01Unknown000000000000000` not found for tool use block `{call['id']}`"
        )

    def test_unexpected_tool_result(self, api: Api) -> None:
        """A tool_result for an id the previous message never used: the recorded 400."""
        client, messages, container = paused(api)
        messages[-1]["content"].append(
            {"type": "tool_result", "tool_use_id": "toolu_01Stray", "content": "x"}
        )
        error = rejected(api, client, messages, container=container)
        assert error["message"] == (
            "messages.2.content.5: unexpected `tool_use_id` found in `tool_result` blocks: toolu_01Stray. "
            "Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
        )

    def test_code_execution_tool_must_be_declared_again(self, api: Api) -> None:
        """Resuming without the code-execution tool in ``tools`` is a 400."""
        client, messages, container = paused(api)
        tools = WEATHER.tool_definitions()[1:]
        error = rejected(api, client, messages, container=container, tools=tools)
        assert error["message"].startswith(
            "tools: the code execution tool must be declared again"
        )


class TestToolDeclarations:
    @pytest.fixture
    def client(self, emulator):
        http = httpx2.Client(transport=emulator.mock_transport(httpx2))
        return anthropic.Anthropic(api_key="k", http_client=http, max_retries=0)

    def create(self, client, **params):
        params.setdefault("messages", [{"role": "user", "content": "hi"}])
        return client.messages.create(model=MODEL, max_tokens=100, **params)

    def tools(self, **extra):
        tool = copy.deepcopy(WEATHER.tool_definitions())
        tool[1].update(extra)
        return tool

    def test_forcing_a_programmatic_only_tool(self, client: Any) -> None:
        """tool_choice naming a tool without the direct caller is a 400."""
        with pytest.raises(anthropic.BadRequestError, match="cannot be forced"):
            self.create(
                client,
                tools=self.tools(),
                tool_choice={"type": "tool", "name": "get_weather"},
            )

    def test_strict_with_code_caller(self, client: Any) -> None:
        """strict: true on a tool with a code-execution caller is a 400."""
        with pytest.raises(
            anthropic.BadRequestError, match="`strict` is not supported"
        ):
            self.create(client, tools=self.tools(strict=True))

    def test_disable_parallel_tool_use(self, client: Any) -> None:
        """disable_parallel_tool_use with programmatic tools is a 400."""
        with pytest.raises(
            anthropic.BadRequestError, match="disable_parallel_tool_use"
        ):
            self.create(
                client,
                tools=self.tools(),
                tool_choice={"type": "auto", "disable_parallel_tool_use": True},
            )

    def test_circular_ref(self, client: Any) -> None:
        """A recursive $ref in a programmatic tool's schema is a 400 naming the cycle."""
        schema = {
            "type": "object",
            "properties": {"node": {"$ref": "#/$defs/node"}},
            "$defs": {
                "node": {
                    "type": "object",
                    "properties": {"child": {"$ref": "#/$defs/node"}},
                }
            },
        }
        with pytest.raises(
            anthropic.BadRequestError,
            match=r"Circular \$ref detected \(#/\$defs/node -> #/\$defs/node\)",
        ):
            self.create(client, tools=self.tools(input_schema=schema))

    def test_circular_ref_allowed_for_direct_tools(self, client: Any) -> None:
        """The same schema on a direct-only tool is accepted."""
        schema = {"type": "object", "properties": {"child": {"$ref": "#"}}}
        tools = [{"name": "tree", "description": "t", "input_schema": schema}]
        assert self.create(client, tools=tools).stop_reason == "tool_use"

    def test_bad_allowed_caller(self, client: Any) -> None:
        """An unknown allowed_callers value is a 400."""
        with pytest.raises(anthropic.BadRequestError, match="allowed_callers.0"):
            self.create(
                client, tools=self.tools(allowed_callers=["code_execution_20990101"])
            )

    def test_too_many_cache_controls(self, client: Any) -> None:
        """More than four cache_control breakpoints is a 400 with the API's wording."""
        blocks = [
            {
                "type": "text",
                "text": f"part {i}",
                "cache_control": {"type": "ephemeral"},
            }
            for i in range(5)
        ]
        with pytest.raises(
            anthropic.BadRequestError,
            match="A maximum of 4 blocks with cache_control may be provided. Found 5.",
        ):
            self.create(client, messages=[{"role": "user", "content": blocks}])

    def test_unknown_model(self, client: Any) -> None:
        """A model name the API does not know answers 404 ``model: …``."""
        with pytest.raises(anthropic.NotFoundError, match="model: gpt-4"):
            client.messages.create(
                model="gpt-4",
                max_tokens=10,
                messages=[{"role": "user", "content": "x"}],
            )


class TestHttpLevel:
    @pytest.fixture
    def http(self, emulator):
        return httpx2.Client(
            base_url="http://api.test", transport=emulator.mock_transport(httpx2)
        )

    def body(self):
        return {
            "model": MODEL,
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}],
        }

    def test_missing_auth_is_401(self, http: Any) -> None:
        """No x-api-key and no bearer token: 401 authentication_error."""
        response = http.post(
            "/v1/messages",
            json=self.body(),
            headers={"anthropic-version": "2023-06-01"},
        )
        assert response.status_code == 401
        assert response.json()["error"] == {
            "type": "authentication_error",
            "message": "x-api-key header is required",
        }

    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param(AUTH, id="x-api-key-2023"),
            pytest.param(
                {
                    "authorization": "Bearer sk-ant-test",
                    "anthropic-version": "2026-10-21",
                },
                id="bearer-2026",
            ),
        ],
    )
    @pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages?beta=true"])
    def test_both_sdk_lines_are_accepted(
        self, http: Any, headers: dict[str, str], path: str
    ) -> None:
        """Both auth styles, both API versions, with and without ?beta=true; unknown betas ignored."""
        response = http.post(
            path,
            json=self.body(),
            headers={**headers, "anthropic-beta": "made-up-2099-01-01"},
        )
        assert response.status_code == 200 and response.json()["type"] == "message"

    def test_missing_version_is_400(self, http: Any) -> None:
        """Without anthropic-version the API answers 400."""
        response = http.post(
            "/v1/messages", json=self.body(), headers={"x-api-key": "k"}
        )
        assert response.status_code == 400
        assert (
            response.json()["error"]["message"]
            == "anthropic-version: header is required"
        )

    def test_sampling_params_rejected_under_2026_10_21(self, http: Any) -> None:
        """temperature is refused under anthropic-version 2026-10-21 but accepted under 2023-06-01."""
        body = {**self.body(), "temperature": 0.2}
        new = http.post(
            "/v1/messages",
            json=body,
            headers={"x-api-key": "k", "anthropic-version": "2026-10-21"},
        )
        old = http.post("/v1/messages", json=body, headers=AUTH)
        assert (new.status_code, old.status_code) == (400, 200)

    @pytest.mark.parametrize(
        "path", ["/v1/models", "/v1/complete", "/v1/messages/batches", "/"]
    )
    def test_other_endpoints_are_404(self, http: Any, path: str) -> None:
        """Endpoints the emulator does not implement answer 404 in the API's error shape."""
        response = http.get(path, headers=AUTH)
        body = response.json()
        assert response.status_code == 404
        assert body["type"] == "error" and body["error"] == {
            "type": "not_found_error",
            "message": "Not Found",
        }
        assert body["request_id"] == response.headers["request-id"]

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            pytest.param(
                b"{not json", "There was an error parsing the body", id="bad-json"
            ),
            pytest.param(
                json.dumps({"model": MODEL, "messages": []}).encode(),
                "max_tokens: Field required",
                id="no-max-tokens",
            ),
            pytest.param(
                json.dumps({"model": MODEL, "max_tokens": 5, "messages": []}).encode(),
                "messages: at least one message is required",
                id="no-messages",
            ),
        ],
    )
    def test_malformed_bodies(self, http: Any, body: Any, message: str) -> None:
        """Malformed bodies are 400 invalid_request_error."""
        response = http.post(
            "/v1/messages",
            content=body,
            headers={**AUTH, "content-type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["error"]["message"].startswith(message)

    def test_body_too_large_is_413(self, emulator: Emulator) -> None:
        """Bodies over 32 MB are refused with request_too_large."""
        answer = emulator.handle(
            "POST", "/v1/messages", AUTH, b" " * (32 * 1024 * 1024 + 1)
        )
        assert (
            answer.status == 413
            and answer.json()["error"]["type"] == "request_too_large"
        )


def test_haiku_does_not_call_programmatically(emulator: Emulator) -> None:
    """On Haiku the code tool gives no PTC: a tool that allows both callers is called directly."""
    http = httpx2.Client(
        base_url="http://api.test", transport=emulator.mock_transport(httpx2)
    )
    tools = WEATHER.tool_definitions()
    tools[1]["allowed_callers"] = ["direct", "code_execution_20260120"]
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 100,
        "tools": tools,
        "messages": [{"role": "user", "content": WEATHER.prompt}],
    }
    message = http.post("/v1/messages", json=body, headers=AUTH).json()
    assert message["container"] is None
    calls = [b for b in message["content"] if b["type"] == "tool_use"]
    assert len(calls) == 5 and all(b["caller"] == {"type": "direct"} for b in calls)
    assert not any(b["type"] == "server_tool_use" for b in message["content"])
