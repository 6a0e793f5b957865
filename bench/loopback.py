"""A tiny asyncio HTTP/1.1 server on 127.0.0.1 that serves the benchmark bodies.

The concurrency run's stand-in for the emulator's loopback server: ``python -m bench.loopback``
binds a free port, prints it on one line, and answers every ``POST /v1/messages`` with the 4 KB
JSON body (or, when the request asks for ``"stream": true``, with the SSE workload in chunked
encoding, one chunk per event), keeping connections alive. It runs in its own process so that
its CPU does not count against the client under test. It stops when its standard input closes.
"""

from __future__ import annotations

import asyncio
import resource
import sys

from . import workloads

__all__ = ["serve"]

_STREAM_MARKER = b'"stream":true'


def _head(content_type: str, extra: str) -> bytes:
    lines = [
        "HTTP/1.1 200 OK",
        f"content-type: {content_type}",
        *(
            f"{k}: {v}"
            for k, v in workloads.JSON_HEADERS.items()
            if k != "content-type"
        ),
        extra,
        "",
        "",
    ]
    return "\r\n".join(lines).encode()


_JSON_RESPONSE = (
    _head("application/json", f"content-length: {len(workloads.JSON_BODY)}")
    + workloads.JSON_BODY
)
_SSE_HEAD = _head(workloads.SSE_HEADERS["content-type"], "transfer-encoding: chunked")
_SSE_CHUNKS = [b"%x\r\n%s\r\n" % (len(c), c) for c in workloads.SSE_CHUNKS] + [
    b"0\r\n\r\n"
]


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            if _STREAM_MARKER in body:
                writer.write(_SSE_HEAD)
                for chunk in _SSE_CHUNKS:
                    writer.write(chunk)
                    await writer.drain()
            else:
                writer.write(_JSON_RESPONSE)
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        # Client hung up, or the server is shutting down: nothing to answer.
        pass
    finally:
        writer.close()


async def serve() -> None:
    """Serve until standard input reaches end of file."""
    # 1,000 connections arrive at once: a backlog of 100 would drop SYNs and add 1 s retries.
    server = await asyncio.start_server(_handle, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    asyncio.run(serve())
