"""The ground truth of a running emulator: its ledger over HTTP (``GET /_emulator/stats``).

With ``--emulator-url`` the demo cannot ask the emulator object what it sent, as it does
with the one it starts itself; it reads the ledger before the workload and after it, and
compares the difference with the metrics. Anything else that talks to the same emulator
meanwhile counts in that difference too; the summary says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STATS_PATH = "/_emulator/stats"


class Unreachable(Exception):
    """Nothing answers HTTP at the emulator's URL (refused, timed out, no such host)."""


def fetch_stats(base_url: str, timeout: float = 5.0) -> Mapping[str, Any] | None:
    """The ledger of the emulator at ``base_url``.

    Returns:
        The ledger, or ``None`` when the server answers but has no ledger (it is not a
        ``ptc-observe emulator``: a 404, or not the ledger's JSON).

    Raises:
        Unreachable: no HTTP answer at all; the message says why.
    """
    import httpx2

    url = base_url.rstrip("/") + STATS_PATH
    try:
        response = httpx2.get(url, timeout=timeout)
    except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
        raise Unreachable(f"{type(exc).__name__}: {exc or 'no answer'}") from exc
    if response.status_code != 200:
        return None
    try:
        stats = response.json()
    except ValueError:
        return None
    if not isinstance(stats, dict) or not isinstance(
        stats.get("tool_use_blocks"), dict
    ):
        return None
    return stats


COMPARED = ("tool_use_blocks", "server_tool_calls", "code_execution_results")
"""The parts of the ledger the ground-truth line compares with the metrics."""


def sent_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """A ledger holding only what was sent between the two snapshots.

    The :data:`COMPARED` parts, each ``{key: {name: count}}`` as in the ledger itself
    (``tool_use_blocks``: caller type -> tool; ``server_tool_calls``: direct /
    programmatic -> server tool; ``code_execution_results``: variant -> outcome), so
    :func:`~ptc_observe.demo.summary.ledger_check` reads it like a local emulator's stats.
    An older emulator without a part gives an empty one.
    """
    sent: dict[str, Any] = {}
    for part in COMPARED:
        old = before.get(part, {})
        new = after.get(part, {})
        diff: dict[str, dict[str, int]] = {}
        for key, counts in new.items():
            earlier = old.get(key, {})
            changed = {
                name: int(count) - int(earlier.get(name, 0))
                for name, count in counts.items()
            }
            diff[key] = {name: n for name, n in changed.items() if n}
        sent[part] = diff
    return sent
