"""The observer wing: it watches Messages API traffic and turns it into telemetry.

Data flows one way, one module per step::

    caller -> transport -> recorder -> (wire: bytes -> facts) -> events.Exchange
           -> pipeline.Observer (correlator -> tracer -> sinks)

* :mod:`.transport`: the observing httpx / httpx2 transports and their stream shells;
* :mod:`.recorder`: one :class:`~.recorder.ExchangeRecorder` per HTTP exchange (sans-IO);
* :mod:`.correlator`: what needs memory across exchanges (containers, tool turnarounds);
* :mod:`.pipeline`: the :class:`Observer`, which owns the correlator and fans out to sinks;
* :mod:`.sinks`: Prometheus and OpenTelemetry;
* :mod:`.exposition`: serving ``/metrics`` (single and multiprocess).

The PTC client (:mod:`ptc_observe.client`) is built on this wing; the sans-IO wire layer
(:mod:`ptc_observe.wire`, :mod:`ptc_observe.models`, :mod:`ptc_observe.events`) sits below both.
"""

from __future__ import annotations

from .correlator import Correlator, Limits
from .pipeline import CAPTURE_CONTENT_ENV, STAGES, Observer, capture_content_from_env
from .sinks import Sink

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "STAGES",
    "Correlator",
    "Limits",
    "Observer",
    "Sink",
    "capture_content_from_env",
]
