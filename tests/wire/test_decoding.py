"""Content-Encoding decoding of the observer's copy."""

from __future__ import annotations

import gzip
import importlib
import sys
import types
import zlib
from collections.abc import Callable

import pytest

from ptc_observe.wire import MAX_DECODED_CHUNK, ContentDecoder, WireError

from .wirecases import read

SSE = read("08_stream_ptc_turn1.sse")


def decode_all(decoder: ContentDecoder, data: bytes, step: int) -> bytes:
    out = [decoder.decode(data[i : i + step]) for i in range(0, len(data), step)]
    return b"".join(out) + decoder.flush()


def zlib_wrapped(data: bytes) -> bytes:
    return zlib.compress(data)


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


class TestIdentity:
    @pytest.mark.parametrize("encoding", [None, "", "identity", " Identity "])
    def test_passes_bytes_through(self, encoding: str | None) -> None:
        """No coding: the chunks come back unchanged."""
        decoder = ContentDecoder(encoding)
        assert decoder.identity and decoder.eof
        assert decoder.decode(b"abc") == b"abc" and decoder.flush() == b""


class TestGzip:
    @pytest.mark.parametrize("step", [1, 7, 64, 100_000])
    def test_recorded_body_any_chunking(self, step: int) -> None:
        """The gzip fixture decodes to the SSE fixture, however it is cut."""
        decoder = ContentDecoder("gzip")
        assert decode_all(decoder, read("08_stream_ptc_turn1.sse.gz"), step) == SSE
        assert decoder.eof and not decoder.identity

    def test_x_gzip_and_case(self) -> None:
        """``x-gzip`` and upper case name the same coding."""
        assert decode_all(ContentDecoder("X-GZIP"), gzip.compress(b"hi"), 1) == b"hi"

    def test_several_members(self) -> None:
        """Concatenated gzip members decode one after the other."""
        body = gzip.compress(b"first ") + gzip.compress(b"second")
        for step in (1, 5, len(body)):
            assert decode_all(ContentDecoder("gzip"), body, step) == b"first second"

    def test_trailing_zero_padding_is_ignored(self) -> None:
        """Bytes after the last member that do not start a member are ignored."""
        decoder = ContentDecoder("gzip")
        assert decode_all(decoder, gzip.compress(b"ok") + b"\0\0\0\0", 3) == b"ok"
        assert decoder.decode(b"\x1f\x8b more") == b""
        assert decoder.eof

    def test_corrupt_data_raises(self) -> None:
        """A body that is not gzip raises WireError."""
        with pytest.raises(WireError, match="corrupt gzip"):
            ContentDecoder("gzip").decode(b"this is not gzip at all")

    def test_truncated_body_is_not_eof(self) -> None:
        """A cut body decodes what it can; eof tells it is incomplete."""
        body = gzip.compress(SSE)
        decoder = ContentDecoder("gzip")
        out = decoder.decode(body[: len(body) // 2]) + decoder.flush()
        assert SSE.startswith(out) and 0 < len(out) < len(SSE)
        assert not decoder.eof


class TestDeflate:
    @pytest.mark.parametrize("wrap", [zlib_wrapped, raw_deflate], ids=["zlib", "raw"])
    @pytest.mark.parametrize("step", [1, 2, 3, 1000])
    def test_wrapped_and_raw(self, wrap: Callable[[bytes], bytes], step: int) -> None:
        """``deflate`` is decoded whether the server wraps it in zlib or not."""
        decoder = ContentDecoder("deflate")
        assert decode_all(decoder, wrap(SSE), step) == SSE
        assert decoder.eof

    def test_empty_raw_deflate(self) -> None:
        """The shortest raw deflate stream (2 bytes, no zlib header) decodes."""
        body = raw_deflate(b"")
        assert body == b"\x03\x00"
        decoder = ContentDecoder("deflate")
        assert decode_all(decoder, body, 1) == b""
        assert decoder.eof

    def test_one_byte_body_is_tried_as_raw_deflate_at_flush(self) -> None:
        """A body shorter than a zlib header is decoded as raw deflate at flush."""
        decoder = ContentDecoder("deflate")
        assert decoder.decode(b"\x03") == b""
        assert decoder.flush() == b""
        assert not decoder.eof  # one byte cannot be a whole deflate stream

    def test_empty_body(self) -> None:
        """No bytes at all: nothing decoded and the stream did not end."""
        decoder = ContentDecoder("deflate")
        assert decoder.flush() == b"" and not decoder.eof

    def test_trailing_bytes_after_the_end_are_ignored(self) -> None:
        """Data after the deflate end marker is ignored."""
        assert (
            decode_all(ContentDecoder("deflate"), zlib_wrapped(b"x") + b"junk", 2)
            == b"x"
        )

    def test_corrupt_raises(self) -> None:
        """Invalid deflate data raises WireError."""
        with pytest.raises(WireError, match="corrupt deflate"):
            ContentDecoder("deflate").decode(b"\x78\x9c\xff\xff\xff\xff")


class TestBombs:
    @pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
    def test_output_of_one_call_is_bounded(self, encoding: str) -> None:
        """A chunk that expands past max_output raises instead of filling memory."""
        plain = b"\0" * (4 * 1024 * 1024)
        body = _compress(encoding, plain)
        assert len(body) < 64 * 1024
        decoder = ContentDecoder(encoding, max_output=1024 * 1024)
        with pytest.raises(WireError, match="more than 1048576 bytes"):
            decoder.decode(body)

    @pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
    def test_at_the_bound_is_fine(self, encoding: str) -> None:
        """Output of exactly max_output bytes in one call is accepted."""
        plain = b"a" * 5000
        assert (
            ContentDecoder(encoding, max_output=5000).decode(_compress(encoding, plain))
            == plain
        )

    def test_default_bound(self) -> None:
        """The default bound is 64 MiB per call."""
        assert MAX_DECODED_CHUNK == 64 * 1024 * 1024


def _compress(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "deflate":
        return zlib_wrapped(data)
    if encoding == "br":
        return pytest.importorskip("brotli").compress(data)  # type: ignore[no-any-return]
    return pytest.importorskip("zstandard").ZstdCompressor().compress(data)  # type: ignore[no-any-return]


class TestOptionalCodings:
    @pytest.mark.parametrize("encoding", ["br", "zstd"])
    @pytest.mark.parametrize("step", [1, 300, 100_000])
    def test_decodes_when_installed(self, encoding: str, step: int) -> None:
        """br and zstd decode when their package is installed."""
        decoder = ContentDecoder(encoding)
        assert decode_all(decoder, _compress(encoding, SSE), step) == SSE
        assert decoder.eof

    def test_zstd_several_frames(self) -> None:
        """A zstd body made of several frames decodes whole."""
        zstd = pytest.importorskip("zstandard")
        body = zstd.ZstdCompressor().compress(b"one ") + zstd.ZstdCompressor().compress(
            b"two"
        )
        for step in (1, 4, len(body)):
            assert decode_all(ContentDecoder("zstd"), body, step) == b"one two"

    @pytest.mark.parametrize("encoding", ["br", "zstd"])
    def test_corrupt_raises(self, encoding: str) -> None:
        """Corrupt br/zstd data raises WireError."""
        pytest.importorskip("brotli" if encoding == "br" else "zstandard")
        with pytest.raises(WireError, match=f"corrupt {encoding}"):
            ContentDecoder(encoding).decode(b"\xff" * 64)

    @pytest.mark.parametrize(
        ("encoding", "modules"),
        [("br", ["brotli", "brotlicffi"]), ("zstd", ["zstandard"])],
    )
    def test_missing_package_raises_at_construction(
        self, monkeypatch: pytest.MonkeyPatch, encoding: str, modules: list[str]
    ) -> None:
        """Without the package, the decoder refuses at once (the caller counts it)."""
        for name in modules:
            monkeypatch.setitem(sys.modules, name, None)  # makes the import fail
        with pytest.raises(WireError, match="not installed"):
            ContentDecoder(encoding)

    def test_brotli_without_an_output_limit_is_checked_per_slice(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A brotli library older than 1.2 (no output limit) is checked slice by slice."""
        brotli = pytest.importorskip("brotli")

        class OldDecompressor:
            """The pre-1.2 interface: process() and is_finished() only."""

            def __init__(self) -> None:
                self._d = brotli.Decompressor()

            def process(self, data: bytes) -> bytes:
                return self._d.process(data)  # type: ignore[no-any-return]

            def is_finished(self) -> bool:
                return self._d.is_finished()  # type: ignore[no-any-return]

        old = types.SimpleNamespace(Decompressor=OldDecompressor, error=brotli.error)
        monkeypatch.setitem(sys.modules, "brotli", old)
        decoder = ContentDecoder("br")
        assert decode_all(decoder, brotli.compress(SSE), 700) == SSE and decoder.eof
        bomb = brotli.compress(b"\0" * (4 * 1024 * 1024))
        with pytest.raises(WireError, match="more than"):
            ContentDecoder("br", max_output=1024 * 1024).decode(bomb)
        with pytest.raises(WireError, match="corrupt br"):
            ContentDecoder("br").decode(b"\xff" * 64)

    def test_brotlicffi_is_used_when_brotli_is_missing(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """brotlicffi stands in for brotli (same interface)."""
        brotli = pytest.importorskip("brotli")
        monkeypatch.setitem(sys.modules, "brotli", None)
        monkeypatch.setitem(sys.modules, "brotlicffi", brotli)
        assert decode_all(ContentDecoder("br"), brotli.compress(b"cffi"), 2) == b"cffi"
        assert importlib.import_module("brotlicffi") is brotli


class TestStacked:
    def test_unknown_coding_raises(self) -> None:
        """An unknown coding is refused at construction."""
        with pytest.raises(WireError, match="unsupported content-encoding 'compress'"):
            ContentDecoder("compress")

    def test_codings_are_undone_in_reverse_order(self) -> None:
        """``deflate, gzip`` means gzip(deflate(body)): decode gzip first."""
        body = gzip.compress(zlib_wrapped(SSE))
        decoder = ContentDecoder("deflate, gzip")
        assert decode_all(decoder, body, 33) == SSE
        assert decoder.eof

    def test_flush_passes_held_bytes_through_later_stages(self) -> None:
        """Bytes released at flush by the first stage still go through the next ones."""
        decoder = ContentDecoder("deflate, gzip")
        assert decoder.decode(gzip.compress(b"\x03")) == b""  # deflate layer: 1 byte
        assert decoder.flush() == b""
        assert not decoder.eof
