"""Errors of the report command; each maps to its own exit status."""

from __future__ import annotations


class ReportError(Exception):
    """A report could not be made; the message says why and what to do."""

    exit_code = 1


class SourceError(ReportError):
    """Prometheus is unreachable or answered with an error, or the metrics file is bad."""

    exit_code = 1


class UsageError(ReportError):
    """Options that cannot work together or a bad option value."""

    exit_code = 2


class RangeError(UsageError):
    """A bad ``--since`` / ``--until`` / ``--range``."""


class NoMetricsError(ReportError):
    """The source answered, but holds no ptc_observe cost or run metrics."""

    exit_code = 3
