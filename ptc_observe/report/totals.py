"""``Totals``: what a source hands the report, one number per family and label set."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .families import ALL, Family
from .timerange import Window

# family sample name -> label values (in the family's ``by`` order) -> value
Totals = dict[str, dict[tuple[str, ...], float]]


def group(samples: Iterable[tuple[str, Mapping[str, str], float]]) -> Totals:
    """Sum ``(sample name, labels, value)`` triples by each known family's labels.

    Samples of other names are ignored; a family with no sample is absent from the result.
    Info families keep each label set once (value 1), however many processes exposed it.
    """
    families: dict[str, Family] = {f.sample: f for f in ALL}
    out: dict[str, defaultdict[tuple[str, ...], float]] = {}
    for name, labels, value in samples:
        family = families.get(name)
        if family is None:
            continue
        key = tuple(labels.get(label, "") for label in family.by)
        bucket = out.setdefault(name, defaultdict(float))
        if family.info:
            bucket[key] = 1.0
        else:
            bucket[key] += value
    return {name: dict(values) for name, values in out.items()}


def has_ptc_data(totals: Totals) -> bool:
    """Whether any family the report needs is present."""
    return any(totals.get(f.sample) for f in ALL if not f.info)


@dataclass(frozen=True)
class Collected:
    """What a source returns: the totals, what they cover, and where they came from.

    Attributes:
        totals: the families' sums over the window.
        window: what the sums cover.
        source: the file, URL or Prometheus server read, for the report header.
        spend_series: ``(unix time, USD per hour)`` points over the range (Prometheus
            source only), for the spend-rate chart.
    """

    totals: Totals
    window: Window
    source: str
    spend_series: tuple[tuple[float, float], ...] = ()
