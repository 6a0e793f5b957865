"""Database query and filter: Claude queries SQLite from code and filters the rows there.

``query_database`` runs real read-only SQL against an in-memory SQLite database. The
code Claude writes fetches this year's customers, keeps those above $1,000 in code
(the rows it drops never reach the model), then counts their orders with a second query.

    python examples/database_query_filter.py          # against the in-process emulator
    python examples/database_query_filter.py --live   # against the API (ANTHROPIC_API_KEY)
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

from _support import report, setup

from ptc_observe import PTCClient, ToolRegistry, ToolSeverity, ToolSpec
from ptc_observe.emulator import builtin_scenario


def build_database() -> sqlite3.Connection:
    """An analytics database: customers and their orders.

    The rows are the ones the emulator's ``database_filter`` scenario was written
    against, so the customer ids its scripted second query names exist here.
    """
    scenario = builtin_scenario("database_filter")
    first, second = (
        call for phase in scenario.phases for batch in phase.batches for call in batch
    )
    customers = json.loads(first.result or "[]")
    order_counts = json.loads(second.result or "[]")
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute(
        "CREATE TABLE customers (customer_id TEXT PRIMARY KEY, name TEXT, region TEXT,"
        " signup_date TEXT, lifetime_value REAL)"
    )
    db.execute("CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id TEXT)")
    db.executemany(
        "INSERT INTO customers VALUES (:customer_id, :name, :region, :signup_date, :lifetime_value)",
        customers,
    )
    # Older customers the date filter must leave out.
    db.executemany(
        "INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
        [
            ("C-0901", "Old Timer", "West", "2024-03-02", 5200.0),
            ("C-0917", "Early Bird", "East", "2025-11-30", 2100.0),
        ],
    )
    for row in order_counts:
        db.executemany(
            "INSERT INTO orders (customer_id) VALUES (?)",
            [(row["customer_id"],)] * row["orders"],
        )
    db.commit()
    return db


def make_query_database(db: sqlite3.Connection) -> Any:
    lock = threading.Lock()  # handlers may run in worker threads

    def query_database(sql: str) -> str:
        """Run one SELECT; rows as a JSON array of objects."""
        if not sql.lstrip().lower().startswith("select"):
            raise PermissionError("only SELECT statements are allowed")
        with lock:
            cursor = db.execute(sql)
            columns = [c[0] for c in cursor.description]
            return json.dumps(
                [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            )

    return query_database


def main() -> None:
    s = setup(__doc__.splitlines()[0] if __doc__ else "")
    db = build_database()
    registry = ToolRegistry()
    registry.register(
        ToolSpec(
            "query_database",
            "Run a read-only SQL query against the analytics database. Returns a JSON array of row objects.",
            parameters={
                "type": "object",
                "properties": {
                    "sql": {"type": "string", "description": "One SELECT statement"}
                },
                "required": ["sql"],
            },
            category="analytics",
            severity=ToolSeverity.READ_ONLY,
            timeout=30.0,
        ),
        make_query_database(db),
    )
    with PTCClient(tools=registry, **s.client_kwargs) as client:
        result = client.run(
            "Which customers who signed up this year have a lifetime value above $1,000,"
            " and how many orders has each placed?"
        )
    for execution in result.executions:
        rows = json.loads(execution.content) if not execution.is_error else []
        print(
            f"executed: query_database -> {len(rows)} rows (caller={execution.call.caller.type})"
        )
    report(result, s, title="database query and filter")


if __name__ == "__main__":
    main()
