"""The correlator: tool turnarounds, answers and container sightings across exchanges."""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any

import pytest
from sinks.factory import (
    PTC_TOOLS,
    WALL_START,
    ExchangeFactory,
    result,
)

from ptc_observe.events import (
    ContainerEnded,
    ContainerSighting,
    Exchange,
    Outcome,
    Reply,
    RequestFacts,
    Timings,
    ToolUse,
)
from ptc_observe.models import Message, ToolUseBlock, Usage
from ptc_observe.observer.correlator import Correlator, Limits

C = "container_011CZq7TfRmB3vKx9NwPd2Lh"
TURN1_CALL = "toolu_01Fk2YwHs9PqLm4Rt7VbZc3N"
RESUME_CALL = "toolu_01Wn6DcJ3xRv8Hq2Lt5MpYk9"
EXPIRES_1 = datetime(2026, 8, 21, 9, 18, 37, 318204, tzinfo=timezone.utc)
EXPIRES_2 = datetime(2026, 8, 21, 9, 18, 41, 77952, tzinfo=timezone.utc)


def sight(ex: Exchange) -> ContainerSighting:
    """The exchange's container sighting (it must have one)."""
    assert ex.container is not None
    return ex.container


@pytest.fixture
def f() -> ExchangeFactory:
    return ExchangeFactory()


@pytest.fixture
def ended() -> list[ContainerEnded]:
    return []


@pytest.fixture
def c(f: ExchangeFactory, ended: list[ContainerEnded]) -> Correlator:
    correlator = Correlator(Limits(), clock=f.clock)
    correlator.add_listener(ended.append)
    return correlator


def ptc_exchanges(f: ExchangeFactory) -> list[Exchange]:
    """02 -> resume -> 03 -> resume -> 04, with 2 s and 1 s of application tool time."""
    ex1 = f.make("02_ptc_turn1_response.json", tools=PTC_TOOLS, messages=1)
    f.advance(2.0)
    ex2 = f.make(
        "03_ptc_resume_response.json",
        tools=PTC_TOOLS,
        container_id=C,
        tool_results=[result(TURN1_CALL, 48, tool="query_sales", programmatic=True)],
        messages=3,
    )
    f.advance(1.0)
    ex3 = f.make(
        "04_ptc_final_response.json",
        tools=PTC_TOOLS,
        container_id=C,
        tool_results=[
            result(
                RESUME_CALL, 52, is_error=True, tool="query_sales", programmatic=True
            )
        ],
        messages=5,
    )
    return [ex1, ex2, ex3]


def ptc_run(f: ExchangeFactory, c: Correlator) -> list[Exchange]:
    """The run of :func:`ptc_exchanges`, correlated by one correlator."""
    return [c.correlate(ex) for ex in ptc_exchanges(f)]


class TestToolTurnarounds:
    def test_ptc_run_matches_each_result_with_the_response_that_asked(self, f, c):
        """Each resume carries a turnaround from the end of the asking response, and answers it."""
        ex1, ex2, ex3 = ptc_run(f, c)
        assert ex1.tool_turnarounds == () and ex1.answers == ()
        (t2,) = ex2.tool_turnarounds
        assert ex2.answers == (ex1.id,)
        assert (t2.tool_use_id, t2.tool_name, t2.caller) == (
            TURN1_CALL,
            "query_sales",
            "programmatic",
        )
        assert t2.caller_type == "code_execution_20260120"
        assert t2.caller_tool_id == "srvtoolu_01HqJ7mVtX2cR9bW4nYk5eLs"
        assert t2.seconds == pytest.approx(2.0)
        assert (t2.result_bytes, t2.is_error, t2.asked_by) == (48, False, ex1.id)
        (t3,) = ex3.tool_turnarounds
        assert ex3.answers == (ex2.id,)
        assert (t3.tool_use_id, t3.result_bytes, t3.is_error) == (RESUME_CALL, 52, True)
        assert t3.seconds == pytest.approx(1.0)
        assert c.state_sizes()["pending_tool_calls"] == 2  # answered, kept for retries

    def test_direct_call(self, f, c):
        """A direct tool_use is matched with caller ``direct`` and no caller tool id."""
        ex1 = c.correlate(f.make("01_direct_tool_use.json"))
        f.advance(0.5)
        ex2 = c.correlate(
            f.make(
                "09_stream_plain_text.sse",
                tool_results=[result("toolu_01Tb5RzQm8KcVw3hN2xJp7Ly", 10)],
            )
        )
        (t,) = ex2.tool_turnarounds
        assert (t.caller, t.caller_type, t.caller_tool_id) == ("direct", "direct", None)
        assert t.seconds == pytest.approx(0.5)
        assert ex2.answers == (ex1.id,)

    def test_parallel_calls_in_one_response(self, f, c):
        """Three programmatic calls answered together: three turnarounds, one asking exchange."""
        ex1 = c.correlate(f.make("05_ptc_multiple_calls_response.json"))
        f.advance(3.0)
        ids = [
            "toolu_01Cr3Hx6Lk9Vb2Ft5Qm8NwZs",
            "toolu_01Ee4Vq8Bn2Xk6Rw9Lt3HcPa",
            "toolu_01Gm7Ts1Jd5Yq3Np8Wz6KbRe",
        ]
        ex2 = c.correlate(
            f.make(
                "04_ptc_final_response.json",
                container_id="container_011CZq8AqT5nVm2Wc9Lx4RhB",
                tool_results=[result(i, n) for n, i in enumerate(ids, 1)],
            )
        )
        assert [t.tool_use_id for t in ex2.tool_turnarounds] == ids
        assert [t.result_bytes for t in ex2.tool_turnarounds] == [1, 2, 3]
        assert {t.caller for t in ex2.tool_turnarounds} == {"programmatic"}
        assert ex2.answers == (ex1.id,)

    def test_retry_links_again_but_counts_the_tool_once(self, f, c):
        """An SDK retry resends the same results: it answers the same exchange, no second turnaround."""
        ex1 = c.correlate(f.make("02_ptc_turn1_response.json"))
        f.advance(2.0)
        first = c.correlate(
            f.make(
                "07_error_529_overloaded.json",
                container_id=C,
                tool_results=[result(TURN1_CALL)],
            )
        )
        f.advance(0.5)
        retry = c.correlate(
            f.make(
                "03_ptc_resume_response.json",
                container_id=C,
                tool_results=[result(TURN1_CALL)],
                retry_count=1,
            )
        )
        assert len(first.tool_turnarounds) == 1
        assert first.tool_turnarounds[0].seconds == pytest.approx(2.0)
        assert retry.tool_turnarounds == ()
        assert first.answers == retry.answers == (ex1.id,)

    def test_unknown_result_is_unmatched(self, f, c):
        """A result for a call this correlator never saw: no turnaround, no link; unmatched."""
        sent = result("toolu_unknown", tool="lookup")
        ex = c.correlate(f.make("09_stream_plain_text.sse", tool_results=[sent]))
        assert ex.tool_turnarounds == () and ex.answers == ()
        assert ex.unmatched_results == (sent,)

    def test_a_run_split_over_two_processes(self, f):
        """Turns served alternately by two correlators: each result is matched by exactly
        one of them or counted unmatched by the other; none is lost or matched twice."""
        a, b = Correlator(clock=f.clock), Correlator(clock=f.clock)
        ex1, ex2, ex3 = ptc_exchanges(f)
        out = [a.correlate(ex1), b.correlate(ex2), a.correlate(ex3)]
        # Turn 2 (process b) answers a call asked in a's response; turn 3 (a) one in b's.
        assert out[1].tool_turnarounds == () and out[1].answers == ()
        assert out[1].unmatched_results == ex2.request.tool_results
        assert out[2].tool_turnarounds == () and out[2].unmatched_results != ()
        # The same turns in one process: every result matched, none unmatched.
        g = ExchangeFactory()
        one = ptc_run(g, Correlator(clock=g.clock))
        assert [len(x.tool_turnarounds) for x in one] == [0, 1, 1]
        assert all(x.unmatched_results == () for x in one)

    def test_exchange_without_anything_to_correlate_is_returned_as_is(self, f, c):
        """No results, no calls, no container: the very same object comes back."""
        ex = f.make("09_stream_plain_text.sse")
        assert c.correlate(ex) is ex

    def test_pending_calls_expire_after_ttl(self, f):
        """An unanswered call is forgotten after ``pending_ttl_seconds``."""
        c = Correlator(Limits(pending_ttl_seconds=60), clock=f.clock)
        c.correlate(f.make("01_direct_tool_use.json"))
        f.advance(59)
        c.sweep()
        assert c.state_sizes()["pending_tool_calls"] == 1
        f.advance(2)
        c.sweep()
        assert c.state_sizes()["pending_tool_calls"] == 0
        late = c.correlate(
            f.make(
                "09_stream_plain_text.sse",
                tool_results=[result("toolu_01Tb5RzQm8KcVw3hN2xJp7Ly")],
            )
        )
        assert late.tool_turnarounds == ()

    def test_pending_calls_are_capped(self, f):
        """Past ``max_pending_tool_calls`` the oldest calls are dropped."""
        c = Correlator(Limits(max_pending_tool_calls=2), clock=f.clock)
        c.correlate(f.make("05_ptc_multiple_calls_response.json"))
        assert c.state_sizes()["pending_tool_calls"] == 2
        ex = c.correlate(
            f.make(
                "04_ptc_final_response.json",
                tool_results=[result("toolu_01Ee4Vq8Bn2Xk6Rw9Lt3HcPa")],
            )
        )
        assert ex.tool_turnarounds == ()  # the first of the three was dropped


class TestContainers:
    def test_created_then_reused_with_time_remaining(self, f, c):
        """First sighting is a creation; each resume is a reuse with the time left before expiry."""
        ex1, ex2, ex3 = ptc_run(f, c)
        s1, s2, s3 = sight(ex1), sight(ex2), sight(ex3)
        assert (s1.id, s1.created, s1.reused, s1.expired, s1.expires_at) == (
            C,
            True,
            False,
            False,
            EXPIRES_1,
        )
        assert s1.remaining_seconds is None
        assert (s2.created, s2.reused, s2.expired, s2.expires_at) == (
            False,
            True,
            False,
            EXPIRES_2,
        )
        sent2 = WALL_START + 3.5  # 1.5 s turn 1 + 2 s tool time
        assert s2.remaining_seconds == pytest.approx(EXPIRES_1.timestamp() - sent2)
        # The final answer has no container key: the request's id is the sighting.
        assert (s3.id, s3.reused, s3.expires_at) == (C, True, EXPIRES_2)
        assert s3.remaining_seconds == pytest.approx(
            EXPIRES_2.timestamp() - (sent2 + 2.5)
        )
        assert c.active_containers() == 1

    def test_refused_after_expiry_counts_as_expired(self, f, c, ended):
        """The API refuses a container named after its expires_at: expired, and it ends.

        Its lifetime runs from the creating response to its last known expires_at.
        """
        c.correlate(f.make("02_ptc_turn1_response.json"))
        f.advance(30)
        c.correlate(
            f.make(
                "03_ptc_resume_response.json",
                container_id=C,
                tool_results=[result(TURN1_CALL)],
            )
        )
        f.advance(400)
        # A rate limit on the way is neither a reuse nor an expiry.
        limited = c.correlate(f.make("06_error_429_rate_limit.json", container_id=C))
        assert not (sight(limited).expired or sight(limited).reused)
        ex = c.correlate(
            f.make(
                status=400,
                error_type="invalid_request_error",
                error_message=f"container: `{C}` has expired",
                container_id=C,
            )
        )
        assert sight(ex).expired and not sight(ex).created and not sight(ex).reused
        # Sent after 09:18:41: the sweep had already ended it.
        assert [(e.id, e.reason) for e in ended] == [(C, "expired")]
        born = WALL_START + 1.5
        assert ended[0].lifetime_seconds == pytest.approx(EXPIRES_2.timestamp() - born)
        assert c.active_containers() == 0

    def test_error_answering_a_container_request_is_expired(self, f, c, ended):
        """A 404 about the container to a request naming a live one: expired; it ends then."""
        c.correlate(f.make("02_ptc_turn1_response.json"))
        f.advance(2)
        c.correlate(f.make("03_ptc_resume_response.json", container_id=C))
        f.advance(5)
        ex = c.correlate(
            f.make(
                status=404,
                error_type="not_found_error",
                error_message=f"container: `{C}` not found",
                container_id=C,
            )
        )
        assert sight(ex).expired and sight(ex).expires_at == EXPIRES_2
        assert not sight(ex).reused
        assert [(e.id, e.reason) for e in ended] == [(C, "expired")]
        born = WALL_START + 1.5
        assert ended[0].lifetime_seconds == pytest.approx(EXPIRES_2.timestamp() - born)

    @pytest.mark.parametrize(
        ("status", "message"),
        [
            (400, "messages: tool_use ids must be unique"),
            (500, "Internal server error"),
        ],
    )
    def test_other_errors_are_not_expiries(self, f, c, status, message):
        """A 400 not about the container, or a 500 (cannot be told from any server
        error), is neither a reuse nor an expiry; nor is a 529."""
        c.correlate(f.make("02_ptc_turn1_response.json"))
        for ex in (
            f.make(status=status, error_message=message, container_id=C),
            f.make("07_error_529_overloaded.json", container_id=C),
        ):
            s = sight(c.correlate(ex))
            assert (s.created, s.reused, s.expired) == (False, False, False)
        assert c.active_containers() == 1

    def test_a_new_container_for_the_named_one_is_a_creation(self, f, c):
        """A complete response in another container than the request named: created."""
        ex = c.correlate(
            f.make("02_ptc_turn1_response.json", container_id="container_old")
        )
        s = sight(ex)
        assert (s.id, s.created, s.reused) == (C, True, False)

    def test_a_cut_stream_creates_nothing(self, f, c):
        """A stream cut before its end counts no creation (the app never got the id)."""
        ex = c.correlate(f.make("08_stream_ptc_turn1.sse", cut_after=2000))
        assert ex.outcome is not Outcome.OK
        assert ex.container is None or not sight(ex).created

    def test_time_left_only_when_this_process_saw_the_previous_turn(self, f):
        """Process b serves turn 2, then a serves turn 3: a's deadline is turn 1's, which
        b's turn moved; the request proves it (its messages skip one turn), so no time
        left is given rather than a wrong one. b's own next turn would give it."""
        a, b = Correlator(clock=f.clock), Correlator(clock=f.clock)
        ex1, ex2, ex3 = ptc_exchanges(f)
        s1 = sight(a.correlate(ex1))
        s2 = sight(b.correlate(ex2))
        s3 = sight(a.correlate(ex3))
        assert (s1.created, s2.reused, s3.reused) == (True, True, True)
        assert s2.remaining_seconds is None  # b never saw the deadline
        assert s3.remaining_seconds is None  # a's deadline is stale: turn 2 moved it

    def test_lifetime_is_observed_by_the_creating_process_only(self, f):
        """Both processes end the container; only the one that saw it created knows its
        lifetime, so a fleet observes it once."""
        ends: dict[str, list[ContainerEnded]] = {"a": [], "b": []}
        a, b = Correlator(clock=f.clock), Correlator(clock=f.clock)
        a.add_listener(ends["a"].append)
        b.add_listener(ends["b"].append)
        ex1, ex2, ex3 = ptc_exchanges(f)
        a.correlate(ex1)
        b.correlate(ex2)
        b.correlate(ex3)
        f.advance(600)
        a.sweep()
        b.sweep()
        (end_a,), (end_b,) = ends["a"], ends["b"]
        born = WALL_START + 1.5
        # a knows turn 1's expires_at only: a lower bound of the true lifetime.
        assert end_a.lifetime_seconds == pytest.approx(EXPIRES_1.timestamp() - born)
        assert end_b.lifetime_seconds is None

    def test_sweep_expires_by_clock(self, f, c, ended):
        """Once the wall clock passes expires_at the container leaves the active count."""
        c.correlate(f.make("02_ptc_turn1_response.json"))
        assert c.active_containers() == 1
        f.advance(270)  # 09:18:31.5 < 09:18:37.3
        assert c.active_containers() == 1
        f.advance(10)
        assert c.active_containers() == 0
        assert [(e.id, e.reason) for e in ended] == [(C, "expired")]
        # From the creating response's end (09:14:01.5) to its expires_at.
        assert ended[0].lifetime_seconds == pytest.approx(
            EXPIRES_1.timestamp() - (WALL_START + 1.5)
        )

    def test_restored_container_is_reused_not_created(self, f, c, ended):
        """A container named again after it ended (restored from its checkpoint): a reuse;
        tracked again, but its lifetime was observed once, when it first ended."""
        c.correlate(f.make("02_ptc_turn1_response.json"))
        f.advance(600)
        c.sweep()
        ex = c.correlate(f.make("03_ptc_resume_response.json", container_id=C))
        s = sight(ex)
        assert (s.created, s.reused, s.expired) == (False, True, False)
        assert c.active_containers() == 0  # its new expires_at (09:18:41) is past too
        assert [e.reason for e in ended] == ["expired", "expired"]
        assert ended[0].lifetime_seconds is not None
        assert ended[1].lifetime_seconds is None

    def test_eviction_beyond_max_containers(self, f, ended):
        """Past ``max_containers`` the least recently seen container is evicted (and ends)."""
        c = Correlator(Limits(max_containers=2), clock=f.clock)
        c.add_listener(ended.append)
        for i in range(3):
            c.correlate(
                f.make("09_stream_plain_text.sse", container_id=f"container_{i}")
            )
        assert c.state_sizes()["containers"] == 2
        assert [(e.id, e.reason) for e in ended] == [("container_0", "evicted")]

    def test_container_without_known_expiry_ends_after_ttl(self, f, ended):
        """An id only ever seen in requests ends ``container_ttl_seconds`` after its last sighting."""
        c = Correlator(Limits(container_ttl_seconds=100), clock=f.clock)
        c.add_listener(ended.append)
        ex = c.correlate(f.make("09_stream_plain_text.sse", container_id="container_x"))
        assert sight(ex).reused and sight(ex).expires_at is None
        f.advance(99)
        assert c.active_containers() == 1
        f.advance(2)
        assert c.active_containers() == 0
        assert ended[0].lifetime_seconds is None  # its creation was never seen here


class TestListeners:
    def test_failing_listener_does_not_starve_the_others(self, f):
        """Every listener hears the event; the first failure is re-raised after."""
        c = Correlator(Limits(max_containers=1), clock=f.clock)
        heard: list[str] = []

        def broken(event: ContainerEnded) -> None:
            raise RuntimeError("boom")

        c.add_listener(broken)
        c.add_listener(lambda e: heard.append(e.id))
        c.correlate(f.make("09_stream_plain_text.sse", container_id="a"))
        with pytest.raises(RuntimeError, match="boom"):
            c.correlate(f.make("09_stream_plain_text.sse", container_id="b"))
        assert heard == ["a"]


def test_fresh_records_get_the_same_facts_in_place():
    """``fresh=True`` writes the facts into the record itself; they equal the copy's."""
    runs = []
    for fresh in (False, True):
        f = ExchangeFactory()
        c = Correlator(Limits(), clock=f.clock)
        c.correlate(f.make("02_ptc_turn1_response.json", tools=PTC_TOOLS), fresh=fresh)
        f.advance(2.0)
        resume = f.make(
            "03_ptc_resume_response.json",
            tools=PTC_TOOLS,
            container_id=C,
            tool_results=[result(TURN1_CALL, 48)],
        )
        out = c.correlate(resume, fresh=fresh)
        assert (out is resume) is fresh
        assert resume.tool_turnarounds == (() if not fresh else out.tool_turnarounds)
        runs.append(out)
    copied, in_place = runs
    assert in_place.tool_turnarounds == copied.tool_turnarounds != ()
    assert in_place.answers == copied.answers != ()
    assert in_place.container == copied.container is not None


def test_concurrent_correlation_is_consistent(f):
    """Threads correlating at once lose no tool call and no container."""
    c = Correlator(Limits(), clock=f.clock)
    barrier = threading.Barrier(8)
    out: list[Exchange] = []

    def work(n: int) -> None:
        barrier.wait()
        for i in range(200):
            ex = f.make("09_stream_plain_text.sse", container_id=f"c{n}-{i}")
            out.append(c.correlate(ex))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 1600 and all(sight(ex).reused for ex in out)
    assert c.state_sizes()["containers"] == 1600


@pytest.mark.slow
def test_state_stays_bounded_under_a_million_distinct_ids():
    """1,000,000 distinct ids (200,000 exchanges, each naming a new container and asking for
    four new tool calls): the state stays at its caps and every container beyond them is evicted."""
    limits = Limits(max_containers=1_000, max_pending_tool_calls=5_000)
    clock = [WALL_START]
    c = Correlator(limits, clock=lambda: clock[0])
    evicted = [0]
    c.add_listener(lambda e: evicted.__setitem__(0, evicted[0] + 1))
    # Fast path: one exchange whose ids are rewritten in place (its blocks' dicts and the
    # records' slot descriptors): building 200,000 frozen records would cost more than
    # correlating them.
    blocks: list[Any] = [
        ToolUseBlock.model_construct(id="", name="q", input={}, caller=None)
        for _ in range(4)
    ]
    message = Message.model_construct(
        content=blocks, stop_reason="tool_use", usage=Usage()
    )
    request = RequestFacts("POST", "/v1/messages", "api.anthropic.com", 443)
    timings = Timings(sent=0.0, finished=0.5, sent_unix_ns=int(WALL_START * 1e9))
    reply = Reply.from_message(message)
    ex = Exchange(
        id=0,
        request=request,
        timings=timings,
        outcome=Outcome.OK,
        streamed=False,
        complete=True,
        reply=reply,
    )
    set_container = getattr(RequestFacts, "container_id").__set__  # noqa: B009 - slot descriptor
    set_sent_ns = getattr(Timings, "sent_unix_ns").__set__  # noqa: B009 - slot descriptor
    set_use_id = getattr(ToolUse, "id").__set__  # noqa: B009 - slot descriptor
    uses = reply.tool_uses
    ids: set[str] = set()
    peak = dict.fromkeys(c.state_sizes(), 0)
    start = time.perf_counter()
    for i in range(200_000):
        for n, use in enumerate(uses):
            set_use_id(use, f"toolu_{i}_{n}")
        set_container(request, f"container_{i}")
        set_sent_ns(timings, int(clock[0] * 1e9))
        c.correlate(ex)
        clock[0] += 0.005
        if i % 10_000 == 0:
            for k, v in c.state_sizes().items():
                peak[k] = max(peak[k], v)
    elapsed = time.perf_counter() - start
    ids.update(f"container_{i}" for i in range(200_000))
    ids.update(f"toolu_{i}_{n}" for i in range(200_000) for n in range(4))
    assert len(ids) == 1_000_000
    sizes = c.state_sizes()
    assert sizes == {"containers": 1_000, "pending_tool_calls": 5_000}
    assert peak == sizes
    assert evicted[0] == 199_000  # every container but the last 1,000 left by eviction
    print(f"200,000 correlations (1,000,000 distinct ids) in {elapsed:.1f} s")
