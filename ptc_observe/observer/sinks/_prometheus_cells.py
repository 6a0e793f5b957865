"""The Prometheus sink's back end of cells of its own (single process, the default).

Single process (the default), :class:`LocalMetrics`: every series is a small slotted cell of
plain floats (a histogram's bucket is found with :func:`bisect.bisect_left` over its
precomputed bounds), updated in place by the sink under ONE lock per exchange, and exposed at
scrape time by one custom collector per family (``prometheus_client.registry.Collector`` and
the public ``*MetricFamily`` classes), registered where the standard metric would be. The
samples are those the standard ``Counter``/``Gauge``/``Histogram`` give: names, label order,
HELP/TYPE, float values, ``_created`` per series unless ``disable_created_metrics()`` is in
force, one exemplar per bucket. A standard child would instead take a lock and validate its
state on each of the ~20 updates an exchange makes.

Under ``PROMETHEUS_MULTIPROC_DIR`` the sink keeps prometheus_client's metrics instead
(:mod:`~ptc_observe.observer.sinks._prometheus_standard`). Both back ends expose the same
small interface (families with ``labels``; series with ``inc``,
``set`` or ``observe(amount, exemplar, now)``), decided once when the families are built.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from time import time as _time
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar, Sample
from prometheus_client.utils import floatToGoString

__all__ = [
    "EXEMPLAR_INTERVAL_SECONDS",
    "CounterCell",
    "GaugeCell",
    "HistogramCell",
    "LocalMetrics",
    "created_series",
]

# Exemplars are written at a bounded rate: at most one per series per this many seconds.
# Prometheus keeps one exemplar per bucket and scrapes every few seconds, so a higher
# rate would only be overwritten unseen.
EXEMPLAR_INTERVAL_SECONDS = 1.0

_probe: list[Counter] = []


def created_series() -> bool:
    """Whether prometheus_client exports ``_created`` series now.

    Asked of an unregistered standard counter at scrape time, so ``disable_created_metrics()``
    and ``PROMETHEUS_DISABLE_CREATED_SERIES`` apply to our families exactly as to the
    library's (read through the public ``collect``).
    """
    if not _probe:
        _probe.append(Counter("ptc_created_probe", "Probe.", registry=None))
    return any(
        s.name.endswith("_created") for m in _probe[0].collect() for s in m.samples
    )


class CounterCell:
    """One counter series; updated only under the back end's lock."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = _time()

    def inc(self, amount: float = 1) -> None:
        """Add ``amount`` (non-negative, as for a standard counter)."""
        if amount < 0:
            raise ValueError(
                "Counters can only be incremented by non-negative amounts."
            )
        self.value += amount


class GaugeCell:
    """One gauge series; updated only under the back end's lock."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = _time()

    def set(self, value: float) -> None:
        """Set the gauge to ``value``."""
        self.value = float(value)


class HistogramCell:
    """One histogram series: per-bucket counts (not cumulative), sum, exemplar per bucket.

    Updated only under the back end's lock. A cell made by :meth:`LocalHistogram.series`
    is exposed from its first observation (``created`` is set then).
    """

    __slots__ = (
        "bounds",
        "counts",
        "created",
        "exemplars",
        "family",
        "key",
        "next_exemplar",
        "sum",
    )

    def __init__(self, family: LocalHistogram, key: tuple[str, ...]) -> None:
        self.family = family
        self.key = key
        self.bounds = family.bounds
        self.counts = [0.0] * len(self.bounds)
        self.exemplars: list[Exemplar | None] = [None] * len(self.bounds)
        self.sum = 0.0
        self.created: float | None = None
        self.next_exemplar = -math.inf

    def observe(
        self,
        amount: float,
        exemplar: dict[str, str] | None = None,
        now: float | None = None,
    ) -> None:
        """Observe ``amount`` (into the first bucket whose bound is >= it; NaN into none),
        with ``exemplar`` if this series is due one."""
        if self.created is None:
            self.family.bind(self.key, self)
        self.sum += amount
        bounds = self.bounds
        i = bisect_left(bounds, amount)
        hit = amount <= bounds[i]  # False only for NaN (the last bound is +Inf)
        if hit:
            self.counts[i] += 1.0
        if exemplar:
            if now is None:
                now = _time()
            if now >= self.next_exemplar:
                self.next_exemplar = now + EXEMPLAR_INTERVAL_SECONDS
                if hit:
                    self.exemplars[i] = Exemplar(exemplar, amount, now)


class _LocalFamily(Collector):
    """A family of cells by label values, exposed in the order the series appeared."""

    typ = ""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry | None,
        lock: threading.RLock,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.lock = lock
        self.cells: dict[tuple[str, ...], Any] = {}
        self.exposed: dict[tuple[str, ...], Any] = {}
        if not self.labelnames:
            self.labels()
        if registry is not None:
            registry.register(self)

    def _new(self, key: tuple[str, ...]) -> Any:
        raise NotImplementedError

    def series(self, values: tuple[str, ...]) -> Any:
        """The cell of label values ``values`` (made if new; not exposed by this)."""
        cell = self.cells.get(values)
        if cell is None:
            key = tuple(str(v) for v in values)
            if len(key) != len(self.labelnames):
                raise ValueError(f"{self.name}: expected {len(self.labelnames)} labels")
            with self.lock:
                cell = self.cells.get(key)
                if cell is None:
                    cell = self.cells[key] = self._new(key)
        return cell

    def labels(self, *values: str) -> Any:
        """The cell of ``values``, exposed from now on (as a standard ``labels`` call)."""
        cell = self.exposed.get(values)
        if cell is None:
            cell = self.series(values)
            self.bind(tuple(str(v) for v in values), cell)
        return cell

    def bind(self, key: tuple[str, ...], cell: Any) -> None:
        """Expose ``cell`` (of label values ``key``) from now on."""
        with self.lock:
            if cell.created is None:
                cell.created = _time()
            self.exposed.setdefault(key, cell)

    def clear(self) -> None:
        """Remove every series."""
        with self.lock:
            self.cells = {}
            self.exposed = {}

    def describe(self) -> Iterable[Metric]:
        """The family, without samples (so registering does not collect)."""
        return [Metric(self.name, self.documentation, self.typ)]


class LocalCounter(_LocalFamily):
    """A counter family of :class:`CounterCell`; collected like a standard ``Counter``."""

    typ = "counter"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry | None,
        lock: threading.RLock,
    ) -> None:
        if name.endswith("_total"):  # as the standard Counter names its family
            name = name[: -len("_total")]
        super().__init__(name, documentation, labelnames, registry, lock)

    def _new(self, key: tuple[str, ...]) -> CounterCell:
        return CounterCell()

    def collect(self) -> Iterable[Metric]:
        """``<name>_total`` (and ``<name>_created``) per series."""
        created = created_series()
        with self.lock:
            rows = [(k, c.value, c.created) for k, c in self.exposed.items()]
        family = CounterMetricFamily(
            self.name, self.documentation, labels=self.labelnames
        )
        for key, value, stamp in rows:
            family.add_metric(key, value, stamp if created else None)
        return [family]


class LocalGauge(_LocalFamily):
    """A gauge family of :class:`GaugeCell`; collected like a standard ``Gauge``."""

    typ = "gauge"

    def _new(self, key: tuple[str, ...]) -> GaugeCell:
        return GaugeCell()

    def collect(self) -> Iterable[Metric]:
        """One sample per series."""
        with self.lock:
            rows = [(k, c.value) for k, c in self.exposed.items()]
        family = GaugeMetricFamily(
            self.name, self.documentation, labels=self.labelnames
        )
        for key, value in rows:
            family.add_metric(key, value)
        return [family]


class LocalHistogram(_LocalFamily):
    """A histogram family of :class:`HistogramCell`; collected like a standard
    ``Histogram`` (cumulative buckets with their exemplars, count, sum, created)."""

    typ = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry | None,
        lock: threading.RLock,
        buckets: Sequence[float],
    ) -> None:
        bounds = [float(b) for b in buckets]
        if bounds != sorted(bounds):
            raise ValueError("Buckets not in sorted order")
        if bounds and bounds[-1] != math.inf:
            bounds.append(math.inf)
        if len(bounds) < 2:
            raise ValueError("Must have at least two buckets")
        if bounds[0] < 0:  # the public family would then drop _count, the library not
            raise ValueError("bucket bounds must be >= 0")
        self.bounds = tuple(bounds)
        self.les = tuple(floatToGoString(b) for b in bounds)  # type: ignore[no-untyped-call]
        super().__init__(name, documentation, labelnames, registry, lock)

    def _new(self, key: tuple[str, ...]) -> HistogramCell:
        return HistogramCell(self, key)

    def collect(self) -> Iterable[Metric]:
        """The exposed series (those observed, or bound with ``labels``)."""
        created = created_series()
        with self.lock:
            rows = [
                (k, list(c.counts), c.sum, c.created, list(c.exemplars))
                for k, c in self.exposed.items()
            ]
        family = HistogramMetricFamily(
            self.name, self.documentation, labels=self.labelnames
        )
        names = self.labelnames
        for key, counts, total, stamp, exemplars in rows:
            acc = 0.0
            buckets = []
            for le, n, exemplar in zip(self.les, counts, exemplars, strict=True):
                acc += n
                buckets.append((le, acc, exemplar))
            family.add_metric(key, buckets, total)
            if created:
                # The family's public ``samples`` list, as every reader of collect() sees
                # it (HistogramMetricFamily.add_metric takes no created time, and the
                # library marks Metric.add_sample internal-only).
                family.samples.append(
                    Sample(
                        self.name + "_created",
                        dict(zip(names, key, strict=True)),
                        stamp,
                    )
                )
        return [family]


class LocalMetrics:
    """Families of our own cells, all under one lock (single process)."""

    local = True

    def __init__(self) -> None:
        self.lock = threading.RLock()
        """Held by the sink around each exchange and by every family's scrape."""

    def counter(
        self, name: str, documentation: str, labelnames: Sequence[str] = (), *,
        registry: CollectorRegistry,
    ) -> Any:  # fmt: skip
        """A counter family of cells."""
        return LocalCounter(name, documentation, labelnames, registry, self.lock)

    def gauge(
        self, name: str, documentation: str, labelnames: Sequence[str] = (), *,
        registry: CollectorRegistry, multiprocess_mode: str,
    ) -> Any:  # fmt: skip
        """A gauge family of cells (``multiprocess_mode`` does not apply)."""
        return LocalGauge(name, documentation, labelnames, registry, self.lock)

    def histogram(
        self, name: str, documentation: str, labelnames: Sequence[str] = (), *,
        registry: CollectorRegistry, buckets: Sequence[float],
    ) -> Any:  # fmt: skip
        """A histogram family of cells."""
        return LocalHistogram(
            name, documentation, labelnames, registry, self.lock, buckets
        )

    def series(self, family: Any, labels: tuple[str, ...]) -> Any:
        """A histogram cell of ``family``, exposed from its first observation."""
        return family.series(labels)

    def bound(self, child: Any) -> Any:
        """A bound cell observes (exemplar rate included) by itself."""
        return child

    def single(self, family: Any) -> Any:
        """The one cell of a label-less family."""
        return family.labels()
