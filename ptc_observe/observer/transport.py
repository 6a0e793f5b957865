"""Observing transports for httpx2 and httpx: wrap, never alter.

Sync and async, with the official SDK (2.x and 1.x use httpx2)::

    client = anthropic.Anthropic(http_client=httpx2.Client(transport=observer.transport()))
    aclient = anthropic.AsyncAnthropic(
        http_client=httpx2.AsyncClient(transport=observer.async_transport())
    )

anthropic 0.x, or any httpx code: pass an httpx transport and get an httpx one back::

    client = httpx.Client(transport=observer.transport(httpx.HTTPTransport()))

Only ``POST …/v1/messages`` is observed; everything else goes straight to the inner
transport. For an observed exchange the client gets exactly what the inner transport
produced (status, headers, the same byte chunks, compressed or not); the response body
is replaced by a thin shell that hands each chunk to the exchange's
:class:`~.recorder.ExchangeRecorder` as it passes, and never reads ahead of the client.

The classes are written once and built per HTTP library (httpx2 and httpx share the
transport API but not their base classes, which the clients check).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry.context import get_current

from ..wire.accumulate import BATCH_BYTES
from ..wire.headers import RESPONSE_HEADERS
from ._mismatch import TransportMismatchError, mismatch, wrong_kind
from .recorder import ExchangeRecorder, RecorderHooks

if TYPE_CHECKING:
    from httpx2 import Request, Response

__all__ = [
    "DISABLED_ENV",
    "MESSAGES_PATH",
    "TransportMismatchError",
    "make_transport",
    "transport_classes",
]

DISABLED_ENV = "PTC_OBSERVE_DISABLED"
"""Set to ``1`` (or ``true``/``yes``/``on``) to pass every request straight through."""

MESSAGES_PATH = "/v1/messages"
"""Observed requests are ``POST`` to a path ending with this."""

_TRUTHY = frozenset({"1", "true", "yes", "on"})
_perf_counter = time.perf_counter
_DEFAULT_PORTS = {"https": 443, "http": 80}
# (scheme, netloc, raw path) -> what the observer needs of a request's URL (a _Where): a
# client sends to one URL or two, so whether it is observed, its path, host, port and
# ``url.full`` are decided once per URL, not per request. Bounded; cleared when full.
_Where = tuple[str, str, int | None, str]
_URLS: dict[tuple[str, bytes, bytes], _Where] = {}
_URLS_SIZE = 64
_NOT_OBSERVED: _Where = ("", "", None, "")


def _where(url: Any, key: tuple[str, bytes, bytes]) -> _Where:
    """``(path, host, port, url.full)`` of a Messages API URL; all empty for any other
    (an observed path is never empty: it ends with ``/v1/messages``).

    The port is the scheme's default when the URL names none. ``url.full`` has no user
    info (httpx keeps it out of ``netloc``) and keeps only the ``beta`` query value; any
    other query value is ``REDACTED``.
    """
    path = url.path
    if not path.endswith(MESSAGES_PATH):
        found = _NOT_OBSERVED
    else:
        port = url.port or _DEFAULT_PORTS.get(url.scheme)
        raw, _, query = url.raw_path.decode("ascii", "replace").partition("?")
        full = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{raw}"
        if query:
            pairs = []
            for pair in query.split("&"):
                name, eq, _value = pair.partition("=")
                pairs.append(pair if name == "beta" or not eq else f"{name}=REDACTED")
            full = f"{full}?{'&'.join(pairs)}"
        found = (path, url.host, port, full)
    if len(_URLS) >= _URLS_SIZE:
        _URLS.clear()
    _URLS[key] = found
    return found


_time_ns = time.time_ns


def _disabled() -> bool:
    # Read per request, so the switch works at run time without a restart.
    value = os.environ.get(DISABLED_ENV)
    return value is not None and value.strip().lower() in _TRUTHY


# Header plans. A client sends the same header names in the same order with every request,
# and a server answers with the same names: which of them the observer reads (matched case
# insensitively) is decided once per name sequence and kept. Per exchange what is left is
# C work on the public ``raw`` list: one dict, one tuple of its names, one lookup, and a
# decode only of the values that are read. Both bounded; cleared when full.
_PLANS_SIZE = 64
_RESPONSE_NAMES = tuple(name.encode("ascii") for name in RESPONSE_HEADERS)
_RESPONSE_PLANS: dict[tuple[bytes, ...], tuple[bytes | None, ...]] = {}


def _response_plan(names: tuple[bytes, ...]) -> tuple[bytes | None, ...]:
    # The name as sent of each header read: the last one whose lower case matches,
    # as a lower-cased dict built in sent order would keep.
    sent = {name.lower(): name for name in names}
    plan = tuple(sent.get(name) for name in _RESPONSE_NAMES)
    if len(_RESPONSE_PLANS) >= _PLANS_SIZE:
        _RESPONSE_PLANS.clear()
    _RESPONSE_PLANS[names] = plan
    return plan


def _response_values(headers: Any) -> tuple[bytes | None, ...]:
    """The raw values of ``RESPONSE_HEADERS`` (case-insensitive; the last of a repeated
    name), from the public ``Headers.raw``."""
    raw = headers.raw
    sent = dict(raw)
    if len(sent) != len(raw):
        # A name sent twice in the same case: the dict kept the first one's place, so
        # the full pass decides which value is last.
        lowered = {name.lower(): value for name, value in raw}
        return tuple(map(lowered.get, _RESPONSE_NAMES))
    names = tuple(sent)
    plan = _RESPONSE_PLANS.get(names)
    if plan is None:
        plan = _response_plan(names)
    return tuple(map(sent.get, plan))


_REQUEST_HEADERS = (
    "anthropic-beta",
    "x-stainless-retry-count",
    "x-stainless-helper-method",
)
_REQUEST_TARGETS = tuple((name, name.encode("ascii")) for name in _REQUEST_HEADERS)
_REQUEST_NAMES = frozenset(target for _name, target in _REQUEST_TARGETS)
# name read -> (its first name as sent, any further names as sent that match it)
_RequestPlan = tuple[tuple[str, bytes, tuple[bytes, ...]], ...]
_REQUEST_PLANS: dict[tuple[bytes, ...], _RequestPlan] = {}


def _request_plan(names: tuple[bytes, ...]) -> _RequestPlan:
    # Each request header read, with the names as sent that match it, in sent order
    # (one pass: a client whose names change with every request pays what a scan costs).
    matches: dict[bytes, list[bytes]] = {}
    for name in names:
        target = name.lower()
        if target in _REQUEST_NAMES:
            matches.setdefault(target, []).append(name)
    found = tuple(
        (wanted, sent[0], tuple(sent[1:]))
        for wanted, target in _REQUEST_TARGETS
        if (sent := matches.get(target))
    )
    if len(_REQUEST_PLANS) >= _PLANS_SIZE:
        _REQUEST_PLANS.clear()
    _REQUEST_PLANS[names] = found
    return found


def _request_headers(headers: Any) -> Any:
    # The request headers parse_request reads, as a plain dict, from the public ``raw``
    # list (``Headers.get`` scans the list per name). Repeated names are joined with
    # ", " as ``get`` joins them; a non-ASCII value hands back the Headers object
    # itself, whose ``get`` decides its charset.
    raw = headers.raw
    sent = dict(raw)
    if len(sent) != len(raw):
        return _request_headers_scan(headers, raw)
    names = tuple(sent)
    plan = _REQUEST_PLANS.get(names)
    if plan is None:
        plan = _request_plan(names)
    found: dict[str, str] = {}
    try:
        for name, first, more in plan:
            value = sent[first]
            if more:
                value = b", ".join([value, *[sent[key] for key in more]])
            found[name] = value.decode("ascii")
    except UnicodeDecodeError:
        return headers
    return found


def _request_headers_scan(headers: Any, raw: list[tuple[bytes, bytes]]) -> Any:
    # A name sent twice in the same case: one pass over every header, in sent order.
    found: dict[str, str] = {}
    for wanted, target in _REQUEST_TARGETS:
        parts = [value for name, value in raw if name.lower() == target]
        if parts:
            try:
                found[wanted] = b", ".join(parts).decode("ascii")
            except UnicodeDecodeError:
                return headers
    return found


class _Observing:
    """What both transports share: the observer, the inner transport, the recorder."""

    __slots__ = ("_hooks", "_inner")
    _shell: type
    _request_type: type

    def __init__(self, hooks: RecorderHooks, inner: Any) -> None:
        self._hooks = hooks
        self._inner = inner

    @property
    def inner(self) -> Any:
        """The wrapped transport."""
        return self._inner

    def _observed(self, request: Request) -> _Where | None:
        # The cheap tests first: most traffic that is not a Messages call fails on them.
        if request.method != "POST":
            return None
        url = request.url
        key = (url.scheme, url.netloc, url.raw_path)
        where = _URLS.get(key)
        if where is None:
            where = _where(url, key)
        if not where[0] or _disabled():
            return None
        return where

    def _recorder(
        self,
        request: Request,
        where: _Where,
        body: bytes | None,
        sent: float,
        sent_ns: int,
        ctx: Any,
    ) -> ExchangeRecorder | None:
        try:
            path, host, port, full = where
            return ExchangeRecorder(
                self._hooks,
                body,
                request.method,
                host,
                port,
                path,
                _request_headers(request.headers),
                sent=sent,
                sent_unix_ns=sent_ns,
                parent_context=ctx,
                url=full,
            )
        except Exception as exc:  # pragma: no cover - defensive: never fail the call
            self._hooks.telemetry_error("request_parse", exc)
            return None

    def _wrap(self, response: Response, rec: ExchangeRecorder) -> Response:
        try:
            rec.on_header_values(
                response.status_code, _response_values(response.headers)
            )
            if response.is_stream_consumed:
                # Built with content=... (mock transports): httpx already read and decoded
                # the body and will not iterate the stream again.
                rec.on_body(response.content)
            else:
                response.stream = self._shell(response.stream, rec)
        except Exception as exc:  # pragma: no cover - defensive: never fail the call
            self._hooks.telemetry_error("response_parse", exc)
            rec.on_close()
        return response

    def _check(self, request: Request) -> None:
        # A subclass of this library's Request is fine; another library's is not.
        if not isinstance(request, self._request_type):
            raise mismatch(self._request_type, self._inner, request)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} inner={self._inner!r}>"


class _SyncTransport(_Observing):
    __slots__ = ()

    async def handle_async_request(self, request: Request) -> Response:
        """Refuse: a sync transport on an async client."""
        raise wrong_kind(self, asynchronous_client=True)

    async def __aenter__(self) -> Any:
        """Refuse: a sync transport on an async client (``async with AsyncClient(...)``)."""
        raise wrong_kind(self, asynchronous_client=True)

    def handle_request(self, request: Request) -> Response:
        """Send ``request`` through the inner transport, observing Messages calls.

        Raises:
            TransportMismatchError: ``request`` is another HTTP library's (the transport
                was mounted on the wrong client); a ``TypeError``.
        """
        if type(request) is not self._request_type:
            self._check(request)
        where = self._observed(request)
        if where is None:
            return self._inner.handle_request(request)  # type: ignore[no-any-return]
        try:
            body: bytes | None = request.content
        except Exception:
            # A streamed request body: read it into memory first (what httpx's own
            # MockTransport does); the inner transport then sends the same bytes.
            body = request.read()
        ctx = get_current()
        sent_ns = _time_ns()
        sent = _perf_counter()
        try:
            response = self._inner.handle_request(request)
        except BaseException as exc:
            rec = self._recorder(request, where, body, sent, sent_ns, ctx)
            if rec is not None:
                rec.on_error(exc)
            raise
        rec = self._recorder(request, where, body, sent, sent_ns, ctx)
        if rec is None:  # pragma: no cover - defensive
            return response  # type: ignore[no-any-return]
        return self._wrap(response, rec)

    def close(self) -> None:
        """Close the inner transport."""
        self._inner.close()

    def __enter__(self) -> Any:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self._inner.__exit__(exc_type, exc_value, traceback)


class _AsyncTransport(_Observing):
    __slots__ = ()

    def handle_request(self, request: Request) -> Response:
        """Refuse: an async transport on a sync client."""
        raise wrong_kind(self, asynchronous_client=False)

    def __enter__(self) -> Any:
        """Refuse: an async transport on a sync client (``with Client(...)``)."""
        raise wrong_kind(self, asynchronous_client=False)

    async def handle_async_request(self, request: Request) -> Response:
        """Send ``request`` through the inner transport, observing Messages calls.

        Raises:
            TransportMismatchError: as the sync transport's.
        """
        if type(request) is not self._request_type:
            self._check(request)
        where = self._observed(request)
        if where is None:
            return await self._inner.handle_async_request(request)  # type: ignore[no-any-return]
        try:
            body: bytes | None = request.content
        except Exception:
            body = await request.aread()
        ctx = get_current()
        sent_ns = _time_ns()
        sent = _perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            rec = self._recorder(request, where, body, sent, sent_ns, ctx)
            if rec is not None:
                rec.on_error(exc)
            raise
        rec = self._recorder(request, where, body, sent, sent_ns, ctx)
        if rec is None:  # pragma: no cover - defensive
            return response  # type: ignore[no-any-return]
        return self._wrap(response, rec)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()

    async def __aenter__(self) -> Any:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc_value, traceback)


class _Shell:
    """The response body as the client sees it: the inner stream, observed."""

    __slots__ = ("_rec", "_stream")

    def __init__(self, stream: Any, rec: ExchangeRecorder) -> None:
        self._stream = stream
        self._rec = rec

    def __del__(self) -> None:
        # The application dropped the response without closing it (or reading it all).
        # A __del__ rather than weakref.finalize: no extra object per exchange.
        try:
            rec = self._rec
        except AttributeError:  # pragma: no cover - __init__ did not run
            return
        if not rec.finished:
            try:
                rec.on_close()
            except Exception:  # pragma: no cover - interpreter shutdown
                pass


class _SyncShell(_Shell):
    __slots__ = ()

    def __iter__(self) -> Iterator[bytes]:
        rec = self._rec
        on_chunk = rec.on_chunk
        chunks = iter(self._stream)
        try:
            # One chunk is pulled from the inner stream only when the client asks.
            for chunk in chunks:
                pending = on_chunk(chunk)
                yield chunk
                if pending is not None:
                    # The per-event path of a stream once its first token has
                    # arrived: each chunk is appended to the recorder's list and
                    # counted, and the recorder is called once per BATCH_BYTES (so
                    # memory stays bounded) to scan them together. A call to the
                    # recorder per chunk instead costs ~0.1-0.2 us per event more;
                    # so does a nested generator (yield from).
                    on_batch, size, limit = rec.on_batch, 0, BATCH_BYTES
                    append = pending.append  # bound once: ~0.04 us an event
                    for chunk in chunks:
                        append(chunk)
                        size += len(chunk)
                        if size >= limit:
                            on_batch(pending)
                            size = 0
                        yield chunk
                    break
        except BaseException as exc:
            rec.on_error(exc)
            raise
        rec.on_end()

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._rec.on_close()


class _AsyncShell(_Shell):
    __slots__ = ()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        rec = self._rec
        on_chunk = rec.on_chunk
        chunks = self._stream.__aiter__()
        try:
            async for chunk in chunks:
                pending = on_chunk(chunk)
                yield chunk
                if pending is not None:
                    # As in the sync stream, gathered by the shell (see there).
                    on_batch, size, limit = rec.on_batch, 0, BATCH_BYTES
                    append = pending.append
                    async for chunk in chunks:
                        append(chunk)
                        size += len(chunk)
                        if size >= limit:
                            on_batch(pending)
                            size = 0
                        yield chunk
                    break
        except BaseException as exc:
            rec.on_error(exc)
            raise
        finally:
            # Close a body read in part in the task that read it (as httpx2 does),
            # rather than leaving it to the event loop's finalizer.
            if isinstance(chunks, AsyncGenerator):
                await chunks.aclose()
        rec.on_end()

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._rec.on_close()


@functools.cache
def transport_classes(module: ModuleType) -> tuple[type, type]:
    """The observing transport classes ``(sync, async)`` for an HTTP library module.

    Args:
        module: ``httpx2`` or ``httpx`` (anything with their transport API).
    """
    namespace = {"__slots__": (), "__module__": __name__}
    sync_shell = type(
        "ObservedStream", (_SyncShell, module.SyncByteStream), dict(namespace)
    )
    async_shell = type(
        "AsyncObservedStream", (_AsyncShell, module.AsyncByteStream), dict(namespace)
    )
    sync_transport = type(
        "ObservingTransport",
        (_SyncTransport, module.BaseTransport),
        {
            **namespace,
            "_shell": sync_shell,
            "_request_type": module.Request,
            "__doc__": _SYNC_DOC,
        },
    )
    async_transport = type(
        "AsyncObservingTransport",
        (_AsyncTransport, module.AsyncBaseTransport),
        {
            **namespace,
            "_shell": async_shell,
            "_request_type": module.Request,
            "__doc__": _ASYNC_DOC,
        },
    )
    return sync_transport, async_transport


_SYNC_DOC = "A sync transport that observes Messages API calls (see ptc_observe.observer.transport)."
_ASYNC_DOC = "An async transport that observes Messages API calls (see ptc_observe.observer.transport)."


def _library_of(inner: Any, asynchronous: bool) -> ModuleType:
    base = "AsyncBaseTransport" if asynchronous else "BaseTransport"
    # Only libraries already imported can have made ``inner``: nothing is imported here.
    for name in ("httpx2", "httpx"):
        module = sys.modules.get(name)
        if module is not None and isinstance(inner, getattr(module, base, ())):
            return module
    kind = "an async" if asynchronous else "a sync"
    raise TypeError(
        f"inner must be {kind} httpx2 or httpx transport ({base}), "
        f"not {type(inner).__module__}.{type(inner).__qualname__}"
    )


def make_transport(hooks: RecorderHooks, inner: Any, *, asynchronous: bool) -> Any:
    """An observing transport around ``inner`` for ``hooks`` (the observer).

    Args:
        hooks: receives the records (an :class:`~.observer.Observer`).
        inner: the transport to wrap; ``None`` makes httpx2's own HTTP transport.
        asynchronous: build the async transport.

    Raises:
        TypeError: ``inner`` is not a transport of the requested kind.
    """
    if inner is None:
        try:
            import httpx2
        except ImportError as exc:  # Python 3.10: httpx2 needs 3.11
            raise TypeError(
                "the default inner transport is httpx2's, which is not installed"
                " (it needs Python >= 3.11): pass an httpx transport, e.g."
                " observer.transport(httpx.HTTPTransport())"
            ) from exc

        inner = httpx2.AsyncHTTPTransport() if asynchronous else httpx2.HTTPTransport()
    module = _library_of(inner, asynchronous)
    sync_cls, async_cls = transport_classes(module)
    cls = async_cls if asynchronous else sync_cls
    return cls(hooks, inner)
