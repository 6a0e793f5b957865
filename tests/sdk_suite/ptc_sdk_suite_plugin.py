"""pytest plugin loaded into a run of the official SDK's own tests (``-p ptc_sdk_suite_plugin``).

Always: records each test's outcome to ``$PTC_SDK_SUITE_RESULTS`` (JSON), so that a plain
run and an observed run can be compared test by test.

With ``PTC_SDK_SUITE_OBSERVE=1``: every ``httpx2.Client`` and ``httpx2.AsyncClient`` made
in the run sends through ``observer.transport(...)`` / ``observer.async_transport(...)``
of one :class:`~ptc_observe.Observer`. ``PTC_SDK_SUITE_SINKS=all`` (the default) turns
every sink and option on (Prometheus, spans, OpenTelemetry metrics, content capture,
inferred tool spans, tool-call events), with providers and a registry of the observer's
own, so nothing it records can reach the SDK's tests; ``prometheus`` keeps the
Prometheus sink only (for the tests that assert that the process calls no OpenTelemetry
trace function, which an observer that traces does by design). At the end the plugin adds
to the JSON the exchanges the observer finished, the exchanges ``ptc_exchanges_total``
counted, and the telemetry errors (by test).

The wrapping is a test harness's: the SDK and its tests build their clients themselves,
so the two constructors are wrapped for the run. Each client gets the observing transport
as its ``all://`` mount, which every request goes through (more specific mounts, such as
proxies, keep precedence): around the transport it was given, or around the one httpx
would have built from the same arguments. The client's own ``transport`` stays what the
test gave or httpx built, so tests that look at it (the SDK's connection-leak tests read
its pool) see what they expect; under observation that pool is not the one in use.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import pytest

RESULTS_ENV = "PTC_SDK_SUITE_RESULTS"
OBSERVE_ENV = "PTC_SDK_SUITE_OBSERVE"
SINKS_ENV = "PTC_SDK_SUITE_SINKS"

_outcomes: dict[str, str] = {}
_state: dict[str, Any] = {}
_errors_by_test: dict[str, dict[str, int]] = {}


class _Counting:
    """A sink that counts the exchanges the observer finished."""

    def __init__(self) -> None:
        self.exchanges = 0
        self._lock = threading.Lock()

    def on_exchange(self, exchange: Any) -> None:
        with self._lock:
            self.exchanges += 1


class _CountingExporter:
    """A span exporter that keeps a count, not the spans (the run makes many)."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _observe() -> None:
    import httpx2
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from prometheus_client import CollectorRegistry

    from ptc_observe import Observer

    counting = _Counting()
    exporter = _CountingExporter()
    registry = CollectorRegistry()
    reader = None
    if os.environ.get(SINKS_ENV, "all") == "prometheus":
        observer = Observer([counting], registry=registry, opentelemetry=False)
    else:
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[arg-type]
        reader = InMemoryMetricReader()
        observer = Observer(
            [counting],
            registry=registry,
            tracer_provider=tracer_provider,
            meter_provider=MeterProvider(metric_readers=[reader]),
            capture_content=True,
            infer_tool_spans=True,
            tool_call_events=True,
        )
    _state.update(
        observer=observer,
        counting=counting,
        exporter=exporter,
        registry=registry,
        reader=reader,
        clients=0,
    )
    sync_init = httpx2.Client.__init__
    async_init = httpx2.AsyncClient.__init__

    def default_transport(cls: Any, kwargs: dict[str, Any]) -> Any:
        # What httpx builds for a client given no transport, from the same arguments.
        options = {
            name: kwargs[name]
            for name in ("verify", "cert", "trust_env", "http1", "http2", "limits")
            if name in kwargs
        }
        return cls(**options)

    def mounts(kwargs: dict[str, Any], observing: Any) -> dict[str, Any]:
        # Ours is the catch-all; the client's own mounts (proxies, say) keep theirs.
        return {"all://": observing, **(kwargs.pop("mounts", None) or {})}

    def client_init(self: Any, *args: Any, **kwargs: Any) -> None:
        inner = kwargs.get("transport") or default_transport(
            httpx2.HTTPTransport, kwargs
        )
        _state["clients"] += 1
        routes = mounts(kwargs, observer.transport(inner))
        sync_init(self, *args, mounts=routes, **kwargs)

    def async_client_init(self: Any, *args: Any, **kwargs: Any) -> None:
        inner = kwargs.get("transport") or default_transport(
            httpx2.AsyncHTTPTransport, kwargs
        )
        _state["clients"] += 1
        routes = mounts(kwargs, observer.async_transport(inner))
        async_init(self, *args, mounts=routes, **kwargs)

    httpx2.Client.__init__ = client_init  # type: ignore[method-assign]
    httpx2.AsyncClient.__init__ = async_client_init  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    """Wrap the clients before any test module builds one."""
    if os.environ.get(OBSERVE_ENV) == "1":
        _observe()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Any:
    """Note the telemetry errors each test's exchanges caused."""
    observer = _state.get("observer")
    before = dict(observer.telemetry_errors) if observer is not None else {}
    yield
    if observer is not None:
        delta = {
            stage: n - before.get(stage, 0)
            for stage, n in observer.telemetry_errors.items()
            if n != before.get(stage, 0)
        }
        if delta:
            _errors_by_test[item.nodeid] = delta


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep the worst phase outcome of each test (setup, call, teardown)."""
    rank = {"passed": 0, "skipped": 1, "failed": 2}
    outcome: str = report.outcome
    if report.when == "call" and hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    previous = _outcomes.get(report.nodeid)
    if previous is None or rank.get(outcome, 3) > rank.get(previous, 3):
        _outcomes[report.nodeid] = outcome


def _counted(registry: Any) -> float:
    total = 0.0
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == "ptc_exchanges_total":
                total += sample.value
    return total


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the outcomes (and what the observer saw) as JSON."""
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    data: dict[str, Any] = {"outcomes": _outcomes}
    if _state:
        observer = _state["observer"]
        data["observer"] = {
            "clients": _state["clients"],
            "exchanges": _state["counting"].exchanges,
            "counted": _counted(_state["registry"]),
            "spans": _state["exporter"].spans,
            "telemetry_errors": dict(observer.telemetry_errors),
            "errors_by_test": _errors_by_test,
        }
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        # Under pytest-xdist the controller has the outcomes, each worker its observer.
        data = {"observer": data.get("observer", {})}
        path = f"{path}.{worker}"
    with open(path, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1, sort_keys=True)
