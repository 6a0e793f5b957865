"""The PTC client's tool registry: typed tool specs, handlers and the caller policy.

A :class:`ToolSpec` describes one of the application's tools; :class:`ToolRegistry`
pairs specs with the handlers that run them and decides who may call each tool:

- a ``READ_ONLY`` tool registered without explicit ``allowed_callers`` becomes callable
  from code execution (Programmatic Tool Calling) with the registry's code execution
  version (``code_execution_20260120`` unless configured);
- ``LOW`` tools stay direct-only unless their spec names callers or the registration
  passes ``programmatic=True``;
- ``HIGH`` and ``DESTRUCTIVE`` tools are never auto-enabled: naming a code-execution
  caller for them is refused unless the registration also passes ``programmatic=True``.
  Code running in a container can call a tool many times in a loop without the model
  reviewing each call, so exposing a dangerous tool there has to be a deliberate choice.

``allowed_callers`` steers the model; the API does not enforce it (wire reference §2.4),
so the client must still be ready for a direct call of any tool it declared.

Example::

    registry = ToolRegistry()
    registry.register(
        ToolSpec("search_products", "Search the catalogue; returns JSON rows.",
                 parameters={"type": "object", "properties": {"query": {"type": "string"}}},
                 severity=ToolSeverity.READ_ONLY),
        search_products,
    )
    tools = registry.to_api()   # [code_execution tool, search_products (allowed_callers)]
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

__all__ = [
    "BETA_HEADERS",
    "CODE_EXECUTION_20250825",
    "CODE_EXECUTION_20260120",
    "CODE_EXECUTION_20260521",
    "CODE_EXECUTION_VERSIONS",
    "DEFAULT_CODE_EXECUTION_VERSION",
    "DIRECT",
    "ToolHandler",
    "ToolRegistry",
    "ToolResult",
    "ToolSeverity",
    "ToolSpec",
    "code_execution_tool",
    "is_code_execution_caller",
]

DIRECT = "direct"
"""The caller value for calls the model makes itself."""

CODE_EXECUTION_20250825 = "code_execution_20250825"
"""Beta-era code execution (PTC only with the ``advanced-tool-use-2025-11-20`` beta)."""
CODE_EXECUTION_20260120 = "code_execution_20260120"
"""The current GA code execution tool: REPL state persistence and PTC."""
CODE_EXECUTION_20260521 = "code_execution_20260521"
"""Same runtime as 20260120; its description tells Claude about the 90 s cell limit."""

CODE_EXECUTION_VERSIONS = (
    CODE_EXECUTION_20260120,
    CODE_EXECUTION_20260521,
    CODE_EXECUTION_20250825,
)
"""The code execution versions that support PTC, the default first."""

DEFAULT_CODE_EXECUTION_VERSION = CODE_EXECUTION_20260120

BETA_HEADERS: Mapping[str, str] = {
    CODE_EXECUTION_20250825: "advanced-tool-use-2025-11-20",
}
"""``anthropic-beta`` value a code execution version needs; GA versions need none."""

CODE_EXECUTION_TOOL_NAME = "code_execution"

# The Messages API's rule for tool names.
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

ToolHandler = Callable[..., Any]
"""A tool implementation: called with the tool input as keyword arguments; a plain
function or a coroutine function (``async def``)."""


def is_code_execution_caller(caller: str) -> bool:
    """True for a ``code_execution_*`` caller value (any version, known or not)."""
    return caller.startswith("code_execution_")


def _check_version(version: str) -> str:
    if version not in CODE_EXECUTION_VERSIONS:
        raise ValueError(
            f"unsupported code execution version {version!r};"
            f" choose one of {', '.join(CODE_EXECUTION_VERSIONS)}"
        )
    return version


def code_execution_tool(
    version: str = DEFAULT_CODE_EXECUTION_VERSION,
) -> dict[str, Any]:
    """The ``tools`` entry that declares code execution.

    Args:
        version: One of :data:`CODE_EXECUTION_VERSIONS`.

    Returns:
        ``{"type": version, "name": "code_execution"}``.

    Raises:
        ValueError: For a version without PTC support.
    """
    return {"type": _check_version(version), "name": CODE_EXECUTION_TOOL_NAME}


def _same_family(a: str, b: str) -> bool:
    # 20260120 and 20260521 are interchangeable in allowed_callers (wire reference §2.4);
    # the beta-era 20250825 is not.
    ga = {CODE_EXECUTION_20260120, CODE_EXECUTION_20260521}
    return a == b or (a in ga and b in ga)


class ToolSeverity(str, enum.Enum):
    """How much harm a wrong or repeated call of a tool can do."""

    READ_ONLY = "read_only"
    """No side effects: auto-enabled for calls from code execution."""
    LOW = "low"
    """Small, reversible side effects: programmatic only when asked for."""
    HIGH = "high"
    """Significant side effects: programmatic only with an explicit opt-in."""
    DESTRUCTIVE = "destructive"
    """Irreversible: programmatic only with an explicit opt-in."""

    @property
    def needs_opt_in(self) -> bool:
        """True when calls from code execution need ``programmatic=True`` at registration."""
        return self in (ToolSeverity.HIGH, ToolSeverity.DESTRUCTIVE)


@dataclasses.dataclass(frozen=True)
class ToolSpec:
    """One of the application's tools, as the model sees it plus local policy.

    Only ``name`` and ``description`` are required.

    Args:
        name: Tool name (``[a-zA-Z0-9_-]{1,64}``); ``code_execution`` is reserved.
        description: What the tool does and returns; the model reads it.
        parameters: JSON schema of the input (an ``object`` schema).
        category: Free-form grouping for your own bookkeeping.
        severity: Drives the caller policy (see the module docstring).
        allowed_callers: Explicit callers (``direct`` and/or ``code_execution_*``);
            ``None`` lets the registry decide.
        timeout: Seconds a handler may run; ``None`` uses the client's default.
        extra: Further API fields of the tool entry (``cache_control``,
            ``input_examples``, ``defer_loading``, …), sent as given.
    """

    name: str
    description: str
    parameters: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    category: str = "general"
    severity: ToolSeverity = ToolSeverity.LOW
    allowed_callers: tuple[str, ...] | None = None
    timeout: float | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                f"tool name {self.name!r} must match [a-zA-Z0-9_-]{{1,64}}"
            )
        if self.name == CODE_EXECUTION_TOOL_NAME:
            raise ValueError(
                "the name 'code_execution' belongs to the code execution server tool"
            )
        if not self.description.strip():
            raise ValueError(f"tool {self.name!r} needs a description")
        if (
            not isinstance(self.parameters, Mapping)
            or self.parameters.get("type") != "object"
        ):
            raise ValueError(
                f"tool {self.name!r}: parameters must be a JSON schema of type 'object'"
            )
        # Accept any sequence (a list is what people write) but store a tuple, so a
        # frozen spec stays frozen.
        if self.allowed_callers is not None:
            if isinstance(self.allowed_callers, str):
                raise TypeError("allowed_callers must be a sequence of strings")
            callers = tuple(self.allowed_callers)
            for caller in callers:
                if caller != DIRECT and not is_code_execution_caller(caller):
                    raise ValueError(
                        f"tool {self.name!r}: unknown caller {caller!r}"
                        " (use 'direct' or a code_execution_* version)"
                    )
            if not callers:
                raise ValueError(
                    f"tool {self.name!r}: allowed_callers is empty; omit it for 'direct'"
                )
            object.__setattr__(self, "allowed_callers", callers)
        object.__setattr__(self, "severity", ToolSeverity(self.severity))
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"tool {self.name!r}: timeout must be positive")

    @property
    def programmatic(self) -> bool:
        """True when code execution may call the tool."""
        return any(is_code_execution_caller(c) for c in self.allowed_callers or ())

    def to_api(self, code_execution_version: str | None = None) -> dict[str, Any]:
        """The tool's entry of the request's ``tools`` array.

        Args:
            code_execution_version: The version the request declares. Code-execution
                callers are written in that version's form (20260120 and 20260521 are
                interchangeable; the beta-era 20250825 is not). ``None`` means PTC is
                off: code-execution callers are left out, and the tool is direct.

        Returns:
            ``{"name", "description", "input_schema"[, "allowed_callers"], **extra}``.
        """
        entry: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "input_schema": dict(self.parameters),
        }
        callers = _render_callers(self.allowed_callers, code_execution_version)
        if callers is not None:
            entry["allowed_callers"] = list(callers)
        entry.update(self.extra)
        return entry


def _render_callers(
    callers: tuple[str, ...] | None, version: str | None
) -> tuple[str, ...] | None:
    if callers is None:
        return None
    out: list[str] = []
    for caller in callers:
        if is_code_execution_caller(caller):
            if version is None:
                continue
            caller = caller if _same_family(caller, version) else version
        if caller not in out:
            out.append(caller)
    # Only code-execution callers and PTC off: the tool falls back to direct, which
    # is what an absent field means.
    return tuple(out) if out else None


@dataclasses.dataclass(frozen=True)
class ToolResult:
    """What a handler may return to control the ``tool_result`` block itself.

    Any other return value is converted: ``str`` as is, ``bytes`` decoded as UTF-8,
    ``None`` as an empty string, everything else as JSON.

    Args:
        content: The result text (programmatic calls accept only text).
        is_error: Mark the result as an error for the model.
    """

    content: str
    is_error: bool = False


@dataclasses.dataclass(frozen=True)
class _Registered:
    """A spec with its handler, as the registry keeps it."""

    spec: ToolSpec
    handler: ToolHandler | None


class ToolRegistry:
    """The application's tools with their handlers and the caller policy.

    Args:
        code_execution_version: The caller value auto-enabled tools get.
        auto_enable: Severities made programmatic without explicit callers; only
            ``READ_ONLY`` and ``LOW`` may be listed.
    """

    def __init__(
        self,
        *,
        code_execution_version: str = DEFAULT_CODE_EXECUTION_VERSION,
        auto_enable: Sequence[ToolSeverity] = (ToolSeverity.READ_ONLY,),
    ) -> None:
        self.code_execution_version = _check_version(code_execution_version)
        auto = frozenset(ToolSeverity(s) for s in auto_enable)
        refused = sorted(s.value for s in auto if s.needs_opt_in)
        if refused:
            raise ValueError(
                f"{', '.join(refused)} tools are never auto-enabled for code execution;"
                " opt in per tool with register(..., programmatic=True)"
            )
        self.auto_enable = auto
        self._tools: dict[str, _Registered] = {}

    def register(
        self,
        spec: ToolSpec,
        handler: ToolHandler | None = None,
        *,
        programmatic: bool | None = None,
        replace: bool = False,
    ) -> ToolSpec:
        """Add a tool and apply the caller policy.

        Args:
            spec: The tool. It is not modified; the registry keeps a resolved copy.
            handler: Runs the tool (``handler(**input)``, sync or async). Without one,
                the client answers calls of this tool with an error result.
            programmatic: ``True`` makes the tool callable from code execution (the
                explicit opt-in ``HIGH`` and ``DESTRUCTIVE`` tools need); ``False``
                keeps it direct-only; ``None`` applies the severity policy.
            replace: Allow replacing a tool of the same name.

        Returns:
            The resolved spec (with its final ``allowed_callers``).

        Raises:
            ValueError: A duplicate name, or callers that contradict the policy.
        """
        if spec.name in self._tools and not replace:
            raise ValueError(f"a tool named {spec.name!r} is already registered")
        if handler is not None and not callable(handler):
            raise TypeError(f"the handler of {spec.name!r} is not callable")
        resolved = dataclasses.replace(
            spec, allowed_callers=self._resolve_callers(spec, programmatic)
        )
        self._tools[spec.name] = _Registered(resolved, handler)
        return resolved

    def _resolve_callers(
        self, spec: ToolSpec, programmatic: bool | None
    ) -> tuple[str, ...] | None:
        explicit = spec.allowed_callers
        if explicit is not None:
            code = any(is_code_execution_caller(c) for c in explicit)
            if programmatic is False and code:
                raise ValueError(
                    f"tool {spec.name!r}: programmatic=False contradicts its"
                    f" allowed_callers {list(explicit)}"
                )
            if programmatic is True and not code:
                raise ValueError(
                    f"tool {spec.name!r}: programmatic=True but its allowed_callers"
                    f" {list(explicit)} name no code execution caller"
                )
            if code and spec.severity.needs_opt_in and programmatic is not True:
                raise ValueError(
                    f"tool {spec.name!r} is {spec.severity.value}: calls from code"
                    " execution need an explicit opt-in, register(...,"
                    " programmatic=True)"
                )
            return explicit
        if programmatic is True:
            return (self.code_execution_version,)
        if programmatic is None and spec.severity in self.auto_enable:
            return (self.code_execution_version,)
        return None

    def unregister(self, name: str) -> None:
        """Remove a tool.

        Raises:
            KeyError: No tool of that name.
        """
        del self._tools[name]

    def get(self, name: str) -> ToolSpec:
        """The resolved spec of a tool.

        Raises:
            KeyError: No tool of that name.
        """
        return self._tools[name].spec

    def handler(self, name: str) -> ToolHandler | None:
        """The handler of a tool, or ``None`` for an unknown tool or one without."""
        entry = self._tools.get(name)
        return entry.handler if entry is not None else None

    @property
    def specs(self) -> list[ToolSpec]:
        """The resolved specs in registration order."""
        return [entry.spec for entry in self._tools.values()]

    @property
    def has_programmatic(self) -> bool:
        """True when at least one tool may be called from code execution."""
        return any(spec.programmatic for spec in self.specs)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(self.specs)

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"ToolRegistry({', '.join(self._tools)})"

    def to_api(
        self,
        *,
        ptc: bool = True,
        code_execution_version: str | None = None,
    ) -> list[dict[str, Any]]:
        """The request's ``tools`` array.

        With PTC on and at least one programmatic tool, the code execution tool comes
        first, and every tool's code-execution callers are written for its version.
        With PTC off there is no code execution tool and every tool is direct.

        Args:
            ptc: Declare code execution and programmatic callers.
            code_execution_version: Overrides the registry's version.

        Returns:
            A new list, safe to modify.
        """
        version = _check_version(code_execution_version or self.code_execution_version)
        declared = version if ptc and self.has_programmatic else None
        tools = [spec.to_api(declared) for spec in self.specs]
        if declared is not None:
            tools.insert(0, code_execution_tool(declared))
        return tools
