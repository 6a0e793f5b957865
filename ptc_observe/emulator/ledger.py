"""The ground-truth ledger: what the emulator actually sent.

Observability tests compare their metrics with this, exactly. It counts:

* ``requests``: requests received (any endpoint except ``/_emulator/*``);
* ``responses``: status -> outcome -> count; the outcome is the ``stop_reason`` of
  a completed message, the ``error.type`` of an error response,
  ``stream_error`` / ``stream_cut`` / ``stream_truncated`` for faulted streams,
  ``count_tokens`` and ``not_found_error`` for the other endpoints;
* ``errors``: the emulator's finer reason for each error response
  (``container_expired``, ``resume_text_block``, ``fault_rate_limit``, ...);
* ``tool_use_blocks``: caller type (``direct``, ``code_execution_20260120``, ...)
  -> tool name -> blocks sent; ``server_tool_use_blocks``: name -> count;
* ``code_results``: PTC code runs finished, by the policy's outcome (``ok``,
  ``tool_error``, ``timeout``, ``code_error``);
* ``server_tool_calls``: ``direct`` / ``programmatic`` -> server tool name -> blocks sent
  (a ``server_tool_use`` whose ``caller`` names a code execution is programmatic);
* ``code_execution_results``: variant (``code_execution``, ``bash_code_execution``,
  ``text_editor_code_execution``) -> ``success`` / ``error`` -> result blocks sent
  (``error``: a content type ending in ``_error`` or a non-zero ``return_code``);
* ``usage_details``: ``reasoning`` (``output_tokens_details.thinking_tokens``),
  ``cache_write_5m`` / ``cache_write_1h`` (``usage.cache_creation``), ``web_fetch_requests``
  and ``web_search_requests`` (``usage.server_tool_use``), and ``usage_null``: messages
  sent with ``usage: null`` (their tokens are in no count: the client cannot know them);
* ``tokens``: usage reported, by type (``input``, ``output``, ``cache_creation_input``,
  ``cache_read_input``); ``turns``: ``sampled`` vs ``continuation`` responses;
* ``containers``: ``created``, ``reused`` (requests naming a live container) and
  ``expired`` (requests refused because the named container had expired);
* ``spend``: USD of the usage it reported (a faulted stream's ``message_start`` usage
  included: the client saw it), by component (``input``, ``cache_read``,
  ``cache_write``, ``output``, ``server_tools``), priced with the same
  :class:`~ptc_observe.pricing.PriceBook` data the observer uses (no container time: that is
  the observer's estimate from durations); ``unpriced_tokens`` for models without a price;
* ``runs``: by mode (``programmatic``, ``direct``, ``none``), as the observer defines them
  (docs/telemetry.md, "Cost"): ``runs``, ``round_trips``, ``tool_calls`` of finished runs,
  and ``tokens`` / ``cost`` of each message under the run's mode at that message.

Faulted streams count their outcome only: the content they would have carried
never reached the client, so no blocks, tokens or containers are counted.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..pricing import PriceBook, PriceFileError, TokenCounts

_COMPONENTS = ("input", "cache_read", "cache_write", "output", "server_tools")
_MODES = ("programmatic", "direct", "none")
_TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True)
class RunStep:
    """Where a delivered message stands in its run (see the module docstring)."""

    mode: str
    finished: bool
    round_trips: int
    tool_calls: int


class Ledger:
    """Thread-safe counters of everything the emulator sent."""

    def __init__(self, prices: PriceBook | None = None) -> None:
        self._lock = threading.Lock()
        self._prices = prices
        self._no_prices = False
        self.reset()

    def _book(self) -> PriceBook | None:
        """The price book (made on first use from ``PTC_OBSERVE_PRICE_FILE`` like the
        observer's); ``None`` where genai-prices is missing or the price file is invalid
        (the emulator still serves; its ledger then has no spend)."""
        if self._prices is None and not self._no_prices:
            try:
                self._prices = PriceBook()
            except (ImportError, PriceFileError):
                self._no_prices = True
        return self._prices

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._requests = 0
            self._responses: defaultdict[int, Counter[str]] = defaultdict(Counter)
            self._errors: Counter[str] = Counter()
            self._tool_uses: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._server_tool_uses: Counter[str] = Counter()
            self._code_results: Counter[str] = Counter()
            self._tokens: Counter[str] = Counter()
            self._turns: Counter[str] = Counter()
            self._containers: Counter[str] = Counter()
            self._spend: defaultdict[str, Decimal] = defaultdict(Decimal)
            self._unpriced = 0
            self._runs: dict[str, Counter[str]] = {m: Counter() for m in _MODES}
            self._run_cost: defaultdict[str, Decimal] = defaultdict(Decimal)
            self._server_calls: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._variants: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._details: Counter[str] = Counter()

    def record_request(self) -> None:
        """Count one received request."""
        with self._lock:
            self._requests += 1

    def record_response(
        self, status: int, outcome: str, reason: str | None = None
    ) -> None:
        """Count one response by status and outcome (and error reason, if any)."""
        with self._lock:
            self._responses[status][outcome] += 1
            if reason is not None:
                self._errors[reason] += 1

    def record_message(
        self,
        content: list[dict[str, Any]],
        usage: dict[str, Any] | None,
        *,
        sampled: bool,
        code_outcomes: list[str],
        model: str | None = None,
        run: RunStep | None = None,
    ) -> None:
        """Count the blocks, usage and code results of a delivered message; price its
        usage for ``model`` and count it in its ``run``.

        ``usage`` is what the client can read: ``None`` for a message sent with
        ``usage: null`` (its tokens are then in no count, and it is not priced).
        """
        cost = None if usage is None else self._price(model, usage)
        with self._lock:
            if usage is None:
                pass
            elif cost is None:
                self._unpriced += _tokens(usage)
            else:
                for name, amount in zip(_COMPONENTS, cost, strict=True):
                    self._spend[name] += amount
            if run is not None:
                counts = self._runs[run.mode]
                for kind, key in zip(_TOKEN_KINDS, _USAGE_KEYS, strict=True):
                    counts[f"tokens_{kind}"] += int((usage or {}).get(key) or 0)
                if cost is not None:
                    self._run_cost[run.mode] += sum(cost, Decimal(0))
                if run.finished:
                    counts["runs"] += 1
                    counts["round_trips"] += run.round_trips
                    counts["tool_calls"] += run.tool_calls
            for block in content:
                kind = str(block.get("type"))
                if kind == "tool_use":
                    caller = (block.get("caller") or {}).get("type", "direct")
                    self._tool_uses[str(caller)][str(block.get("name"))] += 1
                elif kind == "server_tool_use":
                    name = str(block.get("name"))
                    self._server_tool_uses[name] += 1
                    caller = (block.get("caller") or {}).get("type", "direct")
                    by = "direct" if caller == "direct" else "programmatic"
                    self._server_calls[by][name] += 1
                elif kind.endswith("code_execution_tool_result"):
                    result = block.get("content") or {}
                    failed = str(result.get("type", "_error")).endswith(
                        "_error"
                    ) or bool(result.get("return_code"))
                    variant = kind.removesuffix("_tool_result")
                    self._variants[variant]["error" if failed else "success"] += 1
            self._turns["sampled" if sampled else "continuation"] += 1
            self._code_results.update(code_outcomes)
            if usage is None:
                self._details["usage_null"] += 1
                return
            details = usage.get("output_tokens_details") or {}
            self._details["reasoning"] += int(details.get("thinking_tokens") or 0)
            split = usage.get("cache_creation") or {}
            self._details["cache_write_5m"] += int(
                split.get("ephemeral_5m_input_tokens") or 0
            )
            self._details["cache_write_1h"] += int(
                split.get("ephemeral_1h_input_tokens") or 0
            )
            requests = usage.get("server_tool_use") or {}
            for name in ("web_fetch_requests", "web_search_requests"):
                self._details[name] += int(requests.get(name) or 0)
            self._tokens["input"] += int(usage.get("input_tokens") or 0)
            self._tokens["output"] += int(usage.get("output_tokens") or 0)
            self._tokens["cache_creation_input"] += int(
                usage.get("cache_creation_input_tokens") or 0
            )
            self._tokens["cache_read_input"] += int(
                usage.get("cache_read_input_tokens") or 0
            )

    def record_partial_usage(self, model: str | None, usage: dict[str, Any]) -> None:
        """Add the usage of a stream cut after its ``message_start`` to ``spend`` only
        (a faulted stream counts no blocks, tokens or runs)."""
        cost = self._price(model, usage)
        with self._lock:
            if cost is None:
                self._unpriced += _tokens(usage)
            else:
                for name, amount in zip(_COMPONENTS, cost, strict=True):
                    self._spend[name] += amount

    def _price(
        self, model: str | None, usage: dict[str, Any]
    ) -> tuple[Decimal, ...] | None:
        book = self._book()
        if book is None or not model:
            return None
        split = usage.get("cache_creation") or {}
        searches = (usage.get("server_tool_use") or {}).get("web_search_requests") or 0
        priced = book.cost(
            model,
            TokenCounts(
                int(usage.get("input_tokens") or 0),
                int(usage.get("output_tokens") or 0),
                int(usage.get("cache_read_input_tokens") or 0),
                int(usage.get("cache_creation_input_tokens") or 0),
                split.get("ephemeral_5m_input_tokens") if split else None,
                split.get("ephemeral_1h_input_tokens") if split else None,
                None,
                int(searches),
            ),
        )
        if priced is None:
            return None
        c = priced[1]
        return (c.input, c.cache_read, c.cache_write, c.output, c.server_tools)

    def record_container(self, event: str) -> None:
        """Count a container event: ``created``, ``reused`` or ``expired``."""
        with self._lock:
            self._containers[event] += 1

    def snapshot(self) -> dict[str, Any]:
        """All counters as plain JSON-ready dicts (status codes as strings)."""
        with self._lock:
            return copy.deepcopy(
                {
                    "requests": self._requests,
                    "responses": {
                        str(s): dict(c) for s, c in sorted(self._responses.items())
                    },
                    "errors": dict(self._errors),
                    "tool_use_blocks": {k: dict(c) for k, c in self._tool_uses.items()},
                    "server_tool_use_blocks": dict(self._server_tool_uses),
                    "code_results": dict(self._code_results),
                    "tokens": {
                        k: self._tokens[k]
                        for k in (
                            "input",
                            "output",
                            "cache_creation_input",
                            "cache_read_input",
                        )
                    },
                    "turns": {k: self._turns[k] for k in ("sampled", "continuation")},
                    "containers": {
                        k: self._containers[k] for k in ("created", "reused", "expired")
                    },
                    "spend": {k: float(self._spend[k]) for k in _COMPONENTS},
                    "unpriced_tokens": self._unpriced,
                    "runs": {
                        m: {
                            "runs": self._runs[m]["runs"],
                            "round_trips": self._runs[m]["round_trips"],
                            "tool_calls": self._runs[m]["tool_calls"],
                            "tokens": {
                                k: self._runs[m][f"tokens_{k}"] for k in _TOKEN_KINDS
                            },
                            "cost": float(self._run_cost[m]),
                        }
                        for m in _MODES
                    },
                    "server_tool_calls": {
                        k: dict(c) for k, c in self._server_calls.items()
                    },
                    "code_execution_results": {
                        k: dict(c) for k, c in self._variants.items()
                    },
                    "usage_details": {
                        k: self._details[k]
                        for k in (
                            "reasoning",
                            "cache_write_5m",
                            "cache_write_1h",
                            "web_fetch_requests",
                            "web_search_requests",
                            "usage_null",
                        )
                    },
                }
            )

    def responses(self, status: int | None = None, outcome: str | None = None) -> int:
        """Responses with this status and/or outcome (both ``None``: all)."""
        with self._lock:
            return sum(
                n
                for s, outcomes in self._responses.items()
                if status is None or s == status
                for o, n in outcomes.items()
                if outcome is None or o == outcome
            )

    def tool_uses(self, caller: str | None = None, name: str | None = None) -> int:
        """``tool_use`` blocks sent, optionally for one caller type and/or tool name."""
        with self._lock:
            return sum(
                n
                for c, names in self._tool_uses.items()
                if caller is None or c == caller
                for t, n in names.items()
                if name is None or t == name
            )

    def server_tool_calls(
        self, caller: str | None = None, name: str | None = None
    ) -> int:
        """``server_tool_use`` blocks sent, optionally for ``direct`` / ``programmatic``
        and/or one tool name."""
        with self._lock:
            return sum(
                n
                for c, names in self._server_calls.items()
                if caller is None or c == caller
                for t, n in names.items()
                if name is None or t == name
            )

    def code_execution_results(
        self, variant: str | None = None, outcome: str | None = None
    ) -> int:
        """Code-execution result blocks sent, by variant and/or ``success`` / ``error``."""
        with self._lock:
            return sum(
                n
                for v, outcomes in self._variants.items()
                if variant is None or v == variant
                for o, n in outcomes.items()
                if outcome is None or o == outcome
            )

    def usage_detail(self, kind: str) -> int:
        """A usage detail sent (see the module docstring for the kinds)."""
        with self._lock:
            return self._details[kind]

    def tokens(self, kind: str) -> int:
        """Tokens reported of ``kind``: input, output, cache_creation_input, cache_read_input."""
        with self._lock:
            return self._tokens[kind]

    def containers(self, event: str) -> int:
        """Container events of ``event``: created, reused, expired."""
        with self._lock:
            return self._containers[event]

    def errors(self, reason: str) -> int:
        """Error responses with the emulator's reason ``reason``."""
        with self._lock:
            return self._errors[reason]


_USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


def _tokens(usage: dict[str, Any]) -> int:
    return sum(int(usage.get(k) or 0) for k in _USAGE_KEYS)
