"""The observer's pricing stage: an :class:`~ptc_observe.events.ExchangeCost` per exchange.

The cost comes from the very token facts the sinks count in ``ptc_tokens_total`` (the
reply's :class:`~ptc_observe.events.TokenUsage`), so spend and tokens always agree; each
exchange is priced on its own, so counters summed over processes stay exact.
"""

from __future__ import annotations

from typing import Any

from ..events import Exchange, ExchangeCost, TokenUsage
from .book import PriceBook
from .rates import TokenCounts
from .runs import RunTracker

__all__ = ["Accountant", "counts_of"]

# A fresh record (just built, not yet shared: the observer's pipeline) gets its fields
# set in place, as the correlator does.
_set_field = object.__setattr__
_WEB_SEARCH = "web_search"


def counts_of(usage: TokenUsage) -> TokenCounts:
    """The billed facts of a reply's usage (unknown counts are zero).

    Raises:
        ValueError: a negative or non-integer count.
    """
    split_known = (
        usage.cache_write_5m_tokens is not None
        or usage.cache_write_1h_tokens is not None
    )
    # The split as ptc_cache_write_tokens_total counts it (capped by the total).
    five, hour, _ = usage.cache_write_by_ttl()
    searches = 0
    for name, count in usage.server_tool_requests:
        if name == _WEB_SEARCH:
            searches = count
    counts = TokenCounts(
        usage.input_tokens or 0,
        usage.output_tokens or 0,
        usage.cache_read_input_tokens or 0,
        usage.cache_creation_input_tokens or 0,
        five if split_known else None,
        hour if split_known else None,
        usage.reasoning_tokens,
        searches,
    )
    counts.validate()
    return counts


class Accountant:
    """Prices exchanges with a :class:`PriceBook` and places them in their runs.

    Thread safe. ``book`` ``None``: no prices (runs are still tracked);
    ``max_open_runs`` bounds the runs whose wall time is tracked.
    """

    __slots__ = ("book", "runs")

    def __init__(self, book: PriceBook | None, *, max_open_runs: int = 100_000) -> None:
        self.book = book
        self.runs = RunTracker(max_open_runs)

    def price(self, ex: Exchange) -> ExchangeCost | None:
        """The cost of ``ex``; ``None`` when its response reported no usage.

        Raises:
            ValueError: the usage has a negative or non-integer count.
        """
        return self._price(ex)[0]

    def _price(
        self, ex: Exchange
    ) -> tuple[ExchangeCost | None, tuple[int, int] | None]:
        """The cost of ``ex`` and its model's exact input rate (``None``: unpriced)."""
        reply = ex.reply
        book = self.book
        if reply is None or book is None:
            return None, None
        usage = reply.usage
        inp = usage.input_tokens
        out = usage.output_tokens
        if inp is None and out is None:
            return None, None  # the response reported no usage
        inp = inp or 0
        out = out or 0
        read = usage.cache_read_input_tokens or 0
        write = usage.cache_creation_input_tokens or 0
        reasoning = usage.reasoning_tokens or 0
        if not (
            type(inp) is int
            and type(out) is int
            and type(read) is int
            and type(write) is int
            and type(reasoning) is int
            and inp >= 0
            and out >= 0
            and read >= 0
            and write >= 0
            and reasoning >= 0
        ):
            counts_of(usage)  # raises the precise ValueError
        five = hour = 0
        if write:
            five, hour, _ = usage.cache_write_by_ttl()
        searches = 0
        for name, count in usage.server_tool_requests:
            if name == _WEB_SEARCH:
                searches = count
        container = seconds = 0.0
        if reply.container is not None:
            container, seconds = self._container(ex, book)
        model = ex.model
        found = book.lookup(model, ex.timings.sent_unix_ns) if model else None
        if found is None:
            unpriced = ExchangeCost(
                None,
                container=container,
                container_seconds=seconds,
                unpriced_tokens=inp + out + read + write,
            )
            return unpriced, None
        card = found.card
        c_in, c_read, c_write, c_out, c_tools = card.floats(
            inp,
            out,
            read,
            write,
            five,
            hour,
            reasoning if reasoning < out else out,
            searches,
        )
        cost = ExchangeCost(
            found.id, c_in, c_read, c_write, c_out, c_tools, container, seconds
        )
        return cost, card.input_ratio

    def account(self, ex: Exchange) -> Exchange:
        """Set ``ex.cost`` and ``ex.run`` on a fresh record (one nothing else holds
        yet) and return it.

        Raises:
            ValueError: the usage has a negative or non-integer count (``ex`` then gets
                neither).
        """
        cost, rate = self._price(ex)
        if cost is not None:
            _set_field(ex, "cost", cost)
        run = self.runs.step(ex, rate)
        if run is not None:
            _set_field(ex, "run", run)
        return ex

    def _container(self, ex: Exchange, book: PriceBook) -> tuple[float, float]:
        """(USD, seconds) of container time billed to ``ex`` (an estimate, see the docs).

        A response that names a container bills the exchange's own duration, at least the
        minimum when the request named no container (the API made one for it), unless
        the request declared a tool that makes code execution free.
        """
        rule = book.container
        request = ex.request
        free = rule.free_with_tools
        for tool in request.tools:
            if tool.type is not None and tool.type in free:
                return 0.0, 0.0
        timings = ex.timings
        seconds = timings.finished - timings.sent
        if seconds < 0.0:
            seconds = 0.0
        if request.container_id is None and seconds < rule.minimum_seconds:
            seconds = rule.minimum_seconds
        return seconds * book.container_usd_per_second, seconds


def book_or_none(prices: Any) -> PriceBook | None:
    """The observer's ``prices`` argument as a book: a :class:`PriceBook` as it is, a path
    or ``None`` for a new book (``None``: ``PTC_OBSERVE_PRICE_FILE``), ``False``: off.

    Raises:
        PriceFileError: the price file is invalid.
    """
    if prices is False:
        return None
    if isinstance(prices, PriceBook):
        return prices
    return PriceBook(None if prices is True else prices)
