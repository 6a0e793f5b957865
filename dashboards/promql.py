"""PromQL fragments shared by the dashboards: template-variable filters and histogram helpers."""

from __future__ import annotations

from collections.abc import Sequence

from builders import Target

# Label filters driven by the template variables; "All" is the regex .*
MODEL = 'gen_ai_request_model=~"$model"'
TOOL = 'gen_ai_tool_name=~"$tool"'
RI = "$__rate_interval"
RANGE = "$__range"

PERCENT_BAD_HIGH = (("green", None), ("orange", 0.01), ("red", 0.05))
HEADROOM = (("red", None), ("orange", 0.1), ("green", 0.25))


def _series(name: str, selector: str) -> str:
    return f"{name}{{{selector}}}" if selector else name


def quantiles(
    metric: str,
    by: str,
    selector: str,
    legend: str,
    qs: Sequence[float] = (0.5, 0.95, 0.99),
) -> list[Target]:
    """histogram_quantile targets, one per quantile, each asking for exemplars.

    Args:
        metric: histogram base name (without ``_bucket``).
        by: labels to keep besides ``le`` (comma separated, may be empty).
        selector: label matchers inside the braces (may be empty).
        legend: legend format appended to ``pN``.
        qs: the quantiles.
    """
    grouping = f"le, {by}" if by else "le"
    series = _series(f"{metric}_bucket", selector)
    return [
        Target(
            f"histogram_quantile({q}, sum by ({grouping}) (rate({series}[{RI}])))",
            f"p{round(q * 100)} {legend}".strip(),
            exemplar=True,
        )
        for q in qs
    ]


def buckets(metric: str, selector: str = "") -> Target:
    """Bucket increases per interval for a heatmap panel, with exemplars."""
    return Target(
        f"sum by (le) (increase({_series(f'{metric}_bucket', selector)}[{RI}]))",
        "{{le}}",
        exemplar=True,
        heatmap=True,
    )


def ratio(numerator: str, denominator: str) -> str:
    """``sum(numerator) / sum(denominator)``, 0 rather than no data while nothing matched the numerator."""
    # "or vector(0)" shows 0 instead of "No data" while the numerator has no series yet.
    return f"(sum({numerator}) or vector(0)) / sum({denominator})"
