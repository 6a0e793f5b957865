"""A PTC application as a fleet runs it: a WSGI app served by several gunicorn workers.

``POST /turn`` makes one Messages API call through the official SDK, observed by this
worker's :class:`~ptc_observe.observer.Observer`, and answers with the message (or the
API's error) and the worker's pid. The conversation (history, container id) lives with
the caller, as an application keeps it in its session, so the turns of one run land on
whichever worker is free. ``GET /metrics`` serves the aggregate of every worker's metrics
(prometheus-client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``).

Environment: ``PTC_EMULATOR_URL`` (the emulator's base URL), ``PROMETHEUS_MULTIPROC_DIR``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import anthropic
import httpx2

from ptc_observe.observer import Observer
from ptc_observe.observer.exposition import make_wsgi_app
from ptc_observe.wire import accumulate

StartResponse = Callable[..., Any]

_lock = threading.Lock()
_client: anthropic.Anthropic | None = None
_metrics = make_wsgi_app()


def client() -> anthropic.Anthropic:
    """This worker's SDK client over its observer's transport (made after the fork)."""
    global _client
    with _lock:
        if _client is None:
            observer = Observer(opentelemetry=False)
            _client = anthropic.Anthropic(
                api_key="emulated",
                base_url=os.environ["PTC_EMULATOR_URL"],
                max_retries=2,
                http_client=httpx2.Client(transport=observer.transport()),
            )
        return _client


def create(sdk: anthropic.Anthropic, shape: str, kwargs: dict[str, Any]) -> Any:
    """One call in one of the three shapes an application uses."""
    if shape == "helper":
        with sdk.messages.stream(**kwargs) as stream:
            for _ in stream:
                pass
            return stream.get_final_message()
    if shape == "create":
        with sdk.messages.create(stream=True, **kwargs) as events:
            return accumulate(event.model_dump() for event in events)
    return sdk.messages.create(**kwargs)


def turn(sdk: anthropic.Anthropic, body: dict[str, Any]) -> dict[str, Any]:
    """The answer to one turn: the message, or the API's error, and this pid."""
    out: dict[str, Any] = {"pid": os.getpid()}
    try:
        message = create(sdk, body["shape"], body["kwargs"])
    except anthropic.APIStatusError as exc:
        error = exc.body.get("error", {}) if isinstance(exc.body, dict) else {}
        out["error"] = {
            "status": exc.status_code,
            "type": error.get("type"),
            "message": error.get("message", ""),
        }
    except Exception as exc:  # a stream error or cut: the run fails, as in production
        out["error"] = {"status": None, "type": type(exc).__name__, "message": ""}
    else:
        out["message"] = message.model_dump(mode="json", exclude_none=True)
    return out


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI application."""
    path = environ.get("PATH_INFO", "")
    if path == "/metrics":
        return _metrics(environ, start_response)
    if path != "/turn" or environ.get("REQUEST_METHOD") != "POST":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(size))
    data = json.dumps(turn(client(), body)).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]
