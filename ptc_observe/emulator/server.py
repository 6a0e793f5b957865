"""The emulator over real HTTP/1.1: asyncio + h11, keep-alive, chunked SSE.

From Python, in a background thread (tests, the demo)::

    with EmulatorServer(Emulator(seed=1)) as server:
        client = anthropic.Anthropic(api_key="test", base_url=server.url)

From the shell: ``python -m ptc_observe.emulator --port 8765`` (or
``ptc-observe emulator``). A cut stream closes the connection in the middle of
the chunked body, which clients report as an incomplete read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

try:
    import h11
except ImportError as exc:  # pragma: no cover - h11 comes with httpx's httpcore
    raise ImportError("the emulator's HTTP server needs h11: pip install h11") from exc

from .._cliutil import bind_error, port
from .core import Emulator
from .errors import error_body
from .faults import Latency
from .responses import EmulatorResponse
from .tokens import compact_json

_READ_SIZE = 65536


def _reason(status: int) -> bytes:
    if status == 529:
        return b"Overloaded"
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


class EmulatorServer:
    """Serve an :class:`Emulator` on loopback.

    Args:
        emulator: what to serve (default: ``Emulator(**emulator_kwargs)``).
        host: interface to bind; keep the default loopback address.
        port: port to bind; 0 picks a free one.
        backlog: listen backlog (large, so hundreds of clients can connect at once).
        **emulator_kwargs: passed to :class:`Emulator` when ``emulator`` is ``None``.

    Attributes:
        connections_accepted: TCP connections accepted so far.
        peak_connections: most connections open at the same time.
    """

    def __init__(
        self,
        emulator: Emulator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        backlog: int = 1024,
        **emulator_kwargs: Any,
    ) -> None:
        if emulator is not None and emulator_kwargs:
            raise TypeError("pass either an Emulator or Emulator arguments, not both")
        self.emulator = (
            emulator if emulator is not None else Emulator(**emulator_kwargs)
        )
        self.host = host
        self.port = port
        self.backlog = backlog
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.connections_accepted = 0
        self.peak_connections = 0

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (after start)."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> str:
        """Start serving in a daemon thread and return the base URL.

        Raises:
            RuntimeError: if the server is already running or fails to start.
        """
        if self._thread is not None:
            raise RuntimeError("EmulatorServer already started")
        self._ready.clear()
        self._thread = threading.Thread(
            target=self._run, name="ptc-observe-emulator", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"emulator server failed to start: {self._error!r}")
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, drop open connections and join the thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self.serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()

    async def serve(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve on the running event loop until :meth:`stop` (or cancellation).

        Args:
            on_ready: called with the base URL once the socket listens.
        """
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(
            self._accept, self.host, self.port, backlog=self.backlog
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        if on_ready is not None:
            on_ready(self.url)
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await server.wait_closed()

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self.connections_accepted += 1
        self.peak_connections = max(self.peak_connections, len(self._connections))
        try:
            await self._connection(reader, writer)
        except (ConnectionError, h11.ProtocolError, asyncio.CancelledError):
            writer.transport.abort()  # the client went away or the server is stopping
        finally:
            self._connections.discard(task)
            if not writer.is_closing():
                writer.close()  # flushes what is buffered, then closes

    async def _connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        conn = h11.Connection(h11.SERVER)
        while True:
            try:
                request = await _read_request(conn, reader)
            except h11.RemoteProtocolError as exc:
                await _send_bad_request(conn, writer, exc)
                return
            if request is None:
                return
            method, target, headers, body = request
            answer = self.emulator.handle(method, target, headers, body)
            if not await _send(conn, writer, answer):
                return
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await reader.read(_READ_SIZE))


async def _read_request(
    conn: h11.Connection, reader: asyncio.StreamReader
) -> tuple[str, str, list[tuple[str, str]], bytes] | None:
    event = await _next_event(conn, reader)
    if not isinstance(event, h11.Request):
        return None  # ConnectionClosed (keep-alive ended)
    parts: list[bytes] = []
    while True:
        part = await _next_event(conn, reader)
        if isinstance(part, h11.Data):
            parts.append(bytes(part.data))
        elif isinstance(part, h11.EndOfMessage):
            break
        else:
            return None
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers]
    return (
        event.method.decode(),
        event.target.decode("latin-1"),
        headers,
        b"".join(parts),
    )


async def _send(
    conn: h11.Connection, writer: asyncio.StreamWriter, answer: EmulatorResponse
) -> bool:
    """Write one response; ``False`` if the connection was dropped on purpose."""
    if answer.delay:
        await asyncio.sleep(answer.delay)
    headers = [*answer.headers, ("date", formatdate(usegmt=True))]
    if not answer.streaming:
        headers.append(("content-length", str(len(answer.body))))
    response = h11.Response(
        status_code=answer.status, headers=headers, reason=_reason(answer.status)
    )
    writer.write(conn.send(response) or b"")
    for delay, data in answer.chunks():
        if delay:
            await asyncio.sleep(delay)
        writer.write(conn.send(h11.Data(data=data)) or b"")
        await writer.drain()
    if answer.end == "drop":
        # Close mid-body: the chunked (or sized) body never completes, as when a proxy drops us.
        await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        return False
    writer.write(conn.send(h11.EndOfMessage()) or b"")
    await writer.drain()
    return True


async def _send_bad_request(
    conn: h11.Connection, writer: asyncio.StreamWriter, exc: h11.RemoteProtocolError
) -> None:
    """Answer a request h11 could not parse with a 400 in the API's shape, if still possible."""
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    body = compact_json(
        error_body("invalid_request_error", f"Malformed HTTP request: {exc}", None)
    )
    headers = [
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        ("connection", "close"),
    ]
    try:
        writer.write(
            conn.send(
                h11.Response(status_code=400, headers=headers, reason=b"Bad Request")
            )
            or b""
        )
        writer.write(conn.send(h11.Data(data=body.encode())) or b"")
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await writer.drain()
    except h11.LocalProtocolError:
        pass  # h11 refuses to answer this client (e.g. an unusable HTTP version)


def build_parser() -> argparse.ArgumentParser:
    """The ``ptc-observe emulator`` / ``python -m ptc_observe.emulator`` options."""
    parser = argparse.ArgumentParser(
        prog="ptc-observe emulator",
        description="Serve the local Claude Messages API emulator (with programmatic tool calling) over HTTP.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=port,
        default=8765,
        help="port to bind; 0 picks a free one (default: 8765)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for ids, texts and fault dice (default: 0)",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="FILE",
        help="scenario file (JSON/YAML); repeatable",
    )
    parser.add_argument(
        "--no-builtin-scenarios",
        action="store_true",
        help="do not load the shipped scenarios",
    )
    parser.add_argument(
        "--container-ttl",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="idle container lifetime (default: 300)",
    )
    parser.add_argument(
        "--expired-container-error",
        choices=["invalid_request", "api_error"],
        default="invalid_request",
        help="answer to an expired container: 400 invalid_request_error (default) or the observed untyped 500",
    )
    parser.add_argument(
        "--continuation-stream",
        choices=["prepopulated", "blocks"],
        default="prepopulated",
        help="shape of streamed PTC continuations (default: prepopulated, as recorded)",
    )
    parser.add_argument(
        "--ttft", type=float, default=0.0, metavar="SECONDS", help="time to first token"
    )
    parser.add_argument(
        "--token-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="delay per output token",
    )
    return parser


def _announce(url: str) -> None:
    print(f"emulator listening on {url}", flush=True)
    print(
        f'point the official SDK at it: anthropic.Anthropic(base_url="{url}",'
        f' api_key="emulated"), or ANTHROPIC_BASE_URL={url}',
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator server until interrupted; returns the exit code."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        emulator = Emulator(
            seed=args.seed,
            scenarios=args.scenario,
            builtin_scenarios=not args.no_builtin_scenarios,
            container_ttl=args.container_ttl,
            expired_container_error=args.expired_container_error,
            continuation_stream=args.continuation_stream,
            latency=Latency(ttft=args.ttft, per_token=args.token_delay),
        )
    except (OSError, ValueError, ImportError) as exc:
        print(f"ptc-observe emulator: {exc}", file=sys.stderr)
        return 2
    server = EmulatorServer(emulator, host=args.host, port=args.port)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(server.serve(_announce))
        with contextlib.suppress(
            NotImplementedError, RuntimeError
        ):  # not on Windows / not main thread
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(
            "ptc-observe emulator: "
            + bind_error("the emulator", args.host, args.port, exc),
            file=sys.stderr,
        )
        return 2
    return 0
