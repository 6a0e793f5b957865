"""The spec-exact SSE decoder: explicit chunk lists, every split of every fixture."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from ptc_observe.wire import MAX_EVENT_BYTES, ServerSentEvent, SSEDecoder

from .wirecases import SSE_FIXTURES, decode, line_end_variants, read, split_at


def events_of(*chunks: bytes, **kwargs: Any) -> list[ServerSentEvent]:
    return decode(chunks, **kwargs)[0]


def datas(*chunks: bytes) -> list[str]:
    return [e.data for e in events_of(*chunks)]


class TestLines:
    @pytest.mark.parametrize(
        "eol",
        [
            pytest.param(b"\n", id="LF"),
            pytest.param(b"\r", id="CR"),
            pytest.param(b"\r\n", id="CRLF"),
        ],
    )
    def test_every_line_end_gives_the_same_events(self, eol: bytes) -> None:
        """LF, CR and CRLF all end lines, and a doubled one dispatches."""
        body = b"event: ping" + eol + b"data: {}" + eol + eol + b"data: x" + eol + eol
        assert events_of(body) == [
            ServerSentEvent("ping", "{}"),
            ServerSentEvent("message", "x"),
        ]

    def test_crlf_split_across_chunks_is_one_line_end(self) -> None:
        """A CR ending one chunk and an LF opening the next are one line end, not two."""
        assert datas(b"data: a\r", b"\ndata: b\r\n\r\n") == ["a\nb"]

    def test_cr_at_chunk_end_ends_the_line_at_once(self) -> None:
        """A lone CR is a line end even when the next chunk starts with something else."""
        assert datas(b"data: a\r", b"data: b\r", b"\r") == ["a\nb"]

    def test_cr_then_crlf_is_a_blank_line(self) -> None:
        """CR, then CRLF in the next chunk: the line ends, then a blank line dispatches."""
        assert datas(b"data: a\r", b"\r\n") == ["a"]

    def test_mixed_line_ends_in_one_stream(self) -> None:
        """Line ends may change from one line to the next."""
        assert datas(b"data: a\rdata: b\r\ndata: c\n\r\n") == ["a\nb\nc"]

    def test_unicode_separators_are_not_line_ends(self) -> None:
        """U+2028, U+2029 and NEL inside data stay in the data (bytes split first)."""
        text = "a\u2028b\u2029c\u0085d"
        assert datas(b"data: " + text.encode() + b"\n\n") == [text]

    @pytest.mark.parametrize("cut", range(1, 4))
    def test_utf8_split_across_chunks(self, cut: int) -> None:
        """A multi-byte character split between chunks decodes whole."""
        body = "data: \U0001f642é\n\n".encode()
        start = len(b"data: ")
        assert datas(body[: start + cut], body[start + cut :]) == ["\U0001f642é"]

    def test_invalid_utf8_becomes_replacement_characters(self) -> None:
        """Bytes that are not UTF-8 become U+FFFD, never an error."""
        assert datas(b"data: \xff\xfeok\n\n") == ["\ufffd\ufffdok"]


class TestFields:
    def test_comments_are_ignored(self) -> None:
        """A line starting with a colon is a comment; a comment-only block is no event."""
        assert datas(b": keep-alive\n\n: hi\ndata: x\n\n") == ["x"]

    def test_one_leading_space_is_removed(self) -> None:
        """``data:x`` and ``data: x`` are the same; a second space is kept."""
        assert datas(b"data:x\n\ndata: x\n\ndata:  x\n\n") == ["x", "x", " x"]

    def test_data_lines_are_joined_with_newlines(self) -> None:
        """Several data lines make one payload joined with LF."""
        assert datas(b"data: a\ndata: b\n\n") == ["a\nb"]

    def test_field_without_colon(self) -> None:
        """``data`` alone is a data line with an empty value."""
        assert datas(b"data\n\ndata\ndata\n\n") == ["", "\n"]

    def test_event_without_data_is_not_dispatched(self) -> None:
        """An event with no data line dispatches nothing (spec)."""
        assert events_of(b"event: ping\n\nid: 1\n\n") == []

    def test_event_name_defaults_and_resets(self) -> None:
        """No event line means ``message``; the name does not carry to the next event."""
        names = [
            e.event
            for e in events_of(b"event: a\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\n")
        ]
        assert names == ["a", "message", "message"]

    def test_last_event_line_wins(self) -> None:
        """A second ``event`` line in one event replaces the first."""
        assert [e.event for e in events_of(b"event: a\nevent: b\ndata: x\n\n")] == ["b"]

    def test_id_persists_across_events(self) -> None:
        """The last event id stays until the stream sets another; NUL ids are ignored."""
        found = events_of(
            b"id: 7\ndata: a\n\ndata: b\n\nid: 8\0\ndata: c\n\nid\ndata: d\n\n"
        )
        assert [e.id for e in found] == ["7", "7", "7", ""]
        assert events_of(b"data: a\n\n")[0].id is None

    def test_retry_takes_ascii_digits_only(self) -> None:
        """``retry`` is kept for its event when it is ASCII digits, else ignored."""
        found = events_of(
            b"retry: 3000\ndata: a\n\nretry: 3s\ndata: b\n\n"
            + "retry: \uff13\ndata: c\n\n".encode()
            + b"data: d\n\n"
        )
        assert [e.retry for e in found] == [3000, None, None, None]

    def test_unknown_fields_are_ignored(self) -> None:
        """Fields other than event, data, id and retry change nothing."""
        assert events_of(b"foo: bar\ndata: a\nevent2: x\n\n") == [
            ServerSentEvent("message", "a")
        ]

    def test_json_helper(self) -> None:
        """``ServerSentEvent.json()`` parses the data."""
        assert ServerSentEvent("ping", '{"type": "ping"}').json() == {"type": "ping"}


class TestBom:
    @pytest.mark.parametrize("cut", range(4))
    def test_leading_bom_is_ignored(self, cut: int) -> None:
        """A UTF-8 BOM at the start is dropped, even split over chunks."""
        body = b"\xef\xbb\xbfdata: x\n\n"
        assert datas(body[:cut], body[cut:]) == ["x"]

    def test_only_one_leading_bom(self) -> None:
        """A BOM later in the stream is an ordinary character (here: a field name)."""
        assert datas(b"\xef\xbb\xbfdata: x\n\n\xef\xbb\xbfdata: y\n\n") == ["x"]

    def test_bom_prefix_that_is_not_a_bom(self) -> None:
        """Bytes that start like a BOM but are not one are kept as line content."""
        events, decoder = decode([b"\xef", b"\xbb", b"Xdata: x\n\ndata: y\n\n"])
        assert [e.data for e in events] == ["y"]
        assert not decoder.pending

    def test_held_bom_bytes_at_the_end_are_pending(self) -> None:
        """A body of two bytes that could start a BOM leaves pending bytes."""
        assert decode([b"\xef\xbb"])[1].pending


class TestEnd:
    def test_unfinished_event_is_discarded_and_pending(self) -> None:
        """At the end, an event without its blank line is not dispatched."""
        events, decoder = decode([b"data: a\n\ndata: b\n"])
        assert [e.data for e in events] == ["a"]
        assert decoder.pending

    def test_unfinished_line_is_pending(self) -> None:
        """A last line without its line end is pending too."""
        assert decode([b"data: a\n\ndat"])[1].pending

    @pytest.mark.parametrize("body", [b"data: a\n\n", b"data: a\n\n\n\n", b"", b"\r\n"])
    def test_complete_body_is_not_pending(self, body: bytes) -> None:
        """Extra blank lines at the end are not an unfinished event."""
        assert not decode([body])[1].pending

    def test_flush_returns_nothing(self) -> None:
        """flush never dispatches (spec: the incomplete event is discarded)."""
        decoder = SSEDecoder()
        decoder.feed(b"data: a")
        assert decoder.flush() == []


class TestBounds:
    def test_event_at_the_bound_is_kept_and_one_past_it_dropped(self) -> None:
        """An event whose lines, joined with LF, exceed the bound is dropped and counted."""
        ok = b"event: e\ndata: " + b"x" * 10  # 25 bytes
        big = b"event: e\ndata: " + b"y" * 11  # 26 bytes
        events, decoder = decode(
            [ok + b"\n\n" + big + b"\n\ndata: z\n\n"], max_event_bytes=25
        )
        assert [e.data for e in events] == ["x" * 10, "z"]
        assert decoder.dropped == 1

    def test_blank_lines_before_an_event_do_not_count(self) -> None:
        """Leading blank lines are not part of the next event's size."""
        events, decoder = decode([b"\n\n\n\ndata: 12\n\n"], max_event_bytes=8)
        assert [e.data for e in events] == ["12"] and decoder.dropped == 0

    def test_line_growing_without_end_is_dropped_not_buffered(self) -> None:
        """A line that never ends stops being buffered once past the bound."""
        decoder = SSEDecoder(max_event_bytes=1024)
        decoder.feed(b"data: ")
        for _ in range(1000):
            assert decoder.feed(b"x" * 100) == []
        assert decoder.dropped == 1
        assert sum(map(len, decoder._partial)) == 0  # nothing kept of the huge line
        assert decoder.feed(b"\ndata: tail\n\ndata: next\n\n") == [
            ServerSentEvent("message", "next")
        ]

    def test_dropped_event_ends_at_its_blank_line_across_chunks(self) -> None:
        """After a drop, the decoder resumes exactly after the event's blank line."""
        chunks = [b"data: " + b"x" * 50, b"\n", b"data: more\n", b"\n", b"data: ok\n\n"]
        events, decoder = decode(chunks, max_event_bytes=20)
        assert [e.data for e in events] == ["ok"] and decoder.dropped == 1

    def test_memory_stays_flat_for_an_endless_line(self) -> None:
        """Feeding 8 MiB of one endless line keeps memory near the bound, not the input."""
        decoder = SSEDecoder(max_event_bytes=256 * 1024)
        piece = b"z" * 65536
        tracemalloc.start()
        try:
            for _ in range(128):
                decoder.feed(piece)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 2 * 1024 * 1024
        assert decoder.dropped == 1

    def test_default_bound(self) -> None:
        """The default bound is 16 MiB."""
        assert MAX_EVENT_BYTES == 16 * 1024 * 1024


@pytest.mark.parametrize("path", SSE_FIXTURES, ids=lambda p: p.name)
class TestFixtures:
    def test_one_byte_at_a_time(self, path: Path) -> None:
        """Feeding one byte at a time gives the same events as the whole body."""
        body = read(path)
        whole, d1 = decode([body])
        single, d2 = decode([body[i : i + 1] for i in range(len(body))])
        assert single == whole and d1.pending == d2.pending

    def test_every_split_point(self, path: Path) -> None:
        """Every cut of the body in two gives the same events."""
        body = read(path)
        whole = decode([body])[0]
        for cut in range(1, len(body)):
            assert decode(split_at(body, [cut]))[0] == whole, cut

    @pytest.mark.parametrize("eol", ["crlf", "cr"])
    def test_line_end_variants(self, path: Path, eol: str) -> None:
        """CRLF and CR framing give the same events as LF, at every split point."""
        variants = line_end_variants(read(path))
        expected = decode([variants["lf"]])[0]
        body = variants[eol]
        for cut in range(1, len(body), 7):
            assert decode(split_at(body, [cut, cut + 1]))[0] == expected, cut

    def test_names_match_payload_types(self, path: Path) -> None:
        """Every dispatched Anthropic event's JSON type equals its event name."""
        for event in decode([read(path)])[0]:
            if event.event != "message":
                assert event.json()["type"] == event.event
