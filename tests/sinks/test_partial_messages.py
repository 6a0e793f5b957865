"""Tool calls of a stream that never completed are not counted as calls the app can run."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from ptc_observe.events import Outcome
from ptc_observe.observer.sinks.prometheus import PrometheusSink

from .factory import ExchangeFactory

STREAM = "08_stream_ptc_turn1.sse"
# Cut after the programmatic tool_use block arrived, before message_delta / message_stop.
CUT_AFTER_TOOL_USE = 4048


def _calls(registry: CollectorRegistry) -> float:
    value = registry.get_sample_value(
        "ptc_tool_calls_total",
        {"gen_ai_tool_name": "query_sales", "caller": "programmatic"},
    )
    return value or 0.0


class TestPartialMessages:
    def test_cut_stream_counts_no_tool_call(
        self,
        factory: ExchangeFactory,
        prom_sink: PrometheusSink,
        prom_registry: CollectorRegistry,
    ) -> None:
        """A stream cut after its tool_use block: the exchange is counted, its call is not."""
        ex = factory.make(STREAM, cut_after=CUT_AFTER_TOOL_USE)
        assert not ex.complete and ex.tool_calls  # the partial message holds the call
        prom_sink.on_exchange(ex)
        assert _calls(prom_registry) == 0.0
        assert (
            prom_registry.get_sample_value(
                "ptc_exchanges_total",
                {
                    "gen_ai_request_model": ex.model or "",
                    "stream": "true",
                    "outcome": ex.outcome.value,
                },
            )
            == 1.0
        )
        assert ex.outcome is Outcome.INCOMPLETE

    def test_complete_stream_counts_its_tool_call(
        self,
        factory: ExchangeFactory,
        prom_sink: PrometheusSink,
        prom_registry: CollectorRegistry,
    ) -> None:
        """The same stream read to message_stop counts its one programmatic call."""
        prom_sink.on_exchange(factory.make(STREAM))
        assert _calls(prom_registry) == 1.0
