"""The Prometheus sink's back end of prometheus_client's own metrics (multiprocess mode).

Under ``PROMETHEUS_MULTIPROC_DIR`` the values must land in prometheus_client's
multiprocess files, so the sink keeps the standard ``Counter``, ``Gauge`` and
``Histogram``; :class:`StandardMetrics` gives them the interface of
:class:`~ptc_observe.observer.sinks._prometheus_cells.LocalMetrics`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from time import time as _time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ._prometheus_cells import EXEMPLAR_INTERVAL_SECONDS

__all__ = ["Hist", "StandardMetrics"]


class Hist:
    """A standard histogram series bound on first use, exemplars at a bounded rate.

    ``Hist(family, labels)`` binds on the first observation (a histogram never observed
    adds no empty series); :meth:`of` wraps a child (or a label-less family) already bound.
    An exemplar goes with the first observation of the series and then at most once per
    :data:`EXEMPLAR_INTERVAL_SECONDS` (by the ``now`` the caller gives, else the clock).
    """

    __slots__ = ("_child", "_family", "_labels", "_next_exemplar")

    def __init__(self, family: Histogram, labels: tuple[str, ...]) -> None:
        self._family = family
        self._labels = labels
        self._child: Any = None
        self._next_exemplar = -math.inf

    @classmethod
    def of(cls, child: Any) -> Hist:
        """Wrap a histogram child (or a histogram without labels) that is already bound."""
        h = cls(child, ())
        h._child = child
        return h

    def observe(
        self,
        amount: float,
        exemplar: dict[str, str] | None = None,
        now: float | None = None,
    ) -> None:
        """Observe ``amount``, with ``exemplar`` if this series is due one."""
        child = self._child
        if child is None:
            child = self._child = self._family.labels(*self._labels)
        if exemplar:
            if now is None:
                now = _time()
            if now >= self._next_exemplar:
                self._next_exemplar = now + EXEMPLAR_INTERVAL_SECONDS
                child.observe(amount, exemplar)
                return
        child.observe(amount)


class StandardMetrics:
    """prometheus_client's ``Counter``, ``Gauge`` and ``Histogram`` (multiprocess mode)."""

    local = False

    def __init__(self) -> None:
        self.lock = threading.RLock()
        """Held by the sink around each exchange (the metrics also lock themselves)."""

    def counter(
        self, name: str, documentation: str, labelnames: Sequence[str] = (), *,
        registry: CollectorRegistry,
    ) -> Any:  # fmt: skip
        """A standard counter."""
        return Counter(name, documentation, labelnames, registry=registry)

    def gauge(
        self, name: str, documentation: str, labelnames: Sequence[str] = (), *,
        registry: CollectorRegistry, multiprocess_mode: str,
    ) -> Any:  # fmt: skip
        """A standard gauge."""
        return Gauge(
            name, documentation, labelnames, registry=registry,
            multiprocess_mode=multiprocess_mode,  # type: ignore[arg-type]
        )  # fmt: skip

    def histogram(
        self, name: str, documentation: str, labelnames: Sequence[str] = (), *,
        registry: CollectorRegistry, buckets: Sequence[float],
    ) -> Any:  # fmt: skip
        """A standard histogram."""
        return Histogram(
            name, documentation, labelnames, registry=registry, buckets=buckets
        )

    def series(self, family: Any, labels: tuple[str, ...]) -> Any:
        """A histogram series of ``family`` that appears on its first observation."""
        return Hist(family, labels)

    def bound(self, child: Any) -> Any:
        """An observer (with exemplar rate) of a bound histogram child."""
        return Hist.of(child)

    def single(self, family: Any) -> Any:
        """The one series of a label-less family."""
        return family
