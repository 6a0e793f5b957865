"""Helpers for testing code that uses ptc_observe: a sink that keeps everything.

Collect the records of one observer::

    sink = MemorySink()
    observer = Observer(sinks=[sink], prometheus=False, opentelemetry=False)
    ...
    assert sink.exchanges[-1].ok

or of every observer in the process, for the duration of a ``with`` block::

    with capture_exchanges() as exchanges:
        run_the_application()
    assert [ex.outcome for ex in exchanges] == [Outcome.OK]
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .events import ContainerEnded, Exchange
from .observer.pipeline import _add_process_sink, _remove_process_sink

__all__ = ["MemorySink", "capture_exchanges"]


class MemorySink:
    """A sink that keeps every exchange, ended container and telemetry error it gets.

    Thread safe; meant for tests and debugging (memory grows with traffic).
    """

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        """Finished exchanges, in the order they finished."""
        self.containers_ended: list[ContainerEnded] = []
        """Containers the correlator let go."""
        self.telemetry_errors: list[str] = []
        """Stages of the telemetry errors reported."""
        self._lock = threading.Lock()

    def on_exchange(self, exchange: Exchange) -> None:
        """Keep ``exchange``."""
        with self._lock:
            self.exchanges.append(exchange)

    def on_container_ended(self, ended: ContainerEnded) -> None:
        """Keep ``ended``."""
        with self._lock:
            self.containers_ended.append(ended)

    def on_telemetry_error(self, stage: str) -> None:
        """Keep the stage of a telemetry error."""
        with self._lock:
            self.telemetry_errors.append(stage)

    @property
    def last(self) -> Exchange:
        """The exchange that finished last.

        Raises:
            IndexError: none has finished yet.
        """
        with self._lock:
            return self.exchanges[-1]

    def clear(self) -> None:
        """Forget everything kept so far."""
        with self._lock:
            self.exchanges.clear()
            self.containers_ended.clear()
            self.telemetry_errors.clear()

    def __len__(self) -> int:
        return len(self.exchanges)

    def __repr__(self) -> str:
        return f"<MemorySink exchanges={len(self.exchanges)}>"


@contextmanager
def capture_exchanges() -> Iterator[list[Exchange]]:
    """Collect the exchanges every :class:`~ptc_observe.Observer` finishes in the block.

    Yields:
        The list the exchanges are appended to (it stays valid after the block).
    """
    sink = MemorySink()
    _add_process_sink(sink)
    try:
        yield sink.exchanges
    finally:
        _remove_process_sink(sink)
