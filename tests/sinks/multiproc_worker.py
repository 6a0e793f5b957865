"""One gunicorn-like worker for the multiprocess tests (run as a subprocess).

Usage: ``python multiproc_worker.py NAME`` with ``PROMETHEUS_MULTIPROC_DIR`` set. The worker
records a fixed set of exchanges through a PrometheusSink on the default registry (as
``Observer()`` would) and exits; its metric files stay in the directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ptc_observe.events import RateLimit
from ptc_observe.observer.correlator import Correlator
from ptc_observe.observer.sinks.prometheus import PrometheusSink
from sinks.factory import RATE_LIMITS, ExchangeFactory, result


def main(name: str) -> None:
    """Record this worker's exchanges."""
    assert os.environ.get("PROMETHEUS_MULTIPROC_DIR"), "needs PROMETHEUS_MULTIPROC_DIR"
    factory = ExchangeFactory()
    correlator = Correlator(clock=factory.clock)
    sink = PrometheusSink()
    assert sink.multiprocess
    sink.bind(correlator)
    correlator.add_listener(sink.on_container_ended)
    if name == "a":
        # A PTC turn and its resume; trace ids set (exemplars must be dropped, not crash).
        ex = correlator.correlate(
            factory.make("02_ptc_turn1_response.json", rate_limits=RATE_LIMITS)
        )
        sink.on_exchange(ex)
        factory.advance(2)
        resume = factory.make(
            "03_ptc_resume_response.json",
            container_id="container_011CZq7TfRmB3vKx9NwPd2Lh",
            tool_results=[result("toolu_01Fk2YwHs9PqLm4Rt7VbZc3N", 48)],
        )
        traced = type(resume)(
            **{
                **{f: getattr(resume, f) for f in resume.__slots__},
                "trace_id": 1,
                "span_id": 2,
            }
        )
        sink.on_exchange(correlator.correlate(traced))
    else:
        # Another container, and rate-limit headers seen later than worker a's.
        sink.on_exchange(correlator.correlate(factory.make("08_stream_ptc_turn1.sse")))
        late = (RateLimit("requests", 4000, 17, None),)
        sink.on_exchange(
            correlator.correlate(
                factory.make("07_error_529_overloaded.json", rate_limits=late)
            )
        )
        sink.on_telemetry_error("sink")
    print(os.getpid())


if __name__ == "__main__":
    main(sys.argv[1])
