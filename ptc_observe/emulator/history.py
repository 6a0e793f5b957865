"""Reading a request's message history: pairing rules and the task loop.

The emulator keeps no per-conversation state besides containers: where a task
stands is read from the history the client sends back, as the real API must do
for direct tool use. That makes the policy a pure function of the request (a
retried request gets the same next step) and lets the pairing rules of
``ptc-wire-format.md`` §2.7-2.8 be checked in the same pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import invalid_request
from .tokens import tool_result_text


@dataclass
class ToolUseRecord:
    """One ``tool_use`` block of the task loop and the result the client sent.

    Attributes:
        id: the ``toolu_…`` id.
        name: the tool's name.
        input: the call's input.
        srv: the parent ``srvtoolu_…`` id for a programmatic call, ``None`` if direct.
        message_index: index of the assistant message holding the block.
        result: the text of the answering ``tool_result`` (``None`` if unanswered).
        is_error: the ``tool_result``'s ``is_error`` flag.
    """

    id: str
    name: str
    input: Any
    srv: str | None
    message_index: int
    result: str | None = None
    is_error: bool = False


def normalize_messages(raw: list[Any]) -> list[dict[str, Any]]:
    """Copy ``messages`` with every ``content`` as a list of block mappings.

    Raises:
        EmulatorError: 400 for an empty list, a bad role or a malformed block.
    """
    if not raw:
        raise invalid_request("messages: at least one message is required", "bad_field")
    messages: list[dict[str, Any]] = []
    for i, message in enumerate(raw):
        if not isinstance(message, Mapping):
            raise invalid_request(
                f"messages.{i}: Input should be a valid dictionary", "bad_message"
            )
        if message.get("role") not in ("user", "assistant"):
            raise invalid_request(
                f"messages.{i}.role: Input should be 'user' or 'assistant'",
                "bad_message",
            )
        content = message.get("content")
        if isinstance(content, str):
            blocks: list[dict[str, Any]] = [{"type": "text", "text": content}]
        elif isinstance(content, list):
            blocks = []
            for k, block in enumerate(content):
                if not isinstance(block, Mapping) or not isinstance(
                    block.get("type"), str
                ):
                    raise invalid_request(
                        f"messages.{i}.content.{k}.type: Field required", "bad_message"
                    )
                blocks.append(dict(block))
        else:
            raise invalid_request(
                f"messages.{i}.content: Field required", "bad_message"
            )
        messages.append({"role": message["role"], "content": blocks})
    return messages


def _is_programmatic(block: Mapping[str, Any]) -> bool:
    caller = block.get("caller")
    return isinstance(caller, Mapping) and caller.get("type") not in (None, "direct")


@dataclass
class RequestView:
    """A validated request and where its task loop stands.

    Attributes:
        body: the request body as parsed.
        model, max_tokens, stream: the request's fields.
        messages: messages with ``content`` always a list of blocks.
        tools: tool definitions; ``tools_by_name`` indexes them.
        code_tool: the declared code-execution tool, if any.
        ptc_caller: caller type of programmatic calls if this request can make
            them (a PTC-capable code tool, a model other than Haiku), else ``None``.
        tool_choice: the ``tool_choice`` object (``{"type": "auto"}`` by default).
        container_id: the ``container`` the request names, if any.
        prompt: text of the user message that started the current task.
        records: every ``tool_use`` in the task loop, in order.
        code_runs: ``srvtoolu`` id -> records of calls its code made, per response.
        finished_runs: code executions whose result is in the history.
        direct_turns: number of assistant messages in the loop with direct calls.
        pending: ``toolu`` id -> ``srvtoolu`` id for the programmatic calls the
            last message answers.
        programmatic_ids: ids of all programmatic ``tool_use`` blocks in the history.
        round_trip: 1 for the request carrying the task prompt, +1 per assistant turn since.
    """

    body: dict[str, Any]
    model: str
    max_tokens: int
    stream: bool
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    tools_by_name: dict[str, dict[str, Any]]
    code_tool: dict[str, Any] | None
    ptc_caller: str | None
    tool_choice: dict[str, Any]
    container_id: str | None
    stop_sequences: list[str]
    prompt: str = ""
    records: list[ToolUseRecord] = field(default_factory=list)
    code_runs: dict[str, list[list[ToolUseRecord]]] = field(default_factory=dict)
    finished_runs: set[str] = field(default_factory=set)
    direct_turns: int = 0
    pending: dict[str, str] = field(default_factory=dict)
    programmatic_ids: set[str] = field(default_factory=set)
    round_trip: int = 1

    def callers(self, name: str) -> list[str]:
        """``allowed_callers`` of tool ``name`` (``["direct"]`` when omitted)."""
        tool = self.tools_by_name.get(name) or {}
        return list(tool.get("allowed_callers") or ["direct"])

    def allows_code(self, name: str) -> bool:
        """Whether tool ``name`` may be called from code in this request."""
        return self.ptc_caller is not None and any(
            c.startswith("code_execution_") for c in self.callers(name)
        )

    def allows_direct(self, name: str) -> bool:
        """Whether tool ``name`` may be called directly."""
        return "direct" in self.callers(name)


def analyze_history(view: RequestView) -> None:
    """Check pairing rules over ``view.messages`` and fill in the loop fields.

    Raises:
        EmulatorError: 400 with the API's wording for orphaned callers, missing or
            unexpected ``tool_result`` blocks, and non-result blocks next to the
            results of programmatic calls.
    """
    messages = view.messages
    server_ids = {
        b.get("id")
        for m in messages
        if m["role"] == "assistant"
        for b in m["content"]
        if b["type"] == "server_tool_use"
    }
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        uses = [b for b in message["content"] if b["type"] == "tool_use"]
        programmatic = [b for b in uses if _is_programmatic(b)]
        for block in programmatic:
            source = block["caller"].get("tool_id")
            if source not in server_ids:
                raise invalid_request(
                    f"source tool `{source}` not found for tool use block `{block.get('id')}`",
                    "orphaned_caller",
                )
            view.programmatic_ids.add(str(block.get("id")))
        if not uses or (i == len(messages) - 1 and not programmatic):
            continue  # a trailing assistant message without programmatic calls is a prefill
        _check_answers(messages, i, uses, programmatic)
    _check_unexpected_results(messages)
    _read_loop(view)


def _check_answers(
    messages: list[dict[str, Any]],
    i: int,
    uses: list[dict[str, Any]],
    programmatic: list[dict[str, Any]],
) -> None:
    following = messages[i + 1] if i + 1 < len(messages) else None
    answered = set()
    if following is not None and following["role"] == "user":
        answered = {
            b.get("tool_use_id")
            for b in following["content"]
            if b["type"] == "tool_result"
        }
    missing = [str(b.get("id")) for b in uses if b.get("id") not in answered]
    if missing:
        reason = (
            "resume_missing_result"
            if any(b.get("id") in missing for b in programmatic)
            else "missing_result"
        )
        raise invalid_request(
            f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
            f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block "
            "in the next message.",
            reason,
        )
    if programmatic and following is not None:
        for k, block in enumerate(following["content"]):
            if block["type"] != "tool_result":
                raise invalid_request(
                    f"messages.{i + 1}.content.{k}: a message answering programmatic tool calls may contain only "
                    f"`tool_result` blocks; found `{block['type']}`",
                    "resume_text_block",
                )


def _check_unexpected_results(messages: list[dict[str, Any]]) -> None:
    for j, message in enumerate(messages):
        if message["role"] != "user":
            continue
        previous = (
            messages[j - 1]
            if j > 0 and messages[j - 1]["role"] == "assistant"
            else None
        )
        known = (
            {b.get("id") for b in previous["content"] if b["type"] == "tool_use"}
            if previous
            else set()
        )
        for k, block in enumerate(message["content"]):
            if block["type"] == "tool_result" and block.get("tool_use_id") not in known:
                raise invalid_request(
                    f"messages.{j}.content.{k}: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding `tool_use` "
                    "block in the previous message.",
                    "unexpected_tool_result",
                )


def _read_loop(view: RequestView) -> None:
    """Find the task's start (the last user turn without tool results) and read the loop."""
    messages = view.messages
    start = 0
    for i, message in enumerate(messages):
        kinds = {b["type"] for b in message["content"]}
        if message["role"] == "user" and "tool_result" not in kinds and kinds:
            start = i
    view.prompt = "\n".join(
        str(b.get("text", ""))
        for b in messages[start]["content"]
        if b["type"] == "text"
    )
    by_id: dict[str, ToolUseRecord] = {}
    for i in range(start + 1, len(messages)):
        message = messages[i]
        if message["role"] == "user":
            for block in message["content"]:
                record = (
                    by_id.get(str(block.get("tool_use_id")))
                    if block["type"] == "tool_result"
                    else None
                )
                if record is not None:
                    record.result = tool_result_text(block.get("content"))
                    record.is_error = bool(block.get("is_error", False))
            continue
        view.round_trip += 1
        has_direct = False
        batches: dict[str, list[ToolUseRecord]] = {}
        for block in message["content"]:
            kind = block["type"]
            if kind == "server_tool_use" and block.get("name") == "code_execution":
                view.code_runs.setdefault(str(block.get("id")), [])
            elif kind == "code_execution_tool_result":
                view.finished_runs.add(str(block.get("tool_use_id")))
            elif kind == "tool_use":
                srv = (
                    str(block["caller"].get("tool_id"))
                    if _is_programmatic(block)
                    else None
                )
                record = ToolUseRecord(
                    str(block.get("id")),
                    str(block.get("name")),
                    block.get("input"),
                    srv,
                    i,
                )
                by_id[record.id] = record
                view.records.append(record)
                if srv is None:
                    has_direct = True
                else:
                    batches.setdefault(srv, []).append(record)
        for srv, batch in batches.items():
            view.code_runs.setdefault(srv, []).append(batch)
        view.direct_turns += has_direct
    if (
        len(messages) >= 2
        and messages[-1]["role"] == "user"
        and messages[-2]["role"] == "assistant"
    ):
        view.pending = {
            str(b.get("id")): str(b["caller"].get("tool_id"))
            for b in messages[-2]["content"]
            if b["type"] == "tool_use" and _is_programmatic(b)
        }
