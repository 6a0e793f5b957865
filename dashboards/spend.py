"""The "Spend and savings" row of the PTC overview: money, runs by mode, estimated savings.

Spend is ``ptc_cost_usd_total`` (priced from the same token facts as ``ptc_tokens_total``;
the container component is an estimate). Per-run figures divide each ``ptc_run_*`` counter
by ``ptc_runs_total`` of the same mode. Savings are ESTIMATES (docs/telemetry.md, "Cost").
"""

from __future__ import annotations

from builders import Row, Target, stat, timeseries
from promql import MODEL, RANGE, RI, quantiles

MONTH_SECONDS = 30 * 24 * 3600
"""The projected month: 30 days."""


def per_run(metric: str, by: str = "mode") -> str:
    """``metric`` per finished run of each mode over the rate interval."""
    return (
        f"sum by ({by}) (rate({metric}[{RI}]))"
        f" / on (mode) group_left sum by (mode) (rate(ptc_runs_total[{RI}]))"
    )


def spend_row() -> Row:
    """Spend by model and component, projected month, per-run comparison by mode, savings."""
    cost = f"ptc_cost_usd_total{{{MODEL}}}"
    return Row(
        "Spend and savings",
        [
            stat(
                "Spend (selected range)",
                "US dollars spent in the selected range at the prices in force (genai-prices data plus your price file; see ptc_price_data_info). Container time is an estimate.",
                Target(f"sum(increase({cost}[{RANGE}]))", instant=True),
                unit="currencyUSD",
                decimals=2,
            ),
            stat(
                "Projected month",
                "The last hour's spend rate carried over 30 days. The PTCSpendBurnRate alerts compare the same pace with the budget in compose/rules/ptc_budget.yml.",
                Target(f"sum(rate({cost}[1h])) * {MONTH_SECONDS}", instant=True),
                unit="currencyUSD",
                decimals=0,
            ),
            stat(
                "Saved by programmatic calls (estimate)",
                "ESTIMATE: what the tool results kept in code-execution containers would have cost as uncached input had they entered the context (bytes / 4 tokens at the model's input price). A lower bound: later requests of a run would have re-read them.",
                Target(
                    f"sum(increase(ptc_run_saved_usd_estimate_total[{RANGE}]))",
                    instant=True,
                ),
                unit="currencyUSD",
                decimals=2,
            ),
            stat(
                "Unpriced tokens",
                "Tokens of models with no known price: not in the spend. Add the model to your price file (PTC_OBSERVE_PRICE_FILE).",
                Target(
                    f"sum(increase(ptc_unpriced_tokens_total{{{MODEL}}}[{RANGE}])) or vector(0)",
                    instant=True,
                ),
                thresholds=(("green", None), ("orange", 1)),
                decimals=0,
            ),
            stat(
                "Price data",
                "Which prices are in force: genai-prices' version and the newest date its Anthropic data cites, your price file's digest and date, the container rate.",
                Target(
                    "max by (source, version, updated) (ptc_price_data_info)",
                    "{{source}} {{version}} {{updated}}",
                    instant=True,
                ),
                width=8,
            ),
            timeseries(
                "Spend by model and component",
                "US dollars per hour by model and component: input (uncached), cache_read, cache_write, output, server_tools (web searches), container (estimated container time).",
                [
                    Target(
                        f"sum by (gen_ai_request_model, component) (rate({cost}[{RI}])) * 3600",
                        "{{gen_ai_request_model}} {{component}}",
                    )
                ],
                unit="currencyUSD",
                stack=True,
            ),
            timeseries(
                "Cost per run by mode",
                "US dollars per finished run: programmatic (a programmatic tool call), direct (tool calls, none programmatic), none (no tool call). Emulated traffic is not evidence about the real API.",
                [Target(per_run("ptc_run_cost_usd_total"), "{{mode}}")],
                unit="currencyUSD",
            ),
            timeseries(
                "Round trips per run by mode",
                "Tool round trips (requests that carry tool results back) per finished run: what programmatic calling removes.",
                [Target(per_run("ptc_run_round_trips_total"), "{{mode}}")],
                width=8,
            ),
            timeseries(
                "Tokens per run by mode",
                "Tokens per finished run by kind (input is uncached input).",
                [
                    Target(
                        per_run("ptc_run_tokens_total", "mode, token_kind"),
                        "{{mode}} {{token_kind}}",
                    )
                ],
                width=8,
                stack=True,
            ),
            timeseries(
                "Tool calls per run by mode",
                "Client tool calls answered per finished run.",
                [Target(per_run("ptc_run_tool_calls_total"), "{{mode}}")],
                width=8,
            ),
            timeseries(
                "Run wall time by mode",
                "First request to final response of runs one process saw whole (p50, p95).",
                quantiles(
                    "ptc_run_duration_seconds", "mode", "", "{{mode}}", (0.5, 0.95)
                ),
                unit="s",
            ),
            timeseries(
                "Tool-result bytes: container vs context, and tokens saved (estimate)",
                "Bytes per second of tool results kept in the container (programmatic) or sent into the model's context (direct); ESTIMATED tokens per second kept out of the context.",
                [
                    Target(
                        f"sum by (destination) (rate(ptc_run_tool_result_bytes_total[{RI}]))",
                        "bytes to {{destination}}",
                    ),
                    Target(
                        f"sum(rate(ptc_run_saved_tokens_estimate_total[{RI}]))",
                        "tokens saved (estimate)",
                    ),
                ],
            ),
        ],
    )
