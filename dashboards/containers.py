"""The "PTC containers" dashboard: container lifecycle, lifetime and time left at reuse."""

from __future__ import annotations

from builders import (
    JSON,
    Row,
    Target,
    alerts_annotation,
    dashboard,
    heatmap,
    query_variable,
    stat,
    timeseries,
)
from promql import RANGE, RI, TOOL, buckets, quantiles


def containers() -> JSON:
    """The container view: lifecycle rates, active count, lifetime and time left at reuse."""
    created = "ptc_containers_created_total"
    reuses = "ptc_container_reuses_total"
    expired = "ptc_containers_expired_total"
    glance = Row(
        "At a glance (selected time range)",
        [
            stat(
                "Active containers",
                "Containers seen and not yet expired, now.",
                Target("sum(ptc_containers_active)", instant=True),
                decimals=0,
            ),
            stat(
                "Created",
                "Containers first seen in the range.",
                Target(f"sum(increase({created}[{RANGE}]))", instant=True),
                decimals=0,
            ),
            stat(
                "Reuses",
                "Requests that sent a known container again (continuations and later turns).",
                Target(f"sum(increase({reuses}[{RANGE}]))", instant=True),
                decimals=0,
            ),
            stat(
                "Expired",
                "Containers used after their expires_at, or whose request failed: their state is gone.",
                Target(f"sum(increase({expired}[{RANGE}]))", instant=True),
                thresholds=(("green", None), ("red", 1)),
                decimals=0,
            ),
            stat(
                "Reuses per container",
                "Reuses divided by containers created: how much work each container carries.",
                Target(
                    f"sum(increase({reuses}[{RANGE}])) / sum(increase({created}[{RANGE}]))",
                    instant=True,
                ),
                decimals=1,
            ),
            stat(
                "Median lifetime",
                "Median time from first to last sighting of containers that ended in the range.",
                Target(
                    f"histogram_quantile(0.5, sum by (le) (rate(ptc_container_lifetime_seconds_bucket[{RANGE}])))",
                    instant=True,
                ),
                unit="s",
            ),
        ],
    )
    lifecycle = Row(
        "Lifecycle",
        [
            timeseries(
                "Created, reused and expired",
                "Container events per minute.",
                [
                    Target(f"sum(rate({created}[{RI}])) * 60", "created"),
                    Target(f"sum(rate({reuses}[{RI}])) * 60", "reused"),
                    Target(f"sum(rate({expired}[{RI}])) * 60", "expired"),
                ],
                unit="cpm",
                width=16,
            ),
            timeseries(
                "Active containers",
                "Containers seen and not yet expired, per scraped process.",
                [
                    Target(
                        "sum by (job, instance) (ptc_containers_active)",
                        "{{job}} {{instance}}",
                    )
                ],
                width=8,
            ),
        ],
    )
    distributions = Row(
        "Distributions",
        [
            timeseries(
                "Container lifetime",
                "Percentiles of container lifetime (first to last sighting), observed when a container leaves the tracker. Points are exemplars linking to traces.",
                quantiles(
                    "ptc_container_lifetime_seconds", "", "", "", (0.5, 0.9, 0.99)
                ),
                unit="s",
            ),
            heatmap(
                "Container lifetime distribution",
                "Container lifetime histogram over time.",
                buckets("ptc_container_lifetime_seconds"),
                unit="s",
            ),
            timeseries(
                "Time left at reuse",
                "Seconds left before expires_at when a container was reused; the low percentiles are the reuses at risk. The PTCContainerReusedNearExpiry alert fires when p10 stays under 30 s.",
                quantiles("ptc_container_remaining_seconds", "", "", "", (0.1, 0.5)),
                unit="s",
                min_value=0,
                thresholds=(("red", None), ("green", 30)),
            ),
            heatmap(
                "Time left at reuse distribution",
                "Time-left-at-reuse histogram over time.",
                buckets("ptc_container_remaining_seconds"),
                unit="s",
            ),
        ],
    )
    work = Row(
        "Work done in containers",
        [
            timeseries(
                "Code executions by variant and outcome",
                "Code executions per minute by variant (code_execution = a Python cell, what PTC runs; bash_code_execution; text_editor_code_execution) and outcome (error: an *_error result or a non-zero return code).",
                [
                    Target(
                        f"sum by (gen_ai_tool_name, outcome) (rate(ptc_code_executions_total[{RI}])) * 60",
                        "{{gen_ai_tool_name}}: {{outcome}}",
                    )
                ],
                unit="cpm",
                stack=True,
            ),
            timeseries(
                "Code-execution duration by variant",
                "From the response that started a code execution to the one with its result (for PTC the whole run: every resume, tool time included), 50th and 95th percentile by variant. Points are exemplars linking to traces; the trace holds one execute_tool span per code execution.",
                quantiles(
                    "ptc_code_execution_duration_seconds",
                    "gen_ai_tool_name",
                    "",
                    "{{gen_ai_tool_name}}",
                    (0.5, 0.95),
                ),
                unit="s",
            ),
            timeseries(
                "Code executions without a result",
                "Code executions given up before their result arrived, per minute, by variant and reason: container_ended (its container expired or was evicted), expired (no sighting for the time to live), evicted (state bound), closed (observer closed).",
                [
                    Target(
                        # 0 rather than "No data" while none was given up (the usual case).
                        f"(sum by (gen_ai_tool_name, reason) (rate(ptc_code_executions_unfinished_total[{RI}])) or vector(0)) * 60",
                        "{{gen_ai_tool_name}} {{reason}}",
                    )
                ],
                unit="cpm",
                stack=True,
            ),
            timeseries(
                "Programmatic tool turnaround by tool",
                "Time code execution waited for each client tool's result (95th percentile). Slow tools bring containers close to expiry.",
                quantiles(
                    "ptc_tool_turnaround_seconds",
                    "gen_ai_tool_name",
                    f'caller="programmatic", {TOOL}',
                    "{{gen_ai_tool_name}}",
                    (0.95,),
                ),
                unit="s",
            ),
        ],
    )
    return dashboard(
        uid="ptc-containers",
        title="PTC containers",
        description="Code-execution containers as ptc_observe sees them: created, reused and expired, how long they live and how close to expiry they are reused.",
        rows=[glance, lifecycle, distributions, work],
        variables=[
            query_variable(
                "tool",
                "Tool",
                'label_values(ptc_tool_calls_total{caller="programmatic"}, gen_ai_tool_name)',
                "Client tool called from code execution",
            )
        ],
        annotations=[alerts_annotation('alertname=~"PTCContainer.*"')],
    )
