"""The code-execution tracker: starts, calls, results and bounds, on a simulated clock.

Real bodies (tests/data/real, see PROVENANCE.md) give the bash, text-editor and
programmatic web_fetch shapes; the synthetic PTC fixtures give a run over three exchanges.
"""

from __future__ import annotations

from pathlib import Path

from ptc_observe.events import CodeExecution, ContainerEnded, ToolResultSent
from ptc_observe.models import Message
from ptc_observe.observer import Limits
from ptc_observe.observer.code_executions import CodeExecutionTracker

from .factory import ExchangeFactory

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
PTC_ID = "srvtoolu_01HqJ7mVtX2cR9bW4nYk5eLs"


def real(name: str) -> Message:
    return Message.model_validate_json((REAL / name).read_bytes())


def tracker(factory: ExchangeFactory, **limits: float) -> CodeExecutionTracker:
    return CodeExecutionTracker(Limits(**limits), clock=factory.clock)  # type: ignore[arg-type]


def test_an_exchange_without_code_execution_costs_nothing() -> None:
    """No state, and the very same record back."""
    f = ExchangeFactory()
    t = tracker(f)
    ex = f.make("01_direct_tool_use.json")
    assert t.track(ex) is ex
    assert t.open_count() == 0


def test_bash_call_starts_and_ends_in_one_response() -> None:
    """A real bash_code_execution: its span is the response, from headers to the end."""
    f = ExchangeFactory()
    t = tracker(f)
    ex = t.track(f.make(message=real("codeexec_bash_json.json"), duration=2.0))
    (ce,) = ex.code_executions
    assert ce.name == "bash_code_execution"
    assert ce.id == "srvtoolu_01Y5A969cu9rsnDkHF6brfKF"
    assert ce.container_id == "container_011CaNRhtVsGiXZx1CgSETLH"
    assert (ce.outcome, ce.return_code, ce.end_reason) == ("success", 0, "result")
    assert ce.start_observed
    timings = ex.timings
    assert timings.headers is not None
    assert ce.started_unix_ns == timings.unix_ns(timings.headers)
    assert ce.ended_unix_ns == timings.unix_ns(timings.finished)
    assert ce.duration_seconds == 2.0 - 0.2
    assert t.open_count() == 0


def test_text_editor_and_bash_in_one_response() -> None:
    """code_execution_20250825: a text-editor create and a bash run, each its own."""
    f = ExchangeFactory()
    ex = tracker(f).track(f.make(message=real("codeexec_20250825_json.json")))
    assert [(c.name, c.outcome) for c in ex.code_executions] == [
        ("text_editor_code_execution", "success"),
        ("bash_code_execution", "success"),
    ]


def test_programmatic_web_fetch_counts_as_a_server_call_of_its_code() -> None:
    f = ExchangeFactory()
    ex = tracker(f).track(f.make(message=real("prog_webfetch_20260209.json")))
    (ce,) = ex.code_executions
    assert (ce.name, ce.server_tool_calls, ce.tool_calls) == ("code_execution", 1, 0)
    assert ce.outcome == "success"


def test_ptc_run_is_followed_across_exchanges() -> None:
    """Turn, resume, final: one code execution, two calls, three exchanges."""
    f = ExchangeFactory()
    t = tracker(f)
    first = t.track(f.make("02_ptc_turn1_response.json"))
    f.advance(1.0)
    second = t.track(f.make("03_ptc_resume_response.json"))
    f.advance(1.0)
    last = t.track(f.make("04_ptc_final_response.json"))
    (a,), (b,), (c,) = (
        first.code_executions,
        second.code_executions,
        last.code_executions,
    )
    assert a.id == b.id == c.id == PTC_ID
    assert (a.tool_calls, a.outcome, a.exchanges) == (1, None, 1)
    assert (b.tool_calls, b.outcome, b.exchanges) == (2, None, 2)
    assert (c.tool_calls, c.outcome, c.exchanges) == (2, "success", 3)
    assert c.started_by == first.id and c.start_observed
    assert c.started_unix_ns == a.started_unix_ns
    assert t.open_count() == 0


def test_result_without_its_start_is_honest() -> None:
    """A process that only sees the last exchange: a record from the wire, marked."""
    f = ExchangeFactory()
    ex = tracker(f).track(f.make("04_ptc_final_response.json"))
    (ce,) = ex.code_executions
    assert (ce.outcome, ce.start_observed, ce.started_by) == ("success", False, ex.id)


def test_unanswered_code_execution_expires_after_its_ttl() -> None:
    f = ExchangeFactory()
    t = tracker(f, code_execution_ttl_seconds=60.0)
    ended: list[CodeExecution] = []
    t.add_listener(ended.append)
    first = t.track(f.make("02_ptc_turn1_response.json"))
    f.advance(30.0)
    t.sweep()
    assert ended == []
    f.advance(31.0)
    t.sweep()
    (ce,) = ended
    assert (ce.outcome, ce.end_reason) == ("unfinished", "expired")
    # It ends where it was last seen: nothing on the wire says it ran longer.
    assert ce.ended_unix_ns == first.timings.unix_ns(first.timings.finished)
    assert t.open_count() == 0


def test_open_code_executions_are_bounded() -> None:
    """Past max_code_executions the least recently seen ends as evicted."""
    f = ExchangeFactory()
    t = tracker(f, max_code_executions=1)
    ended: list[CodeExecution] = []
    t.add_listener(ended.append)
    t.track(f.make("02_ptc_turn1_response.json"))
    t.track(f.make("05_ptc_multiple_calls_response.json"))
    assert [(c.id, c.end_reason) for c in ended] == [(PTC_ID, "evicted")]
    assert t.open_count() == 1


def test_container_end_ends_its_code_executions() -> None:
    f = ExchangeFactory()
    t = tracker(f)
    ended: list[CodeExecution] = []
    t.add_listener(ended.append)
    ex = t.track(f.make("02_ptc_turn1_response.json"))
    (ce,) = ex.code_executions
    assert ce.container_id is not None
    t.on_container_ended(ContainerEnded("container_other", 1.0, "expired"))
    assert ended == []
    t.on_container_ended(ContainerEnded(ce.container_id, 1.0, "expired"))
    assert [(c.id, c.end_reason) for c in ended] == [(PTC_ID, "container_ended")]


def test_close_ends_the_rest_and_the_tracker_stays_usable() -> None:
    f = ExchangeFactory()
    t = tracker(f)
    ended: list[CodeExecution] = []
    t.add_listener(ended.append)
    t.track(f.make("02_ptc_turn1_response.json"))
    t.close()
    assert [(c.outcome, c.end_reason) for c in ended] == [("unfinished", "closed")]
    ex = t.track(f.make("02_ptc_turn1_response.json"))
    assert ex.code_executions[0].outcome is None


def test_an_incomplete_reply_shows_nothing() -> None:
    """A cut stream's blocks never reach the application: no start from them."""
    f = ExchangeFactory()
    t = tracker(f)
    ex = t.track(f.make("08_stream_ptc_turn1.sse", cut_after=1500))
    assert ex.code_executions == ()
    assert t.open_count() == 0


def test_a_failed_resume_is_tied_to_its_code_execution_by_the_request() -> None:
    """A resume answered with a 529: no reply, but its request's tool results name the
    open code execution, so the attempt shows it (and its span links there)."""
    f = ExchangeFactory()
    t = tracker(f)
    first = t.track(f.make("02_ptc_turn1_response.json"))
    (call,) = first.reply.tool_uses if first.reply is not None else ()
    failed = f.make(
        "07_error_529_overloaded.json",
        tool_results=[
            ToolResultSent(
                call.id,
                10,
                tool_name=call.name,
                caller_type=call.caller_type,
                caller_tool_id=call.caller_tool_id,
            )
        ],
    )
    (ce,) = t.track(failed).code_executions
    assert (ce.id, ce.outcome, ce.exchanges) == (PTC_ID, None, 1)
    assert t.open_count() == 1
