"""The tool registry: specs, the caller policy and the tools array."""

from __future__ import annotations

from typing import Any

import pytest

from ptc_observe.client.tools import (
    BETA_HEADERS,
    CODE_EXECUTION_20250825,
    CODE_EXECUTION_20260120,
    CODE_EXECUTION_20260521,
    CODE_EXECUTION_VERSIONS,
    ToolRegistry,
    ToolSeverity,
    ToolSpec,
    code_execution_tool,
)

SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}


def spec(
    name: str = "search", severity: ToolSeverity = ToolSeverity.READ_ONLY, **kw: Any
) -> ToolSpec:
    return ToolSpec(name, f"{name} things", parameters=SCHEMA, severity=severity, **kw)


class TestToolSpec:
    def test_only_name_and_description_are_required(self) -> None:
        """A spec made of a name and a description gets an empty object schema, LOW severity, no callers."""
        s = ToolSpec("ping", "Answers pong.")
        assert s.parameters == {"type": "object", "properties": {}}
        assert s.severity is ToolSeverity.LOW
        assert s.allowed_callers is None
        assert s.timeout is None
        assert s.category == "general"

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            pytest.param({"name": "has space"}, "must match", id="bad-name"),
            pytest.param({"name": "x" * 65}, "must match", id="too-long"),
            pytest.param({"name": "code_execution"}, "server tool", id="reserved"),
            pytest.param(
                {"description": "  "}, "needs a description", id="no-description"
            ),
            pytest.param(
                {"parameters": {"type": "string"}}, "type 'object'", id="not-object"
            ),
            pytest.param({"allowed_callers": []}, "empty", id="empty-callers"),
            pytest.param(
                {"allowed_callers": ["robot"]}, "unknown caller", id="bad-caller"
            ),
            pytest.param({"timeout": 0}, "positive", id="zero-timeout"),
        ],
    )
    def test_invalid_specs_are_refused(
        self, kwargs: dict[str, Any], match: str
    ) -> None:
        """Specs the API would reject (or that make no sense) fail at construction with a clear message."""
        args = {"name": "ok", "description": "fine"} | kwargs
        with pytest.raises(ValueError, match=match):
            ToolSpec(**args)

    def test_callers_as_string_is_a_type_error(self) -> None:
        """A bare string for allowed_callers is a mistake, not a list of characters."""
        with pytest.raises(TypeError):
            ToolSpec("ok", "fine", allowed_callers="direct")  # type: ignore[arg-type]

    def test_callers_list_is_stored_as_tuple(self) -> None:
        """A list given for allowed_callers is kept as a tuple, so the frozen spec stays immutable."""
        s = ToolSpec("ok", "fine", allowed_callers=["direct", CODE_EXECUTION_20260120])  # type: ignore[arg-type]
        assert s.allowed_callers == ("direct", CODE_EXECUTION_20260120)

    def test_severity_accepts_its_string_value(self) -> None:
        """Severity given as its string value is converted to the enum."""
        s = ToolSpec("ok", "fine", severity="read_only")  # type: ignore[arg-type]
        assert s.severity is ToolSeverity.READ_ONLY

    def test_to_api_entry(self) -> None:
        """A spec renders as name, description, input_schema, callers and extra fields."""
        s = spec(
            allowed_callers=(CODE_EXECUTION_20260120,),
            extra={"cache_control": {"type": "ephemeral"}},
        )
        assert s.to_api(CODE_EXECUTION_20260120) == {
            "name": "search",
            "description": "search things",
            "input_schema": SCHEMA,
            "allowed_callers": [CODE_EXECUTION_20260120],
            "cache_control": {"type": "ephemeral"},
        }

    def test_to_api_without_ptc_drops_code_execution_callers(self) -> None:
        """With PTC off a code-execution caller is left out; a tool left with no caller is direct (no field)."""
        only_code = spec(allowed_callers=(CODE_EXECUTION_20260120,))
        both = spec(allowed_callers=("direct", CODE_EXECUTION_20260120))
        assert "allowed_callers" not in only_code.to_api(None)
        assert both.to_api(None)["allowed_callers"] == ["direct"]

    @pytest.mark.parametrize(
        "declared, given, expected",
        [
            pytest.param(
                CODE_EXECUTION_20260521,
                CODE_EXECUTION_20260120,
                CODE_EXECUTION_20260120,
                id="ga-interchangeable",
            ),
            pytest.param(
                CODE_EXECUTION_20250825,
                CODE_EXECUTION_20260120,
                CODE_EXECUTION_20250825,
                id="beta-rewritten",
            ),
            pytest.param(
                CODE_EXECUTION_20260120,
                CODE_EXECUTION_20250825,
                CODE_EXECUTION_20260120,
                id="ga-rewritten",
            ),
        ],
    )
    def test_code_execution_callers_follow_the_declared_version(
        self, declared: str, given: str, expected: str
    ) -> None:
        """A caller of another family than the declared code execution tool is written in the declared version."""
        assert spec(allowed_callers=(given,)).to_api(declared)["allowed_callers"] == [
            expected
        ]

    def test_to_api_copies_the_schema(self) -> None:
        """Changing the returned entry does not change the spec."""
        s = spec()
        s.to_api()["input_schema"]["type"] = "changed"
        assert s.parameters["type"] == "object"


class TestCodeExecutionTool:
    @pytest.mark.parametrize("version", CODE_EXECUTION_VERSIONS)
    def test_definition_for_each_version(self, version: str) -> None:
        """Each supported version renders as {type, name: code_execution}."""
        assert code_execution_tool(version) == {
            "type": version,
            "name": "code_execution",
        }

    def test_default_is_the_current_ga_version(self) -> None:
        """The default code execution tool is code_execution_20260120."""
        assert code_execution_tool()["type"] == "code_execution_20260120"

    def test_unsupported_version_is_refused(self) -> None:
        """The legacy 20250522 tool has no PTC and is refused."""
        with pytest.raises(ValueError, match="unsupported"):
            code_execution_tool("code_execution_20250522")

    def test_only_the_beta_version_needs_a_beta_header(self) -> None:
        """Only code_execution_20250825 maps to the advanced-tool-use beta."""
        assert BETA_HEADERS == {CODE_EXECUTION_20250825: "advanced-tool-use-2025-11-20"}


class TestCallerPolicy:
    def test_read_only_is_auto_enabled_for_code_execution(self) -> None:
        """A READ_ONLY tool without callers becomes callable from code execution (current GA caller)."""
        reg = ToolRegistry()
        resolved = reg.register(spec())
        assert resolved.allowed_callers == (CODE_EXECUTION_20260120,)
        assert reg.get("search").allowed_callers == (CODE_EXECUTION_20260120,)

    def test_auto_enable_uses_the_configured_version(self) -> None:
        """The auto-enabled caller is the registry's configured code execution version."""
        reg = ToolRegistry(code_execution_version=CODE_EXECUTION_20260521)
        assert reg.register(spec()).allowed_callers == (CODE_EXECUTION_20260521,)

    def test_register_does_not_modify_the_given_spec(self) -> None:
        """The registry keeps a resolved copy; the caller's spec is untouched."""
        original = spec()
        ToolRegistry().register(original)
        assert original.allowed_callers is None

    @pytest.mark.parametrize(
        "severity", [ToolSeverity.LOW, ToolSeverity.HIGH, ToolSeverity.DESTRUCTIVE]
    )
    def test_other_severities_stay_direct(self, severity: ToolSeverity) -> None:
        """LOW, HIGH and DESTRUCTIVE tools without callers are direct only."""
        reg = ToolRegistry()
        assert reg.register(spec(severity=severity)).allowed_callers is None
        assert "allowed_callers" not in reg.to_api()[0]

    @pytest.mark.parametrize("severity", [ToolSeverity.HIGH, ToolSeverity.DESTRUCTIVE])
    def test_dangerous_tools_with_code_callers_need_opt_in(
        self, severity: ToolSeverity
    ) -> None:
        """Naming a code-execution caller for a HIGH or DESTRUCTIVE tool is refused without programmatic=True."""
        reg = ToolRegistry()
        with pytest.raises(ValueError, match="explicit opt-in"):
            reg.register(
                spec(severity=severity, allowed_callers=(CODE_EXECUTION_20260120,))
            )
        assert "search" not in reg

    @pytest.mark.parametrize("severity", [ToolSeverity.HIGH, ToolSeverity.DESTRUCTIVE])
    def test_dangerous_tools_opt_in(self, severity: ToolSeverity) -> None:
        """programmatic=True enables a HIGH or DESTRUCTIVE tool, with or without explicit callers."""
        reg = ToolRegistry()
        assert reg.register(spec("a", severity), programmatic=True).allowed_callers == (
            CODE_EXECUTION_20260120,
        )
        explicit = spec(
            "b", severity, allowed_callers=("direct", CODE_EXECUTION_20260120)
        )
        assert reg.register(explicit, programmatic=True).allowed_callers == (
            "direct",
            CODE_EXECUTION_20260120,
        )

    @pytest.mark.parametrize("severity", [ToolSeverity.HIGH, ToolSeverity.DESTRUCTIVE])
    def test_dangerous_tools_are_never_auto_enabled(
        self, severity: ToolSeverity
    ) -> None:
        """A registry cannot be configured to auto-enable HIGH or DESTRUCTIVE tools."""
        with pytest.raises(ValueError, match="never auto-enabled"):
            ToolRegistry(auto_enable=(ToolSeverity.READ_ONLY, severity))

    def test_low_can_be_auto_enabled_by_configuration(self) -> None:
        """auto_enable may list LOW."""
        reg = ToolRegistry(auto_enable=(ToolSeverity.READ_ONLY, ToolSeverity.LOW))
        assert reg.register(spec(severity=ToolSeverity.LOW)).programmatic

    def test_low_with_explicit_callers_needs_no_opt_in(self) -> None:
        """A LOW tool that names a code-execution caller is taken as given."""
        reg = ToolRegistry()
        s = spec(severity=ToolSeverity.LOW, allowed_callers=(CODE_EXECUTION_20260120,))
        assert reg.register(s).allowed_callers == (CODE_EXECUTION_20260120,)

    def test_read_only_opt_out(self) -> None:
        """programmatic=False keeps a READ_ONLY tool direct."""
        assert (
            ToolRegistry().register(spec(), programmatic=False).allowed_callers is None
        )

    def test_explicit_direct_read_only_stays_direct(self) -> None:
        """Explicit allowed_callers=['direct'] on a READ_ONLY tool is respected."""
        reg = ToolRegistry()
        assert reg.register(spec(allowed_callers=("direct",))).allowed_callers == (
            "direct",
        )
        assert not reg.has_programmatic

    @pytest.mark.parametrize(
        "callers, programmatic",
        [
            pytest.param((CODE_EXECUTION_20260120,), False, id="false-vs-code"),
            pytest.param(("direct",), True, id="true-vs-direct"),
        ],
    )
    def test_contradictions_are_refused(
        self, callers: tuple[str, ...], programmatic: bool
    ) -> None:
        """programmatic= that contradicts explicit callers is an error."""
        with pytest.raises(ValueError, match="programmatic="):
            ToolRegistry().register(
                spec(allowed_callers=callers), programmatic=programmatic
            )


class TestRegistry:
    def test_duplicate_names_are_refused_unless_replacing(self) -> None:
        """Registering a name twice fails; replace=True swaps the tool and its handler."""
        reg = ToolRegistry()
        reg.register(spec(), lambda q: 1)
        with pytest.raises(ValueError, match="already registered"):
            reg.register(spec())

        def second(q: str) -> int:
            return 2

        reg.register(spec(), second, replace=True)
        assert reg.handler("search") is second
        assert len(reg) == 1

    def test_handler_must_be_callable(self) -> None:
        """A non-callable handler is refused."""
        with pytest.raises(TypeError):
            ToolRegistry().register(spec(), "not callable")  # type: ignore[arg-type]

    def test_lookup_and_iteration(self) -> None:
        """get, handler, membership, iteration and unregister work by name, in registration order."""
        reg = ToolRegistry()
        reg.register(spec("a"), print)
        reg.register(spec("b"))
        assert [s.name for s in reg] == ["a", "b"]
        assert "a" in reg and "zzz" not in reg
        assert reg.handler("a") is print
        assert reg.handler("b") is None and reg.handler("zzz") is None
        reg.unregister("a")
        assert [s.name for s in reg.specs] == ["b"]
        with pytest.raises(KeyError):
            reg.get("a")

    def test_to_api_declares_code_execution_first(self) -> None:
        """With a programmatic tool the tools array starts with the code execution tool."""
        reg = ToolRegistry()
        reg.register(spec("search"))
        reg.register(spec("delete", ToolSeverity.DESTRUCTIVE))
        assert reg.to_api() == [
            {"type": CODE_EXECUTION_20260120, "name": "code_execution"},
            {
                "name": "search",
                "description": "search things",
                "input_schema": SCHEMA,
                "allowed_callers": [CODE_EXECUTION_20260120],
            },
            {"name": "delete", "description": "delete things", "input_schema": SCHEMA},
        ]

    def test_to_api_without_programmatic_tools_has_no_code_execution(self) -> None:
        """Only direct tools: no code execution tool (no container is paid for)."""
        reg = ToolRegistry()
        reg.register(spec(severity=ToolSeverity.LOW))
        assert [t.get("type") for t in reg.to_api()] == [None]

    def test_to_api_with_ptc_off(self) -> None:
        """ptc=False: no code execution tool and every tool direct."""
        reg = ToolRegistry()
        reg.register(spec())
        assert reg.to_api(ptc=False) == [
            {"name": "search", "description": "search things", "input_schema": SCHEMA}
        ]

    def test_to_api_with_another_version(self) -> None:
        """to_api(code_execution_version=...) declares that version and rewrites callers to match."""
        reg = ToolRegistry()
        reg.register(spec())
        tools = reg.to_api(code_execution_version=CODE_EXECUTION_20250825)
        assert tools[0] == {"type": CODE_EXECUTION_20250825, "name": "code_execution"}
        assert tools[1]["allowed_callers"] == [CODE_EXECUTION_20250825]

    def test_unknown_registry_version_is_refused(self) -> None:
        """The registry refuses a code execution version without PTC."""
        with pytest.raises(ValueError, match="unsupported"):
            ToolRegistry(code_execution_version="code_execution_20250522")
