"""The tree tells the architecture: two wings over a sans-IO wire layer, no import circles."""

from __future__ import annotations

import ast
import importlib
import sys
import warnings
from pathlib import Path

import pytest

import ptc_observe
from ptc_observe._moved import MOVED

PACKAGE = Path(ptc_observe.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every ptc_observe module ``name`` imports, wherever the import stands
    (module level, under TYPE_CHECKING, or inside a function)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - node.level + 1]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if not base.startswith("ptc_observe"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    known = _modules()
    shims = set(MOVED)  # the deprecated paths point into the wings by design
    return {
        name: _imports(name, path, known) - shims
        for name, path in known.items()
        if name not in shims
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _descendant(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


class TestLayout:
    def test_cycle_finder(self) -> None:
        """The circle finder itself finds a circle (so the next test can fail)."""
        assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
        assert _cycle({"a": {"b"}, "b": set()}) is None

    def test_no_import_circles(self) -> None:
        """No module imports itself back, through any chain of imports (typing-only ones included)."""
        assert _cycle(_graph()) is None

    def test_two_wings(self) -> None:
        """The tree shows the observer and the PTC client as packages of their own."""
        for wing in ("observer", "client"):
            assert (PACKAGE / wing / "__init__.py").exists()
        for module in ("pipeline", "transport", "recorder", "correlator", "exposition"):
            assert (PACKAGE / "observer" / f"{module}.py").exists()
        assert (PACKAGE / "observer" / "sinks" / "__init__.py").exists()
        for module in ("clients", "tools", "errors"):
            assert (PACKAGE / "client" / f"{module}.py").exists()

    @pytest.mark.parametrize(
        ("lower", "higher"),
        [
            pytest.param(
                "ptc_observe.wire", "ptc_observe.observer", id="wire-below-observer"
            ),
            pytest.param(
                "ptc_observe.wire", "ptc_observe.client", id="wire-below-client"
            ),
            pytest.param("ptc_observe.models", "ptc_observe.observer", id="models"),
            pytest.param("ptc_observe.events", "ptc_observe.observer", id="events"),
            pytest.param(
                "ptc_observe.observer", "ptc_observe.client", id="observer-below-client"
            ),
            pytest.param(
                "ptc_observe.emulator",
                "ptc_observe.observer",
                id="emulator-no-observer",
            ),
            pytest.param(
                "ptc_observe.emulator", "ptc_observe.client", id="emulator-no-client"
            ),
            pytest.param(
                "ptc_observe.pricing",
                "ptc_observe.observer",
                id="pricing-below-observer",
            ),
            pytest.param(
                "ptc_observe.pricing",
                "ptc_observe.emulator",
                id="pricing-below-emulator",
            ),
        ],
    )
    def test_layers(self, lower: str, higher: str) -> None:
        """A lower layer never imports a higher one (the client is built on the observer, never the reverse)."""
        wrong = {
            (name, target)
            for name, targets in _graph().items()
            if _descendant(name, lower)
            for target in targets
            if _descendant(target, higher)
        }
        assert wrong == set()


class TestMovedPaths:
    @pytest.mark.parametrize("old", sorted(MOVED))
    def test_old_path_warns_and_is_the_same_module(self, old: str) -> None:
        """An import of a path from before the regroup still works, warns, and names the new path."""
        new = importlib.import_module(MOVED[old])
        sys.modules.pop(old, None)
        with pytest.warns(DeprecationWarning, match=MOVED[old].replace(".", r"\.")):
            module = importlib.import_module(old)
        if (
            old == "ptc_observe.sinks"
        ):  # a package of its own, so its submodules resolve
            assert all(getattr(module, n) is getattr(new, n) for n in new.__all__)
        else:
            assert module is new

    def test_old_sink_classes_are_the_new_ones(self) -> None:
        """``from ptc_observe.sinks.prometheus import PrometheusSink`` gives the very same class."""
        from ptc_observe.observer.sinks.otel import OTelSink
        from ptc_observe.observer.sinks.prometheus import PrometheusSink

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old_prom = importlib.import_module("ptc_observe.sinks.prometheus")
            old_otel = importlib.import_module("ptc_observe.sinks.otel")
        assert old_prom.PrometheusSink is PrometheusSink
        assert old_otel.OTelSink is OTelSink
