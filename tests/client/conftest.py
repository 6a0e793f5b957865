"""Fixtures of the client tests (helpers in ``helpers.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from .helpers import Harness


@pytest.fixture(autouse=True)
def _no_client_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests set the API key and base URL explicitly."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "PTC_OBSERVE_DISABLED"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def harness(mode: Any, tracer_provider: TracerProvider) -> Iterator[Harness]:
    """A scripted client for the test's mode (sync and async)."""
    h = Harness(mode, tracer_provider)
    yield h
    h.close()
