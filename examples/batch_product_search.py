"""Batch product search: Claude loops over categories in code, calling search_products.

The tool is READ_ONLY, so the registry makes it callable from code execution without
being told; the three searches happen inside one code execution, and their results
never pass through the model's context.

    python examples/batch_product_search.py          # against the in-process emulator
    python examples/batch_product_search.py --live   # against the API (ANTHROPIC_API_KEY)
"""

from __future__ import annotations

import json
from typing import Any

from _support import report, setup

from ptc_observe import PTCClient, ToolRegistry, ToolSeverity, ToolSpec

CATALOG = [
    {
        "sku": "JW-101",
        "name": "Silver charm bracelet",
        "category": "jewelry",
        "price": 39.16,
    },
    {
        "sku": "JW-108",
        "name": "Pearl stud earrings",
        "category": "jewelry",
        "price": 213.58,
    },
    {"sku": "JW-115", "name": "Beaded anklet", "category": "jewelry", "price": 136.90},
    {
        "sku": "JW-122",
        "name": "Gold-plated cuff",
        "category": "jewelry",
        "price": 112.57,
    },
    {
        "sku": "RG-101",
        "name": "Sterling stacking ring",
        "category": "rings",
        "price": 198.53,
    },
    {
        "sku": "RG-108",
        "name": "Opal solitaire ring",
        "category": "rings",
        "price": 175.55,
    },
    {"sku": "RG-115", "name": "Braided band", "category": "rings", "price": 205.72},
    {
        "sku": "NK-101",
        "name": "Pendant on chain",
        "category": "necklaces",
        "price": 72.75,
    },
    {
        "sku": "NK-108",
        "name": "Layered choker",
        "category": "necklaces",
        "price": 45.37,
    },
    {
        "sku": "NK-115",
        "name": "Freshwater pearl strand",
        "category": "necklaces",
        "price": 136.62,
    },
    {
        "sku": "NK-122",
        "name": "Initial necklace",
        "category": "necklaces",
        "price": 39.55,
    },
    {"sku": "NK-129", "name": "Bar necklace", "category": "necklaces", "price": 184.75},
]


def search_products(query: str, max_results: int = 50) -> str:
    """Products of the category, or with the query among their name's words, as JSON."""
    q = query.lower().strip()
    hits = [
        {k: p[k] for k in ("sku", "name", "price")}
        for p in CATALOG
        if q == p["category"] or q in str(p["name"]).lower().split()
    ]
    return json.dumps(hits[:max_results])


def tools() -> ToolRegistry:
    registry = ToolRegistry()
    registry.register(
        ToolSpec(
            "search_products",
            "Search the product catalog. Returns a JSON array of {sku, name, price} objects.",
            parameters={
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "Search terms"},
                    "max_results": {
                        "type": "integer",
                        "description": "At most this many products",
                    },
                },
                "required": ["query"],
            },
            category="catalog",
            severity=ToolSeverity.READ_ONLY,
        ),
        search_products,
    )
    return registry


def main() -> None:
    s = setup(__doc__.splitlines()[0] if __doc__ else "")
    registry = tools()
    print("allowed_callers:", registry.get("search_products").allowed_callers)
    with PTCClient(tools=registry, **s.client_kwargs) as client:
        result: Any = client.run(
            "Search our catalog for jewelry, rings and necklaces and tell me how many"
            " products each category has."
        )
    for execution in result.executions:
        print(
            f"executed: {execution.call.name}({json.dumps(execution.call.input)}) caller={execution.call.caller.type}"
        )
    report(result, s, title="batch product search")


if __name__ == "__main__":
    main()
