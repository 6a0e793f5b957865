"""The public surface: what ``ptc_observe`` exports."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import ptc_observe


def test_all_is_sorted_and_unique() -> None:
    """``__all__`` is sorted and names each export once."""
    assert ptc_observe.__all__ == sorted(set(ptc_observe.__all__))


@pytest.mark.parametrize("name", ptc_observe.__all__)
def test_every_name_is_importable(name: str) -> None:
    """Every name in ``__all__`` imports, and lazily loaded ones resolve to their module's."""
    namespace: dict[str, object] = {}
    exec(f"from ptc_observe import {name}", namespace)
    value = namespace[name]
    assert value is getattr(ptc_observe, name)
    if name != "__version__":
        assert getattr(value, "__module__", "").startswith("ptc_observe")


def test_public_objects_are_documented() -> None:
    """Every exported class and function has a docstring."""
    for name in ptc_observe.__all__:
        value = getattr(ptc_observe, name)
        if isinstance(value, type) or callable(value):
            assert (value.__doc__ or "").strip(), name


def test_unknown_name() -> None:
    """A name that is not exported raises AttributeError (lazy loading hides nothing)."""
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = ptc_observe.no_such_name


def test_testing_module() -> None:
    """The test helpers are public in ``ptc_observe.testing``."""
    testing = importlib.import_module("ptc_observe.testing")
    assert testing.__all__ == ["MemorySink", "capture_exchanges"]


def test_import_is_light() -> None:
    """Importing the package loads neither the SDK nor the PTC client, nor httpx."""
    code = (
        "import sys, ptc_observe; "
        "print(sorted(m for m in ('anthropic', 'httpx', 'ptc_observe.client', "
        "'ptc_observe.client.tools', 'ptc_observe.observer.transport') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "[]"
