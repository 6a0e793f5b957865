"""The benchmark's arithmetic and verdicts: marginal cost per SSE event, the floor rows, exit status.

No timing assertions: the figures here are synthetic, and the one real measurement (two rounds
of a raw stream) is checked for its structure only.
"""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from bench import compare, report, workloads
from bench.configs import Telemetry, make_configs
from bench.scenarios import SCENARIOS
from bench.timing import ConfigResult, Plan, marginal_per_event, measure, median_iqr

US = 1e-6


def test_marginal_per_event_is_the_per_round_difference_over_the_extra_events() -> None:
    short = [100 * US, 110 * US]
    long = [1_000 * US, 1_190 * US]
    got = marginal_per_event(short, long, 200, 2_000)
    assert got == pytest.approx([0.5 * US, 0.6 * US])


def test_marginal_per_event_rejects_unpaired_rounds_and_a_shorter_long_stream() -> None:
    with pytest.raises(ValueError, match="rounds"):
        marginal_per_event([1.0, 2.0], [3.0], 200, 2_000)
    with pytest.raises(ValueError, match="not longer"):
        marginal_per_event([1.0], [3.0], 200, 200)


def test_config_result_reports_the_median_of_per_round_marginals_not_of_medians() -> (
    None
):
    # Per round: (50-0, 20-10, 105-100) / 10 = 5, 1, 0.5 us -> median 1 us. The difference of
    # the medians would be (50 - 10) / 10 = 4 us: a round's two lengths must stay paired.
    row = ConfigResult(
        "ptc_full",
        means=[1.0, 1.0, 1.0],
        diffs=[0.0, 10 * US, 100 * US],
        long_means=[2.0, 2.0, 2.0],
        long_diffs=[50 * US, 20 * US, 105 * US],
        events=10,
        long_events=20,
    )
    assert row.marginals == pytest.approx([5 * US, 1 * US, 0.5 * US])
    out = row.as_dict()
    assert out["marginal_us_per_event"] == pytest.approx(1.0)
    assert out["long_overhead_us"] == pytest.approx(50.0)
    assert out["long_median_us"] == pytest.approx(2e6)


def test_config_result_without_a_long_stream_has_no_marginal_fields() -> None:
    row = ConfigResult("ptc_full", means=[1.0], diffs=[0.5], events=201)
    assert row.marginals == []
    assert "marginal_us_per_event" not in row.as_dict()
    assert "long_overhead_us" not in row.as_dict()


def test_median_iqr_quartiles() -> None:
    assert median_iqr([1.0, 2.0, 3.0]) == (2.0, 2.0, 2.0)
    mid, lo, hi = median_iqr([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    assert mid == 4.5
    assert lo < mid < hi


def _row(overhead: float, **extra: Any) -> dict[str, Any]:
    return {
        "median_us": 1_000 + overhead,
        "overhead_us": overhead,
        "overhead_iqr_us": [overhead - 10, overhead + 10],
        "spans_per_call": 1.0,
        "rounds_us": [],
        **extra,
    }


def _create(sdk: float, naive: float, floor: float, ptc: float) -> dict[str, Any]:
    return {
        "label": "SDK create, sync",
        "events": 0,
        "calls_per_batch": 10,
        "rounds": 10,
        "configs": {
            "bare": _row(0.0),
            "sdk_tracing": _row(sdk),
            "naive": _row(naive),
            "naive_span": _row(floor),
            "ptc_full": _row(ptc),
        },
        "skipped": {},
    }


def _stream(ptc_all_in_us: float, marginal: float | None) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    scen: dict[str, Any] = {
        "label": "raw httpx2 stream, sync",
        "events": 201,
        "calls_per_batch": 40,
        "rounds": 10,
        "skipped": {},
    }
    if marginal is not None:
        extra = {
            "long_median_us": 9_000.0,
            "long_overhead_us": 3_000.0,
            "long_overhead_iqr_us": [2_900.0, 3_100.0],
            "marginal_us_per_event": marginal,
            "marginal_iqr_us_per_event": [marginal - 0.1, marginal + 0.1],
        }
        scen["long_events"] = 1_999
        scen["long_calls_per_batch"] = 9
    scen["configs"] = {
        "bare": _row(0.0, long_median_us=3_500.0)
        if marginal is not None
        else _row(0.0),
        "ptc_full": _row(ptc_all_in_us * 201, **extra),
    }
    return scen


def test_non_streamed_targets_are_ratios_to_the_floor_sdk_tracing_and_naive() -> None:
    """ptc_full is judged against 1.3x the floor and 0.8x SDK tracing, metrics only
    against 1.15x naive; the floor is an information row."""
    scen = _create(sdk=602, naive=216, floor=384, ptc=941)
    scen["configs"]["ptc_metrics"] = _row(240.0)
    targets = report.evaluate({"sdk_create_sync": scen}, None, None)
    verdicts = [t for t in targets if not t.info]
    infos = [t for t in targets if t.info]
    assert [t.verdict for t in verdicts] == ["FAIL", "FAIL", "PASS"]
    assert "941 us = 2.45x the floor (384 us)" in verdicts[0].measured
    assert verdicts[0].limit == "<= 499 us"
    assert "941 us = 1.56x SDK tracing (602 us)" in verdicts[1].measured
    assert "240 us = 1.11x naive (216 us)" in verdicts[2].measured
    (info,) = infos
    assert "384 us = 0.64x SDK tracing, 1.78x naive" in info.measured
    passing = _create(sdk=602, naive=216, floor=384, ptc=480)
    passing["configs"]["ptc_metrics"] = _row(250.0)
    ok = [
        t
        for t in report.evaluate({"sdk_create_sync": passing}, None, None)
        if not t.info
    ]
    assert [t.verdict for t in ok] == ["PASS", "PASS", "FAIL"]


def test_stream_verdict_is_the_marginal_cost_not_the_all_in_average() -> None:
    # 6 us/event all-in (fixed cost included) but 0.8 us per extra event: the target passes.
    (target,) = report.evaluate({"httpx2_stream_sync": _stream(6.0, 0.8)}, None, None)
    assert target.name == "stream marginal per-event cost (httpx2_stream_sync)"
    assert target.ok is True
    assert "all-in average 6.00 us/event" in target.measured
    (failing,) = report.evaluate({"httpx2_stream_sync": _stream(0.5, 1.2)}, None, None)
    assert failing.ok is False


def test_stream_without_long_workload_is_information_only() -> None:
    (target,) = report.evaluate({"sdk_helper_sync": _stream(6.0, None)}, None, None)
    assert target.info
    assert target.verdict == "info"
    assert "no marginal figure" in target.measured


def test_exit_status_ignores_information_rows() -> None:
    ok = report.Target("t", "", "", True)
    bad = report.Target("t", "", "", False)
    info = report.Target("i", "", "", None, info=True)
    assert report.exit_status([ok, info]) == 0
    assert report.exit_status([ok, bad, info]) == 1
    assert report.exit_status([info]) == 2
    assert report.exit_status([ok, report.Target("n", "", "", None)]) == 2


def test_concurrency_target_is_within_two_percent_of_the_floor() -> None:
    """The p99 ratio to bare may exceed the floor's by at most 2 %."""

    def conc(ptc: float) -> dict[str, Any]:
        return {
            "concurrency": 1000,
            "configs": {
                "bare": {"p99_ratio": 1.0, "p99_ms": 100.0},
                "naive_span": {"p99_ratio": 1.05, "p99_ms": 105.0},
                "ptc_full": {"p99_ratio": ptc, "p99_ms": 100.0 * ptc},
            },
        }

    (failing,) = report.evaluate({}, None, conc(1.10))
    assert failing.ok is False
    assert failing.limit == "<= 1.071x bare"
    assert "floor 1.050x bare" in failing.measured
    (passing,) = report.evaluate({}, None, conc(1.07))
    assert passing.ok is True


def test_tables_render_marginal_columns() -> None:
    scenarios = {"httpx2_stream_sync": _stream(6.0, 0.8)}
    labels = {"bare": "bare", "ptc_full": "ptc_full"}
    table = report.scenario_table(scenarios["httpx2_stream_sync"], labels)
    assert "marginal us/event (IQR)" in table
    assert "0.80 (0.70..0.90)" in table
    per_event = report.per_event_table(scenarios, labels, ["bare", "ptc_full"])
    assert "| ptc_full | 6.00 | 0.80 (0.70..0.90) |" in per_event
    rendered = report.render(
        {"scenarios": scenarios, "memory": None, "concurrency": None}, labels
    )
    assert "### Per SSE event: all-in average and marginal cost" in rendered


def test_long_workload_has_the_short_one_shape_and_ten_times_the_events() -> None:
    def kinds(chunks: tuple[bytes, ...]) -> set[bytes]:
        return {c.split(b"\n", 1)[0] for c in chunks}

    assert kinds(workloads.LONG_SSE_CHUNKS) == kinds(workloads.SSE_CHUNKS)
    assert len(workloads.LONG_SSE_CHUNKS) == workloads.LONG_SSE_EVENTS
    assert (
        9 * workloads.SSE_EVENTS
        <= workloads.LONG_SSE_EVENTS
        <= 11 * workloads.SSE_EVENTS
    )


def test_measure_times_both_stream_lengths_in_every_round() -> None:
    scenario = next(s for s in SCENARIOS if s.name == "httpx2_stream_sync")
    telemetry = Telemetry()
    configs = make_configs(telemetry, ["naive_span"])
    plan = Plan(
        batch_seconds=0.001,
        budget_seconds=0.0,
        min_rounds=3,
        max_rounds=3,
        warmup=2,
        warmup_seconds=0.0,
    )
    res = measure(scenario, configs, telemetry, plan)
    assert res.rounds == 3
    assert res.long_calls_per_batch >= 1
    floor = res.results["naive_span"]
    assert len(floor.means) == len(floor.long_means) == 3
    assert len(floor.diffs) == len(floor.long_diffs) == 3
    assert len(floor.marginals) == 3
    # One span per exchange, on both lengths.
    assert floor.spans_per_call == 1.0
    out = res.as_dict()
    assert out["long_events"] == workloads.LONG_SSE_EVENTS
    assert out["configs"]["naive_span"]["marginal_us_per_event"] == pytest.approx(
        statistics.median(floor.marginals) * 1e6
    )
    short_only = measure(scenario, configs, telemetry, plan, long_stream=False)
    assert short_only.results["naive_span"].long_means == []
    assert "long_events" not in short_only.as_dict()


def test_compare_rejects_unknown_names() -> None:
    assert [
        s.name for s in compare.pick_scenarios(["sdk_create_sync,httpx2_stream_sync"])
    ] == [
        "sdk_create_sync",
        "httpx2_stream_sync",
    ]
    with pytest.raises(ValueError, match="unknown scenario"):
        compare.pick_scenarios(["nope"])
    assert compare.main(["sdk_create_sync", "--configs", "nope"]) == 2


def test_ablation_variants_stand_in_for_names_the_observer_still_has() -> None:
    # variants() runs the parsers once to capture their results, then names each stage it
    # replaces: a renamed stage must fail here, not halfway through a timing run.
    from bench.ablation import variants

    made = variants()
    assert len(made) == 8
    assert len({cls.name for cls in made}) == len(made)
    for cls in made:
        target = getattr(cls, "target", None) or getattr(cls, "sink_type", None)
        attribute = getattr(cls, "attribute", None) or getattr(cls, "hook", None)
        assert target is not None and attribute is not None, cls.name
        assert callable(getattr(target, attribute)), (cls.name, attribute)


def test_calls_per_exchange_counts_what_a_configuration_adds() -> None:
    from bench.calls import calls_per_exchange

    bare = calls_per_exchange("sdk_create_sync", "bare", 5)
    naive = calls_per_exchange("sdk_create_sync", "naive", 5)
    finish = [key for key in naive if key[2] == "finish" and "naive" in key[0]]
    assert finish and all(naive[key] == 1.0 for key in finish)
    assert not [key for key in bare if "bench/naive.py" in key[0]]
