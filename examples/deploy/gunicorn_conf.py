"""gunicorn settings for an application observed by ptc_observe with several workers.

    PROMETHEUS_MULTIPROC_DIR=/var/run/prometheus-multiproc \\
        gunicorn -w 4 -c examples/deploy/gunicorn_conf.py myapp:app

prometheus-client's multiprocess mode: each worker writes its metrics to files in
``PROMETHEUS_MULTIPROC_DIR``; the master serves ``/metrics`` for the whole pod on
``PTC_METRICS_PORT`` (default 9464) and ``PTC_METRICS_ADDR`` (default ``0.0.0.0``, so that
Prometheus can reach it), the aggregate of every worker's files.
The directory is emptied before the first worker starts (stale files of a previous run would
be added in) and a worker that exits is marked dead (its ``livesum`` gauges, such as
``ptc_containers_active``, drop out). See docs/deploy.md, "Deploying to a fleet".
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from ptc_observe.observer.exposition import mark_process_dead, start_metrics_server


def on_starting(server: Any) -> None:
    """Master, before any worker exists: start from an empty metrics directory."""
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def when_ready(server: Any) -> None:
    """Master: serve /metrics for the whole pod."""
    start_metrics_server(
        int(os.environ.get("PTC_METRICS_PORT", "9464")), addr="0.0.0.0"
    )


def child_exit(server: Any, worker: Any) -> None:
    """Master: a worker exited; forget its live gauges."""
    mark_process_dead(worker.pid)
