"""The default policy for requests no scenario matches.

The emulator still answers as the API would: it builds a one-off
:class:`~ptc_observe.emulator.scenarios.Scenario` from the request's tools.
Tools that allow a code-execution caller are called once each from one code
execution when the request makes programmatic calling possible; tools callable
only directly get one direct turn first; without programmatic calling every
callable tool gets its own direct turn ("one model turn per round"). Inputs are
made up from each tool's ``input_schema`` with a generator seeded by the
emulator seed and the tool name, so they do not depend on the request order.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .scenarios import Call, Phase, Scenario

_WORD = re.compile(r"[A-Za-z][A-Za-z\-]{3,}")
_STOPWORDS = frozenset(
    {
        "what",
        "which",
        "with",
        "from",
        "that",
        "this",
        "have",
        "does",
        "tell",
        "please",
        "about",
    }
)


def prompt_keyword(prompt: str) -> str:
    """The longest content word of ``prompt`` (lower-case), or ``"example"``."""
    words = [w.lower() for w in _WORD.findall(prompt) if w.lower() not in _STOPWORDS]
    return max(words, key=len) if words else "example"


def synthesize_input(
    schema: Mapping[str, Any], *, rng: random.Random, prompt: str, name: str = ""
) -> Any:
    """A plausible value for JSON ``schema`` (objects fill their required properties).

    Args:
        schema: a JSON Schema fragment.
        rng: the seeded generator to draw numbers from.
        prompt: the user's prompt, a source of search words.
        name: the property name, used to pick realistic strings.
    """
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        props = schema.get("properties") or {}
        wanted = schema.get("required") or list(props)
        return {
            key: synthesize_input(props.get(key, {}), rng=rng, prompt=prompt, name=key)
            for key in wanted
            if isinstance(props.get(key, {}), Mapping)
        }
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        return [synthesize_input(items or {}, rng=rng, prompt=prompt, name=name)]
    if kind == "integer":
        low = int(schema.get("minimum", 1))
        return rng.randint(low, max(low, int(schema.get("maximum", low + 9))))
    if kind == "number":
        return round(
            rng.uniform(
                float(schema.get("minimum", 1)), float(schema.get("maximum", 100))
            ),
            2,
        )
    if kind == "boolean":
        return True
    return _string_for(name.lower(), rng, prompt)


def _string_for(name: str, rng: random.Random, prompt: str) -> str:
    if name in ("sql", "query_sql", "statement"):
        return f"SELECT * FROM {prompt_keyword(prompt)} LIMIT 10"
    if name in ("city", "location", "place"):
        return "Paris"
    if name.endswith("id"):
        return f"{name[:3].upper() or 'ID'}-{rng.randint(1000, 9999)}"
    if "date" in name:
        return "2026-08-21"
    if "email" in name:
        return "user@example.com"
    if "url" in name:
        return "https://example.com/"
    return prompt_keyword(prompt)


def generic_scenario(
    tools: Sequence[Mapping[str, Any]],
    prompt: str,
    *,
    code_callable: Sequence[str],
    direct_callable: Sequence[str],
    programmatic: bool,
    seed: int,
) -> Scenario:
    """Build the default scenario for a request.

    Args:
        tools: the request's tool definitions.
        prompt: the task's user prompt.
        code_callable: names of tools that allow a code-execution caller.
        direct_callable: names of tools that allow the direct caller.
        programmatic: whether this request can use programmatic calling.
        seed: the emulator seed.
    """
    schemas = {str(t.get("name")): t.get("input_schema") or {} for t in tools}

    def call(name: str) -> Call:
        rng = random.Random(f"{seed}:{name}")
        value = synthesize_input(schemas.get(name, {}), rng=rng, prompt=prompt)
        return Call(name, value if isinstance(value, dict) else {"input": value})

    phases: list[Phase] = []
    if programmatic and code_callable:
        direct_only = [n for n in direct_callable if n not in code_callable]
        if direct_only:
            phases.append(
                Phase(
                    "direct",
                    (tuple(call(n) for n in direct_only),),
                    text="Let me look that up.",
                )
            )
        listing = ", ".join(code_callable)
        phases.append(
            Phase(
                "code",
                tuple((call(n),) for n in code_callable),
                text=f"I'll write a short script that calls {listing} and summarizes the results.",
            )
        )
    elif direct_callable:
        phases.append(
            Phase(
                "direct",
                tuple((call(n),) for n in direct_callable),
                text="Let me look that up.",
            )
        )
    if phases:
        return Scenario(name="generic", phases=tuple(phases))
    excerpt = " ".join(prompt.split())[:160].replace("{", "{{").replace("}", "}}")
    final = f"(ptc_observe emulator) No scenario covers this request, so here is a placeholder answer to: {excerpt}"
    return Scenario(name="generic", phases=(), final=final)
