"""Fixtures of the emulator tests: a manual clock, an emulator, and SDK clients over each transport."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from ptc_observe.emulator import Emulator, EmulatorServer, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """A clock the test advances by hand."""
    return ManualClock()


@pytest.fixture
def emulator(clock: ManualClock) -> Emulator:
    """A fresh emulator, seed 7, on the manual clock."""
    return Emulator(seed=7, clock=clock)


@pytest.fixture
def server(emulator: Emulator) -> Iterator[EmulatorServer]:
    """``emulator`` served on a free loopback port."""
    with EmulatorServer(emulator) as running:
        yield running


class Api:
    """Builds SDK clients for one mode (sync/async) and one transport (loopback server or mock)."""

    def __init__(
        self, mode: Any, kind: str, emulator: Emulator, url: str | None
    ) -> None:
        self.mode = mode
        self.kind = kind
        self.emulator = emulator
        self.url = url
        self._opened: list[Any] = []

    def client(self, **kwargs: Any) -> Any:
        """An ``Anthropic``/``AsyncAnthropic`` talking to the emulator (no retries unless asked)."""
        kwargs.setdefault("max_retries", 0)
        if self.kind == "server":
            http = self.mode.http_client(httpx2)
            kwargs["base_url"] = self.url
        else:
            factory = (
                self.emulator.async_mock_transport
                if self.mode.is_async
                else self.emulator.mock_transport
            )
            http = self.mode.http_client(httpx2, transport=factory(httpx2))
        self._opened.append(http)
        return self.mode.anthropic(anthropic, http, **kwargs)

    def close(self) -> None:
        for http in self._opened:
            self.mode.close(http)


@pytest.fixture(params=["server", "mock"])
def api(request: pytest.FixtureRequest, mode: Any, emulator: Emulator) -> Iterator[Api]:
    """SDK clients in both modes over the loopback server and over ``MockTransport``."""
    if request.param == "server":
        with EmulatorServer(emulator) as running:
            built = Api(mode, "server", emulator, running.url)
            yield built
            built.close()
    else:
        built = Api(mode, "mock", emulator, None)
        yield built
        built.close()
