"""Container reuse: a second run continues in the code-execution container of the first.

The first run creates a container; passing its id to the second run reuses it (files
and, with code_execution_20260120, interpreter state survive between the runs). If the
container had expired in between, the client would start the turn again in a fresh one.

    python examples/container_reuse.py          # against the in-process emulator
    python examples/container_reuse.py --live   # against the API (ANTHROPIC_API_KEY)
"""

from __future__ import annotations

import json
import sqlite3
import threading

from _support import observer_facts, report, setup

from ptc_observe import PTCClient, ToolRegistry, ToolSeverity, ToolSpec

SALES = [
    ("West", "Q2", 250000.0),
    ("West", "Q2", 162850.5),
    ("East", "Q2", 389120.0),
    ("Central", "Q2", 300000.0),
    ("Central", "Q2", 147310.25),
    ("West", "Q1", 198000.0),
]


def sales_registry() -> ToolRegistry:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE sales (region TEXT, quarter TEXT, amount REAL)")
    db.executemany("INSERT INTO sales VALUES (?, ?, ?)", SALES)

    lock = threading.Lock()  # parallel programmatic calls share one connection

    def query_sales(sql: str) -> str:
        with lock:
            cursor = db.execute(sql)
            columns = [c[0] for c in cursor.description]
            rows = cursor.fetchall()
        return json.dumps([dict(zip(columns, row, strict=True)) for row in rows])

    registry = ToolRegistry()
    registry.register(
        ToolSpec(
            "query_sales",
            "Run read-only SQL on the sales DB (table sales: region, quarter, amount). Returns a JSON array of row objects.",
            parameters={
                "type": "object",
                "properties": {"sql": {"type": "string"}},
                "required": ["sql"],
            },
            severity=ToolSeverity.READ_ONLY,
        ),
        query_sales,
    )
    return registry


def main() -> None:
    s = setup(__doc__.splitlines()[0] if __doc__ else "")
    with PTCClient(tools=sales_registry(), **s.client_kwargs) as client:
        first = client.run("Compare Q2 revenue for West, East and Central.")
        report(first, s, title="first run", observer=False)
        second = client.run(
            "Compare Q2 revenue for West, East and Central once more, reusing your earlier work.",
            container_id=first.container_id,
        )
        report(second, s, title="second run (container reused)", observer=False)
    print(f"first container:  {first.container_id}")
    print(f"second container: {second.container_id}")
    print(f"same container: {first.container_id == second.container_id}")
    print("== observer totals after both runs")
    observer_facts(s)


if __name__ == "__main__":
    main()
