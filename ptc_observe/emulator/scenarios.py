"""Scenarios: scripted tool-calling tasks the emulator plays, as data.

A scenario says which tool calls the model makes for a task and how it answers.
It is written once and played in both modes: when the request declares a
code-execution tool and the tools allow a code-execution caller, a ``code``
phase runs as programmatic tool calling (one ``server_tool_use`` whose code
issues the calls batch by batch); otherwise the same phase becomes one direct
model turn per batch. Files are JSON or YAML (YAML needs the ``yaml`` extra)::

    name: sales_by_region
    prompt: Compare Q2 revenue for West, East and Central.
    tools: [{name: query_sales, description: ..., input_schema: {...},
             allowed_callers: [code_execution_20260120]}]
    phases:
      - kind: code                       # or: direct
        text: I'll total Q2 revenue for each region with a short script.
        batches:                         # a mapping = one call; a list = parallel calls
          - {tool: query_sales, input: {sql: "SELECT ..."}, label: West}
          - [{tool: query_sales, input: {sql: "..."}}, {tool: query_sales, input: {sql: "..."}}]
    final: "Q2 revenue by region:\\n{summary}"

Templates (``final``, ``stdout``) may use ``{summary}`` (one line per call,
built from the tool results the client sent), ``{calls}`` and ``{errors}``.
The built-in scenarios live in ``ptc_observe/emulator/scenarios/*.json``.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

from .faults import FaultRule, Latency

DEFAULT_FINAL = "Here is what I found:\n{summary}"
TEMPLATE_FIELDS = frozenset({"summary", "calls", "errors"})
CODE_ERRORS = frozenset(
    {
        "invalid_tool_input",
        "unavailable",
        "too_many_requests",
        "execution_time_exceeded",
    }
)


@dataclass(frozen=True)
class Call:
    """One tool call the model (or its code) makes.

    Args:
        tool: the tool's name.
        input: the call's input.
        label: short name used in summaries (default ``tool(first input value)``).
        result: what the client's tool is expected to return (advisory: for demos
            and tests that implement tools from the scenario; the emulator uses
            whatever ``tool_result`` the client actually sends).
        error: the client's tool is expected to fail (advisory, like ``result``).
    """

    tool: str
    input: Mapping[str, Any]
    label: str | None = None
    result: str | None = None
    error: bool = False

    @property
    def display_label(self) -> str:
        """The label used in stdout and final-text summaries."""
        if self.label:
            return self.label
        first = next(iter(self.input.values()), "")
        text = first if isinstance(first, str) else json.dumps(first)
        return f"{self.tool}({text[:40]})"


@dataclass(frozen=True)
class Phase:
    """A run of tool calls: one code execution, or direct model turns.

    Args:
        kind: ``"code"`` (programmatic when possible) or ``"direct"``.
        batches: calls grouped by round; calls in one batch run in parallel.
        text: the model's lead-in text.
        direct_text: lead-in when a code phase has to run as direct calls.
        code: the Python shown in ``server_tool_use.input.code`` (default generated).
        stdout: template of the code's stdout (default: the summary lines).
        on_tool_error: ``"continue"`` (print the error, go on) or ``"raise"``
            (the code stops with a traceback, ``return_code`` 1).
        code_error: make the code result a ``code_execution_tool_result_error``
            with this ``error_code`` (e.g. ``execution_time_exceeded``).
        shuffle: emit a parallel batch's ``tool_use`` blocks in a seeded order
            that differs from the code's (as recorded responses do).
    """

    kind: str
    batches: tuple[tuple[Call, ...], ...]
    text: str | None = None
    direct_text: str | None = None
    code: str | None = None
    stdout: str | None = None
    on_tool_error: str = "continue"
    code_error: str | None = None
    shuffle: bool = True

    @property
    def tools(self) -> list[str]:
        """Names of the tools called, in first-use order."""
        return list(
            dict.fromkeys(call.tool for batch in self.batches for call in batch)
        )


@dataclass(frozen=True)
class Scenario:
    """A scripted task.

    Args:
        name: unique name (also selectable with the ``x-emulator-scenario`` header).
        phases: what the model does, in order.
        final: template of the final answer.
        final_direct: template of the final answer when no code ran (default ``final``).
        description: one line for humans.
        prompt: a user prompt that fits the scenario.
        tools: tool definitions a client should declare (``allowed_callers`` as for PTC).
        match_tools: tools a request must declare for the scenario to apply
            (default: every tool the phases call).
        match_prompt: text the task's user prompt must contain (case-insensitive).
        faults: faults to inject while this scenario plays.
        latency: timing while this scenario plays.
    """

    name: str
    phases: tuple[Phase, ...]
    final: str = DEFAULT_FINAL
    final_direct: str | None = None
    description: str = ""
    prompt: str | None = None
    tools: tuple[Mapping[str, Any], ...] = ()
    match_tools: tuple[str, ...] | None = None
    match_prompt: str | None = None
    faults: tuple[FaultRule, ...] = ()
    latency: Latency | None = None
    calls_index: Mapping[str, Call] = field(
        default_factory=dict, compare=False, repr=False
    )

    def required_tools(self) -> list[str]:
        """Tool names a request must declare for this scenario to match."""
        if self.match_tools is not None:
            return list(self.match_tools)
        return list(dict.fromkeys(t for phase in self.phases for t in phase.tools))

    def matches(self, tool_names: Sequence[str], prompt: str) -> bool:
        """Whether a request declaring ``tool_names`` with task ``prompt`` fits."""
        if not set(self.required_tools()) <= set(tool_names):
            return False
        return self.match_prompt is None or self.match_prompt.lower() in prompt.lower()

    def tool_definitions(
        self,
        *,
        programmatic: bool = True,
        code_execution: str = "code_execution_20260120",
    ) -> list[dict[str, Any]]:
        """Tool definitions to send for this scenario.

        Args:
            programmatic: ``True``: the code-execution tool plus the tools as the
                scenario declares them; ``False``: the tools without
                ``allowed_callers`` and no code-execution tool (direct calling).
            code_execution: the code-execution tool version to declare.
        """
        tools = [dict(t) for t in self.tools]
        if not programmatic:
            return [
                {k: v for k, v in t.items() if k != "allowed_callers"} for t in tools
            ]
        return [{"type": code_execution, "name": "code_execution"}, *tools]

    def call_for(self, tool: str, tool_input: Mapping[str, Any]) -> Call | None:
        """The scripted call of ``tool`` with ``tool_input``, if there is one."""
        return self.calls_index.get(_call_key(tool, tool_input))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Build a scenario from parsed JSON/YAML.

        Raises:
            ValueError: naming the offending key when the data is malformed.
        """
        return _parse_scenario(data)


def _call_key(tool: str, tool_input: Mapping[str, Any]) -> str:
    return tool + "\x00" + json.dumps(tool_input, sort_keys=True)


def _parse_call(data: Any, where: str) -> Call:
    if not isinstance(data, Mapping) or not isinstance(data.get("tool"), str):
        raise ValueError(f"{where}: a call needs a string 'tool'")
    tool_input = data.get("input", {})
    if not isinstance(tool_input, Mapping):
        raise ValueError(f"{where}.input: must be a mapping")
    unknown = set(data) - {"tool", "input", "label", "result", "error"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    result = data.get("result")
    if result is not None and not isinstance(result, str):
        result = json.dumps(result)
    return Call(
        data["tool"],
        dict(tool_input),
        data.get("label"),
        result,
        bool(data.get("error", False)),
    )


def _parse_phase(data: Any, where: str) -> Phase:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: a phase must be a mapping")
    known = {
        "kind",
        "batches",
        "calls",
        "text",
        "direct_text",
        "code",
        "stdout",
        "on_tool_error",
        "code_error",
        "shuffle",
    }
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    kind = data.get("kind", "code")
    if kind not in ("code", "direct"):
        raise ValueError(f"{where}.kind: expected 'code' or 'direct', got {kind!r}")
    batches: list[tuple[Call, ...]] = []
    for i, item in enumerate(data.get("batches") or []):
        items = item if isinstance(item, list) else [item]
        if not items:
            raise ValueError(f"{where}.batches.{i}: empty batch")
        batches.append(
            tuple(
                _parse_call(c, f"{where}.batches.{i}.{j}") for j, c in enumerate(items)
            )
        )
    for i, item in enumerate(data.get("calls") or []):
        batches.append((_parse_call(item, f"{where}.calls.{i}"),))
    on_error = data.get("on_tool_error", "continue")
    if on_error not in ("continue", "raise"):
        raise ValueError(f"{where}.on_tool_error: expected 'continue' or 'raise'")
    code_error = data.get("code_error")
    if code_error is not None and code_error not in CODE_ERRORS:
        raise ValueError(f"{where}.code_error: expected one of {sorted(CODE_ERRORS)}")
    for key in ("stdout",):
        _check_template(data.get(key), f"{where}.{key}")
    return Phase(
        kind=kind,
        batches=tuple(batches),
        text=data.get("text"),
        direct_text=data.get("direct_text"),
        code=data.get("code"),
        stdout=data.get("stdout"),
        on_tool_error=on_error,
        code_error=code_error,
        shuffle=bool(data.get("shuffle", True)),
    )


def _check_template(template: Any, where: str) -> None:
    if template is None:
        return
    if not isinstance(template, str):
        raise ValueError(f"{where}: must be a string")
    for _, name, _, _ in string.Formatter().parse(template):
        if name is not None and name not in TEMPLATE_FIELDS:
            raise ValueError(
                f"{where}: unknown placeholder {{{name}}}; use {sorted(TEMPLATE_FIELDS)}"
            )


def _parse_scenario(data: Mapping[str, Any]) -> Scenario:
    if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
        raise ValueError("scenario: a string 'name' is required")
    known = {
        "name",
        "description",
        "prompt",
        "tools",
        "match",
        "phases",
        "final",
        "final_direct",
        "faults",
        "latency",
    }
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"scenario {data['name']}: unknown keys {sorted(unknown)}")
    phases = tuple(
        _parse_phase(p, f"phases.{i}") for i, p in enumerate(data.get("phases") or [])
    )
    final = data.get("final", DEFAULT_FINAL)
    _check_template(final, "final")
    _check_template(data.get("final_direct"), "final_direct")
    tools = data.get("tools") or []
    if not isinstance(tools, list) or not all(
        isinstance(t, Mapping) and "name" in t for t in tools
    ):
        raise ValueError("tools: a list of tool definitions with 'name'")
    match = data.get("match") or {}
    match_tools = match.get("tools")
    faults = tuple(FaultRule.from_dict(f) for f in data.get("faults") or [])
    latency = Latency.from_dict(data["latency"]) if data.get("latency") else None
    index = {
        _call_key(call.tool, call.input): call
        for phase in phases
        for batch in phase.batches
        for call in batch
    }
    return Scenario(
        name=data["name"],
        phases=phases,
        final=final,
        final_direct=data.get("final_direct"),
        description=data.get("description", ""),
        prompt=data.get("prompt"),
        tools=tuple(dict(t) for t in tools),
        match_tools=tuple(match_tools) if match_tools is not None else None,
        match_prompt=match.get("prompt_contains"),
        faults=faults,
        latency=latency,
        calls_index=index,
    )


def parse_scenario_text(text: str, *, yaml_format: bool = False) -> Scenario:
    """Parse scenario text (JSON, or YAML when ``yaml_format``).

    Raises:
        ImportError: YAML without PyYAML (install ``ptc-observe[yaml]``).
        ValueError: malformed scenario.
    """
    if yaml_format:
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "YAML scenarios need PyYAML: pip install 'ptc-observe[yaml]'"
            ) from exc
        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    return Scenario.from_dict(data)


def load_scenario(path: str | PathLike[str]) -> Scenario:
    """Load a scenario file (``.json``, ``.yaml`` or ``.yml``)."""
    path = Path(path)
    return parse_scenario_text(
        path.read_text(encoding="utf-8"), yaml_format=path.suffix in (".yaml", ".yml")
    )


def builtin_scenarios() -> list[Scenario]:
    """The scenarios shipped with ptc_observe, sorted by file name."""
    folder = resources.files("ptc_observe.emulator").joinpath("scenarios")
    files = sorted(
        (f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name
    )
    return [parse_scenario_text(f.read_text(encoding="utf-8")) for f in files]


def builtin_scenario(name: str) -> Scenario:
    """The built-in scenario called ``name``.

    Raises:
        KeyError: no built-in scenario has that name.
    """
    for scenario in builtin_scenarios():
        if scenario.name == name:
            return scenario
    raise KeyError(name)
