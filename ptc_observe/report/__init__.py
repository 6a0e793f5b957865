"""The spend and PTC-savings report (``ptc-observe report``).

Sources (a Prometheus server's HTTP API over a time range, or one ``/metrics`` text) hand
``Totals`` to ``build_report``; ``render_text`` and ``render_html`` show the ``Report``.
"""

from __future__ import annotations

from .errors import NoMetricsError, RangeError, ReportError, SourceError, UsageError
from .model import Comparison, ModeStats, PriceData, Report, build_report
from .prometheus import load_prometheus
from .snapshot import load_snapshot
from .text import render_text
from .timerange import TimeRange, Window
from .totals import Collected

__all__ = [
    "Collected",
    "Comparison",
    "ModeStats",
    "NoMetricsError",
    "PriceData",
    "RangeError",
    "Report",
    "ReportError",
    "SourceError",
    "TimeRange",
    "UsageError",
    "Window",
    "build_report",
    "load_prometheus",
    "load_snapshot",
    "render_text",
]
