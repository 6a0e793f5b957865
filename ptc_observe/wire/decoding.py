"""Content-Encoding decoding of the observer's copy of a response body.

At the transport level the body is still content-encoded (the SDK asks for
``gzip, deflate`` and, when the libraries are installed, ``br`` and ``zstd``); the caller
keeps the encoded bytes and the observer reads a decoded copy, one chunk at a time.

Decompression bombs: one :meth:`ContentDecoder.decode` call returns at most
``max_output`` bytes (default :data:`MAX_DECODED_CHUNK`, 64 MiB). A chunk that would
expand further raises :class:`~ptc_observe.wire.messages.WireError` instead of filling
memory. The bound is exact for gzip and deflate (zlib's ``max_length``) and for brotli
or brotlicffi 1.2 or later (``output_buffer_limit``). zstd input is fed in 256-byte slices and checked
after each: a zstd block yields at most 128 KiB and needs at least 4 input bytes, so the
overshoot is at most 8 MiB. Older brotli libraries cannot limit their output; they get
the same slicing, which bounds nothing in theory (one brotli command may copy 16 MiB),
so prefer brotli >= 1.2 where bombs matter.
"""

from __future__ import annotations

import importlib
import zlib
from typing import Any, Protocol

from .messages import WireError

__all__ = ["MAX_DECODED_CHUNK", "ContentDecoder"]

MAX_DECODED_CHUNK = 64 * 1024 * 1024
"""Default bound on the output of one ``decode`` call (64 MiB)."""

_SLICE = 256  # input bytes per sliced step, to check the output size often


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


class _Brotli:
    """br, bounded through ``output_buffer_limit`` when the library has it."""

    def __init__(self, module: Any) -> None:
        self._error = module.error
        self._d = module.Decompressor()
        # brotli and brotlicffi 1.2 added output_buffer_limit with can_accept_more_data.
        self._limited = hasattr(self._d, "can_accept_more_data")
        self._finished = False

    def decode(self, data: bytes, limit: int) -> bytes:
        try:
            if self._limited:
                out = self._bounded(data, limit)
            else:
                out = _sliced(data, limit, self._d.process)
        except self._error as exc:
            raise WireError(f"corrupt br data: {exc}") from None
        self._finished = self._d.is_finished()
        return out

    def _bounded(self, data: bytes, limit: int) -> bytes:
        # Below the limit one call gives all the output of its input; reaching the limit
        # means this chunk expands too far (the rest would come out of later calls).
        out: bytes = self._d.process(data, output_buffer_limit=limit + 1)
        if len(out) > limit:
            raise _too_large(limit)
        return out

    def flush(self, limit: int) -> bytes:
        return b""

    @property
    def eof(self) -> bool:
        return self._finished


class _Zstd:
    """zstd, several frames allowed, fed in slices so that the output can be bounded."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self._d = module.ZstdDecompressor().decompressobj()

    def decode(self, data: bytes, limit: int) -> bytes:
        try:
            return _sliced(data, limit, self._step)
        except self._module.ZstdError as exc:
            raise WireError(f"corrupt zstd data: {exc}") from None

    def _step(self, piece: bytes) -> bytes:
        out = b""
        while piece:
            if self._d.eof:  # a new frame follows the one that ended
                self._d = self._module.ZstdDecompressor().decompressobj()
            out += self._d.decompress(piece)
            piece = self._d.unused_data if self._d.eof else b""
        return out

    def flush(self, limit: int) -> bytes:
        return b""

    @property
    def eof(self) -> bool:
        return bool(self._d.eof)


def _sliced(data: bytes, limit: int, step: Any) -> bytes:
    out = []
    total = 0
    for start in range(0, len(data), _SLICE):
        out.append(step(data[start : start + _SLICE]))
        total += len(out[-1])
        if total > limit:
            raise _too_large(limit)
    return b"".join(out)


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
        return _Brotli(_optional("br", "brotli", "brotlicffi"))
    if coding == "zstd":
        return _Zstd(_optional("zstd", "zstandard"))
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
