"""Small parts of the sinks: hook discovery, bounded labels, switches, the exchange copy."""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

import threading

import pytest

from ptc_observe.observer.sinks import Sink, Tracer, sink_hooks
from ptc_observe.observer.sinks._content import capture_mode, finish_reason
from ptc_observe.observer.sinks._labels import BoundedValues
from ptc_observe.observer.sinks._semconv import latest_experimental


class Full:
    def on_exchange(self, exchange):
        pass

    def trace(self, exchange):
        return exchange

    def on_container_ended(self, ended):
        pass

    def on_telemetry_error(self, stage):
        pass

    def bind(self, correlator):
        pass


class Plain:
    def on_exchange(self, exchange):
        pass


class TestSinkHooks:
    def test_groups_the_optional_methods(self):
        """Each hook lists the bound methods of the sinks that have it, in sink order."""
        full, plain = Full(), Plain()
        hooks = sink_hooks([plain, full])
        assert hooks.on_exchange == (plain.on_exchange, full.on_exchange)
        assert hooks.trace == (full.trace,)
        assert hooks.on_container_ended == (full.on_container_ended,)
        assert hooks.on_telemetry_error == (full.on_telemetry_error,)
        assert hooks.bind == (full.bind,)
        assert isinstance(full, Sink) and isinstance(full, Tracer)
        assert isinstance(plain, Sink) and not isinstance(plain, Tracer)

    def test_rejects_a_non_sink(self):
        """An object without on_exchange is refused with a clear message."""
        with pytest.raises(TypeError, match="no on_exchange"):
            sink_hooks([object()])


class TestBoundedValues:
    def test_folds_newcomers_past_the_limit(self):
        """The first N distinct values pass; later ones become _other; admitted ones keep passing."""
        bounded = BoundedValues(2)
        assert [bounded(v) for v in ("a", "b", "c", "a", "d", "b")] == [
            "a",
            "b",
            "_other",
            "a",
            "_other",
            "b",
        ]
        assert len(bounded) == 2 and "c" not in bounded and bounded.overflowed == 2

    def test_empty_and_none_are_unknown(self):
        """None and the empty string map to the empty label and use no slot."""
        bounded = BoundedValues(1)
        assert (bounded(None), bounded(""), bounded("x"), bounded("y")) == (
            "",
            "",
            "x",
            "_other",
        )

    def test_concurrent_admission_never_exceeds_the_limit(self):
        """Threads racing to admit values admit exactly max_values of them."""
        bounded = BoundedValues(50)
        barrier = threading.Barrier(8)

        def admit(n: int) -> None:
            barrier.wait()
            for i in range(200):
                bounded(f"v{n}-{i}")

        threads = [threading.Thread(target=admit, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(bounded) == 50

    def test_negative_limit(self):
        """A negative limit is an error."""
        with pytest.raises(ValueError, match="max_values"):
            BoundedValues(-1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("", False, id="unset"),
        pytest.param("gen_ai_latest_experimental", True, id="alone"),
        pytest.param("http, gen_ai_latest_experimental", True, id="in-a-list"),
        pytest.param("gen_ai_latest_experimental_x", False, id="prefix-only"),
        pytest.param("http", False, id="other"),
    ],
)
def test_latest_experimental(value, expected):
    """The opt-in is one entry of a comma-separated list."""
    assert latest_experimental({"OTEL_SEMCONV_STABILITY_OPT_IN": value}) is expected


@pytest.mark.parametrize(
    ("argument", "env", "span", "event"),
    [
        pytest.param(None, "", False, False, id="default-off"),
        pytest.param(None, "NO_CONTENT", False, False, id="no-content"),
        pytest.param(None, "span_only", True, False, id="span-only"),
        pytest.param(None, "EVENT_ONLY", False, True, id="event-only"),
        pytest.param(None, "SPAN_AND_EVENT", True, True, id="both"),
        pytest.param(None, "true", True, False, id="true"),
        pytest.param(True, "", True, False, id="argument-on"),
        pytest.param(True, "EVENT_ONLY", False, True, id="argument-on-where-env-says"),
        pytest.param(False, "SPAN_AND_EVENT", False, False, id="argument-off-wins"),
    ],
)
def test_capture_mode(argument, env, span, event):
    """The constructor argument and the environment variable combine as documented."""
    mode = capture_mode(
        argument, {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": env}
    )
    assert (mode.span, mode.event, mode.enabled) == (span, event, span or event)


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_call"),
        ("pause_turn", "pause_turn"),
        ("refusal", "refusal"),
        (None, "error"),
    ],
)
def test_finish_reason(stop_reason, expected):
    """Anthropic stop reasons map to the output-message schema's finish reasons."""
    assert finish_reason(stop_reason) == expected
