"""From a scenario to the steps one request can take, and the code a step shows.

A :class:`Step` is one model action: a direct turn (one batch of direct calls)
or a code run (every batch issued from one code execution). Which one a
scenario phase becomes depends on the request: programmatic calling needs a
PTC-capable code-execution tool, ``tool_choice`` ``auto`` and tools that allow a
code-execution caller; otherwise a code phase degrades to one direct turn per
batch, as a model without PTC would answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from .history import RequestView
from .scenarios import Call, Phase, Scenario


@dataclass(frozen=True)
class Step:
    """One model action of a plan: ``kind`` is ``"direct"`` or ``"code"``."""

    kind: str
    phase: Phase
    batches: tuple[tuple[Call, ...], ...]
    text: str | None


def summarize_result(text: str | None, is_error: bool) -> str:
    """A one-line digest of a tool result, as the emulated code prints it."""
    if text is None:
        return "no result"
    if is_error:
        return "error: " + (text.strip().splitlines() or [""])[0][:120]
    try:
        value = json.loads(text)
    except ValueError:
        return (text.strip().splitlines() or [""])[0][:120]
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], Mapping):
        value = value[0]
    if isinstance(value, list):
        return f"{len(value)} items"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in list(value.items())[:4])
    return str(value)


def default_code(step: Step) -> str:
    """Python for a code run that the scenario did not script."""
    lines = ["import asyncio", "import json", "", "results = {}"]
    for batch in step.batches:
        if len(batch) == 1:
            call = batch[0]
            lines.append(
                f"results[{call.display_label!r}] = await {call.tool}({dict(call.input)!r})"
            )
        else:
            lines.append("batch = await asyncio.gather(")
            lines.extend(f"    {c.tool}({dict(c.input)!r})," for c in batch)
            lines.append(")")
            lines.append(
                f"results.update(zip({[c.display_label for c in batch]!r}, batch))"
            )
    lines += [
        "",
        "for label, raw in results.items():",
        "    print(f'{label}: {raw[:200]}')",
        "",
    ]
    return "\n".join(lines)


def plan_steps(view: RequestView, scenario: Scenario) -> list[Step]:
    """The scenario as steps for this request's tools and ``tool_choice``."""
    choice = view.tool_choice["type"]
    if choice == "none":
        return []
    steps: list[Step] = []
    for phase in scenario.phases:
        batches = [
            tuple(c for c in b if c.tool in view.tools_by_name) for b in phase.batches
        ]
        batches = [b for b in batches if b]
        tools = {c.tool for b in batches for c in b}
        if not batches:
            continue
        can_code = choice == "auto" and all(view.allows_code(t) for t in tools)
        can_direct = all(view.allows_direct(t) for t in tools)
        if can_code and (phase.kind == "code" or not can_direct):
            steps.append(Step("code", phase, tuple(batches), phase.text))
            continue
        direct = [tuple(c for c in b if view.allows_direct(c.tool)) for b in batches]
        for n, batch in enumerate(b for b in direct if b):
            lead = (
                phase.text
                if phase.kind == "direct"
                else phase.direct_text or "Let me look that up."
            )
            steps.append(Step("direct", phase, (batch,), lead if n == 0 else None))
    if choice == "tool":
        name = view.tool_choice["name"]
        steps = [
            Step(
                "direct",
                s.phase,
                (tuple(c for c in s.batches[0] if c.tool == name),),
                None,
            )
            for s in steps
            if s.kind == "direct" and any(c.tool == name for c in s.batches[0])
        ]
    elif choice == "any":
        steps = [Step(s.kind, s.phase, s.batches, None) for s in steps]
    return steps
