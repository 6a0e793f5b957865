"""In-process mock Messages API for the benchmark: the library's own ``MockTransport``.

The handler answers ``POST /v1/messages`` with the 4 KB JSON body, or, when the request body
asks for ``"stream": true``, with the SSE workload served one network chunk per event through a
byte stream (so the client, and any observer, sees an incremental body as over a socket). The
handler does the least work it can (one substring test on the request body) so that the
baseline is dominated by the client under test.
"""

from __future__ import annotations

import types
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from . import workloads

__all__ = ["mock_transport"]

_STREAM_MARKER = b'"stream":true'


def _stream_class(lib: types.ModuleType) -> type[Any]:
    """A byte stream that is both sync and async, for ``lib`` (httpx or httpx2)."""

    class ChunkStream(lib.SyncByteStream, lib.AsyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, chunks: Iterable[bytes]) -> None:
            self._chunks = chunks

        def __iter__(self) -> Iterator[bytes]:
            yield from self._chunks

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in self._chunks:
                yield chunk

        def close(self) -> None:
            pass

        async def aclose(self) -> None:
            pass

    return ChunkStream


def mock_transport(
    lib: types.ModuleType,
    *,
    stream_chunks: Callable[[], Iterable[bytes]] | None = None,
) -> Any:
    """A ``lib.MockTransport`` serving the benchmark workloads.

    Args:
        lib: the ``httpx`` or ``httpx2`` module.
        stream_chunks: makes the chunks of each streamed response (default: the ~200-event
            PTC stream). The 10 MB run passes a generator factory here.
    """
    stream_cls = _stream_class(lib)
    json_headers = list(workloads.JSON_HEADERS.items())
    sse_headers = list(workloads.SSE_HEADERS.items())
    json_body = workloads.JSON_BODY
    chunks_of = stream_chunks or (lambda: workloads.SSE_CHUNKS)

    def handler(request: Any) -> Any:
        if _STREAM_MARKER in request.content:
            return lib.Response(
                200, headers=sse_headers, stream=stream_cls(chunks_of())
            )
        return lib.Response(200, headers=json_headers, content=json_body)

    return lib.MockTransport(handler)
