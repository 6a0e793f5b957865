"""The deterministic model: what the emulated Claude answers to a request.

A scenario becomes a list of *steps*: a direct turn (one model turn with direct
``tool_use`` blocks) or a code run (one ``server_tool_use`` whose code issues
programmatic calls batch by batch). The history says how many steps are done
(:mod:`.history`); the policy then writes the next response:

* start of a code run: lead-in text, ``server_tool_use`` (``code_execution``),
  the first batch of programmatic ``tool_use`` blocks, ``stop_reason: tool_use``;
* resume of a paused run: only the next batch (an unsampled continuation,
  usage zeros), or, when the code is done, the ``code_execution_tool_result``
  followed by whatever the model does next (final text, direct calls, more code);
* direct turn: lead-in text on the first turn, direct ``tool_use`` blocks;
* final: text built from the tool results, ``stop_reason: end_turn`` (or
  ``max_tokens`` / ``stop_sequence`` when the request limits it).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .containers import Container
from .history import RequestView, ToolUseRecord
from .ids import IdFactory
from .plan import Step, default_code, plan_steps, summarize_result
from .scenarios import Call, Scenario
from .shapes import (
    BASH_VERSIONS,
    bash_and_editor,
    thinking_block,
    thinking_enabled,
    web_fetch_pair,
    web_fetch_tool,
)
from .synth import generic_scenario
from .tokens import BYTES_PER_TOKEN, count_text


@dataclass
class Turn:
    """The content of one response and what it did to containers.

    Attributes:
        content: the response's content blocks.
        whole: per block, whether it arrives complete in ``content_block_start``
            (programmatic ``tool_use`` and result blocks) rather than through deltas;
            the others are model-written and count as output tokens.
        stop_reason, stop_sequence: as in the response.
        sampled: ``False`` for an unsampled PTC continuation (usage zeros).
        started: ``srvtoolu`` ids of code runs started here.
        issued: ``srvtoolu`` id -> ``toolu`` ids of programmatic calls issued here.
        finished: ``srvtoolu`` ids of code runs whose result is in this response.
        code_outcomes: per finished run: ``ok``, ``tool_error``, ``timeout`` or ``code_error``.
        timed_out: ``toolu`` ids whose results came too late for the code.
    """

    content: list[dict[str, Any]] = field(default_factory=list)
    whole: list[bool] = field(default_factory=list)
    stop_reason: str = "end_turn"
    stop_sequence: str | None = None
    sampled: bool = True
    started: list[str] = field(default_factory=list)
    issued: dict[str, list[str]] = field(default_factory=dict)
    finished: list[str] = field(default_factory=list)
    code_outcomes: list[str] = field(default_factory=list)
    timed_out: set[str] = field(default_factory=set)

    @property
    def uses_code(self) -> bool:
        """Whether code ran for this response (it then reports a container)."""
        return bool(self.started or self.issued or self.finished)

    def add(self, block: dict[str, Any], *, whole: bool = False) -> None:
        """Append a content block."""
        self.content.append(block)
        self.whole.append(whole)


class Policy:
    """Writes responses for validated requests.

    Args:
        ids: the emulator's id factory.
        seed: the emulator seed (for per-response generators).
        clock: the injected clock.
        tool_result_timeout: seconds a paused call waits before the code times out.
        sub_tools: before a final answer the model may check something with the
            bash and text-editor sub-tools of the declared code-execution tool.
    """

    def __init__(
        self,
        ids: IdFactory,
        seed: int,
        clock: Clock,
        tool_result_timeout: float,
        sub_tools: bool = False,
    ) -> None:
        self._sub_tools = sub_tools
        self._ids = ids
        self._seed = seed
        self._clock = clock
        self._timeout = tool_result_timeout

    def scenario_for(
        self, view: RequestView, scenarios: Sequence[Scenario]
    ) -> Scenario:
        """The first scenario matching ``view``, else the generic one."""
        names = list(view.tools_by_name)
        for scenario in scenarios:
            if scenario.matches(names, view.prompt):
                return scenario
        custom = [
            n
            for n, t in view.tools_by_name.items()
            if t.get("type", "custom") == "custom"
        ]
        return generic_scenario(
            view.tools,
            view.prompt,
            code_callable=[n for n in custom if view.allows_code(n)],
            direct_callable=[n for n in custom if view.allows_direct(n)],
            programmatic=view.ptc_caller is not None
            and view.tool_choice["type"] == "auto",
            seed=self._seed,
        )

    def steps(self, view: RequestView, scenario: Scenario) -> list[Step]:
        """The scenario as steps for this request's tools and ``tool_choice``."""
        return plan_steps(view, scenario)

    def respond(
        self,
        view: RequestView,
        scenario: Scenario,
        container: Container | None,
        message_id: str,
    ) -> Turn:
        """Write the response content for ``view``."""
        rng = random.Random(f"{self._seed}:{message_id}")
        turn = Turn()
        self._write(view, scenario, container, turn, rng)
        if turn.sampled and thinking_enabled(view.body):
            # The model thinks before it writes (its own generator: the rest stays as it was).
            thought = thinking_block(view.prompt, self._task_rng(view, "thinking"))
            turn.content.insert(0, thought)
            turn.whole.insert(0, True)
        return turn

    def _write(
        self,
        view: RequestView,
        scenario: Scenario,
        container: Container | None,
        turn: Turn,
        rng: random.Random,
    ) -> None:
        steps = self.steps(view, scenario)
        runs = list(view.code_runs.items())
        direct_done, code_done = 0, 0
        for index, step in enumerate(steps):
            if step.kind == "direct":
                if direct_done < view.direct_turns:
                    direct_done += 1
                    continue
            elif code_done < len(runs):
                srv, batches = runs[code_done]
                code_done += 1
                if srv in view.finished_runs:
                    continue
                self._resume(
                    view, scenario, steps, index, srv, batches, container, turn, rng
                )
                return
            self._emit_from(view, scenario, steps, index, turn, rng)
            return
        self._emit_from(view, scenario, steps, len(steps), turn, rng)

    def _emit_from(
        self,
        view: RequestView,
        scenario: Scenario,
        steps: list[Step],
        index: int,
        turn: Turn,
        rng: random.Random,
    ) -> None:
        if index >= len(steps):
            if view.tool_choice["type"] in ("any", "tool"):
                # A forced tool choice never ends the turn: call the tool again.
                self._forced_repeat(view, scenario, turn)
            else:
                self._shell_check(view, turn)
                self._final(view, scenario, turn)
            return
        step = steps[index]
        if step.text:
            turn.add({"type": "text", "text": step.text})
        if step.kind == "direct":
            for call in step.batches[0]:
                turn.add(self._tool_use(call, None, view))
            turn.stop_reason = "tool_use"
            return
        srv = self._ids.server_tool_use()
        code = step.phase.code or default_code(step)
        block = {
            "type": "server_tool_use",
            "id": srv,
            "name": "code_execution",
            "input": {"code": code},
        }
        turn.add({**block, "caller": {"type": "direct"}})
        turn.started.append(srv)
        if step.batches:
            self._issue(view, step, 0, srv, turn, rng)
        else:
            self._finish(view, scenario, steps, index, srv, [], "ok", turn, rng)

    def _issue(
        self,
        view: RequestView,
        step: Step,
        n: int,
        srv: str,
        turn: Turn,
        rng: random.Random,
    ) -> None:
        batch = list(step.batches[n])
        if len(batch) > 1 and step.phase.shuffle:
            rng.shuffle(
                batch
            )  # recorded gathers come back in an order unlike the code's
        blocks = [self._tool_use(call, srv, view) for call in batch]
        for block in blocks:
            turn.add(block, whole=True)
        turn.issued[srv] = [b["id"] for b in blocks]
        turn.stop_reason = "tool_use"

    def _resume(
        self,
        view: RequestView,
        scenario: Scenario,
        steps: list[Step],
        index: int,
        srv: str,
        batches: list[list[ToolUseRecord]],
        container: Container | None,
        turn: Turn,
        rng: random.Random,
    ) -> None:
        step = steps[index]
        answered = batches[-1] if batches else []
        paused = container.paused_at.get(srv) if container is not None else None
        if paused is not None and self._clock() - paused > self._timeout:
            self._finish(
                view, scenario, steps, index, srv, answered, "timeout", turn, rng
            )
        elif step.phase.on_tool_error == "raise" and any(r.is_error for r in answered):
            self._finish(
                view, scenario, steps, index, srv, answered, "tool_error", turn, rng
            )
        elif len(batches) < len(step.batches):
            turn.sampled = False
            self._issue(view, step, len(batches), srv, turn, rng)
        else:
            outcome = "code_error" if step.phase.code_error else "ok"
            self._finish(
                view, scenario, steps, index, srv, answered, outcome, turn, rng
            )

    def _finish(
        self,
        view: RequestView,
        scenario: Scenario,
        steps: list[Step],
        index: int,
        srv: str,
        answered: list[ToolUseRecord],
        outcome: str,
        turn: Turn,
        rng: random.Random,
    ) -> None:
        step = steps[index]
        records = self._ordered(scenario, [r for r in view.records if r.srv == srv])
        if outcome == "timeout":
            turn.timed_out.update(r.id for r in answered)
        content: dict[str, Any]
        if outcome == "code_error":
            content = {
                "type": "code_execution_tool_result_error",
                "error_code": step.phase.code_error,
            }
        else:
            stdout, stderr, code = self._run_output(
                scenario, step, records, answered, outcome
            )
            content = {
                "type": "code_execution_result",
                "stdout": stdout,
                "stderr": stderr,
                "return_code": code,
            }
            content["content"] = []
        if outcome == "ok" and web_fetch_tool(view.tools_by_name) is not None:
            # The code fetched a page with the server's web_fetch (a programmatic call).
            pair = web_fetch_pair(
                self._ids.server_tool_use,
                srv,
                view.ptc_caller or "code_execution_20260120",
                self._task_rng(view, "web_fetch"),
            )
            for block, whole in pair or ():
                turn.add(block, whole=whole)
        turn.add(
            {
                "type": "code_execution_tool_result",
                "tool_use_id": srv,
                "content": content,
            },
            whole=True,
        )
        turn.finished.append(srv)
        turn.code_outcomes.append(outcome)
        self._emit_from(view, scenario, steps, index + 1, turn, rng)

    def _run_output(
        self,
        scenario: Scenario,
        step: Step,
        records: list[ToolUseRecord],
        answered: list[ToolUseRecord],
        outcome: str,
    ) -> tuple[str, str, int]:
        """stdout, stderr and return code of a finished code run."""
        if outcome == "timeout":
            done = [r for r in records if r not in answered]
            names = sorted({r.name for r in answered})
            stderr = f"TimeoutError: Calling tool {names!r} timed out (no response after {self._timeout:g}s)."
            return self._stdout(scenario, step, done), stderr, 0
        if outcome == "tool_error":
            failed = next(r for r in answered if r.is_error)
            done = [
                r
                for r in records
                if not r.is_error and r.message_index <= failed.message_index
            ]
            stderr = (
                "Traceback (most recent call last):\n"
                '  File "<code>", line 1, in <module>\n'
                f"RuntimeError: tool {failed.name} failed: {(failed.result or '').strip()}\n"
            )
            return self._stdout(scenario, step, done), stderr, 1
        return self._stdout(scenario, step, records), "", 0

    def _stdout(
        self, scenario: Scenario, step: Step, records: list[ToolUseRecord]
    ) -> str:
        lines = [self._line(scenario, r) for r in records]
        template = step.phase.stdout or "{summary}"
        text = template.format_map(
            {
                "summary": "\n".join(lines),
                "calls": len(records),
                "errors": sum(r.is_error for r in records),
            }
        )
        return text if text.endswith("\n") or not text else text + "\n"

    def _shell_check(self, view: RequestView, turn: Turn) -> None:
        """Before its final answer the model may check something in the container's
        shell: a text-editor ``create`` and a ``bash`` run, answered in this response."""
        tool = view.code_tool
        if not self._sub_tools or tool is None or tool.get("type") not in BASH_VERSIONS:
            return
        blocks = bash_and_editor(
            self._ids.server_tool_use, self._task_rng(view, "shell")
        )
        for block, whole in blocks or ():
            turn.add(block, whole=whole)
            if block["type"] == "server_tool_use":
                turn.started.append(block["id"])  # it runs in a container

    def _task_rng(self, view: RequestView, what: str) -> random.Random:
        """A generator for a choice that must not depend on timing: seeded by the task
        (its prompt) and where the request stands in it, not by ids, which concurrent
        tasks draw in whatever order they arrive."""
        return random.Random(f"{self._seed}:{what}:{view.prompt}:{view.round_trip}")

    def _final(self, view: RequestView, scenario: Scenario, turn: Turn) -> None:
        records = self._ordered(
            scenario, [r for r in view.records if r.result is not None]
        )
        lines = [
            f"{self._label(scenario, r)}: timed out"
            if r.id in turn.timed_out
            else self._line(scenario, r)
            for r in records
        ]
        summary = "\n".join(f"- {line}" for line in lines)
        errors = sum(r.is_error for r in records)
        code_ran = bool(view.code_runs) or bool(turn.finished)
        template = (
            scenario.final
            if code_ran or scenario.final_direct is None
            else scenario.final_direct
        )
        text = template.format_map(
            {"summary": summary, "calls": len(records), "errors": errors}
        )
        turn.stop_reason = "end_turn"
        for sequence in view.stop_sequences:
            at = text.find(sequence)
            if at >= 0:
                text, turn.stop_reason, turn.stop_sequence = (
                    text[:at],
                    "stop_sequence",
                    sequence,
                )
        if count_text(text) > view.max_tokens:
            text = text.encode()[: view.max_tokens * BYTES_PER_TOKEN].decode(
                "utf-8", "ignore"
            )
            turn.stop_reason, turn.stop_sequence = "max_tokens", None
        turn.add({"type": "text", "text": text})

    def _forced_repeat(self, view: RequestView, scenario: Scenario, turn: Turn) -> None:
        choice = view.tool_choice
        name = choice.get("name") or next(
            n for n in view.tools_by_name if view.allows_direct(n)
        )
        planned = [
            c for p in scenario.phases for b in p.batches for c in b if c.tool == name
        ]
        if planned:
            call = planned[-1]
        else:
            generic = generic_scenario(
                view.tools,
                view.prompt,
                code_callable=[],
                direct_callable=[name],
                programmatic=False,
                seed=self._seed,
            )
            call = generic.phases[0].batches[0][0]
        turn.add(self._tool_use(call, None, view))
        turn.stop_reason = "tool_use"

    def _tool_use(
        self, call: Call, srv: str | None, view: RequestView
    ) -> dict[str, Any]:
        caller: dict[str, Any] = {"type": "direct"}
        if srv is not None:
            caller = {"type": view.ptc_caller, "tool_id": srv}
        block_id = self._ids.tool_use()
        return {
            "type": "tool_use",
            "id": block_id,
            "name": call.tool,
            "input": dict(call.input),
            "caller": caller,
        }

    def _ordered(
        self, scenario: Scenario, records: list[ToolUseRecord]
    ) -> list[ToolUseRecord]:
        """Records in the scenario's order (a shuffled batch is put back in order)."""
        calls = (c for p in scenario.phases for b in p.batches for c in b)
        order = {
            (c.tool, json.dumps(c.input, sort_keys=True)): i
            for i, c in enumerate(calls)
        }
        return sorted(
            records,
            key=lambda r: (
                r.message_index,
                order.get((r.name, json.dumps(r.input, sort_keys=True)), len(order)),
            ),
        )

    def _label(self, scenario: Scenario, record: ToolUseRecord) -> str:
        tool_input = (
            record.input
            if isinstance(record.input, Mapping)
            else {"input": record.input}
        )
        call = scenario.call_for(record.name, tool_input) or Call(
            record.name, tool_input
        )
        return call.display_label

    def _line(self, scenario: Scenario, record: ToolUseRecord) -> str:
        return f"{self._label(scenario, record)}: {summarize_result(record.result, record.is_error)}"
