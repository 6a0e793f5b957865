"""The metric families the report reads, and the labels it groups each one by.

One list serves both sources: the Prometheus source asks for
``sum by (<labels>) (increase(<sample>[<range>]))``, the snapshot source sums the
samples of a ``/metrics`` text by the same labels. Every other label (``instance``,
``job``, labels a newer ptc_observe adds) is summed over, so the report keeps working
when several processes are scraped or a family gains a label.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """A sample name the report reads and the labels it keeps.

    Attributes:
        sample: the sample name as exposed (counters with ``_total``, histogram parts
            with ``_sum`` / ``_count``).
        by: the labels kept; all others are summed over.
        info: an info-style gauge (value 1 per label set): the Prometheus source takes
            the label sets seen during the range instead of an increase.
    """

    sample: str
    by: tuple[str, ...]
    info: bool = False


MODEL = "gen_ai_request_model"

COST = Family("ptc_cost_usd_total", (MODEL, "component"))
UNPRICED = Family("ptc_unpriced_tokens_total", (MODEL,))
TOKENS = Family("ptc_tokens_total", (MODEL, "token_kind"))
PRICE_INFO = Family("ptc_price_data_info", ("source", "version", "updated"), info=True)

RUNS = Family("ptc_runs_total", ("mode",))
RUN_ROUND_TRIPS = Family("ptc_run_round_trips_total", ("mode",))
RUN_TOOL_CALLS = Family("ptc_run_tool_calls_total", ("mode",))
RUN_TOKENS = Family("ptc_run_tokens_total", ("mode", "token_kind"))
RUN_COST = Family("ptc_run_cost_usd_total", ("mode",))
RUN_DURATION_SUM = Family("ptc_run_duration_seconds_sum", ("mode",))
RUN_DURATION_COUNT = Family("ptc_run_duration_seconds_count", ("mode",))
RUN_RESULT_BYTES = Family("ptc_run_tool_result_bytes_total", ("mode", "destination"))
RUN_SAVED_TOKENS = Family("ptc_run_saved_tokens_estimate_total", ("mode",))
RUN_SAVED_USD = Family("ptc_run_saved_usd_estimate_total", ("mode",))

ALL: tuple[Family, ...] = (
    COST,
    UNPRICED,
    TOKENS,
    PRICE_INFO,
    RUNS,
    RUN_ROUND_TRIPS,
    RUN_TOOL_CALLS,
    RUN_TOKENS,
    RUN_COST,
    RUN_DURATION_SUM,
    RUN_DURATION_COUNT,
    RUN_RESULT_BYTES,
    RUN_SAVED_TOKENS,
    RUN_SAVED_USD,
)

# The families without which there is no spend or savings report to print.
REQUIRED: tuple[Family, ...] = (COST, UNPRICED, RUNS)

# Run modes in the order the report shows them; a mode the metrics add is shown after.
MODES: tuple[str, ...] = ("programmatic", "direct", "none")
# Cost components in the order the report shows them.
COMPONENTS: tuple[str, ...] = (
    "input",
    "cache_read",
    "cache_write",
    "output",
    "server_tools",
    "container",
)
TOKEN_KINDS: tuple[str, ...] = ("input", "output", "cache_read", "cache_write")
