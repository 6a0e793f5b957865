"""The public surface of ``ptc_observe.emulator``."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import ptc_observe.emulator as emulator_package
from ptc_observe.emulator import Emulator, EmulatorServer


def test_all_is_sorted_and_importable() -> None:
    """``__all__`` is sorted and every name in it exists."""
    names = emulator_package.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(emulator_package, name) is not None


@pytest.mark.parametrize(
    "module", [m.name for m in pkgutil.iter_modules(emulator_package.__path__)]
)
def test_every_module_is_documented(module: str) -> None:
    """Each module has a docstring and never imports ptc_observe's transport."""
    loaded = importlib.import_module(f"ptc_observe.emulator.{module}")
    assert loaded.__doc__
    assert loaded.__file__ is not None
    source = Path(loaded.__file__).read_text(encoding="utf-8")
    assert (
        "ptc_observe.observer.transport" not in source
        and "from ..transport" not in source
    )


def test_server_takes_an_emulator_or_its_arguments() -> None:
    """Passing both an Emulator and Emulator arguments is an error."""
    with pytest.raises(TypeError):
        EmulatorServer(Emulator(), seed=3)
    assert EmulatorServer(seed=3).emulator.seed == 3
