"""Content-Encoding decoding of the observer's copy of a response body.

At the transport level the body is still content-encoded (the SDK asks for
``gzip, deflate`` and, when the libraries are installed, ``br`` and ``zstd``); the caller
keeps the encoded bytes and the observer reads a decoded copy, one chunk at a time.

Decompression bombs: one :meth:`ContentDecoder.decode` call returns at most
``max_output`` bytes (default :data:`MAX_DECODED_CHUNK`, 64 MiB). A chunk that would
expand further raises :class:`~ptc_observe.wire.messages.WireError` instead of filling
memory. For gzip and deflate the bound is exact (zlib's ``max_length``); brotli and
zstd input is fed in 256-byte slices and checked after each, so they may overshoot by
one slice's output (at most 16 MiB for brotli, 8 MiB for zstd) before the error.
"""

from __future__ import annotations

import importlib
import zlib
from typing import Any, Protocol

from .messages import WireError

__all__ = ["MAX_DECODED_CHUNK", "ContentDecoder"]

MAX_DECODED_CHUNK = 64 * 1024 * 1024
"""Default bound on the output of one ``decode`` call (64 MiB)."""

_SLICE = 256  # input bytes per brotli/zstd step, to check the output size often


class _Stage(Protocol):
    def decode(self, data: bytes, limit: int) -> bytes: ...
    def flush(self, limit: int) -> bytes: ...
    @property
    def eof(self) -> bool: ...


def _too_large(limit: int) -> WireError:
    return WireError(f"one chunk decompresses to more than {limit} bytes")


class _Zlib:
    """gzip (several members allowed) or deflate (zlib-wrapped or raw, auto-detected)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._head = b""  # deflate: bytes held until the zlib header can be checked
        self._d: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._trailing = False  # past the end: further bytes are ignored

    def decode(self, data: bytes, limit: int) -> bytes:
        if self._d is None:
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return b""
            self._start_deflate(data)
        out = []
        while data and not self._trailing:
            if self._d.eof:
                # Another gzip member may follow; anything else (e.g. zero padding
                # some servers add) is ignored, as gzip tools do.
                if not self._gzip or data[0] != 0x1F:
                    self._trailing = True
                    break
                self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                piece = self._d.decompress(data, limit + 1)
            except zlib.error as exc:
                raise WireError(f"corrupt {self._name} data: {exc}") from None
            if len(piece) > limit:
                raise _too_large(limit)
            limit -= len(piece)
            out.append(piece)
            # Output below max_length means all input was consumed.
            data = self._d.unused_data if self._d.eof else b""
        return b"".join(out)

    def flush(self, limit: int) -> bytes:
        if self._d is None and self._head:
            # A body shorter than a zlib header can only be raw deflate.
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            data, self._head = self._head, b""
            return self.decode(data, limit)
        return b""

    @property
    def eof(self) -> bool:
        return self._trailing or (self._d is not None and bool(self._d.eof))

    @property
    def _name(self) -> str:
        return "gzip" if self._gzip else "deflate"

    def _start_deflate(self, data: bytes) -> None:
        # "deflate" should be zlib-wrapped (RFC 9110 8.4.1.2) but some servers send
        # raw deflate: a zlib header has CM=8, CINFO<=7 and a check value (RFC 1950).
        cmf, flg = data[0], data[1]
        wrapped = cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0
        self._d = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        self._head = b""


class _Sliced:
    """brotli or zstd: fed in small slices so that the output can be bounded."""

    def __init__(self, coding: str, module: Any) -> None:
        self._coding = coding
        self._module = module
        self._d = self._new()
        self._finished = False

    def _new(self) -> Any:
        if self._coding == "br":
            return self._module.Decompressor()
        return self._module.ZstdDecompressor().decompressobj()

    def decode(self, data: bytes, limit: int) -> bytes:
        out = []
        total = 0
        error = self._module.error if self._coding == "br" else self._module.ZstdError
        for start in range(0, len(data), _SLICE):
            try:
                piece = self._step(data[start : start + _SLICE])
            except error as exc:
                raise WireError(f"corrupt {self._coding} data: {exc}") from None
            total += len(piece)
            if total > limit:
                raise _too_large(limit)
            out.append(piece)
        return b"".join(out)

    def _step(self, piece: bytes) -> bytes:
        if self._coding == "br":
            out: bytes = self._d.process(piece)
            self._finished = self._d.is_finished()
            return out
        out = b""
        while piece:
            if self._d.eof:  # a zstd body may hold several frames
                self._d = self._new()
            out += self._d.decompress(piece)
            piece = self._d.unused_data if self._d.eof else b""
        self._finished = self._d.eof
        return out

    def flush(self, limit: int) -> bytes:
        return b""

    @property
    def eof(self) -> bool:
        return self._finished


def _optional(coding: str, *names: str) -> Any:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise WireError(
        f"content-encoding {coding!r} needs the {names[0]!r} package, which is not installed"
    )


def _stage(coding: str) -> _Stage:
    if coding in ("gzip", "x-gzip"):
        return _Zlib(gzip=True)
    if coding == "deflate":
        return _Zlib(gzip=False)
    if coding == "br":
        return _Sliced("br", _optional("br", "brotli", "brotlicffi"))
    if coding == "zstd":
        return _Sliced("zstd", _optional("zstd", "zstandard"))
    raise WireError(f"unsupported content-encoding {coding!r}")


class ContentDecoder:
    """Incremental decoder of a ``Content-Encoding`` header for the observer's copy.

    Args:
        content_encoding: the header value: ``identity`` (or None), ``gzip``,
            ``x-gzip``, ``deflate``, ``br`` (with ``brotli`` or ``brotlicffi``
            installed), ``zstd`` (with ``zstandard``), or a comma list of them, applied
            in order (so decoded in reverse).
        max_output: most bytes one ``decode`` call may return (see the module notes).

    Raises:
        WireError: an unknown coding, or one whose library is not installed.
    """

    def __init__(
        self, content_encoding: str | None, *, max_output: int = MAX_DECODED_CHUNK
    ) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        self._stages = [_stage(c) for c in reversed(codings) if c and c != "identity"]
        self._max = max_output

    @property
    def identity(self) -> bool:
        """True when there is nothing to decode."""
        return not self._stages

    def decode(self, chunk: bytes) -> bytes:
        """Decode the next bytes of the body.

        Raises:
            WireError: corrupt data, or output larger than ``max_output``.
        """
        for stage in self._stages:
            chunk = stage.decode(chunk, self._max)
        return chunk

    def flush(self) -> bytes:
        """End of body: whatever is still decodable. A truncated body is not an error
        here (the stream accumulator reports it); see :attr:`eof`."""
        data = b""
        for stage in self._stages:
            data = stage.decode(data, self._max) + stage.flush(self._max)
        return data

    @property
    def eof(self) -> bool:
        """True when every compressed layer reached its end marker (identity: True)."""
        return all(stage.eof for stage in self._stages)
