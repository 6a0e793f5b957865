"""Request validation and history analysis for ``POST /v1/messages``.

Implements the request rules of ``ptc-wire-format.md`` §2.7-2.8: tool
declarations (``allowed_callers``, ``strict``, circular ``$ref``), forced tool
choice, ``tool_use``/``tool_result`` pairing, and the strict rules for answering
programmatic calls (only ``tool_result`` blocks, one for every pending call,
text-only content, every ``caller.tool_id`` known, ``container`` present, the
code-execution tool declared again). Recorded wordings are used where the
reference gives them; the others are written in the same style.

The result is a :class:`RequestView`: the normalised request plus where the
current task's tool loop stands, which the policy reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import EmulatorError, invalid_request
from .history import RequestView, analyze_history, normalize_messages

ALLOWED_CALLERS = (
    "direct",
    "code_execution_20250825",
    "code_execution_20260120",
    "code_execution_20260521",
)
# Code-execution tool type -> the caller type responses carry (§0.3: 20260521 answers as 20260120).
PTC_CALLER_FOR_TOOL = {
    "code_execution_20250825": "code_execution_20250825",
    "code_execution_20260120": "code_execution_20260120",
    "code_execution_20260521": "code_execution_20260120",
}
NO_SAMPLING_PARAMS_VERSION = "2026-10-21"


def parse_messages_request(body: Any, *, anthropic_version: str) -> RequestView:
    """Validate a ``/v1/messages`` body.

    Raises:
        EmulatorError: 400 (or 404 for an unknown model) as the API answers.
    """
    if not isinstance(body, dict):
        raise invalid_request("Request body must be a JSON object.", "malformed_body")
    model = _require(body, "model", str, "a valid string")
    max_tokens = _require(body, "max_tokens", int, "a valid integer")
    if isinstance(max_tokens, bool) or max_tokens < 1:
        raise invalid_request(
            "max_tokens: Input should be greater than or equal to 1", "bad_field"
        )
    _check_model(model)
    if anthropic_version >= NO_SAMPLING_PARAMS_VERSION:
        for name in ("temperature", "top_p", "top_k"):
            if name in body:
                raise invalid_request(
                    f"{name}: not supported with anthropic-version {anthropic_version}; remove it",
                    "bad_field",
                )
    messages = normalize_messages(_require(body, "messages", list, "a valid list"))
    tools = _check_tools(body)
    by_name = {str(t["name"]): t for t in tools}
    code_tool = next(
        (t for t in tools if str(t.get("type", "")).startswith("code_execution_")), None
    )
    ptc_caller = None
    if code_tool is not None and "haiku" not in model:
        ptc_caller = PTC_CALLER_FOR_TOOL.get(str(code_tool.get("type")))
    tool_choice = _check_tool_choice(body, by_name, ptc_caller)
    _check_cache_controls(body, messages, tools)
    container_id = _container_id(body.get("container"))
    stop = body.get("stop_sequences") or []
    view = RequestView(
        body=body,
        model=model,
        max_tokens=max_tokens,
        stream=bool(body.get("stream", False)),
        messages=messages,
        tools=tools,
        tools_by_name=by_name,
        code_tool=code_tool,
        ptc_caller=ptc_caller,
        tool_choice=tool_choice,
        container_id=container_id,
        stop_sequences=[s for s in stop if isinstance(s, str) and s],
    )
    analyze_history(view)
    if view.pending:
        _check_pending(view)
    return view


def parse_count_tokens_request(body: Any) -> dict[str, Any]:
    """Validate a ``/v1/messages/count_tokens`` body (model, messages, tools).

    Raises:
        EmulatorError: 400/404 as for ``/v1/messages``.
    """
    if not isinstance(body, dict):
        raise invalid_request("Request body must be a JSON object.", "malformed_body")
    _check_model(_require(body, "model", str, "a valid string"))
    normalize_messages(_require(body, "messages", list, "a valid list"))
    _check_tools(body)
    return body


def _require(body: Mapping[str, Any], key: str, kind: type, what: str) -> Any:
    if key not in body:
        raise invalid_request(f"{key}: Field required", "missing_field")
    value = body[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise invalid_request(f"{key}: Input should be {what}", "bad_field")
    return value


def _check_model(model: str) -> None:
    if not model.startswith("claude-"):
        raise EmulatorError(404, f"model: {model}", reason="unknown_model")


def _check_tools(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise invalid_request("tools: Input should be a valid list", "bad_field")
    seen: set[str] = set()
    has_code = any(
        isinstance(t, Mapping) and str(t.get("type", "")).startswith("code_execution_")
        for t in tools
    )
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise invalid_request(f"tools.{i}.name: Field required", "bad_tool")
        if tool["name"] in seen:
            raise invalid_request("tools: Tool names must be unique.", "bad_tool")
        seen.add(tool["name"])
        callers = tool.get("allowed_callers")
        if callers is not None:
            if not isinstance(callers, list) or not callers:
                raise invalid_request(
                    f"tools.{i}.allowed_callers: Input should be a non-empty list",
                    "bad_tool",
                )
            for j, caller in enumerate(callers):
                if caller not in ALLOWED_CALLERS:
                    expected = ", ".join(repr(c) for c in ALLOWED_CALLERS)
                    raise invalid_request(
                        f"tools.{i}.allowed_callers.{j}: Input should be {expected}",
                        "bad_tool",
                    )
        if "type" not in tool or tool.get("type") == "custom":
            if not isinstance(tool.get("input_schema"), dict):
                raise invalid_request(
                    f"tools.{i}.custom.input_schema: Field required", "bad_tool"
                )
        code_caller = any(str(c).startswith("code_execution_") for c in callers or [])
        if code_caller and has_code:
            _check_programmatic_tool(i, tool, body)
    return [t for t in tools if isinstance(t, dict)]


def _check_programmatic_tool(
    i: int, tool: Mapping[str, Any], body: Mapping[str, Any]
) -> None:
    name = tool["name"]
    if tool.get("strict") is True:
        raise invalid_request(
            f"tools.{i}: `strict` is not supported for tool `{name}`, which allows a code execution caller",
            "ptc_strict_tool",
        )
    choice = body.get("tool_choice") or {}
    if isinstance(choice, Mapping) and choice.get("disable_parallel_tool_use") is True:
        raise invalid_request(
            "tool_choice.disable_parallel_tool_use: not supported with tools that allow a code execution caller",
            "ptc_disable_parallel",
        )
    cycle = _ref_cycle(tool.get("input_schema") or {})
    if cycle:
        raise invalid_request(
            f"tools.{i}.input_schema: Circular $ref detected ({' -> '.join(cycle)}); "
            "schemas of tools with a code execution caller cannot be recursive",
            "ptc_circular_ref",
        )


def _ref_cycle(schema: Mapping[str, Any]) -> list[str]:
    """A cycle of ``$ref`` names in ``schema`` (``#`` is the root), or ``[]``."""
    graph: dict[str, set[str]] = {"#": set()}
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        if isinstance(schema.get(key), Mapping):
            defs.update({f"#/{key}/{name}": sub for name, sub in schema[key].items()})

    def refs(node: Any, owner: str, top: bool) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if top and key in ("$defs", "definitions"):
                    continue
                if key == "$ref" and isinstance(value, str):
                    graph.setdefault(owner, set()).add(value)
                else:
                    refs(value, owner, False)
        elif isinstance(node, list):
            for item in node:
                refs(item, owner, False)

    refs(schema, "#", True)
    for name, sub in defs.items():
        graph.setdefault(name, set())
        refs(sub, name, False)
    # Depth-first search from the root for a back edge.
    path: list[str] = []

    def visit(node: str) -> list[str]:
        if node in path:
            return [*path[path.index(node) :], node]
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            found = visit(nxt)
            if found:
                return found
        path.pop()
        return []

    return visit("#")


def _check_tool_choice(
    body: Mapping[str, Any],
    tools: Mapping[str, Mapping[str, Any]],
    ptc_caller: str | None,
) -> dict[str, Any]:
    choice = body.get("tool_choice") or {"type": "auto"}
    if not isinstance(choice, dict) or choice.get("type") not in (
        "auto",
        "any",
        "tool",
        "none",
    ):
        raise invalid_request(
            "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'",
            "bad_field",
        )
    if choice["type"] == "tool":
        name = choice.get("name")
        if name not in tools:
            raise invalid_request(
                f"tool_choice.name: tool `{name}` is not in `tools`", "bad_tool_choice"
            )
        callers = tools[str(name)].get("allowed_callers") or ["direct"]
        if "direct" not in callers:
            raise invalid_request(
                f"tool_choice: tool `{name}` cannot be forced because its `allowed_callers` does not include "
                '"direct"',
                "ptc_forced_tool",
            )
    return choice


def _check_cache_controls(
    body: Mapping[str, Any], messages: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> None:
    count = sum(1 for t in tools if t.get("cache_control"))
    system = body.get("system")
    if isinstance(system, list):
        count += sum(
            1 for b in system if isinstance(b, Mapping) and b.get("cache_control")
        )
    for message in messages:
        count += sum(1 for b in message["content"] if b.get("cache_control"))
    if count > 4:
        raise invalid_request(
            f"A maximum of 4 blocks with cache_control may be provided. Found {count}.",
            "too_many_cache_controls",
        )


def _container_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and (
        value.get("id") is None or isinstance(value.get("id"), str)
    ):
        return value.get("id")
    raise invalid_request(
        "container: Input should be a valid string or an object with `id`", "bad_field"
    )


def _check_pending(view: RequestView) -> None:
    """Rules for the request that answers paused programmatic calls (§2.7)."""
    last = len(view.messages) - 1
    ids = ", ".join(view.pending)
    if view.code_tool is None:
        raise invalid_request(
            "tools: the code execution tool must be declared again when answering programmatic tool calls "
            f"(pending: {ids})",
            "resume_missing_code_tool",
        )
    if view.container_id is None:
        raise invalid_request(
            f"container: a container id is required when answering programmatic tool calls (pending: {ids})",
            "resume_missing_container",
        )
    for k, block in enumerate(view.messages[last]["content"]):
        if (
            block.get("type") != "tool_result"
            or block.get("tool_use_id") not in view.pending
        ):
            continue
        content = block.get("content")
        if content is None or isinstance(content, str):
            continue
        for m, part in enumerate(content if isinstance(content, list) else [content]):
            kind = (
                part.get("type") if isinstance(part, Mapping) else type(part).__name__
            )
            if kind != "text":
                raise invalid_request(
                    f"messages.{last}.content.{k}.content.{m}: results of programmatic tool calls may only "
                    f"contain `text` blocks; found `{kind}`",
                    "resume_bad_result_content",
                )
