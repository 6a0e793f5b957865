"""Serve ``/metrics`` for Prometheus: a small server, or an app for a server you have.

Three ways, all negotiating the format with the scraper's ``Accept`` header: Prometheus
asks for OpenMetrics (``application/openmetrics-text``), which is the format that carries
exemplars (the trace ids on histograms); anything else gets the classic text format::

    from ptc_observe.observer.exposition import start_metrics_server
    server, thread = start_metrics_server(9464)          # http://127.0.0.1:9464/metrics

    app = make_wsgi_app()     # mount under /metrics in Flask, Django, gunicorn ...
    app = make_asgi_app()     # mount under /metrics in Starlette, FastAPI ...

Multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, e.g. gunicorn workers): without an
explicit registry these serve the aggregate of every process's metric files. Call
:func:`mark_process_dead` from gunicorn's ``child_exit`` hook so ``livesum`` gauges drop
the dead worker.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    make_asgi_app as _prometheus_asgi_app,
    make_wsgi_app as _prometheus_wsgi_app,
)
from prometheus_client.registry import Collector

from .sinks.prometheus import is_multiprocess

__all__ = [
    "exposition_registry",
    "make_asgi_app",
    "make_wsgi_app",
    "mark_process_dead",
    "start_metrics_server",
]

METRICS_PATH = "/metrics"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def exposition_registry(registry: Collector | None = None) -> Collector:
    """The registry to expose.

    Args:
        registry: an explicit registry wins. Without one: in multiprocess mode a
            registry that aggregates every process's files, else the default registry.
    """
    if registry is not None:
        return registry
    if is_multiprocess():
        from prometheus_client import multiprocess

        aggregate = CollectorRegistry()
        multiprocess.MultiProcessCollector(aggregate)  # type: ignore[no-untyped-call]
        return aggregate
    return REGISTRY


def make_wsgi_app(registry: Collector | None = None) -> WSGIApp:
    """A WSGI app that answers every GET with the metrics (mount it at ``/metrics``).

    Args:
        registry: what to expose; see :func:`exposition_registry`.
    """
    app: WSGIApp = _prometheus_wsgi_app(exposition_registry(registry))
    return app


def make_asgi_app(registry: Collector | None = None) -> Callable[..., Any]:
    """An ASGI app that answers every GET with the metrics (mount it at ``/metrics``).

    Args:
        registry: what to expose; see :func:`exposition_registry`.
    """
    app: Callable[..., Any] = _prometheus_asgi_app(exposition_registry(registry))
    return app


def mark_process_dead(pid: int) -> None:
    """Tell multiprocess mode that worker ``pid`` exited (gunicorn ``child_exit`` hook)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class _Server(ThreadingMixIn, WSGIServer):
    # Request threads must not keep the process alive or pile up in a join list.
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are frequent; no access log on stderr."""


def _only_metrics(app: WSGIApp) -> WSGIApp:
    def routed(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in (METRICS_PATH, METRICS_PATH + "/"):
            return app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found: metrics are at /metrics\n"]

    return routed


def start_metrics_server(
    port: int, addr: str = "127.0.0.1", registry: Collector | None = None
) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``http://{addr}:{port}/metrics`` from a daemon thread.

    Args:
        port: TCP port; 0 picks a free one (read it from ``server.server_port``).
        addr: interface to bind; loopback by default, ``0.0.0.0`` to be scraped from
            other hosts.
        registry: what to expose; see :func:`exposition_registry`.

    Returns:
        The server and its thread; stop with ``server.shutdown(); server.server_close()``.
    """
    app = _only_metrics(make_wsgi_app(registry))
    server_class = _Server6 if ":" in addr else _Server
    server = make_server(
        addr, port, app, server_class=server_class, handler_class=_QuietHandler
    )
    thread = threading.Thread(
        target=server.serve_forever, name="ptc-observe-metrics", daemon=True
    )
    thread.start()
    return server, thread
