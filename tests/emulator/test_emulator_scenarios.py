"""Scenarios (built-in and from files), the default policy, tool_choice and determinism."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import Message

from ptc_observe.emulator import (
    Emulator,
    ManualClock,
    Scenario,
    builtin_scenario,
    builtin_scenarios,
    load_scenario,
)

from .helpers import AUTH, MODEL, raw_loop, sdk_loop

NAMES = [
    "database_filter",
    "failing_tool",
    "flaky_api",
    "mixed_direct_and_code",
    "parallel_weather",
    "product_search",
    "sales_by_region",
]


class Sync:
    is_async = False

    def run(self, fn, *args, **kwargs):
        return fn(*args, **kwargs)


def client_for(emulator: Emulator, retries: int = 0) -> anthropic.Anthropic:
    http = httpx2.Client(transport=emulator.mock_transport(httpx2))
    return anthropic.Anthropic(api_key="k", http_client=http, max_retries=retries)


def post(emulator: Emulator, **headers: str):
    def send(body):
        answer = emulator.handle(
            "POST", "/v1/messages", {**AUTH, **headers}, json.dumps(body).encode()
        )
        return (
            answer.status,
            dict(answer.headers),
            b"".join(d for _, d in answer.chunks()),
        )

    return send


class TestBuiltins:
    def test_names(self) -> None:
        """The shipped scenarios, sorted by file name."""
        assert [s.name for s in builtin_scenarios()] == NAMES

    @pytest.mark.parametrize("name", NAMES)
    @pytest.mark.parametrize("programmatic", [True, False], ids=["ptc", "direct"])
    def test_each_plays_to_the_end(self, name: str, programmatic: bool) -> None:
        """Every scenario ends with a text answer in both modes, through the SDK's parsing."""
        scenario = builtin_scenario(name)
        assert scenario.prompt and scenario.tools and scenario.description
        emulator = Emulator(seed=1, clock=ManualClock())
        responses, _ = sdk_loop(
            Sync(), client_for(emulator, retries=2), scenario, programmatic=programmatic
        )
        assert responses[-1].stop_reason == "end_turn"
        assert responses[-1].content[-1].type == "text"
        calls = sum(len(b) for p in scenario.phases for b in p.batches)
        stats = emulator.stats()
        emitted = sum(
            n for names in stats["tool_use_blocks"].values() for n in names.values()
        )
        stopped_early = name == "failing_tool" and programmatic
        assert emitted == (calls - 1 if stopped_early else calls)
        if not programmatic:
            assert (
                stats["containers"]["created"] == 0
                and "code_execution_20260120" not in stats["tool_use_blocks"]
            )

    def test_tool_definitions(self) -> None:
        """PTC definitions add the code tool; direct ones drop allowed_callers."""
        scenario = builtin_scenario("sales_by_region")
        ptc = scenario.tool_definitions(code_execution="code_execution_20260521")
        assert ptc[0] == {"type": "code_execution_20260521", "name": "code_execution"}
        assert ptc[1]["allowed_callers"] == ["code_execution_20260120"]
        assert "allowed_callers" not in scenario.tool_definitions(programmatic=False)[0]


class TestFiles:
    DATA = {
        "name": "inventory",
        "prompt": "Check stock",
        "phases": [
            {
                "kind": "code",
                "batches": [
                    {"tool": "stock", "input": {"sku": "A"}},
                    [
                        {"tool": "stock", "input": {"sku": "B"}},
                        {"tool": "stock", "input": {"sku": "C"}},
                    ],
                ],
                "stdout": "checked {calls} skus",
            }
        ],
        "final": "Done: {calls} calls, {errors} errors.",
        "latency": {"ttft": 0.5},
    }

    def test_json_file(self, tmp_path: Path) -> None:
        """A JSON scenario loads and plays: a single call, then a parallel pair."""
        path = tmp_path / "inventory.json"
        path.write_text(json.dumps(self.DATA))
        scenario = load_scenario(path)
        assert [len(b) for b in scenario.phases[0].batches] == [1, 2]
        emulator = Emulator(seed=1, clock=ManualClock(), scenarios=[path])
        tools = [
            {"type": "code_execution_20260120", "name": "code_execution"},
            {
                "name": "stock",
                "description": "d",
                "input_schema": {"type": "object"},
                "allowed_callers": ["code_execution_20260120"],
            },
        ]
        scenario_with_tools = Scenario(
            **{**scenario.__dict__, "tools": tuple(tools[1:])}
        )
        messages = raw_loop(post(emulator), scenario_with_tools, stream=False)
        assert [
            len([b for b in m["content"] if b["type"] == "tool_use"]) for m in messages
        ] == [1, 2, 0]
        assert messages[-1]["content"][0]["content"]["stdout"] == "checked 3 skus\n"
        assert messages[-1]["content"][1]["text"] == "Done: 3 calls, 0 errors."
        assert emulator.log[0].body["tools"] == tools
        answer = emulator.handle(
            "POST", "/v1/messages", AUTH, json.dumps(emulator.log[0].body).encode()
        )
        assert answer.delay == 0.5  # the scenario's latency

    def test_yaml_file(self, tmp_path: Path) -> None:
        """YAML scenarios load like JSON ones."""
        yaml = pytest.importorskip("yaml")  # the [yaml] extra; installed with [dev]
        path = tmp_path / "inventory.yaml"
        path.write_text(yaml.safe_dump(self.DATA))
        assert load_scenario(path) == load_scenario(self._json(tmp_path))

    def _json(self, tmp_path: Path) -> Path:
        path = tmp_path / "same.json"
        path.write_text(json.dumps(self.DATA))
        return path

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            pytest.param({"colour": "red"}, "unknown keys", id="unknown-key"),
            pytest.param({"final": "{total}"}, "unknown placeholder", id="placeholder"),
            pytest.param({"phases": [{"kind": "magic"}]}, "phases.0.kind", id="kind"),
            pytest.param(
                {"phases": [{"batches": [[]]}]}, "empty batch", id="empty-batch"
            ),
            pytest.param(
                {"phases": [{"calls": [{"input": {}}]}]}, "string 'tool'", id="no-tool"
            ),
            pytest.param(
                {"faults": [{"kind": "overloaded", "count": -1}]}, "count", id="fault"
            ),
        ],
    )
    def test_invalid(self, change: dict[str, Any], message: str) -> None:
        """Malformed scenarios fail with a message naming the problem."""
        with pytest.raises(ValueError, match=message):
            Scenario.from_dict({**self.DATA, **change})


class TestDefaultPolicy:
    def test_direct_only_tools_get_a_direct_turn_first(self) -> None:
        """Without a matching scenario, tools callable only directly are called in a direct turn first."""
        schema = {
            "type": "object",
            "required": ["city", "days", "units"],
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1, "maximum": 3},
                "units": {"enum": ["metric", "imperial"]},
            },
        }
        tools = [
            {"type": "code_execution_20260120", "name": "code_execution"},
            {
                "name": "forecast",
                "description": "d",
                "input_schema": schema,
                "allowed_callers": ["code_execution_20260120"],
            },
            {
                "name": "note",
                "description": "d",
                "input_schema": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                },
            },
        ]
        body = {
            "model": MODEL,
            "max_tokens": 500,
            "tools": tools,
            "messages": [{"role": "user", "content": "Plan a picnic"}],
        }
        first = json.loads(post(Emulator(seed=1, clock=ManualClock()))(body)[2])
        # The direct-only tool gets a direct turn first.
        assert [b["type"] for b in first["content"]] == ["text", "tool_use"]
        assert first["content"][1]["name"] == "note" and first["content"][1][
            "input"
        ] == {"text": "picnic"}

    def test_generic_code_run_inputs(self) -> None:
        """The synthesized call follows the schema: required keys, enum, integer range."""
        schema = {
            "type": "object",
            "required": ["city", "days", "units"],
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1, "maximum": 3},
                "units": {"enum": ["metric", "imperial"]},
            },
        }
        tools = [
            {"type": "code_execution_20260120", "name": "code_execution"},
            {
                "name": "forecast",
                "description": "d",
                "input_schema": schema,
                "allowed_callers": ["code_execution_20260120"],
            },
        ]
        body = {
            "model": MODEL,
            "max_tokens": 500,
            "tools": tools,
            "messages": [{"role": "user", "content": "Plan a picnic"}],
        }
        first = json.loads(post(Emulator(seed=1, clock=ManualClock()))(body)[2])
        call = first["content"][2]
        assert call["input"]["city"] == "Paris" and call["input"]["units"] == "metric"
        assert 1 <= call["input"]["days"] <= 3
        assert "await forecast(" in first["content"][1]["input"]["code"]

    def test_no_tools_gives_text(self) -> None:
        """A plain chat request gets a deterministic text answer."""
        body = {
            "model": MODEL,
            "max_tokens": 500,
            "messages": [{"role": "user", "content": "Hello {there}"}],
        }
        message = json.loads(post(Emulator(seed=1, clock=ManualClock()))(body)[2])
        assert (
            message["stop_reason"] == "end_turn"
            and "Hello {there}" in message["content"][0]["text"]
        )
        assert message["container"] is None


class TestToolChoice:
    def body(self, choice, programmatic=True):
        scenario = builtin_scenario("mixed_direct_and_code")
        return {
            "model": MODEL,
            "max_tokens": 500,
            "tools": scenario.tool_definitions(programmatic=programmatic),
            "tool_choice": choice,
            "messages": [{"role": "user", "content": scenario.prompt}],
        }

    def test_none(self) -> None:
        """tool_choice none: text only."""
        message = json.loads(post(Emulator(seed=1))(self.body({"type": "none"}))[2])
        assert [b["type"] for b in message["content"]] == ["text"]

    def test_forced_tool_never_ends_the_turn(self) -> None:
        """tool_choice tool: every response calls that tool, without lead-in text."""
        emulator = Emulator(seed=1)
        body = self.body({"type": "tool", "name": "get_customer"})
        for _ in range(2):
            message = json.loads(post(emulator)(body)[2])
            assert [b["type"] for b in message["content"]] == ["tool_use"]
            assert message["content"][0]["name"] == "get_customer"
            body["messages"] += [
                {"role": "assistant", "content": message["content"]},
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": message["content"][0]["id"],
                            "content": "{}",
                        }
                    ],
                },
            ]

    def test_any_means_direct(self) -> None:
        """tool_choice any: direct calls even where code could call them."""
        body = self.body({"type": "any"}, programmatic=False)
        message = json.loads(post(Emulator(seed=1))(body)[2])
        assert all(
            b["caller"] == {"type": "direct"}
            for b in message["content"]
            if b["type"] == "tool_use"
        )


class TestCallerVersions:
    @pytest.mark.parametrize(
        ("tool", "caller"),
        [
            ("code_execution_20260521", "code_execution_20260120"),
            ("code_execution_20250825", "code_execution_20250825"),
        ],
    )
    def test_caller_type(self, tool: str, caller: str) -> None:
        """20260521 answers as 20260120; the beta-era 20250825 answers as itself."""
        scenario = builtin_scenario("parallel_weather")
        tools = scenario.tool_definitions(code_execution=tool)
        tools[1]["allowed_callers"] = [tool]
        body = {
            "model": MODEL,
            "max_tokens": 500,
            "tools": tools,
            "messages": [{"role": "user", "content": scenario.prompt}],
        }
        message = json.loads(post(Emulator(seed=1))(body)[2])
        assert {
            b["caller"]["type"] for b in message["content"] if b["type"] == "tool_use"
        } == {caller}


def test_same_seed_same_everything() -> None:
    """Two emulators with the same seed and clock answer a request sequence byte for byte alike."""
    runs = []
    for _ in range(2):
        emulator = Emulator(seed=42, clock=ManualClock())
        runs.append(
            [
                raw_loop(post(emulator), builtin_scenario(n), stream=s)
                for n in ("database_filter", "failing_tool", "mixed_direct_and_code")
                for s in (False, True)
            ]
        )
    assert runs[0] == runs[1]
    other = Emulator(seed=43, clock=ManualClock())
    assert raw_loop(post(other), builtin_scenario(NAMES[0]), stream=False) != runs[0][0]


def test_scenario_header_selects_by_name() -> None:
    """x-emulator-scenario picks a loaded scenario; an unknown name is a 400."""
    emulator = Emulator(seed=1)
    scenario = builtin_scenario("sales_by_region")
    body = {
        "model": MODEL,
        "max_tokens": 500,
        "tools": scenario.tool_definitions(),
        "messages": [{"role": "user", "content": "anything"}],
    }
    message = json.loads(
        post(emulator, **{"x-emulator-scenario": "sales_by_region"})(body)[2]
    )
    assert message["content"][0]["text"] == scenario.phases[0].text
    status, _, data = post(emulator, **{"x-emulator-scenario": "nope"})(body)
    assert status == 400 and b"unknown scenario" in data


class TestCodeFailures:
    TOOLS = [
        {
            "name": "probe",
            "description": "d",
            "input_schema": {"type": "object"},
            "allowed_callers": ["code_execution_20260120"],
        },
    ]

    def play(
        self, phase: dict[str, Any], *, fail_first: bool = False
    ) -> list[dict[str, Any]]:
        data = {
            "name": "probe",
            "prompt": "probe it",
            "tools": self.TOOLS,
            "phases": [phase],
        }
        scenario = Scenario.from_dict(data)
        emulator = Emulator(
            seed=1, clock=ManualClock(), scenarios=[scenario], builtin_scenarios=False
        )
        tools = scenario.tool_definitions()
        messages: list[dict[str, Any]] = [{"role": "user", "content": "probe it"}]
        out, container = [], None
        for _ in range(5):
            body = {
                "model": MODEL,
                "max_tokens": 500,
                "tools": tools,
                "messages": messages,
                **({"container": container} if container else {}),
            }
            message = json.loads(post(emulator)(body)[2])
            Message.model_validate(message)  # the SDK's types accept it
            out.append(message)
            container = (message.get("container") or {}).get("id", container)
            if message["stop_reason"] != "tool_use":
                return out
            results = [
                {
                    "type": "tool_result",
                    "tool_use_id": b["id"],
                    "content": "boom" if fail_first else "42",
                    **({"is_error": True} if fail_first else {}),
                }
                for b in message["content"]
                if b["type"] == "tool_use"
            ]
            fail_first = False
            messages = [
                *messages,
                {"role": "assistant", "content": message["content"]},
                {"role": "user", "content": results},
            ]
        raise AssertionError("loop did not end")

    def test_code_error(self) -> None:
        """code_error ends the run with a code_execution_tool_result_error the SDK parses."""
        out = self.play(
            {
                "kind": "code",
                "code_error": "execution_time_exceeded",
                "calls": [{"tool": "probe", "input": {"n": 1}}],
            }
        )
        result = out[-1]["content"][0]
        assert result["content"] == {
            "type": "code_execution_tool_result_error",
            "error_code": "execution_time_exceeded",
        }
        assert out[-1]["stop_reason"] == "end_turn"

    def test_continue_after_a_tool_error(self) -> None:
        """With on_tool_error continue (the default) the code prints the error and makes the next call."""
        out = self.play(
            {
                "kind": "code",
                "calls": [
                    {"tool": "probe", "input": {"n": 1}, "label": "one"},
                    {"tool": "probe", "input": {"n": 2}, "label": "two"},
                ],
            },
            fail_first=True,
        )
        assert len(out) == 3
        result = out[-1]["content"][0]["content"]
        assert (
            result["stdout"] == "one: error: boom\ntwo: 42\n"
            and result["return_code"] == 0
        )
