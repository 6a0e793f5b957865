"""The PromQL reader the contract checks rely on: it must find metrics and nothing else."""

from __future__ import annotations

import pytest

from .promql import metric_names, read


class TestMetricNames:
    @pytest.mark.parametrize(
        ("expr", "expected"),
        [
            pytest.param("up == 0", {"up"}, id="bare-name"),
            pytest.param(
                'sum by (job, gen_ai_request_model) (rate(ptc_exchanges_total{outcome="error"}[5m]))',
                {"ptc_exchanges_total"},
                id="aggregation-with-grouping",
            ),
            pytest.param(
                "histogram_quantile(0.95, sum by (le) (rate(x_seconds_bucket[$__rate_interval])))",
                {"x_seconds_bucket"},
                id="quantile",
            ),
            pytest.param(
                "ptc_ratelimit_remaining / (ptc_ratelimit_limit > 0)",
                {"ptc_ratelimit_remaining", "ptc_ratelimit_limit"},
                id="binary-operator",
            ),
            pytest.param(
                '(sum(increase(a_total{caller="programmatic", t=~"$tool"}[$__range])) or vector(0)) / sum(b_total)',
                {"a_total", "b_total"},
                id="or-vector",
            ),
            pytest.param(
                "rate(a[5m] offset 1h) * on (job) group_left(instance) b",
                {"a", "b"},
                id="offset-and-matching",
            ),
            pytest.param("sum(rate(x[1m])) * 60 > 1e-3", {"x"}, id="numbers"),
            pytest.param(
                "ptc:exchanges:rate5m > bool 1",
                {"ptc:exchanges:rate5m"},
                id="recording-rule",
            ),
        ],
    )
    def test_finds_exactly_the_metrics(self, expr: str, expected: set[str]) -> None:
        """Metric names are found; functions, keywords, labels, numbers and durations are not."""
        assert metric_names(expr) == expected

    def test_label_values_are_not_metrics(self) -> None:
        """Anything inside a quoted label value (regexes, variables) is ignored."""
        assert metric_names('x{a=~"rate(b)|c_total", d="e"}') == {"x"}

    def test_unknown_function_is_reported(self) -> None:
        """A misspelt function is an error, not a metric name."""
        with pytest.raises(ValueError, match="histogram_quantil"):
            read("histogram_quantil(0.5, x)")


class TestSelectors:
    def test_matcher_labels_are_read(self) -> None:
        """Selectors report the label names they match on."""
        reading = read(
            'sum by (caller) (rate(a_total{caller="direct", gen_ai_tool_name=~"$tool"}[1m]))'
        )
        assert [(s.metric, s.labels) for s in reading.selectors] == [
            ("a_total", frozenset({"caller", "gen_ai_tool_name"}))
        ]
        assert reading.grouping_labels == {"caller"}
        assert reading.functions == {"sum", "rate"}
