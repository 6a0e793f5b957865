"""Streaming: the tool loop with every response streamed, text printed as it arrives.

One run mixes both callers: Claude calls ``get_customer`` directly (a LOW-severity tool
stays direct), then writes code that calls ``get_order_status`` (READ_ONLY, so callable
from code) once per order. In emulator mode the stream of the first resume is cut
once, to show the client retrying it (the observer counts the broken exchange too).

    python examples/streaming.py          # against the in-process emulator
    python examples/streaming.py --live   # against the API (ANTHROPIC_API_KEY)
"""

from __future__ import annotations

import json
import sys

from _support import report, setup

from ptc_observe import PTCClient, ToolRegistry, ToolSeverity, ToolSpec
from ptc_observe.client.errors import PTCError
from ptc_observe.emulator import FaultRule
from ptc_observe.models import (
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    MessageStartEvent,
    StreamEvent,
    ToolUseBlock,
)

CUSTOMERS = {
    "C-1042": {
        "customer_id": "C-1042",
        "name": "Ada Ruiz",
        "recent_orders": ["O-5531", "O-5602", "O-5617"],
    }
}
ORDERS = {
    "O-5531": {"status": "delivered", "eta": "2026-08-19"},
    "O-5602": {"status": "in transit", "eta": "2026-08-24"},
    "O-5617": {"status": "processing", "eta": "2026-08-27"},
}


def get_customer(customer_id: str) -> str:
    customer = CUSTOMERS.get(customer_id)
    if customer is None:
        raise KeyError(f"no customer {customer_id}")
    return json.dumps(customer)


def get_order_status(order_id: str) -> str:
    return json.dumps(
        {
            "order_id": order_id,
            **ORDERS.get(order_id, {"status": "unknown", "eta": None}),
        }
    )


def tools() -> ToolRegistry:
    registry = ToolRegistry()
    registry.register(
        ToolSpec(
            "get_customer",
            "Look up a customer record, including the ids of recent orders. Returns JSON.",
            parameters={
                "type": "object",
                "properties": {"customer_id": {"type": "string"}},
                "required": ["customer_id"],
            },
            severity=ToolSeverity.LOW,
        ),
        get_customer,
    )
    registry.register(
        ToolSpec(
            "get_order_status",
            "Shipping status of one order. Returns JSON {order_id, status, eta}.",
            parameters={
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
            severity=ToolSeverity.READ_ONLY,
        ),
        get_order_status,
    )
    return registry


def show_call(block: object) -> None:
    if isinstance(block, ToolUseBlock):
        # A direct call's input streams in deltas after this; a programmatic one is whole.
        args = json.dumps(block.input) if block.input else "..."
        print(
            f"\n[stream] tool_use {block.name}({args}) caller={block.effective_caller.type}"
        )


def show(event: StreamEvent) -> None:
    """Print text deltas as they stream, and each tool call as it arrives."""
    if (
        isinstance(event, ContentBlockDeltaEvent)
        and event.delta.get("type") == "text_delta"
    ):
        sys.stdout.write(str(event.delta.get("text", "")))
        sys.stdout.flush()
    elif isinstance(event, ContentBlockStartEvent):
        show_call(event.content_block)
    elif isinstance(event, MessageStartEvent):
        # PTC continuations can arrive whole inside message_start.
        for block in event.message.content:
            show_call(block)
    elif event.type == "message_stop":
        print("\n[stream] message_stop")


def retrying(error: PTCError, delay: float) -> None:
    print(
        f"\n[retry] {type(error).__name__}: {error}; the stream starts over in {delay:.2f} s"
    )


def main() -> None:
    s = setup(
        __doc__.splitlines()[0] if __doc__ else "",
        faults=[FaultRule(kind="stream_cut", count=1, round_trip=2)],
    )
    with PTCClient(tools=tools(), on_retry=retrying, **s.client_kwargs) as client:
        result = client.run(
            "Customer C-1042 asked where their recent orders are. Check each one.",
            stream=True,
            on_event=show,
        )
    report(result, s, title="streaming run")


if __name__ == "__main__":
    main()
