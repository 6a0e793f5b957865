"""Just enough PromQL reading for the stack tests: which metrics, functions and labels an expression uses.

Not a parser: string literals, label matchers, range selectors and grouping clauses are cut
out with regular expressions, and what is left are identifiers that are either functions
(followed by ``(``), keywords, or metric names. ``promtool`` checks the syntax for real.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Prometheus 2.x/3.x function names (docs: querying/functions) and aggregation operators.
FUNCTIONS = frozenset(
    """abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes
    clamp clamp_max clamp_min cos cosh count_over_time days_in_month day_of_month day_of_week
    day_of_year deg delta deriv exp floor histogram_avg histogram_count histogram_fraction
    histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters
    double_exponential_smoothing hour idelta increase info irate label_join label_replace ln
    log10 log2 last_over_time mad_over_time max_over_time min_over_time minute month pi
    predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn sin
    sinh sort sort_by_label sort_by_label_desc sort_desc sqrt stddev_over_time
    stdvar_over_time sum_over_time tan tanh time timestamp vector year""".split()
)
AGGREGATIONS = frozenset(
    """sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk
    limit_ratio""".split()
)
KEYWORDS = frozenset(
    """by without on ignoring group_left group_right bool and or unless offset atan2 inf nan
    Inf NaN""".split()
)

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SELECTOR = re.compile(rf"({_NAME})?\s*\{{([^{{}}]*)\}}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)"
)
# An identifier not glued to a word, a number (1e-9, 5m) or a variable ($model).
_IDENT = re.compile(rf"(?<![\w.:$])({_NAME})(\s*\()?")


@dataclass(frozen=True)
class Selector:
    """A vector selector: metric name (None for ``{__name__=...}`` forms) and matched label names."""

    metric: str | None
    labels: frozenset[str]


@dataclass(frozen=True)
class Reading:
    """What an expression refers to."""

    metrics: frozenset[str]
    functions: frozenset[str]
    selectors: tuple[Selector, ...]
    grouping_labels: frozenset[str]


def read(expr: str) -> Reading:
    """Read metric names, functions, selectors and grouping labels out of a PromQL expression.

    Raises:
        ValueError: for a function name that PromQL does not have (a typo, or not PromQL).
    """
    # Label values may contain anything (regexes, template variables): blank them first.
    no_strings = _STRING.sub('""', expr)
    selectors = tuple(
        Selector(m.group(1), frozenset(_MATCHER.findall(m.group(2))))
        for m in _SELECTOR.finditer(no_strings)
    )
    bare = _SELECTOR.sub(lambda m: m.group(1) or "", no_strings)
    bare = _RANGE.sub("", bare)
    grouping: set[str] = set()
    for m in _GROUPING.finditer(bare):
        grouping.update(x.strip() for x in m.group(2).split(",") if x.strip())
    bare = _GROUPING.sub(" ", bare)
    metrics: set[str] = set()
    functions: set[str] = set()
    for m in _IDENT.finditer(bare):
        name, call = m.group(1), m.group(2)
        if call:
            if name not in FUNCTIONS and name not in AGGREGATIONS:
                raise ValueError(f"unknown PromQL function {name!r} in {expr!r}")
            functions.add(name)
        elif name not in KEYWORDS and name not in AGGREGATIONS:
            metrics.add(name)
    return Reading(
        frozenset(metrics), frozenset(functions), selectors, frozenset(grouping)
    )


def metric_names(expr: str) -> frozenset[str]:
    """The metric (series) names an expression selects."""
    return read(expr).metrics
