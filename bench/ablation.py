"""Where ptc_observe's overhead goes, in place: remove one stage at a time and time the rest.

``python -m bench.ablation [--scenarios a,b] [--budget S]`` runs the interleaved timing of
``bench/timing.py`` on ``ptc_full`` (Observer with Prometheus metrics and OTel spans) and on
copies of it in which one stage is replaced, only while their own batches run, by a stand-in
that costs nothing (a precomputed result, or nothing at all). The saving of a variant
(``ptc_full`` minus the variant) is what that stage costs inside a real call, with the caches
as cold as the SDK and httpx leave them, which is more than the same stage timed alone in a
loop (``bench/stages.py``). Profilers distort short Python calls; this does not.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import anthropic
import httpx2

from ptc_observe.events import Exchange
from ptc_observe.observer import recorder as recorder_module
from ptc_observe.observer.correlator import Correlator
from ptc_observe.observer.sinks.otel import OTelSink
from ptc_observe.observer.sinks.prometheus import PrometheusSink
from ptc_observe.wire.accumulate import StreamAccumulator

from . import workloads
from .configs import Config, PtcObserve, Telemetry
from .mock import mock_transport
from .scenarios import SCENARIOS
from .timing import Plan, measure

__all__ = ["main"]


def _precomputed() -> dict[str, Any]:
    """Real results of the parsers on the workloads, to stand in for the parsers."""
    captured: dict[str, Any] = {}
    originals = {
        name: getattr(recorder_module, name)
        for name in ("parse_request", "parse_reply", "rate_limits_from")
    }

    def spy(name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            captured[name] = originals[name](*args, **kwargs)
            return captured[name]

        return call

    for name in originals:
        setattr(recorder_module, name, spy(name))
    try:
        config = PtcObserve(Telemetry())
        client = anthropic.Anthropic(
            api_key="sk-bench-not-a-key",
            base_url=workloads.BASE_URL,
            max_retries=0,
            open_telemetry=False,
            http_client=httpx2.Client(
                transport=config.wrap(httpx2, mock_transport(httpx2), False)
            ),
        )
        client.messages.create(**workloads.REQUEST)
    finally:
        for name, fn in originals.items():
            setattr(recorder_module, name, fn)
    return captured


class _Without(PtcObserve):
    """``ptc_full`` with one attribute replaced while its batches run."""

    target: Any = None
    attribute = ""

    def replacement(self) -> Any:
        """The stand-in."""
        raise NotImplementedError

    def activate(self) -> None:
        """Swap the stage out."""
        self._saved = getattr(self.target, self.attribute)
        setattr(self.target, self.attribute, self.replacement())

    def deactivate(self) -> None:
        """Put the stage back."""
        setattr(self.target, self.attribute, self._saved)


def _variant(
    name: str, label: str, target: Any, attribute: str, make: Callable[[], Any]
) -> type[Config]:
    return type(
        f"Without_{name}",
        (_Without,),
        {
            "name": f"-{name}",
            "label": label,
            "target": target,
            "attribute": attribute,
            "replacement": lambda self: make(),
        },
    )


def _identity(self: Any, ex: Exchange, **_: Any) -> Exchange:
    # Keywords: Observer.finish calls correlate(ex, fresh=True).
    return ex


def _nothing(self: Any, *args: Any) -> None:
    return None


class _WithoutSink(PtcObserve):
    """``ptc_full`` whose observer skips one sink hook.

    The observer binds its sinks' methods once, at construction (``Observer._tracers`` and
    ``Observer._receivers``), so patching the sink classes would change nothing: the hook is
    taken out of this variant's own observer instead (an AttributeError here means the
    observer's internals were renamed).
    """

    hook = ""
    sink_type: type = object

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__(telemetry)
        observer: Any = self.observer
        attribute = "_tracers" if self.hook == "trace" else "_receivers"
        kept = tuple(
            fn
            for fn in getattr(observer, attribute)
            if not isinstance(getattr(fn, "__self__", None), self.sink_type)
        )
        if len(kept) == len(getattr(observer, attribute)):
            raise RuntimeError(
                f"{self.name}: no {self.sink_type.__name__}.{self.hook} in the observer"
            )
        setattr(observer, attribute, kept)


def _sink_variant(name: str, label: str, sink_type: type, hook: str) -> type[Config]:
    return type(
        f"Without_{name}",
        (_WithoutSink,),
        {"name": f"-{name}", "label": label, "sink_type": sink_type, "hook": hook},
    )


def variants() -> list[type[Config]]:
    """The ablations, each with the stand-in it uses."""
    pre = _precomputed()
    return [
        _sink_variant("trace", "without OTelSink.trace (spans)", OTelSink, "trace"),
        _sink_variant(
            "otel_on_exchange", "without OTelSink.on_exchange", OTelSink, "on_exchange"
        ),
        _sink_variant(
            "prometheus",
            "without PrometheusSink.on_exchange",
            PrometheusSink,
            "on_exchange",
        ),
        _variant(
            "correlate",
            "without Correlator.correlate",
            Correlator,
            "correlate",
            lambda: _identity,
        ),
        _variant(
            "parse_request",
            "parse_request precomputed",
            recorder_module,
            "parse_request",
            lambda: lambda *a, **k: pre["parse_request"],
        ),
        _variant(
            "parse_reply",
            "parse_reply precomputed",
            recorder_module,
            "parse_reply",
            lambda: lambda body: pre["parse_reply"],
        ),
        _variant(
            "rate_limits",
            "rate_limits_from precomputed",
            recorder_module,
            "rate_limits_from",
            lambda: lambda values: pre["rate_limits_from"],
        ),
        _variant(
            "accumulator",
            "StreamAccumulator.feed skipped",
            StreamAccumulator,
            "feed",
            lambda: _nothing,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Print, per scenario, each variant's saving against ptc_full (us per call and share)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.ablation", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scenarios", default="sdk_create_sync,httpx2_stream_sync")
    parser.add_argument("--budget", type=float, default=25.0)
    args = parser.parse_args(argv)
    telemetry = Telemetry()
    classes: list[type[Config]] = [Config, PtcObserve, *variants()]
    configs = [cls(telemetry) for cls in classes]
    plan = Plan(budget_seconds=args.budget)
    for scenario in SCENARIOS:
        if scenario.name not in args.scenarios.split(","):
            continue
        res = measure(scenario, configs, telemetry, plan, long_stream=False)
        full = res.results["ptc_full"]
        print(
            f"## {scenario.label} ({res.rounds} rounds x {res.calls_per_batch} calls)\n"
        )
        print(
            f"bare {res.results['bare'].median * 1e6:,.0f} us/call; ptc_full overhead {full.overhead * 1e6:,.0f} us\n"
        )
        print("| variant | overhead us | saving vs ptc_full us | share of overhead |")
        print("|---|---|---|---|")
        for config in configs[2:]:
            row = res.results[config.name]
            saving = statistics.median(
                f - v for f, v in zip(full.means, row.means, strict=True)
            )
            share = saving / full.overhead if full.overhead else 0.0
            print(
                f"| {config.label} | {row.overhead * 1e6:,.0f} | {saving * 1e6:,.0f} | {share:.0%} |"
            )
        print()


if __name__ == "__main__":
    main()
