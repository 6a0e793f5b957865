"""Shared fixtures: recorded bodies, fresh telemetry backends, and sync/async modes."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from prometheus_client import CollectorRegistry

DATA_DIR = Path(__file__).parent / "data" / "anthropic"


class Fixtures:
    """The recorded Messages API bodies in ``tests/data/anthropic``."""

    dir = DATA_DIR

    def path(self, name: str) -> Path:
        """Path of a fixture file; ``name`` may omit the extension."""
        matches = sorted(DATA_DIR.glob(f"{name}*")) if "." not in name else []
        return matches[0] if matches else DATA_DIR / name

    def bytes(self, name: str) -> bytes:
        """Raw bytes of a fixture."""
        return self.path(name).read_bytes()

    def json(self, name: str) -> Any:
        """A JSON fixture, parsed."""
        return json.loads(self.bytes(name))

    def names(self, suffix: str) -> list[str]:
        """File names with ``suffix`` (``.json`` or ``.sse``), sorted."""
        return sorted(p.name for p in DATA_DIR.glob(f"*{suffix}"))


@pytest.fixture(scope="session")
def fixtures() -> Fixtures:
    """Access to the recorded bodies."""
    return Fixtures()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the SDK's default)."""
    return "asyncio"


# --- telemetry backends, fresh per test ---


@pytest.fixture
def prom_registry() -> CollectorRegistry:
    """An empty Prometheus registry (never the global one)."""
    return CollectorRegistry()


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    """Keeps the finished spans of ``tracer_provider``."""
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(span_exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    """A tracer provider exporting synchronously to ``span_exporter``."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    """Reads the metrics of ``meter_provider`` on demand."""
    return InMemoryMetricReader()


@pytest.fixture
def meter_provider(metric_reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    """A meter provider read by ``metric_reader``."""
    provider = MeterProvider(metric_readers=[metric_reader])
    yield provider
    provider.shutdown()


# --- one test body, sync and async ---


class Mode:
    """Runs SDK or httpx calls either directly (sync) or on an event loop (async).

    In async mode every call runs on one event loop in a background thread, kept for
    the whole test, so connection pools and clients stay bound to one loop.
    """

    def __init__(self, name: str, portal: Any = None) -> None:
        self.name = name
        self.is_async = name == "async"
        self._portal = portal

    def __repr__(self) -> str:
        return f"<Mode {self.name}>"

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``; in async mode ``fn`` is a coroutine function, awaited on the loop."""
        if not self.is_async:
            return fn(*args, **kwargs)
        return self._portal.call(functools.partial(fn, *args, **kwargs))

    def collect(self, stream: Iterable[Any] | AsyncIterable[Any]) -> list[Any]:
        """Iterate a (sync or async) stream to its end."""
        if not self.is_async:
            return list(stream)  # type: ignore[arg-type]

        async def collect() -> list[Any]:
            return [item async for item in stream]  # type: ignore[union-attr]

        return self._portal.call(collect)  # type: ignore[no-any-return]

    def take(self, stream: Any, n: int) -> list[Any]:
        """Read the first ``n`` items of a (sync or async) stream, leaving it open."""
        if not self.is_async:
            it = iter(stream)
            return [next(it) for _ in range(n)]

        async def take() -> list[Any]:
            it = stream.__aiter__()
            return [await it.__anext__() for _ in range(n)]

        return self._portal.call(take)  # type: ignore[no-any-return]

    def close(self, closable: Any) -> None:
        """``close()`` it, or ``await aclose()``/``close()`` in async mode."""
        if not self.is_async:
            closable.close()
            return
        aclose = getattr(closable, "aclose", None) or closable.close
        self._portal.call(aclose)

    def stream_helper(self, manager: Any) -> tuple[list[Any], Any]:
        """Run the SDK's ``messages.stream(...)`` manager: its events and final message."""
        if not self.is_async:
            with manager as stream:
                events = list(stream)
                return events, stream.get_final_message()

        async def run() -> tuple[list[Any], Any]:
            async with manager as stream:
                events = [event async for event in stream]
                return events, await stream.get_final_message()

        return self._portal.call(run)  # type: ignore[no-any-return]

    def raises(
        self, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> BaseException:
        """Call like :meth:`run` and return the exception it raised (fails if none)."""
        try:
            self.run(fn, *args, **kwargs)
        except BaseException as exc:
            return exc
        raise AssertionError(f"{fn!r} raised nothing")

    # Builders of clients for this mode.

    def observing(self, observer: Any, inner: Any = None) -> Any:
        """``observer.transport(inner)`` or ``observer.async_transport(inner)``."""
        if self.is_async:
            return observer.async_transport(inner)
        return observer.transport(inner)

    def http_client(self, lib: Any, **kwargs: Any) -> Any:
        """``lib.Client(**kwargs)`` or ``lib.AsyncClient(**kwargs)`` (httpx or httpx2)."""
        return (lib.AsyncClient if self.is_async else lib.Client)(**kwargs)

    def anthropic(self, sdk: Any, http_client: Any, **kwargs: Any) -> Any:
        """``sdk.Anthropic`` or ``sdk.AsyncAnthropic`` on ``http_client`` (test key, local URL)."""
        cls = sdk.AsyncAnthropic if self.is_async else sdk.Anthropic
        kwargs.setdefault("api_key", "sk-ant-test-key")
        kwargs.setdefault("base_url", "http://api.test")
        return cls(http_client=http_client, **kwargs)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> Iterator[Mode]:
    """Runs the test body once with sync clients and once with async ones."""
    if request.param == "sync":
        yield Mode("sync")
        return
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        yield Mode("async", portal)
