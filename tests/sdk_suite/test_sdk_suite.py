"""The official SDK's own tests, through ptc_observe's transport: nothing changes.

A representative part of the installed ``anthropic`` release's test suite (its streaming,
client — retries, timeouts, transports —, tracing and OpenTelemetry tests, and the
stream helpers' tests) runs twice in subprocesses: plainly, and with every httpx2 client
sending through ``observer.transport(...)`` of an observer with every sink and option on.
Every test must have the same outcome, the observer must count no telemetry error, and
``ptc_exchanges_total`` must count every exchange it finished. The SDK's tests are
downloaded from PyPI at run time (see :mod:`tests.sdk_suite.runner`); the whole suite
runs with ``scripts/sdk-suite``.
"""

from __future__ import annotations

import pytest

from . import runner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sdk_source() -> object:
    try:
        return runner.sdk_source()
    except runner.SdkUnavailable as exc:  # only when PyPI cannot be reached
        pytest.skip(f"the SDK's source distribution cannot be downloaded: {exc}")


def test_sdk_tests_have_the_same_outcome_through_the_transport(
    sdk_source: object,
) -> None:
    """Zero differences vs a plain run, zero telemetry errors, every exchange counted."""
    plain, observed = runner.run_both(
        sdk_source,  # type: ignore[arg-type]
        runner.representative_targets(),
    )
    assert len(plain.outcomes) > 200  # the part really ran
    assert {"passed"} <= set(plain.outcomes.values())
    assert runner.compare(plain, observed) == []
    seen = observed.observer
    assert seen["clients"] > 100  # the clients really were wrapped
    assert seen["exchanges"] > 100  # and Messages API exchanges went through them
    assert seen["counted"] == seen["exchanges"]
    assert seen["telemetry_errors"] == {}
